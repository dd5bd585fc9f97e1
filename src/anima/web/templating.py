"""The Jinja2 engine of every page: template folders, gettext, formatting filters, static URLs.

Templates live in ``anima/web/templates/`` (the layouts, ``web/…``) and in each domain's
``templates/<domain>/``; all folders form one search path, so a domain's page extends
``web/workspace.html``. Every string goes through gettext (Jinja's i18n extension, new style:
``{{ _("Save %(name)s", name=x) }}``); the page language is the context's ``language``, so one
environment serves every language at once. Autoescaping is on for every template.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from anima.web import formatting, i18n

WEB_ROOT = Path(__file__).resolve().parent
STATIC_ROOT = WEB_ROOT / "static"
STATIC_PREFIX = "/static"


def template_folders() -> list[Path]:
    """``anima/web/templates``, every other package's ``templates`` (and its sub-areas', such as
    ``anima/identity/account/templates``), then every ``anima/domains/<name>/templates``."""
    domains = sorted((WEB_ROOT.parent / "domains").glob("*/templates"))
    extra = sorted(p for p in WEB_ROOT.parent.glob("*/templates") if p.parent.name not in {"web", "domains"})
    nested = sorted(p for p in WEB_ROOT.parent.glob("*/*/templates") if p.parents[1].name not in {"web", "domains"})
    return [WEB_ROOT / "templates", *extra, *nested, *domains]


@functools.cache
def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: cached for long, never stale after a deploy."""
    digest = hashlib.sha256((STATIC_ROOT / path).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{path}?v={digest}"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.translations(context.get("language", i18n.DEFAULT_LANGUAGE)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return i18n.translations(context.get("language", i18n.DEFAULT_LANGUAGE)).ngettext(singular, plural, n)


@pass_context
def _instant(context: Context, value: Any, style: str = "medium") -> str:
    return formatting.instant(value, context.get("language", "en"), context.get("time_zone"), style=style)


@pass_context
def _day(context: Context, value: Any) -> str:
    return formatting.day(value, context.get("language", "en"), context.get("time_zone"))


@pass_context
def _money(context: Context, amount_minor: int | None, currency: str) -> str:
    return formatting.money(amount_minor, currency, context.get("language", "en"))


@pass_context
def _number(context: Context, value: Any) -> str:
    return formatting.number(value, context.get("language", "en"))


def build_environment() -> Environment:
    """The one Jinja2 environment (autoescaped, strict about undefined names, gettext installed)."""
    env = Environment(
        loader=FileSystemLoader([str(p) for p in template_folders()]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(static=static_url, language_name=i18n.language_name, LANGUAGES=i18n.LANGUAGES)
    env.filters.update(instant=_instant, day=_day, money=_money, number=_number)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's template configuration over :func:`build_environment`."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(build_environment()))
