"""A PgBouncer in transaction pooling mode in front of the test database, for the tests that check
scoping behind a transaction pooler.

:func:`running_pgbouncer` writes a configuration into a temporary directory — one database
entry pointing at the test database, a second (``<db>_one``) whose pool has a single server
connection, trust authentication with a user list of the roles given — starts the Debian
``pgbouncer`` binary on a free local port (as ``postgres`` when the tests run as root, which
PgBouncer refuses), waits until it accepts connections and stops it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PgBouncer:
    """A running PgBouncer: its port and the database aliases it serves."""

    host: str
    port: int
    database: str

    @property
    def single_server_database(self) -> str:
        """An alias of the same database whose pool holds one server connection."""
        return f"{self.database}_one"


def binary() -> str | None:
    """The pgbouncer executable, if installed (Debian puts it in /usr/sbin)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_pgbouncer(*, server_host: str, server_port: int, database: str, users: list[str]) -> Iterator[PgBouncer]:
    """Run PgBouncer (transaction mode) for ``database`` on ``server_host:server_port``.

    Raises:
        FileNotFoundError: pgbouncer is not installed.
        RuntimeError: it did not start within 10 s (its log is in the message).
    """
    exe = binary()
    if exe is None:
        raise FileNotFoundError("pgbouncer")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="anima-pgbouncer-") as tmp:
        directory = Path(tmp)
        (directory / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in users))
        server = f"host={server_host} port={server_port} dbname={database}"
        (directory / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"{database} = {server} pool_size=4\n"
            f"{database}_one = {server} pool_size=1\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {directory / 'userlist.txt'}\n"
            "pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 4\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {directory / 'pgbouncer.log'}\n"
        )
        command = [exe, str(directory / "pgbouncer.ini")]
        if os.geteuid() == 0:
            os.chmod(directory, 0o755)
            owner = pwd.getpwnam("postgres")
            for name in ("userlist.txt", "pgbouncer.ini"):
                os.chown(directory / name, owner.pw_uid, owner.pw_gid)
            os.chown(directory, owner.pw_uid, owner.pw_gid)
            command = [exe, "-u", "postgres", str(directory / "pgbouncer.ini")]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (directory / "pgbouncer.log").read_text() if (directory / "pgbouncer.log").exists() else ""
                    raise RuntimeError(f"pgbouncer did not start: {process.stderr.read().decode() if process.stderr else ''} {log}")
                time.sleep(0.05)
            yield PgBouncer("127.0.0.1", port, database)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
