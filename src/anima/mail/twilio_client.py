"""Sending one SMS through the official Twilio SDK (``twilio``), asynchronously.

:class:`SmsTransport` holds one ``twilio.rest.Client`` on the SDK's own aiohttp client
(``AsyncTwilioHttpClient``) for a batch and sends with ``messages.create_async``. The SDK builds
absolute ``https://api.twilio.com/...`` addresses; the documented way to change where requests go
is the client's ``http_client``, so :class:`_BaseUrlHttpClient` replaces that origin by
``TWILIO_API_BASE`` (tests point it at a local stub; production leaves it unset). Its logger is
held at WARNING: the SDK logs request lines at INFO, and ours never carry a number or a text.

Errors become the delivery outcomes of :mod:`anima.mail.sender`: a 429 or 5xx reply, or no
connection, is transient (retried with backoff); another 4xx (an invalid number, a recipient who
replied STOP to Twilio — error 21610) is permanent, recorded with Twilio's code.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from anima.config import Settings
from anima.mail.sender import PermanentFailure, TransientFailure

#: Twilio's REST origin, which the SDK writes into every address
TWILIO_ORIGIN = "https://api.twilio.com"
#: seconds one request may take
SMS_TIMEOUT = 30.0

_quiet = logging.getLogger("anima.twilio")
_quiet.setLevel(logging.WARNING)


class _BaseUrlHttpClient(AsyncTwilioHttpClient):
    """The SDK's async HTTP client, sending what it addresses to Twilio's origin to ``base`` instead."""

    def __init__(self, base: str | None) -> None:
        super().__init__(timeout=SMS_TIMEOUT, logger=_quiet)
        self._base = base.rstrip("/") if base else None

    async def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if self._base and url.startswith(TWILIO_ORIGIN):
            url = self._base + url[len(TWILIO_ORIGIN):]
        return await super().request(method, url, *args, **kwargs)


class SmsTransport:
    """Twilio for one batch of messages (``async with``); needs :attr:`Settings.sms_configured`."""

    def __init__(self, settings: Settings) -> None:
        if not settings.sms_configured:
            raise RuntimeError("SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM)")
        self._http = _BaseUrlHttpClient(settings.twilio_api_base)
        self._client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=self._http)
        self._from = settings.twilio_from or ""

    async def __aenter__(self) -> SmsTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.close()

    async def send(self, to: str, body: str) -> str:
        """Send ``body`` to ``to`` (E.164); returns Twilio's message SID.

        Raises:
            TransientFailure: no connection, a timeout, a 429 or a 5xx reply.
            PermanentFailure: another 4xx reply (reason: status and Twilio's error code).
        """
        sender = {"messaging_service_sid": self._from} if self._from.startswith("MG") else {"from_": self._from}
        try:
            message = await self._client.messages.create_async(to=to, body=body, **sender)
        except TwilioRestException as exc:
            reason = f"{exc.status} twilio-error-{exc.code or 'unknown'}"
            if exc.status == 429 or exc.status >= 500:
                raise TransientFailure(reason) from None
            raise PermanentFailure(reason) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, TwilioException) as exc:
            raise TransientFailure(type(exc).__qualname__) from None
        return str(message.sid)


__all__ = ["SmsTransport", "TWILIO_ORIGIN"]
