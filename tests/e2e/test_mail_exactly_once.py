"""Exactly once when a worker is killed mid-send: the real `anima worker` process, SIGKILLed twice.

200 platform emails are queued; the worker sends them through a real SMTP server (aiosmtpd, in
this process, on its own thread) whose handler can hold one transaction at a chosen step, so the
kill lands exactly where the test says:

1. after the server has the whole message (the final "." read) and before its 250 reaches the
   worker — the in-doubt case: the row was handed over, so it must never be sent again, and is
   listed to operators as in doubt;
2. at a RCPT, before the DATA — the row was claimed but never handed over, so the next worker
   sends it.

A third worker finishes the rest. Every message is then counted by Message-ID: each arrived once.
"""

from __future__ import annotations

import asyncio
import collections
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import uuid

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from anima.db.engine import Database
from anima.mail.messages import queue_email
from anima.mail.sender import IN_DOUBT
from tests.conftest import ROOT
from tests.conftest import test_environ as environ_for_tests
from tests.e2e.conftest import free_port
from tests.integration.events_support import QUIET_TICK, eventually

TOTAL = 200
LEASE = 6  # seconds: ANIMA_MAIL_LEASE of the workers, so a killed worker's claims end quickly (and a live one keeps its batch)


class GateHandler:
    """Records every accepted message; can hold one transaction at its DATA (after the whole
    message was read) or at a RCPT, until released."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.hold_data_after: int | None = None  # hold the DATA that brings this many messages
        self.hold_rcpt_after: int | None = None  # hold a RCPT once this many messages arrived
        self.held = threading.Event()
        self.release = threading.Event()

    async def _hold(self) -> None:
        self.held.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ARG002
        if self.hold_rcpt_after is not None and len(self.messages) >= self.hold_rcpt_after:
            self.hold_rcpt_after = None
            await self._hold()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ARG002
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        if self.hold_data_after is not None and len(self.messages) >= self.hold_data_after:
            self.hold_data_after = None
            await self._hold()
        return "250 Message accepted for delivery"

    def arm(self, *, data: int | None = None, rcpt: int | None = None) -> None:
        self.held.clear()
        self.release.clear()
        self.hold_data_after, self.hold_rcpt_after = data, rcpt


@pytest.fixture
def smtp() -> GateHandler:
    handler = GateHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        handler.release.set()
        controller.stop()


def _worker_env(db: Database, port: int) -> dict[str, str]:
    url = db.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = {**os.environ, **environ_for_tests(
        DATABASE_URL=url, ANIMA_QUEUE_NAME=f"mail{uuid.uuid4().hex[:8]}", ANIMA_AUTOMATION_TICK=QUIET_TICK,
        SMTP_URL=f"smtp://127.0.0.1:{port}", ANIMA_MAIL_LEASE=str(LEASE), ANIMA_LOG_LEVEL="warning",
        ANIMA_WORKER_NICE="0",  # not yielding to the suite's busy processes: the bounds measure recovery
    ), "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)  # the queue lives in this test's database
    return env


def _start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "anima", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _wait(event: threading.Event, proc: subprocess.Popen, timeout: float = 90) -> None:
    async def check() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        return event.is_set()
    await eventually(check, timeout=timeout, every=0.02)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(15)


async def test_a_worker_killed_mid_send_twice_delivers_every_message_exactly_once(db: Database, smtp: GateHandler):
    recipients = [f"once-{uuid.uuid4().hex[:10]}@example.org" for _ in range(TOTAL)]
    async with db.sessionmaker()() as session:
        async with session.begin():
            ids = [(await queue_email(session, recipient=r, subject="Exactly once", body=f"Message {i}", kind="test")).id
                   for i, r in enumerate(recipients)]
    domain_ids = {f"<{i}@anima.example>" for i in ids}
    env = _worker_env(db, smtp.port)  # type: ignore[attr-defined]
    procs: list[subprocess.Popen] = []
    try:
        # 1. killed after the server read message 60 whole, before its 250 reached the worker
        smtp.arm(data=60)
        procs.append(first := _start(env))
        await _wait(smtp.held, first)
        _kill(first)
        smtp.release.set()
        in_doubt_id = smtp.messages[59]["Message-ID"]
        await asyncio.sleep(LEASE + 0.5)
        # 2. killed at a RCPT once 120 arrived: that message was claimed, never handed over
        smtp.arm(rcpt=120)
        procs.append(second := _start(env))
        await _wait(smtp.held, second)
        _kill(second)
        smtp.release.set()
        assert len(smtp.messages) >= 120
        await asyncio.sleep(LEASE + 0.5)
        # 3. a third worker finishes
        smtp.arm()
        procs.append(third := _start(env))

        async def all_arrived() -> bool:
            if third.poll() is not None:
                raise AssertionError(third.stderr.read().decode()[-3000:])  # type: ignore[union-attr]
            return len({m["Message-ID"] for m in smtp.messages} & domain_ids) == TOTAL
        await eventually(all_arrived, timeout=120, every=0.1)
        await asyncio.sleep(LEASE + 1)  # nothing more arrives (no late duplicate)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    _kill(proc)

    counts = collections.Counter(m["Message-ID"] for m in smtp.messages if m["Message-ID"] in domain_ids)
    assert len(counts) == TOTAL and set(counts.values()) == {1}, [k for k, v in counts.items() if v != 1]
    assert sorted(m["To"] for m in smtp.messages if m["Message-ID"] in domain_ids) == sorted(recipients)

    async with db.admin.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT id, status, last_error FROM platform.email_outbox WHERE id = ANY(:ids)"),
                                   {"ids": ids})).all()
        failures = (await conn.execute(sa.text("SELECT id, reason FROM platform.mail_failures WHERE id = ANY(:ids)"),
                                       {"ids": ids})).all()
    statuses = collections.Counter(row.status for row in rows)
    assert statuses == {"sent": TOTAL - 1, "failed": 1}, statuses
    doubtful = next(row for row in rows if row.status == "failed")
    assert f"<{doubtful.id}@anima.example>" == in_doubt_id  # the one the server had when the worker died
    assert doubtful.last_error == IN_DOUBT
    assert [(f.id, f.reason) for f in failures] == [(doubtful.id, IN_DOUBT)]  # listed to operators
