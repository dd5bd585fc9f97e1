"""load_settings (src/anima/config.py): every bad value is named, production demands its secrets,
development generates secrets once and keeps them."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from anima.config import ENVIRONMENT, SettingsError, load_settings

GOOD_SECRET = "s" * 40
GOOD_MASTER = base64.b64encode(bytes(range(32))).decode()


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A valid production environment; tests override one variable at a time."""
    env = {
        "ANIMA_ENV": "production",
        "DATABASE_URL": "postgresql://anima:pw@db:5432/anima",
        "ANIMA_SECRET_KEY": GOOD_SECRET,
        "ANIMA_MASTER_KEY": GOOD_MASTER,
        "ANIMA_DATA_DIR": str(tmp_path / "data"),
    }
    env.update(extra)
    return env


def problems_of(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert caught.value.problems, "SettingsError without problems"
    for problem in caught.value.problems:
        assert problem in str(caught.value)
    return caught.value.problems


def test_valid_production_environment_loads(tmp_path: Path) -> None:
    settings = load_settings(base_env(tmp_path, ANIMA_PORT="9000", ANIMA_TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.1"))
    assert settings.is_production
    assert settings.port == 9000
    assert settings.master_key == bytes(range(32))
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")
    assert settings.generated_secrets == ()
    assert not (tmp_path / "data" / "secrets.json").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ANIMA_ENV", "staging"),
        ("ANIMA_ENV", "PRODUCTION"),
        ("DATABASE_URL", "mysql://root@db/anima"),
        ("DATABASE_URL", "sqlite:///anima.db"),
        ("REDIS_URL", "http://redis:6379"),
        ("REDIS_URL", "memcached://cache"),
        ("ANIMA_SECRET_KEY", "too-short"),
        ("ANIMA_SECRET_KEY", "x" * 31),
        ("ANIMA_MASTER_KEY", "not base64 at all!!"),
        ("ANIMA_MASTER_KEY", base64.b64encode(b"k" * 16).decode()),
        ("ANIMA_MASTER_KEY", base64.b64encode(b"k" * 33).decode()),
        ("ANIMA_PORT", "http"),
        ("ANIMA_PORT", "0"),
        ("ANIMA_PORT", "65536"),
        ("ANIMA_PORT", "-1"),
        ("ANIMA_TRUSTED_PROXIES", "10.0.0.1,proxy.internal"),
        ("ANIMA_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("ANIMA_TRUSTED_PROXIES", "999.1.1.1"),
        ("ANIMA_LOG_LEVEL", "verbose"),
        ("ANIMA_LOG_LEVEL", "trace"),
        ("ANIMA_PUBLIC_URL", "ftp://anima.example"),
        ("ANIMA_DB_POOL_SIZE", "0"),
        ("ANIMA_DB_CONNECTION_MAX_USES", "many"),
        ("ANIMA_MIGRATION_CONCURRENCY", "1000"),
    ],
)
def test_bad_value_is_refused_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    assert variable in ENVIRONMENT
    problems = problems_of(base_env(tmp_path, **{variable: value}))
    assert len(problems) == 1, problems
    assert variable in problems[0]


def test_bad_values_in_development_are_refused_too(tmp_path: Path) -> None:
    env = base_env(tmp_path, ANIMA_ENV="development", ANIMA_SECRET_KEY="short")
    assert any("ANIMA_SECRET_KEY" in p for p in problems_of(env))


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    env = base_env(
        tmp_path,
        DATABASE_URL="mysql://x",
        REDIS_URL="http://x",
        ANIMA_PORT="seventy",
        ANIMA_LOG_LEVEL="loud",
        ANIMA_TRUSTED_PROXIES="nope",
        ANIMA_MASTER_KEY="AAAA",
    )
    problems = problems_of(env)
    text = "\n".join(problems)
    for variable in ("DATABASE_URL", "REDIS_URL", "ANIMA_PORT", "ANIMA_LOG_LEVEL", "ANIMA_TRUSTED_PROXIES", "ANIMA_MASTER_KEY"):
        assert variable in text, variable
    assert len(problems) == 6


@pytest.mark.parametrize("missing", ["ANIMA_SECRET_KEY", "ANIMA_MASTER_KEY", "DATABASE_URL"])
def test_production_requires_secrets_and_database(tmp_path: Path, missing: str) -> None:
    env = base_env(tmp_path)
    del env[missing]
    problems = problems_of(env)
    assert any(missing in p for p in problems)
    assert not (tmp_path / "data" / "secrets.json").exists(), "production must never generate secrets"


def test_production_with_empty_secret_is_refused(tmp_path: Path) -> None:
    problems = problems_of(base_env(tmp_path, ANIMA_SECRET_KEY="", ANIMA_MASTER_KEY=""))
    assert any("ANIMA_SECRET_KEY" in p for p in problems)
    assert any("ANIMA_MASTER_KEY" in p for p in problems)


def test_production_with_nothing_set_names_all_three(tmp_path: Path) -> None:
    problems = problems_of({"ANIMA_ENV": "production", "ANIMA_DATA_DIR": str(tmp_path)})
    text = "\n".join(problems)
    assert "ANIMA_SECRET_KEY" in text and "ANIMA_MASTER_KEY" in text and "DATABASE_URL" in text


def test_unknown_environment_is_validated_strictly(tmp_path: Path) -> None:
    """A misspelt ANIMA_ENV must not silently fall back to development and generate secrets."""
    problems = problems_of({"ANIMA_ENV": "prod", "ANIMA_DATA_DIR": str(tmp_path)})
    assert any("ANIMA_ENV" in p for p in problems)
    assert not (tmp_path / "secrets.json").exists()


def test_development_generates_secrets_once_with_mode_0600(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "dev-data"
    env = {"ANIMA_ENV": "development", "ANIMA_DATA_DIR": str(data_dir)}
    first = load_settings(env)
    path = data_dir / "secrets.json"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first.generated_secrets) == {"ANIMA_SECRET_KEY", "ANIMA_MASTER_KEY"}
    assert len(first.secret_key) >= 32
    assert len(first.master_key) == 32
    stored = json.loads(path.read_text())
    assert stored["ANIMA_SECRET_KEY"] == first.secret_key
    assert base64.b64decode(stored["ANIMA_MASTER_KEY"]) == first.master_key
    assert "DEVELOPMENT SECRETS" in capsys.readouterr().err
    # the secret itself is never printed
    second = load_settings(env)
    assert second.secret_key == first.secret_key
    assert second.master_key == first.master_key
    assert first.secret_key not in capsys.readouterr().err


def test_development_keeps_explicit_secrets_and_generates_only_the_missing_one(tmp_path: Path) -> None:
    env = {"ANIMA_ENV": "development", "ANIMA_DATA_DIR": str(tmp_path), "ANIMA_SECRET_KEY": GOOD_SECRET}
    settings = load_settings(env)
    assert settings.secret_key == GOOD_SECRET
    assert settings.generated_secrets == ("ANIMA_MASTER_KEY",)


def test_development_defaults(tmp_path: Path) -> None:
    settings = load_settings({"ANIMA_DATA_DIR": str(tmp_path)})
    assert settings.env == "development"
    assert settings.database_url is None
    assert settings.port == 8000
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.log_level == "info"
    assert settings.trusted_proxies == ()


def test_smtp_url_and_mail_from(tmp_path: Path) -> None:
    settings = load_settings(base_env(tmp_path))
    assert settings.smtp_url is None and settings.local_mailbox and settings.mail_from == "Anima <no-reply@anima.example>"
    configured = load_settings(base_env(tmp_path, SMTP_URL="smtps://user:p%40ss@mail.example:465", ANIMA_MAIL_FROM="Care <care@x.example>"))
    assert configured.smtp_url == "smtps://user:p%40ss@mail.example:465" and not configured.local_mailbox
    assert configured.mail_from == "Care <care@x.example>"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SMTP_URL", "http://mail.example"), ("SMTP_URL", "smtp://"), ("SMTP_URL", "smtp://mail.example:99999"),
     ("ANIMA_MAIL_FROM", "no address"), ("ANIMA_MAIL_FROM", "a@b.example\r\nBcc: x@y.example")],
)
def test_bad_mail_settings_are_refused(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(base_env(tmp_path, **{variable: value}))
    assert any(variable in problem for problem in caught.value.problems)


TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2, "TWILIO_AUTH_TOKEN": "token", "TWILIO_FROM": "+15005550006"}


def test_sms_is_off_without_twilio_and_on_with_all_three(tmp_path: Path) -> None:
    assert not load_settings(base_env(tmp_path)).sms_configured
    configured = load_settings(base_env(tmp_path, **TWILIO, TWILIO_API_BASE="http://127.0.0.1:9/"))
    assert configured.sms_configured and configured.twilio_api_base == "http://127.0.0.1:9"
    service = load_settings(base_env(tmp_path, **{**TWILIO, "TWILIO_FROM": "MG" + "ab" * 16}))
    assert service.sms_configured


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN"), ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
     ({"TWILIO_FROM": "600 11 22 33"}, "TWILIO_FROM"), ({"TWILIO_API_BASE": "ftp://x"}, "TWILIO_API_BASE")],
)
def test_bad_twilio_settings_are_refused(tmp_path: Path, overrides: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(base_env(tmp_path, **{**TWILIO, **overrides}))
    assert any(named in problem for problem in caught.value.problems)
