"""bootstrap.py passes SIGTERM and SIGINT on to its child, waits for it and exits with its status.

Real processes: a Python process runs ``bootstrap.run_child`` on a child that records its pid and
sleeps; the test signals the bootstrap process only and checks that the child is gone and the
bootstrap's exit status is the child's (128 + signal).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = (
    "import os, signal, sys, time\n"
    "print(os.getpid(), flush=True)\n"
    "time.sleep(60)\n"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers: look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_bootstrap_reaches_the_child(sig: signal.Signals) -> None:
    runner = (
        "import sys; sys.path.insert(0, %r)\n"
        "import bootstrap\n"
        "sys.exit(bootstrap.run_child([sys.executable, '-c', %r]))\n" % (str(ROOT), CHILD)
    )
    boot = subprocess.Popen([sys.executable, "-c", runner], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(boot.stdout.readline())
        assert _alive(child_pid)
        time.sleep(0.2)  # let run_child install its handlers after starting the child
        boot.send_signal(sig)
        status = boot.wait(timeout=20)
        deadline = time.monotonic() + 5
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid), "the child outlived bootstrap"
        assert status == 128 + sig
    finally:
        if boot.poll() is None:
            boot.kill()
            boot.wait()


def test_the_childs_exit_status_is_bootstraps() -> None:
    runner = (
        "import sys; sys.path.insert(0, %r)\n"
        "import bootstrap\n"
        "sys.exit(bootstrap.run_child([sys.executable, '-c', 'raise SystemExit(7)']))\n" % str(ROOT)
    )
    assert subprocess.run([sys.executable, "-c", runner], timeout=30).returncode == 7


def test_sigterm_to_bootstrap_test_stops_the_pytest_it_started(tmp_path: Path) -> None:
    """The whole path: ``python3 bootstrap.py test FILE`` (the venv is already installed) runs pytest
    on a test that records its pid and sleeps; SIGTERM to bootstrap ends that pytest too."""
    pid_file = tmp_path / "child.pid"
    (tmp_path / "test_sleeper.py").write_text(
        "import os, time\n"
        "def test_sleeps():\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
    )
    env = {**os.environ, "ANIMA_TEST_WORKERS": "0"}
    boot = subprocess.Popen(
        [sys.executable, str(ROOT / "bootstrap.py"), "test", "-q", "-p", "no:randomly", str(tmp_path / "test_sleeper.py")],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            assert boot.poll() is None, "bootstrap ended before its child started"
            time.sleep(0.1)
        child_pid = int(pid_file.read_text())
        assert _alive(child_pid)
        boot.send_signal(signal.SIGTERM)
        status = boot.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid), "pytest outlived bootstrap"
        assert status != 0
    finally:
        if boot.poll() is None:
            boot.kill()
            boot.wait()
