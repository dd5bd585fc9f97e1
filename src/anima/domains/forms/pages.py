"""The HTML edge of forms: the public fill page (:mod:`anima.domains.forms.fill_page`)."""

from __future__ import annotations

from anima.domains.forms.fill_page import PAGE_HANDLERS as FILL_PAGES

PAGE_HANDLERS = [*FILL_PAGES]
