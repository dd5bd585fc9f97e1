"""HTTP routes of receipts, therapists' payout settings and their transfers.

* staff: ``GET …/payments/{id}/receipts`` (the receipt and refund notices), ``…/receipt`` (HTML)
  and ``…/receipt/pdf`` (WeasyPrint), for the payments the viewer may see;
* owners: ``GET …/payouts``, ``PUT …/payouts/{staff_id}`` (how each therapist is paid their share);
* clinicians: ``GET …/transfers`` (owners every booking's share, a therapist only their own).
"""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, put
from litestar.status_codes import HTTP_200_OK

from anima.domains.patients.visibility import Viewer
from anima.domains.payments import payouts as payout_rules
from anima.domains.payments import receipts
from anima.domains.payments import services as rules
from anima.domains.payments import transfers
from anima.domains.payments.schemas import PayoutIn, PayoutOut, ReceiptOut, TransferOut
from anima.domains.settings.services import get_settings
from anima.http.access import CLINICIANS, EVERY_MEMBER, OWNERS, TenantContext
from anima.http.pagination import OffsetPagination, Page
from anima.problems import NotFound


class ReceiptsController(Controller):
    """A payment's receipt for staff."""

    path = "/api/v1/orgs/{org_slug:str}/payments/{payment_id:uuid}"
    tags = ["payments"]

    async def _document(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> str:
        payment = await rules.get(tenant.session, viewer, payment_id)
        practice = await get_settings(tenant.session)
        document = await receipts.receipt_html(tenant.session, payment, org_name=tenant.tenant.name, language=practice.locale,
                                               zone=practice.timezone)
        if document is None:
            raise NotFound("this payment has no receipt yet")
        return document

    @get("/receipts", opt=EVERY_MEMBER, summary="The receipt and refund notices of a payment")
    async def list_receipts(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> list[ReceiptOut]:
        await rules.get(tenant.session, viewer, payment_id)
        return [ReceiptOut(receipts.receipt_number(r.number), r.seq, r.amount_minor, r.created_at)
                for r in await receipts.receipts_of(tenant.session, payment_id)]

    @get("/receipt", opt=EVERY_MEMBER, media_type="text/html", summary="The receipt as HTML, in the practice's language")
    async def html(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> Response[str]:
        return Response(await self._document(tenant, viewer, payment_id), media_type="text/html")

    @get("/receipt/pdf", opt=EVERY_MEMBER, media_type="application/pdf", summary="The receipt as a PDF, in the practice's language")
    async def pdf(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> Response[bytes]:
        body = receipts.receipt_pdf(await self._document(tenant, viewer, payment_id))
        return Response(body, media_type="application/pdf", headers={"Content-Disposition": 'attachment; filename="receipt.pdf"'})


class PayoutsController(Controller):
    """How each therapist is paid their share (owners)."""

    path = "/api/v1/orgs/{org_slug:str}/payouts"
    tags = ["payments"]

    @get("/", opt=OWNERS, summary="Therapists' payout settings (owners)")
    async def list_payouts(self, tenant: TenantContext) -> list[PayoutOut]:
        return [payout_rules.payout_out(p) for p in await payout_rules.list_payouts(tenant.session)]

    @put("/{staff_id:uuid}", opt=OWNERS, status_code=HTTP_200_OK,
         summary="Set how a therapist is paid: their Stripe account or outside Anima, and their share in basis points (owners)")
    async def set_payout(self, tenant: TenantContext, staff_id: uuid.UUID, data: PayoutIn) -> PayoutOut:
        return payout_rules.payout_out(await payout_rules.set_payout(tenant.session, staff_id, data, actor_id=tenant.user_id))


class TransfersController(Controller):
    """Therapists' shares per completed booking: owners see all, a therapist their own."""

    path = "/api/v1/orgs/{org_slug:str}/transfers"
    tags = ["payments"]

    @get("/", opt=CLINICIANS, summary="Therapists' shares of completed bookings, newest first (a therapist sees their own)")
    async def list_transfers(self, tenant: TenantContext, page: Page, therapist_id: uuid.UUID | None = None) -> OffsetPagination[TransferOut]:
        if not tenant.is_owner:
            therapist_id = tenant.user_id
        rows, total = await transfers.transfers_list(tenant.session, therapist_id=therapist_id, limit=page.limit, offset=page.offset)
        items = [TransferOut(r.booking_id, r.therapist_id, r.currency, r.share_bps, r.due_minor, r.amount_minor, r.reversed_minor,
                             r.status, r.stripe_transfer_id, r.updated_at) for r in rows]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)


ROUTES = [ReceiptsController, PayoutsController, TransfersController]
