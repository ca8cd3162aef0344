"""The API's endpoints: `v1` (the API, behind the optional key) and `router` (health, readiness, metrics)."""

import asyncio
import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from model.explain import Explained, Occlusion, all_texts, assemble
from model.segment import as_heading, split_paragraphs
from service.batcher import BatcherClosed, BatchFailed, QueueFull
from service.errors import ApiError, ErrorBody, error_response
from service.metrics import CONTENT_TYPE
from service.runtime import Runtime, ServiceState
from service.schemas import (
    CLASSIFY_EXAMPLES,
    CLASSIFY_RESPONSE_EXAMPLE,
    DOCUMENT_EXAMPLES,
    ClassifyRequest,
    ClassifyResponse,
    DocumentRequest,
    DocumentResponse,
    ModelInfo,
    ParagraphResult,
    Result,
    Status,
)
from service.settings import Settings
from service.summary import corrected_shares, summarize

if TYPE_CHECKING:
    from model.labeler import Prediction

router = APIRouter()
v1 = APIRouter(prefix="/v1")


# Async dependencies: FastAPI runs plain `def` ones in its thread pool, a thread hop per request for nothing.
async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_app_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def require_runtime(state: StateDep) -> Runtime:
    """The loaded model, or a 503 telling the client to wait (or that loading failed, or it is stopping)."""
    if state.runtime is not None and not state.draining:
        return state.runtime
    raise _not_ready(state)


RuntimeDep = Annotated[Runtime, Depends(require_runtime)]

_bearer = HTTPBearer(auto_error=False, description="The key set in STANCE_API_KEY.")


