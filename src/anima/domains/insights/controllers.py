"""Routes of the AI observatory: owners and therapists who may see the patient (assistants get 403).

* ``POST /api/v1/orgs/{slug}/patients/{patient_id}/analyses`` — analyse the recent journal now
  (in the request for now; the worker job :func:`anima.ai.jobs.analyze_patient_job` does
  the same off-request). 201 with a new entry; 200 when an identical analysis from the last hour,
  readable by the caller, is returned instead (``cached: true``).
* ``GET .../analyses`` — the patient's analyses the caller may read, newest first.

An analysis needs the patient's consent to AI processing (409 ``ai-consent-required``) and counts
against the tier's ``ai_analyses_per_month`` (403 ``plan-limit-reached``). Both routes are clinical:
a refusal here is audited (:mod:`anima.http.clinical_audit`).
"""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.ai import observatory
from anima.runtime import Runtime
from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.insights.schemas import AnalysisOut, analysis_out
from anima.domains.patients.visibility import Viewer
from anima.http.access import CLINICIANS, TenantContext
from anima.http.clinical_audit import CLINICAL
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


class AnalysesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/patients/{patient_id:uuid}/analyses"
    tags = ["insights"]

    @post(
        "/", opt=CLINICIANS | CLINICAL | answers(409), status_code=HTTP_201_CREATED,
        summary="Analyse the patient's recent journal (Gemini, or the local risk detector when not configured)",
        responses={200: ResponseSpec(AnalysisOut, description="The same input was analysed within the hour: the stored analysis, nothing new")},
    )
    async def analyse(
        self, tenant: TenantContext, cipher: FieldCipher, runtime: Runtime, viewer: Viewer, actor: Actor, patient_id: uuid.UUID
    ) -> Response[AnalysisOut]:
        result = await observatory.analyze_patient(
            tenant.session, cipher, runtime, viewer=viewer, actor=actor, patient_id=patient_id,
            tier=tenant.tenant.tier,
        )
        return Response(
            analysis_out(result.entry, cached=result.cached), status_code=HTTP_201_CREATED if result.created else HTTP_200_OK
        )

    @get("/", opt=CLINICIANS | CLINICAL, summary="The patient's AI analyses you may read, newest first")
    async def list_analyses(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, page: Page, patient_id: uuid.UUID
    ) -> OffsetPagination[AnalysisOut]:
        entries, total = await observatory.list_analyses(
            tenant.session, cipher, viewer, actor, patient_id, limit=page.limit, offset=page.offset
        )
        return OffsetPagination(items=[analysis_out(e) for e in entries], limit=page.limit, offset=page.offset, total=total)


ROUTE_HANDLERS = [AnalysesController]
