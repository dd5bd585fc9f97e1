"""Browser tests: Playwright (Python) driving Debian's Chromium against the real server process.

* ``server`` — ``anima demo`` (migrate, the operator login, serve with a worker) in a subprocess on
  a database of its own, on the test session's PostgreSQL; started once per test session.
* ``chromium`` — Debian's ``chromium`` launched by its path (:data:`CHROMIUM`), headless, with the
  background networking this machine's closed network refuses switched off.
* ``page`` — a fresh browser context (its own cookies) per test, at desktop width.
* :func:`visit_check` — what every visited page gets: screenshots at phone (390 px) and desktop
  (1280 px) width, and at phone width in the dark scheme, into ``artifacts/screenshots/``, and
  axe-core (vendored in ``vendor/``) in light and dark with no serious or critical finding.

Emails are read from the platform outbox in the server's database (``emails_to``), as a person would
read their inbox.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from anima.db.engine import Database, role_prefix
from tests.conftest import ROOT, test_environ
from tests.e2e.conftest import free_port, wait_ready

#: Debian's chromium package installs this executable (``.ci/run`` installs the package)
CHROMIUM = os.environ.get("ANIMA_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "screenshots"
PHONE, DESKTOP = 390, 1280

pytestmark = pytest.mark.browser


@dataclass
class Server:
    """The running server: its base URL, environment and a synchronous way into its database."""

    base: str
    env: dict[str, str]
    dsn: str
    log: Path
    process: subprocess.Popen
    notes: list[str] = field(default_factory=list)

    def sql(self, statement: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement in the server's database (as the admin role) and return its rows."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cursor = conn.execute(statement, params or {})
            return cursor.fetchall() if cursor.description else []

    def emails_to(self, recipient: str) -> list[str]:
        """Bodies of the emails sent to ``recipient``, newest first."""
        rows = self.sql(
            "SELECT body FROM platform.email_outbox WHERE recipient = %(r)s ORDER BY created_at DESC", {"r": recipient}
        )
        return [r[0] for r in rows]

    def link_in_latest_email(self, recipient: str, path_part: str) -> str:
        """The first link of the newest email to ``recipient`` whose path holds ``path_part``, made local."""
        for body in self.emails_to(recipient):
            for url in re.findall(r"https?://[^\s\"'<>]+", body):
                if path_part in url:
                    return self.base + "/" + url.split("/", 3)[3]
        raise AssertionError(f"no email to {recipient} with a link to {path_part}")


@contextlib.contextmanager
def running_server(db: Database, work: Path, **extra_env: str) -> Iterator[Server]:
    """``anima demo`` on a database of its own under ``work`` (no demo tenants), with ``extra_env``
    added to its settings; stopped, and its database and roles dropped, on exit."""
    name = f"anima_browser_{secrets.token_hex(4)}"
    url = db.admin_url.set(database=name)
    server_dsn = db.admin_url.set(database="postgres", drivername="postgresql").render_as_string(hide_password=False)
    tenants = work / "tenants"
    tenants.mkdir()
    port = free_port()
    env = {
        **os.environ,
        **test_environ(
            DATABASE_URL=url.render_as_string(hide_password=False), ANIMA_DATA_DIR=str(work / "data"),
            ANIMA_PUBLIC_URL=f"http://127.0.0.1:{port}", ANIMA_LOG_LEVEL="info",
            ANIMA_RATE_LIMIT_SCALE="1000",  # every browser test signs up from 127.0.0.1
            **extra_env,
        ),
        "PYTHONPATH": str(ROOT),
    }
    log = work / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "anima", "demo", "--port", str(port), "--tenants-dir", str(tenants)],
        env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        wait_ready(base, process, log, timeout=120)
        yield Server(base, env, dsn, log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (role_prefix(name) + "\\_%",)).fetchall()
            for (role,) in roles:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="session")
def server(db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``anima demo`` on a database of its own (no demo tenants: each test makes what it needs).

    Synchronous on purpose: Playwright's synchronous API runs an event loop of its own while a
    browser is open, so nothing of the browser tests may need the test session's loop.
    """
    with running_server(db, tmp_path_factory.mktemp("browser-server")) as running:
        yield running


@pytest.fixture(scope="module")
def chromium(server: Server) -> Iterator[Any]:
    """Debian's Chromium, headless, launched by its path — per module: while it is open, Playwright's
    loop is this thread's running loop, so it must be closed before any asynchronous test runs."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium: Any, server: Server) -> Iterator[Any]:
    """A factory of pages, each in a browser context of its own (its own cookies): ``new_page(locale=...)``."""
    contexts: list[Any] = []

    def make(locale: str = "en-US", color_scheme: str = "light") -> Any:
        # bypass_csp only lets the test inject axe-core; the page's own CSP is checked over HTTP
        context = chromium.new_context(
            base_url=server.base, viewport={"width": DESKTOP, "height": 900}, locale=locale,
            color_scheme=color_scheme, bypass_csp=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: server.notes.append(f"page error: {error}"))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def visit_check(page: Any, name: str, *, request: pytest.FixtureRequest | None = None) -> list[dict[str, Any]]:
    """Screenshot the current page and run axe-core on it, in light and in dark.

    Screenshots: phone (390 px) and desktop (1280 px) in the light scheme, phone in the dark one,
    into ``artifacts/screenshots/<test>/``. axe-core runs in both schemes (the dark tokens must
    keep their contrast too). Returns the axe violations (any impact); fails on a serious or
    critical one.
    """
    test = _slug(request.node.name) if request is not None else "browser"
    folder = ARTIFACTS / test
    folder.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": DESKTOP, "height": 900}
    for width in (PHONE, DESKTOP):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(folder / f"{_slug(name)}-{width}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    violations = _axe(page, name)
    page.emulate_media(color_scheme="dark")
    try:
        page.set_viewport_size({"width": PHONE, "height": 900})
        page.screenshot(path=str(folder / f"{_slug(name)}-{PHONE}-dark.png"), full_page=True)
        page.set_viewport_size(size)
        violations += _axe(page, f"{name} (dark)")
    finally:
        page.emulate_media(color_scheme="light")
        page.set_viewport_size(size)
    return violations


def _axe(page: Any, name: str) -> list[dict[str, Any]]:
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"
    )
    violations = result["violations"]
    grave = [
        f"{v['impact']}: {v['id']} — {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in violations if v.get("impact") in ("serious", "critical")
    ]
    assert not grave, f"axe-core on {name} ({page.url}):\n" + "\n".join(grave)
    return violations