async def require_api_key(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """401 unless the request carries `Authorization: Bearer <STANCE_API_KEY>` (used only with a key set)."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    given = credentials.credentials if credentials else ""
    # compare_digest takes as long whatever prefix matches, so timing does not leak the key.
    if not key or not hmac.compare_digest(given.encode(), key.encode()):
        message = (
            "the API key is wrong" if credentials else "this server needs an API key"
        ) + ": send the header 'Authorization: Bearer <key>'"
        raise ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def _not_ready(state: ServiceState) -> ApiError:
    retry = {"Retry-After": str(state.settings.retry_after_seconds)}
    if state.draining:
        return ApiError(503, "shutting_down", "the server is shutting down; retry on another instance", retry)
    if state.load_error is not None:
        return ApiError(
            503,
            "model_load_failed",
            f"the model at {state.settings.model_dir} failed to load ({state.load_error}); "
            "fix the model directory (STANCE_MODEL_DIR) and restart",
        )
    message = "the model is still loading; retry shortly (GET /ready answers 200 once it is ready)"
    return ApiError(503, "not_ready", message, retry)


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def _check_texts(texts: Sequence[str], settings: Settings) -> None:
    # Empty lists and blank texts are refused by `ClassifyRequest` itself; these limits come from settings.
    if len(texts) > settings.max_texts:
        raise ApiError(
            413,
            "too_many_texts",
            f"{len(texts)} texts in one request, over the limit of {settings.max_texts}; split them "
            "into several requests (the limit is STANCE_MAX_TEXTS)",
        )
    for i, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise ApiError(
                413,
                "text_too_long",
                f"texts[{i}] has {len(text)} characters, over the limit of {settings.max_text_chars}; "
                "split it into paragraphs, or send the whole document to /v1/documents",
            )


async def _predict(state: ServiceState, runtime: Runtime, texts: Sequence[str]) -> "list[Prediction]":
    """Run texts through the shared micro-batcher, turning its failures into API errors."""
    retry = {"Retry-After": str(state.settings.retry_after_seconds)}
    try:
        predictions = await runtime.batcher.submit(texts)
    except QueueFull as error:
        raise ApiError(429, "queue_full", str(error), retry) from None
    except BatchFailed as error:
        raise ApiError(
            500, "inference_failed", f"the model failed on this request ({error}); see the server log"
        ) from None
    except BatcherClosed:
        raise _not_ready(state) from None  # the server is stopping: `state.draining` is set
    return predictions


async def _label(
    state: ServiceState, runtime: Runtime, texts: Sequence[str], explain: bool, headings: Sequence[bool]
) -> list[Explained]:
    """Label paragraphs, measuring their sentences' effects if `explain`; headings are `neither` by rule.

    A paragraph and its copies without each sentence go through the micro-batcher as one request, so
    they share the queue (and its limit) with everyone else's paragraphs.
    """
    plans = [
        Occlusion.of(text) if explain and not heading else Occlusion.whole(text)
        for text, heading in zip(texts, headings, strict=True)
    ]
    if explain:
        cost, limit = sum(plan.cost for plan in plans), state.settings.max_explain_chars
        if cost > limit:
            raise ApiError(
                413,
                "explain_too_large",
                f"explaining this makes the model read {cost} characters (each paragraph once, and once more "
                f"per sentence left out), over the limit of {limit}; send fewer or shorter paragraphs, or "
                "leave out explain (the limit is STANCE_MAX_EXPLAIN_CHARS)",
            )
    explained = assemble(plans, await _predict(state, runtime, all_texts(plans)))
    explained = [
        Explained(as_heading(e.prediction), e.sentences, e.capped) if heading else e
        for e, heading in zip(explained, headings, strict=True)
    ]
    state.metrics.count_labels([e.prediction.label for e in explained])
    return explained


def _explanation(explained: Explained, explain: bool, offset: int = 0) -> dict[str, Any]:
    """The `explanation` fields of a result, when they were asked for."""
    if not explain:
        return {}
    return {"explanation": explained.explanation(offset), "explanation_capped": explained.capped}


@v1.post(
    "/classify",
    summary="Label paragraphs",
    responses={
        200: {"content": {"application/json": {"example": CLASSIFY_RESPONSE_EXAMPLE}}},
        **_error_responses(413, 415, 422, 429, 500, 503),
    },
)
async def classify(
    body: Annotated[ClassifyRequest, Body(openapi_examples=CLASSIFY_EXAMPLES)],
    state: StateDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> ClassifyResponse:
    """Label each text as `realist`, `liberal_internationalist` or `neither`, in input order.

    With `"explain": true` each result also lists the text's sentences (offsets into that text) and how much
    its label's probability drops when each one is left out.
    """
    _check_texts(body.texts, settings)
    explained = await _label(state, runtime, body.texts, body.explain, [False] * len(body.texts))
    results = [Result(**e.prediction.to_dict(), **_explanation(e, body.explain)) for e in explained]
    return ClassifyResponse(model=runtime.ref, results=results)


@v1.post(
    "/documents",
    summary="Label a whole document",
    responses=_error_responses(413, 415, 422, 429, 500, 503),
)
async def documents(
    body: Annotated[DocumentRequest, Body(openapi_examples=DOCUMENT_EXAMPLES)],
    state: StateDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> DocumentResponse:
    """Split a document into paragraphs (at blank lines), label each, and summarise the document.

    Headings (a title, subheads, a byline or dateline: short lines, none ending like a sentence) are `neither`
    by rule. With `"explain": true` each paragraph also lists its sentences (offsets into the document) and
    how much its label's probability drops when each one is left out.
    """
    if len(body.text) > settings.max_document_chars:
        raise ApiError(
            413,
            "document_too_long",
            f"the document has {len(body.text)} characters, over the limit of {settings.max_document_chars}; "
            "send it in parts (the limit is STANCE_MAX_DOCUMENT_CHARS)",
        )
    paragraphs = split_paragraphs(body.text)  # never empty: `DocumentRequest` wants a non-blank text
    texts, headings = [p.text for p in paragraphs], [p.heading for p in paragraphs]
    explained = await _label(state, runtime, texts, body.explain, headings)
    results = [
        ParagraphResult(
            index=p.index,
            start=p.start,
            end=p.end,
            text=p.text,
            heading=p.heading,
            **e.prediction.to_dict(),
            **_explanation(e, body.explain, offset=p.start),
        )
        for p, e in zip(paragraphs, explained, strict=True)
    ]
    predictions, labels = [e.prediction for e in explained], runtime.info.labels
    # The interval's bootstrap is not inference, but at a few ms per hundred paragraphs it stays off the loop.
    corrected = await asyncio.to_thread(
        corrected_shares, predictions, labels, runtime.corrector, headings, runtime.no_rates, texts
    )
    summary = summarize(predictions, labels, settings.mixed_threshold, corrected)
    return DocumentResponse(model=runtime.ref, paragraphs=results, summary=summary)


@v1.get("/model", summary="Describe the served model", responses=_error_responses(503))
async def model(runtime: RuntimeDep) -> ModelInfo:
    """Name, version, labels, provenance, backend, calibration and headline evaluation metrics."""
    return runtime.info


@router.get("/health", summary="Liveness", response_model_exclude_none=True)
async def health() -> Status:
    """200 whenever the process answers, even while the model loads."""
    return Status(status="alive")


@router.get("/ready", summary="Readiness", responses=_error_responses(503))
async def ready(state: StateDep) -> Response:
    """200 once the model is loaded and warmed up; 503 before, if loading failed, and once shutting down."""
    if state.runtime is None or state.draining:
        error = _not_ready(state)
        return error_response(error.status, error.error_type, error.message, error.headers)
    body = Status(status="ready", model=state.runtime.ref)
    return JSONResponse(body.model_dump())


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
