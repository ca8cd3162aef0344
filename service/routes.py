"""The API's endpoints."""

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

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


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_app_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def require_runtime(state: StateDep) -> Runtime:
    """The loaded model, or a 503 telling the client to wait (or that loading failed)."""
    if state.runtime is not None:
        return state.runtime
    raise _not_ready(state)


RuntimeDep = Annotated[Runtime, Depends(require_runtime)]


def _not_ready(state: ServiceState) -> ApiError:
    if state.load_error is not None:
        return ApiError(
            503,
            "model_load_failed",
            f"the model at {state.settings.model_dir} failed to load ({state.load_error}); "
            "fix the model directory (STANCE_MODEL_DIR) and restart",
        )
    return ApiError(
        503,
        "not_ready",
        "the model is still loading; retry shortly (GET /ready answers 200 once it is ready)",
        {"Retry-After": str(state.settings.retry_after_seconds)},
    )


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def _check_unicode(where: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ApiError(
            422,
            "invalid_text",
            f"{where} holds an unpaired UTF-16 surrogate at character {error.start}; send valid Unicode",
        ) from None


def _check_texts(texts: Sequence[str], settings: Settings) -> None:
    if not texts:
        raise ApiError(422, "invalid_request", "texts is empty; send at least one paragraph")
    if len(texts) > settings.max_texts:
        raise ApiError(
            413,
            "too_many_texts",
            f"{len(texts)} texts in one request, over the limit of {settings.max_texts}; split them "
            "into several requests (the limit is STANCE_MAX_TEXTS)",
        )
    for i, text in enumerate(texts):
        if not text.strip():
            raise ApiError(
                422, "empty_text", f"texts[{i}] is empty or only whitespace; every text needs words"
            )
        if len(text) > settings.max_text_chars:
            raise ApiError(
                413,
                "text_too_long",
                f"texts[{i}] has {len(text)} characters, over the limit of {settings.max_text_chars}; "
                "split it into paragraphs, or send the whole document to /v1/documents",
            )
        _check_unicode(f"texts[{i}]", text)


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
        message = "the server is shutting down; retry on another instance"
        raise ApiError(503, "shutting_down", message, retry) from None
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


@router.post(
    "/v1/classify",
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


@router.post(
    "/v1/documents",
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
    _check_unicode("text", body.text)
    paragraphs = split_paragraphs(body.text)
    if not paragraphs:
        message = "the document has no paragraphs: it is empty or only whitespace"
        raise ApiError(422, "empty_document", message)
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
        corrected_shares, predictions, labels, runtime.corrector, headings, runtime.no_rates
    )
    summary = summarize(predictions, labels, settings.mixed_threshold, corrected)
    return DocumentResponse(model=runtime.ref, paragraphs=results, summary=summary)


@router.get("/v1/model", summary="Describe the served model", responses=_error_responses(503))
async def model(runtime: RuntimeDep) -> ModelInfo:
    """Name, version, labels, provenance, backend, calibration and headline evaluation metrics."""
    return runtime.info


@router.get("/health", summary="Liveness", response_model_exclude_none=True)
async def health() -> Status:
    """200 whenever the process answers, even while the model loads."""
    return Status(status="alive")


@router.get("/ready", summary="Readiness", responses=_error_responses(503))
async def ready(state: StateDep) -> Response:
    """200 once the model is loaded and warmed up; 503 before (or if loading failed)."""
    if state.runtime is None:
        error = _not_ready(state)
        return error_response(error.status, error.error_type, error.message, error.headers)
    body = Status(status="ready", model=state.runtime.ref)
    return JSONResponse(body.model_dump())


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
