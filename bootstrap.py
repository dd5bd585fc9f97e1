#!/usr/bin/env python3
"""Bootstrap: the README's two commands, on a machine with nothing but Python 3.11+.

    python3 bootstrap.py demo    # install into .venv, then `anima demo`
    python3 bootstrap.py test    # install into .venv (with test extras), then the whole test suite

The virtual environment is ``.venv`` beside this file. Dependencies are installed from
``pyproject.toml`` pinned by ``requirements.lock``; the install is redone only when either file
changed (a stamp in .venv records their hash). Any further arguments go to the command.
SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to the command, bootstrap waits for it and exits
with its status.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".anima-install-stamp"


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "requirements.lock"):
        path = ROOT / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_installed() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Anima needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    wanted = _inputs_hash()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing dependencies into .venv (first run takes a minute) …", flush=True)
    quiet = ["-q", "--disable-pip-version-check"]
    subprocess.run([str(PYTHON), "-m", "pip", "install", *quiet, "--upgrade", "pip"], check=True)
    command = [str(PYTHON), "-m", "pip", "install", *quiet]
    lock = ROOT / "requirements.lock"
    if lock.exists():
        command += ["-c", str(lock)]
    command += ["-e", f"{ROOT}[test]"]
    subprocess.run(command, check=True)
    STAMP.write_text(wanted)


#: signals passed on to the child: stopping bootstrap stops what it started
FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))


def run_child(command: list[str]) -> int:
    """Run ``command``, pass SIGINT/SIGTERM/SIGHUP/SIGQUIT on to it, wait for it and return its status.

    A child ended by signal N gives 128 + N, as a shell reports it. Without forwarding, stopping
    bootstrap (Ctrl-C in a terminal, SIGTERM from a process manager) would leave the server running.
    """
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - a handler replaced SIGINT's default
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - status if status < 0 else status


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "install"):
        print(__doc__)
        return 2
    ensure_installed()
    action, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if action == "install":
        return 0
    if action == "demo":
        return run_child([str(BIN / "anima"), "demo", *rest])
    workers = os.environ.get("ANIMA_TEST_WORKERS", "2")
    return run_child([str(PYTHON), "-m", "pytest", "-n", workers, "-p", "no:cacheprovider", *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
