"""The confirm link of a reminder: ``/p/<slug>/b/<token>/confirm`` (the booking's manage token,
:mod:`anima.domains.bookings.links`).

The GET shows the booking and one button; only the POST confirms (a mail scanner that follows
links confirms nothing), through :func:`anima.domains.bookings.services.client_confirm`, which
sets the booking "confirmed by the client" once (a second confirmation changes nothing and says
so). A link that no longer applies (cancelled, started) says why, without a button.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings import links, public, services
from anima.domains.catalog.models import Service
from anima.problems import Problem
from anima.runtime import Runtime
from anima.web.forms import FormState
from anima.web.render import render


async def _page(request: Request[Any, Any, Any], runtime: Runtime, session: AsyncSession, slug: str, token: str,
                *, done: bool | None = None, message: str | None = None, status: int = 200) -> Template:
    from anima.domains.bookings.pages import _booking, _moment, _practice, _private, _zone  # noqa: PLC0415 - pages lists these handlers

    practice = await _practice(request, session, slug)
    booking = await _booking(runtime, session, practice, token)
    zone = _zone(None, await public.client_zone(session, booking, practice.zone))
    service = await session.get(Service, booking.service_id)
    return _private(render(
        "bookings/confirm.html", language=practice.language, time_zone=zone, status=status, practice=practice,
        booking=booking, service=service, done=done, message=message,
        open=links.usable(booking, services.utcnow()) and booking.status == "CONFIRMED",
        moment=await _moment(session, booking.starts_at, booking.therapist_id, practice.language, zone, practice.zone),
        base=f"/p/{practice.tenant.slug}/b/{token}",
    ))


@get("/p/{slug:str}/b/{token:str}/confirm", name="bookings:manage-confirm-page", include_in_schema=False)
async def confirm_page(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str,
                       token: str) -> Template:
    """The booking and the button that confirms the client is coming."""
    return await _page(request, runtime, db_session, slug, token)


@post("/p/{slug:str}/b/{token:str}/confirm", name="bookings:manage-confirm", include_in_schema=False)
async def confirm_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str,
                         token: str) -> Template:
    """Confirm once (:func:`anima.domains.bookings.services.client_confirm`) and say so."""
    from anima.domains.bookings.pages import _booking, _practice  # noqa: PLC0415 - pages lists these handlers

    practice = await _practice(request, db_session, slug)
    booking = await _booking(runtime, db_session, practice, token)
    try:
        done = await services.client_confirm(db_session, booking.id)
    except Problem as problem:
        await db_session.rollback()
        message = FormState().show(problem, practice.language).message
        return await _page(request, runtime, db_session, slug, token, message=message, status=problem.status)
    await db_session.commit()
    return await _page(request, runtime, db_session, slug, token, done=done)


PAGE_HANDLERS: list[Any] = [confirm_page, confirm_submit]
