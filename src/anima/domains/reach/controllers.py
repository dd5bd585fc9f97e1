"""The reach routes: one-click unsubscribe, SMS consent, and Twilio's inbound SMS webhook.

**Unsubscribe** — ``POST /api/v1/unsubscribe/{token}``: the one-click unsubscribe of RFC 8058.

A marketing email's ``List-Unsubscribe`` names this address and its ``List-Unsubscribe-Post``
says ``List-Unsubscribe=One-Click``: a mail client then POSTs that form body here, without
cookies or a token of ours; the signed link alone is the authority. Public (no bearer token). A
``GET`` of the same address — a person pasting it — is redirected to the page that asks first,
because RFC 8058 forbids unsubscribing on a GET.

**SMS consent** — ``GET``/``PUT /api/v1/orgs/{org_slug}/patients/{patient_id}/sms-consent``
(every member who may see the patient): the current consent, its history, and ``sms_enabled``
(false: this deployment has no Twilio settings and sends nothing).

**Inbound SMS** — ``POST /api/v1/sms/inbound``: Twilio's webhook for messages to our number
(form-encoded, no bearer token). The ``X-Twilio-Signature`` is checked by the SDK's
``RequestValidator`` over ``ANIMA_PUBLIC_URL`` + the path (the address Twilio was given) before
anything is read; 400 without a valid one, 404 while SMS is off. A reply that is wholly a STOP
keyword (en/es/ca/it, any case or accent: :mod:`anima.domains.reach.keywords`) withdraws the
sender's SMS consent in every organization that texted that number
(:func:`anima.domains.reach.sms.record_stop`); a START keyword gives it back where it was
withdrawn, recorded as given by SMS reply (:func:`anima.domains.reach.sms.record_start`).
Answers 204 (no reply is sent).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl

from litestar import Controller, Request, get, post, put
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.patients.visibility import Viewer
from anima.domains.reach import services, sms
from anima.domains.reach.keywords import STOP_KEYWORDS, keyword
from anima.domains.reach.schemas import LeadSmsConsentOut, SmsConsentOut, SmsConsentUpdate, UnsubscribeOut
from anima.http.access import EVERY_MEMBER, FRONT_DESK, TenantContext
from anima.http.openapi import answers
from anima.logs import get_logger
from anima.mail.unsubscribe import PAGE_PATH, TOKEN_SHAPE
from anima.problems import NotFound, Problem
from anima.runtime import Runtime
from anima.tenancy.scope import enter_tenant

log = get_logger(__name__)


class UnsubscribeController(Controller):
    """One-click unsubscribe from an organization's marketing emails."""

    path = "/api/v1/unsubscribe"
    tags = ["reach"]

    @post("/{token:str}", opt=answers(404), status_code=HTTP_200_OK, summary="Unsubscribe from marketing emails (RFC 8058 one-click)")
    async def one_click(self, runtime: Runtime, db_session: AsyncSession, token: str) -> UnsubscribeOut:
        """Record the opt-out the signed link names; repeating it changes nothing. 404 for a link
        that is not ours or whose organization is not active."""
        organization, recorded = await services.unsubscribe(db_session, runtime.settings.secret_key, token, "one-click")
        return UnsubscribeOut(organization=organization, recorded=recorded)

    @get("/{token:str}", opt=answers(404), status_code=HTTP_303_SEE_OTHER, summary="Open the unsubscribe page of a link")
    async def open_page(self, token: str) -> Redirect:
        """Redirect to the page that asks before unsubscribing (a GET never unsubscribes)."""
        if not TOKEN_SHAPE.fullmatch(token):
            raise NotFound("this unsubscribe link is not valid")
        return Redirect(f"{PAGE_PATH}/{token}", status_code=HTTP_303_SEE_OTHER)


