"""The process model: `anima serve` is one API process; `anima demo` runs its worker as a child process.

`anima serve` (uvicorn, one worker by default) serves requests in its own process only — jobs are
the business of `anima worker` processes started beside it; it must nevertheless sign up and
provision a tenant completely (a process that never imported every model once built tenants
without their key table). `anima demo` starts `anima worker` as a child process instead of
running jobs in the API's event loop: its events are relayed and processed there, and stopping the
demo stops the worker.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, ROOT, unique_email, unique_slug
from tests.e2e.conftest import Deployment, free_port

pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _start(deployment: Deployment, args: list[str], log_path: Path) -> subprocess.Popen:
    env = {**deployment.env, "ANIMA_ENV": "production", "ANIMA_LOG_LEVEL": "info"}
    return subprocess.Popen([sys.executable, "-m", "anima", *args], env=env, cwd=ROOT,
                            stdout=log_path.open("w"), stderr=subprocess.STDOUT)


async def _ready(base: str, proc: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            try:
                if (await http.get(f"{base}/ready", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"not ready in {timeout}s:\n{log_path.read_text()}")


async def _signup_and_write(base: str) -> tuple[str, dict[str, str], str]:
    slug = unique_slug("pm")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.post("/api/v1/signup", json={
            "organization_name": "Process Model", "slug": slug, "email": unique_email("pm"), "password": PASSWORD,
            "display_name": "Owner", "tier": "BUILDER",
        })
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['tokens']['access_token']}"}
        patient = await http.post(f"/api/v1/orgs/{slug}/patients", json={"first_name": "Ada", "email": "ada@example.org"},
                                  headers=headers)
        assert patient.status_code == 201, patient.text
        note = await http.post(f"/api/v1/orgs/{slug}/patients/{patient.json()['id']}/journal",
                               json={"kind": "note", "html": "<p>Session notes</p>"}, headers=headers)
        assert note.status_code == 201, note.text
        assert (await http.get(f"/api/v1/orgs/{slug}/settings", headers=headers)).status_code == 200
    return slug, headers, note.json()["id"]


def _niceness(pid: int) -> int:
    """Field 19 of /proc/PID/stat."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(30)


async def test_serve_is_one_process_and_provisions_completely(deployment: Deployment, tmp_path: Path):
    deployment.run("migrate")
    port = free_port()
    log_path = tmp_path / "serve.log"
    proc = _start(deployment, ["serve", "--port", str(port)], log_path)
    try:
        await _ready(f"http://127.0.0.1:{port}", proc, log_path)
        assert _children(proc.pid) == []  # uvicorn with one worker serves in this very process
        await _signup_and_write(f"http://127.0.0.1:{port}")
        assert '"heap settled"' in log_path.read_text()  # the start's objects frozen out of collection
        assert _niceness(proc.pid) == 0  # the API keeps the normal priority
    finally:
        assert _stop(proc) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it stopped on


async def test_demo_runs_its_worker_as_a_child_process(deployment: Deployment, tmp_path: Path):
    tenants_dir = tmp_path / "tenants"
    tenants_dir.mkdir()
    port = free_port()
    log_path = tmp_path / "demo.log"
    proc = _start(deployment, ["demo", "--port", str(port), "--tenants-dir", str(tenants_dir)], log_path)
    worker_pid = None
    try:
        await _ready(f"http://127.0.0.1:{port}", proc, log_path)
        children = _children(proc.pid)
        assert len(children) == 1 and "anima worker" in _cmdline(children[0]), [_cmdline(c) for c in children]
        worker_pid = children[0]
        deadline = time.monotonic() + 60  # the child sets it once it has read its settings
        while _niceness(worker_pid) != 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert _niceness(worker_pid) == 5  # ANIMA_WORKER_NICE: requests go first when both want the CPU
        slug, _, _ = await _signup_and_write(f"http://127.0.0.1:{port}")
        async with deployment.admin.connect() as conn:  # the child worker relays the note's event
            schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})
            deadline = time.monotonic() + 60
            pending = None
            while time.monotonic() < deadline:
                pending = await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".outbox_events WHERE relayed_at IS NULL'))
                await conn.rollback()
                if pending == 0:
                    break
                await asyncio.sleep(0.5)
            assert pending == 0, log_path.read_text()[-3000:]
    finally:
        _stop(proc)
    assert worker_pid is not None
    assert not Path(f"/proc/{worker_pid}").exists()  # the demo stopped and reaped its worker
