"""Settings from the environment, read once into a typed msgspec structure.

Every variable Anima reads is listed in :data:`ENVIRONMENT`; the README's configuration table is
generated from the same list. :func:`load_settings` validates all of them at start and raises
:class:`SettingsError` naming every bad value at once.

In ``development`` the secrets (``ANIMA_SECRET_KEY``, ``ANIMA_MASTER_KEY``) may be left unset: they
are generated once, kept in ``ANIMA_DATA_DIR/secrets.json`` (mode 0600) so that restarts keep
tokens and encrypted data readable, and a loud warning says so. In ``production`` every secret must
be set explicitly.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Literal

import msgspec

Environment = Literal["development", "production"]

#: the From header of the platform's emails unless ANIMA_MAIL_FROM says otherwise
DEFAULT_MAIL_FROM = "Anima <no-reply@anima.example>"

#: name -> (description, default shown in the README)
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "DATABASE_URL": (
        "PostgreSQL URL of a role that may create schemas and roles (postgresql://user:pw@host:port/db). "
        "Unset: an embedded PostgreSQL is started under ANIMA_DATA_DIR.",
        "unset (embedded)",
    ),
    "REDIS_URL": ("Redis URL for the job queue and the AI result cache; unset: the queue runs on PostgreSQL and the cache in process memory.", "unset"),
    "ANIMA_ENV": ("development or production.", "development"),
    "ANIMA_SECRET_KEY": (
        "Signing key for tokens (at least 32 characters). Required in production.",
        "generated in development",
    ),
    "ANIMA_MASTER_KEY": (
        "Base64 of 32 random bytes: wraps every tenant's data keys. Required in production.",
        "generated in development",
    ),
    "ANIMA_DATA_DIR": ("Where the embedded database and development secrets live.", "./.anima"),
    "ANIMA_HOST": ("Address the API server binds to.", "127.0.0.1"),
    "ANIMA_PORT": ("Port the API server binds to.", "8000"),
    "ANIMA_PUBLIC_URL": ("Base URL used in links sent by email.", "http://HOST:PORT"),
    "SMTP_URL": (
        "Mail server for the platform's emails: smtp://user:pass@host:port (STARTTLS when the server offers it) "
        "or smtps://user:pass@host:port (implicit TLS). Unset: emails are delivered to a local mailbox "
        "(ANIMA_DATA_DIR/mailbox, shown at /dev/mailbox in development).",
        "unset (local mailbox)",
    ),
    "ANIMA_MAIL_FROM": (
        "From address of the platform's emails; an organization's emails carry its name with this address.",
        "Anima <no-reply@anima.example>",
    ),
    "ANIMA_MAIL_LEASE": (
        "Seconds a sender holds a claimed email or SMS; a message still claimed after that (its sender died) is "
        "taken again, or, if it was already handed to the mail server, reported as in doubt.",
        "300",
    ),
    "TWILIO_ACCOUNT_SID": (
        "Twilio account SID (AC...) for SMS. Unset: SMS is off, and the pages and API say so.",
        "unset",
    ),
    "TWILIO_AUTH_TOKEN": ("Twilio auth token: authenticates our requests and checks the signature of Twilio's webhooks.", "unset"),
    "TWILIO_FROM": ("The sending phone number in E.164 (+15005550006) or a messaging service SID (MG...).", "unset"),
    "TWILIO_API_BASE": ("Base URL of the Twilio REST API; set only to point at a stub.", "https://api.twilio.com"),
    "GOOGLE_CLIENT_ID": (
        "OAuth client id of the Google Cloud project for Google Calendar. Unset: Google Calendar is off, and the pages and API say so.",
        "unset",
    ),
    "GOOGLE_CLIENT_SECRET": ("OAuth client secret of that Google Cloud project.", "unset"),
    "GOOGLE_OAUTH_BASE": (
        "Base URL of Google's OAuth endpoints (/o/oauth2/v2/auth, /token, /revoke under it); set only to point at a stub.",
        "Google's (accounts.google.com, oauth2.googleapis.com)",
    ),
    "GOOGLE_API_BASE": ("Base URL of the Google Calendar API (/calendar/v3 under it); set only to point at a stub.", "https://www.googleapis.com"),
    "ANIMA_TRUSTED_PROXIES": (
        "Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed.",
        "empty (forwarded headers ignored)",
    ),
    "ANIMA_DB_POOL_SIZE": ("Connections per process in the application pool.", "10"),
    "ANIMA_DB_CONNECTION_MAX_USES": (
        "A pooled connection is replaced after this many checkouts, bounding PostgreSQL's per-connection "
        "catalog caches when it has served many tenants.",
        "500",
    ),
    "ANIMA_MIGRATION_CONCURRENCY": ("Tenants migrated in parallel.", "4"),
    "ANIMA_LOG_LEVEL": ("debug, info, warning or error.", "info"),
    "ANIMA_RATE_LIMIT_SCALE": (
        "Multiplies every rate limit (signup, login, password reset …): for a staging or test deployment whose "
        "clients share one address.",
        "1",
    ),
    "STRIPE_SECRET_KEY": (
        "Stripe secret API key (sk_...). Unset: payments are not configured; billing endpoints say so and "
        "operators still set tiers by hand.",
        "unset",
    ),
    "STRIPE_WEBHOOK_SECRET": ("Signing secret of the Stripe webhook endpoint (whsec_...).", "unset"),
    "STRIPE_PRICE_PRO": ("Stripe price id (price_...) of the PRO tier.", "unset"),
    "STRIPE_PRICE_CENTER": ("Stripe price id (price_...) of the CENTER tier.", "unset"),
    "STRIPE_API_BASE": ("Base URL of the Stripe API (the SDK's api_base); set only to point at a stub.", "https://api.stripe.com"),
    "ANIMA_QUEUE_NAME": ("Name of the job queue (workers and relays of one deployment share it).", "anima"),
    "ANIMA_WORKER_CONCURRENCY": ("Jobs one `anima worker` process runs at once.", "10"),
    "ANIMA_JOB_HEARTBEAT": (
        "Seconds a running job may go without a heartbeat before a worker's sweep retries it (a crashed worker's job).",
        "30",
    ),
    "ANIMA_WORKER_SWEEP": ("Seconds between a worker's looks for stuck jobs and for unrelayed outbox events.", "10"),
    "ANIMA_AUTOMATION_TICK": (
        "Cron expression (5 fields, or 6 with seconds) of the tick that fires due delayed playbook actions.",
        "* * * * *",
    ),
    "ANIMA_WORKER_EXTRA_FUNCTIONS": (
        "module:attribute of a list of extra job functions a worker registers (tests, plugins).",
        "unset",
    ),
    "BILLING_GRACE_DAYS": (
        "Days a tenant keeps its paid tier after a failed payment or a cancellation before falling to BUILDER.",
        "7",
    ),
    "GEMINI_API_KEY": (
        "Google Gemini API key for the AI observatory. Unset: analyses come from the local risk detector and say so.",
        "unset",
    ),
    "GEMINI_MODEL": ("Gemini model the observatory asks.", "gemini-2.5-flash"),
    "GEMINI_API_BASE": ("Base URL of the Gemini API (the SDK's base_url); set only to point at a stub.", "https://generativelanguage.googleapis.com"),
}


class SettingsError(ValueError):
    """Raised by :func:`load_settings` with one message per invalid variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The validated configuration of one process. Built by :func:`load_settings`."""

    env: Environment = "development"
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str
    master_key: bytes
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str
    trusted_proxies: tuple[str, ...] = ()
    db_pool_size: int = 10
    db_connection_max_uses: int = 500
    migration_concurrency: int = 4
    log_level: str = "info"
    generated_secrets: tuple[str, ...] = ()
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_price_pro: str | None = None
    stripe_price_center: str | None = None
    stripe_api_base: str | None = None
    billing_grace_days: int = 7
    queue_name: str = "anima"
    worker_concurrency: int = 10
    rate_limit_scale: int = 1
    job_heartbeat: int = 30
    worker_sweep: int = 10
    worker_nice: int = 5
    automation_tick: str = "* * * * *"
    worker_extra_functions: str | None = None
    gemini_api_key: str | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_api_base: str | None = None
    smtp_url: str | None = None
    mail_from: str = DEFAULT_MAIL_FROM
    mail_lease: int = 300
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_base: str | None = None
    google_client_id: str | None = None
    google_client_secret: str | None = None
    google_oauth_base: str | None = None
    google_api_base: str | None = None

    @property
    def payments_configured(self) -> bool:
        """True when every Stripe setting needed to take payments is present."""
        return all((self.stripe_secret_key, self.stripe_webhook_secret, self.stripe_price_pro, self.stripe_price_center))

    @property
    def gemini_configured(self) -> bool:
        """True when the AI observatory may call Gemini (an API key is set)."""
        return bool(self.gemini_api_key)

    @property
    def sms_configured(self) -> bool:
        """True when SMS may be sent (every Twilio setting is present)."""
        return all((self.twilio_account_sid, self.twilio_auth_token, self.twilio_from))

    @property
    def google_configured(self) -> bool:
        """Whether Google Calendar can be connected (client id and secret set)."""
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def local_mailbox(self) -> bool:
        """True when emails go to the local mailbox (``ANIMA_DATA_DIR/mailbox``), not to an SMTP server."""
        return not self.smtp_url

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _int(env: dict[str, str], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a whole number")
        return default
    if not low <= value <= high:
        problems.append(f"{name}={value} must be between {low} and {high}")
    return value


def _load_dev_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {
        "ANIMA_SECRET_KEY": secrets.token_urlsafe(48),
        "ANIMA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(generated, fh)
    return generated


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the configuration.

    Args:
        environ: the variables to read; ``os.environ`` when omitted.

    Returns:
        Settings: the frozen configuration.

    Raises:
        SettingsError: one line per invalid or missing variable.
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []

    mode = env.get("ANIMA_ENV", "development") or "development"
    if mode not in ("development", "production"):
        problems.append(f"ANIMA_ENV={mode!r} must be 'development' or 'production'")
        mode = "production"  # validate strictly when unsure

    data_dir = Path(env.get("ANIMA_DATA_DIR") or ".anima").resolve()

    database_url = env.get("DATABASE_URL") or None
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        problems.append("DATABASE_URL must be a postgresql:// URL")

    redis_url = env.get("REDIS_URL") or None
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        problems.append("REDIS_URL must be a redis:// or rediss:// URL")

    generated: list[str] = []
    secret_key = env.get("ANIMA_SECRET_KEY") or None
    master_raw = env.get("ANIMA_MASTER_KEY") or None
    if mode == "production":
        if secret_key is None:
            problems.append("ANIMA_SECRET_KEY must be set in production")
        if master_raw is None:
            problems.append("ANIMA_MASTER_KEY must be set in production")
        if database_url is None:
            problems.append("DATABASE_URL must be set in production (the embedded database is for development)")
    elif secret_key is None or master_raw is None:
        dev = _load_dev_secrets(data_dir)
        if secret_key is None:
            secret_key = dev["ANIMA_SECRET_KEY"]
            generated.append("ANIMA_SECRET_KEY")
        if master_raw is None:
            master_raw = dev["ANIMA_MASTER_KEY"]
            generated.append("ANIMA_MASTER_KEY")

    if secret_key is not None and len(secret_key) < 32:
        problems.append("ANIMA_SECRET_KEY must be at least 32 characters")
    master_key = b""
    if master_raw is not None:
        try:
            master_key = base64.b64decode(master_raw, validate=True)
        except (ValueError, TypeError):
            problems.append("ANIMA_MASTER_KEY must be base64")
        else:
            if len(master_key) != 32:
                problems.append(f"ANIMA_MASTER_KEY must decode to 32 bytes, not {len(master_key)}")

    host = env.get("ANIMA_HOST") or "127.0.0.1"
    port = _int(env, "ANIMA_PORT", 8000, 1, 65535, problems)
    public_url = (env.get("ANIMA_PUBLIC_URL") or f"http://{host}:{port}").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        problems.append("ANIMA_PUBLIC_URL must start with http:// or https://")

    proxies: list[str] = []
    for item in (env.get("ANIMA_TRUSTED_PROXIES") or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            problems.append(f"ANIMA_TRUSTED_PROXIES entry {item!r} is not an address or CIDR range")
        else:
            proxies.append(item)

    log_level = (env.get("ANIMA_LOG_LEVEL") or "info").lower()
    if log_level not in ("debug", "info", "warning", "error"):
        problems.append(f"ANIMA_LOG_LEVEL={log_level!r} must be debug, info, warning or error")

    settings_kwargs = dict(
        db_pool_size=_int(env, "ANIMA_DB_POOL_SIZE", 10, 1, 500, problems),
        db_connection_max_uses=_int(env, "ANIMA_DB_CONNECTION_MAX_USES", 500, 1, 10_000_000, problems),
        migration_concurrency=_int(env, "ANIMA_MIGRATION_CONCURRENCY", 4, 1, 64, problems),
        billing_grace_days=_int(env, "BILLING_GRACE_DAYS", 7, 0, 365, problems),
        worker_concurrency=_int(env, "ANIMA_WORKER_CONCURRENCY", 10, 1, 1000, problems),
        rate_limit_scale=_int(env, "ANIMA_RATE_LIMIT_SCALE", 1, 1, 100_000, problems),
        job_heartbeat=_int(env, "ANIMA_JOB_HEARTBEAT", 30, 1, 3600, problems),
        worker_sweep=_int(env, "ANIMA_WORKER_SWEEP", 10, 1, 3600, problems),
        worker_nice=_int(env, "ANIMA_WORKER_NICE", 5, 0, 19, problems),
    )
    queue_name = env.get("ANIMA_QUEUE_NAME") or "anima"
    if not re.fullmatch(r"[a-z0-9_-]{1,40}", queue_name):
        problems.append("ANIMA_QUEUE_NAME must be 1-40 characters of a-z, 0-9, _ and -")
    automation_tick = (env.get("ANIMA_AUTOMATION_TICK") or "* * * * *").strip()
    from croniter import croniter

    if not croniter.is_valid(automation_tick):
        problems.append(f"ANIMA_AUTOMATION_TICK={automation_tick!r} is not a cron expression")
    extra_functions = (env.get("ANIMA_WORKER_EXTRA_FUNCTIONS") or "").strip() or None
    if extra_functions is not None and not re.fullmatch(r"[\w.]+:\w+", extra_functions):
        problems.append("ANIMA_WORKER_EXTRA_FUNCTIONS must look like package.module:attribute")
    settings_kwargs.update(queue_name=queue_name, automation_tick=automation_tick, worker_extra_functions=extra_functions)
    stripe_values = {
        name: (env.get(name) or "").strip() or None
        for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_PRICE_PRO", "STRIPE_PRICE_CENTER", "STRIPE_API_BASE")
    }
    stripe_set = [n for n in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_PRICE_PRO", "STRIPE_PRICE_CENTER") if stripe_values[n]]
    if stripe_set and len(stripe_set) < 4:
        missing = sorted({"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_PRICE_PRO", "STRIPE_PRICE_CENTER"} - set(stripe_set))
        problems.append(f"Stripe is partly configured: set {', '.join(missing)} too, or unset every STRIPE_ variable")
    if stripe_values["STRIPE_PRICE_PRO"] and stripe_values["STRIPE_PRICE_PRO"] == stripe_values["STRIPE_PRICE_CENTER"]:
        problems.append("STRIPE_PRICE_PRO and STRIPE_PRICE_CENTER must be different prices")
    if stripe_values["STRIPE_API_BASE"] and not stripe_values["STRIPE_API_BASE"].startswith(("http://", "https://")):
        problems.append("STRIPE_API_BASE must start with http:// or https://")
    settings_kwargs.update(
        stripe_secret_key=stripe_values["STRIPE_SECRET_KEY"],
        stripe_webhook_secret=stripe_values["STRIPE_WEBHOOK_SECRET"],
        stripe_price_pro=stripe_values["STRIPE_PRICE_PRO"],
        stripe_price_center=stripe_values["STRIPE_PRICE_CENTER"],
        stripe_api_base=(stripe_values["STRIPE_API_BASE"] or "").rstrip("/") or None,
    )
    gemini_base = (env.get("GEMINI_API_BASE") or "").strip().rstrip("/") or None
    if gemini_base and not gemini_base.startswith(("http://", "https://")):
        problems.append("GEMINI_API_BASE must start with http:// or https://")
    gemini_model = (env.get("GEMINI_MODEL") or "").strip() or "gemini-2.5-flash"
    if not all(c.isalnum() or c in "-._" for c in gemini_model):
        problems.append(f"GEMINI_MODEL={gemini_model!r} may hold only letters, digits, '-', '.' and '_'")
    settings_kwargs.update(
        gemini_api_key=(env.get("GEMINI_API_KEY") or "").strip() or None, gemini_model=gemini_model, gemini_api_base=gemini_base
    )
    smtp_url = (env.get("SMTP_URL") or "").strip() or None
    if smtp_url is not None:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(smtp_url)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            problems.append("SMTP_URL must look like smtp://user:pass@host:port or smtps://user:pass@host:port")
    mail_from = (env.get("ANIMA_MAIL_FROM") or "").strip() or DEFAULT_MAIL_FROM
    from email.utils import parseaddr

    if "@" not in parseaddr(mail_from)[1] or any(c in mail_from for c in "\r\n\x00"):
        problems.append(f"ANIMA_MAIL_FROM={mail_from!r} must be an address such as 'Anima <no-reply@example.org>'")
    settings_kwargs.update(smtp_url=smtp_url, mail_from=mail_from, mail_lease=_int(env, "ANIMA_MAIL_LEASE", 300, 1, 86400, problems))
    twilio = {name: (env.get(name) or "").strip() or None
              for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_API_BASE")}
    twilio_set = [n for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM") if twilio[n]]
    if twilio_set and len(twilio_set) < 3:
        missing = sorted({"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"} - set(twilio_set))
        problems.append(f"Twilio is partly configured: set {', '.join(missing)} too, or unset every TWILIO_ variable")
    if twilio["TWILIO_ACCOUNT_SID"] and not re.fullmatch(r"AC[0-9a-fA-F]{32}", twilio["TWILIO_ACCOUNT_SID"]):
        problems.append("TWILIO_ACCOUNT_SID must be AC followed by 32 hexadecimal digits")
    if twilio["TWILIO_FROM"] and not re.fullmatch(r"\+[1-9][0-9]{6,14}|MG[0-9a-fA-F]{32}", twilio["TWILIO_FROM"]):
        problems.append("TWILIO_FROM must be a phone number in E.164 (+15005550006) or a messaging service SID (MG...)")
    if twilio["TWILIO_API_BASE"] and not twilio["TWILIO_API_BASE"].startswith(("http://", "https://")):
        problems.append("TWILIO_API_BASE must start with http:// or https://")
    settings_kwargs.update(
        twilio_account_sid=twilio["TWILIO_ACCOUNT_SID"], twilio_auth_token=twilio["TWILIO_AUTH_TOKEN"],
        twilio_from=twilio["TWILIO_FROM"], twilio_api_base=(twilio["TWILIO_API_BASE"] or "").rstrip("/") or None,
    )
    google = {name: (env.get(name) or "").strip() or None
              for name in ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "GOOGLE_OAUTH_BASE", "GOOGLE_API_BASE")}
    if bool(google["GOOGLE_CLIENT_ID"]) != bool(google["GOOGLE_CLIENT_SECRET"]):
        problems.append("Google Calendar is partly configured: set both GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET, or neither")
    for name in ("GOOGLE_OAUTH_BASE", "GOOGLE_API_BASE"):
        if google[name] and not google[name].startswith(("http://", "https://")):
            problems.append(f"{name} must start with http:// or https://")
    settings_kwargs.update(
        google_client_id=google["GOOGLE_CLIENT_ID"], google_client_secret=google["GOOGLE_CLIENT_SECRET"],
        google_oauth_base=(google["GOOGLE_OAUTH_BASE"] or "").rstrip("/") or None,
        google_api_base=(google["GOOGLE_API_BASE"] or "").rstrip("/") or None,
    )
    if problems:
        raise SettingsError(problems)
    if generated:
        print(
            "\n" + "!" * 78 + f"\n!! DEVELOPMENT SECRETS IN USE: {', '.join(generated)} generated and kept in\n!! "
            f"{data_dir / 'secrets.json'}. Never use them in production (ANIMA_ENV=production).\n" + "!" * 78,
            file=sys.stderr,
        )
    return Settings(
        env=mode,  # type: ignore[arg-type]
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key or "",
        master_key=master_key,
        data_dir=data_dir,
        host=host,
        port=port,
        public_url=public_url,
        trusted_proxies=tuple(proxies),
        log_level=log_level,
        generated_secrets=tuple(generated),
        **settings_kwargs,
    )