class SmsConsentController(Controller):
    """A patient's consent to receive SMS."""

    path = "/api/v1/orgs/{org_slug:str}/patients/{patient_id:uuid}/sms-consent"
    tags = ["reach"]

    @get("/", opt=EVERY_MEMBER, summary="The patient's SMS consent, its history, and whether SMS is on")
    async def read(self, runtime: Runtime, tenant: TenantContext, viewer: Viewer, patient_id: uuid.UUID) -> SmsConsentOut:
        return await sms.read_sms_consent(tenant.session, viewer, patient_id, sms_enabled=runtime.settings.sms_configured)

    @put("/", opt=EVERY_MEMBER, summary="Record SMS consent given or withdrawn, and how (withdrawal stops queued SMS at once)")
    async def update(self, runtime: Runtime, tenant: TenantContext, viewer: Viewer, actor: Actor, patient_id: uuid.UUID,
                     data: SmsConsentUpdate) -> SmsConsentOut:
        return await sms.set_sms_consent(tenant.session, viewer, actor, patient_id, data, sms_enabled=runtime.settings.sms_configured)


class LeadSmsConsentController(Controller):
    """A lead's consent to receive SMS (the same append-only history as a patient's)."""

    path = "/api/v1/orgs/{org_slug:str}/leads/{lead_id:uuid}/sms-consent"
    tags = ["reach"]

    @get("/", opt=EVERY_MEMBER, summary="The lead's SMS consent, its history, and whether SMS is on")
    async def read(self, runtime: Runtime, tenant: TenantContext, lead_id: uuid.UUID) -> LeadSmsConsentOut:
        return await sms.read_lead_sms_consent(tenant.session, lead_id, sms_enabled=runtime.settings.sms_configured)

    @put("/", opt=FRONT_DESK, summary="Record a lead's SMS consent given or withdrawn, and how (owners and assistants)")
    async def update(self, runtime: Runtime, tenant: TenantContext, viewer: Viewer, actor: Actor, lead_id: uuid.UUID,
                     data: SmsConsentUpdate) -> LeadSmsConsentOut:
        return await sms.set_lead_sms_consent(tenant.session, actor, viewer.user_id, lead_id, data,
                                              sms_enabled=runtime.settings.sms_configured)


class InvalidTwilioSignature(Problem):
    """400: an inbound webhook whose ``X-Twilio-Signature`` is missing or wrong (nothing is read)."""

    status, kind, title = 400, "invalid-webhook", "Invalid webhook"


#: the opt-out keywords (en/es/ca/it: :mod:`anima.domains.reach.keywords`)
STOP_WORDS = STOP_KEYWORDS


class InboundSmsController(Controller):
    """Twilio's webhook for SMS replies."""

    path = "/api/v1/sms/inbound"
    tags = ["reach"]

    @post("/", opt=answers(400, 404, 413), status_code=HTTP_204_NO_CONTENT,
          summary="Twilio inbound SMS webhook (signed by Twilio; no bearer token): STOP withdraws SMS consent")
    async def receive(self, request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> None:
        settings = runtime.settings
        if not settings.sms_configured:
            raise NotFound("SMS is not configured on this deployment")
        raw = await request.body()
        if len(raw) > 64_000:
            raise InvalidTwilioSignature("the webhook body is too large", errors=[{"field": "body", "rule": "max-length", "message": "at most 64 kB"}])
        try:
            params = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            params = None
        url = settings.public_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("x-twilio-signature", "")
        if params is None or not RequestValidator(settings.twilio_auth_token).validate(url, params, signature):
            raise InvalidTwilioSignature("the Twilio signature is missing or does not match",
                                         errors=[{"field": "X-Twilio-Signature", "rule": "signature", "message": "not signed by Twilio"}])
        word = keyword(params.get("Body", ""))
        if word is None:
            return None
        try:
            number = sms.to_e164(params.get("From", ""))
        except ValueError:
            return None
        tenants = await sms.texting_tenants(db_session, settings.secret_key, number)
        await db_session.commit()
        withdrawn = 0
        for tenant_id in tenants:
            if await enter_tenant(db_session, tenant_id) is None:
                await db_session.rollback()
                continue
            record = sms.record_stop if word == "stop" else sms.record_start
            withdrawn += await record(db_session, FieldCipher(runtime.keyring, db_session, tenant_id), number)
            await db_session.commit()
        log.info(f"sms {word} received", organizations=len(tenants), changed=withdrawn)
        return None


ROUTE_HANDLERS = [UnsubscribeController, SmsConsentController, LeadSmsConsentController, InboundSmsController]
