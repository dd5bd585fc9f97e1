"""Fixtures that run the real `anima` command in a subprocess against a database of its own."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from anima.db.engine import Database, role_prefix
from tests.conftest import ROOT, test_environ


@dataclass
class Deployment:
    """A database for subprocesses: its URL, environment and an admin engine for checks."""

    url: str
    env: dict[str, str]
    admin: AsyncEngine

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "anima", *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"anima {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result


def wait_ready(base: str, proc: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    """Wait until ``base``/ready answers 200; fail with the server's log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"server not ready in {timeout}s:\n{log_path.read_text()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def deployment(db: Database, tmp_path: Path) -> AsyncIterator[Deployment]:
    name = f"anima_e2e_{secrets.token_hex(4)}"
    url = db.admin_url.set(database=name)
    env = {**os.environ, **test_environ(DATABASE_URL=url.render_as_string(hide_password=False), ANIMA_DATA_DIR=str(tmp_path / "data"))}
    env["PYTHONPATH"] = str(ROOT)
    admin = create_async_engine(url, poolclass=sa.NullPool)
    try:
        yield Deployment(url.render_as_string(hide_password=False), env, admin)
    finally:
        await admin.dispose()
        server = create_async_engine(db.admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        async with server.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            prefix = role_prefix(name)
            for role in (await conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": prefix + "\\_%"})).scalars():
                await conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        await server.dispose()
