"""The AI observatory's model: Gemini through the official google-genai SDK, structured output.

:class:`GeminiAnalyst` sends one prompt (a pseudonymized journal excerpt, see
:mod:`anima.ai.observatory`) to ``models/{GEMINI_MODEL}:generateContent`` with
``response_mime_type="application/json"`` and ``response_schema`` :class:`ObservatoryAnalysis`, so
the answer is a JSON document of that schema, validated by pydantic — never free text to parse.

Settings (see :mod:`anima.config`): ``GEMINI_API_KEY`` (unset: :func:`analyst_for` returns None and
the observatory answers with the local risk detector), ``GEMINI_MODEL``, ``GEMINI_API_BASE`` (only
to point the SDK at a stub). Transient failures (429, 5xx, connection errors) are retried by the
SDK (:data:`RETRY_ATTEMPTS` attempts in all, exponential back-off); when they persist, or the
answer does not fit the schema, :class:`GeminiUnavailable` is raised with a reason that holds no
content. Neither the prompt nor the answer is ever logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from anima.config import Settings
from anima.ai.lexicons import FLAGS
from anima.logs import get_logger

log = get_logger(__name__)

API_VERSION = "v1beta"  # the Gemini API version the SDK addresses: {base}/v1beta/models/{model}:generateContent
RETRY_ATTEMPTS = 3
TIMEOUT_MS = 60_000
RETRY_STATUSES = [408, 429, 500, 502, 503, 504]

RiskFlagName = Literal[
    "SUICIDAL_IDEATION", "SELF_HARM", "HARM_TO_OTHERS", "ABUSE", "SUBSTANCE", "EATING_DISORDER", "CRISIS"
]
assert set(RiskFlagName.__args__) == set(FLAGS)  # type: ignore[attr-defined]


class KeyMoment(pydantic.BaseModel):
    """A moment of the period worth the therapist's attention: the entry's date and what happened."""

    date: str = pydantic.Field(description="ISO date (YYYY-MM-DD) of the journal entry")
    description: str = pydantic.Field(description="what happened, in one or two sentences")


class RiskFlag(pydantic.BaseModel):
    """One risk the model sees, with its severity and why."""

    flag: RiskFlagName
    severity: Literal["medium", "high"]
    rationale: str = pydantic.Field(description="why, citing the entry date; no names")


class ObservatoryAnalysis(pydantic.BaseModel):
    """The structured answer asked of the model (the ``response_schema``)."""

    synthesis: str = pydantic.Field(description="a clinical synthesis of the period, a few short paragraphs")
    key_moments: list[KeyMoment]
    risk_level: Literal["LOW", "MEDIUM", "HIGH"]
    risk_flags: list[RiskFlag]


SYSTEM_INSTRUCTION = (
    "You assist a licensed therapist. You read excerpts of one patient's clinical journal, oldest first; "
    "names have been replaced by placeholders. Answer in the language given. Give: a synthesis of the "
    "period; key moments (date and what happened); an overall risk level (LOW, MEDIUM, HIGH) and risk "
    "flags (SUICIDAL_IDEATION, SELF_HARM, HARM_TO_OTHERS, ABUSE, SUBSTANCE, EATING_DISORDER, CRISIS) "
    "with severity and rationale. Flag only what the text supports; note explicit denials as such. "
    "Never invent identifying details. This supports, never replaces, the therapist's judgement."
)


class GeminiUnavailable(Exception):
    """Gemini could not give a valid answer; ``reason`` is safe to log and show (no content)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class GeminiAnswer:
    """A validated analysis, the model that produced it and the token usage reported."""

    analysis: ObservatoryAnalysis
    model: str
    prompt_tokens: int | None
    output_tokens: int | None


class GeminiAnalyst:
    """Calls Gemini with the observatory's schema. One instance per process (it holds an HTTP client)."""

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None = None, retry_initial_delay: float = 1.0
    ) -> None:
        self.model = model
        http_options = types.HttpOptions(
            base_url=base_url,
            api_version=API_VERSION,
            timeout=TIMEOUT_MS,
            retry_options=types.HttpRetryOptions(
                attempts=RETRY_ATTEMPTS, initial_delay=retry_initial_delay, max_delay=max(retry_initial_delay * 8, 1.0),
                jitter=retry_initial_delay, http_status_codes=RETRY_STATUSES,
            ),
        )
        self._client = genai.Client(api_key=api_key, vertexai=False, http_options=http_options)

    async def analyze(self, prompt: str) -> GeminiAnswer:
        """Ask for an :class:`ObservatoryAnalysis` of ``prompt``.

        Raises:
            GeminiUnavailable: after the retries, on a client error (bad key, quota), or when the
                answer is empty or does not fit the schema.
        """
        config = types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=ObservatoryAnalysis,
            temperature=0.2,
        )
        try:
            response = await self._client.aio.models.generate_content(model=self.model, contents=prompt, config=config)
        except genai_errors.APIError as exc:
            log.warning("gemini call failed", status=exc.code, model=self.model)
            raise GeminiUnavailable(f"the Gemini API answered {exc.code}") from None
        except (httpx.HTTPError, OSError) as exc:
            log.warning("gemini unreachable", error=type(exc).__name__, model=self.model)
            raise GeminiUnavailable("the Gemini API could not be reached") from None
        analysis = response.parsed if isinstance(response.parsed, ObservatoryAnalysis) else None
        if analysis is None:
            try:
                analysis = ObservatoryAnalysis.model_validate_json(response.text or "")
            except (pydantic.ValidationError, ValueError):
                log.warning("gemini answer does not fit the schema", model=self.model)
                raise GeminiUnavailable("the Gemini answer did not fit the analysis schema") from None
        usage = response.usage_metadata
        return GeminiAnswer(
            analysis=analysis,
            model=response.model_version or self.model,
            prompt_tokens=getattr(usage, "prompt_token_count", None),
            output_tokens=getattr(usage, "candidates_token_count", None),
        )


def analyst_for(settings: Settings, *, retry_initial_delay: float = 1.0) -> GeminiAnalyst | None:
    """The process's Gemini analyst, or None when ``GEMINI_API_KEY`` is unset."""
    if not settings.gemini_api_key:
        return None
    return GeminiAnalyst(
        api_key=settings.gemini_api_key, model=settings.gemini_model, base_url=settings.gemini_api_base,
        retry_initial_delay=retry_initial_delay,
    )
