"""One error shape for every failure.

`{"error": "<what is wrong and how to fix it>", "error_type": "..."}`, FastAPI's own 404/405/422 included.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Send

log = logging.getLogger("stance.service")

# FastAPI turns a body it cannot decode (e.g. invalid UTF-8) into this 400; it is malformed JSON to a client.
_FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"

_HTTP_ERROR_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "queue_full",
    500: "internal",
    503: "not_ready",
}


class ErrorBody(BaseModel):
    """What every non-2xx answer holds."""

    error: str = Field(description="What is wrong and how to fix it.")
    error_type: str = Field(description="A stable machine-readable code, e.g. `invalid_request`.")


class ApiError(Exception):
    """An error the service answers on purpose, with its status, type and optional headers."""

    def __init__(
        self, status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status, headers=headers)


async def send_error(send: Send, status: int, error_type: str, message: str) -> None:
    """Write an error answer straight to an ASGI `send` (for middleware that runs before routing)."""
    body = json.dumps({"error": message, "error_type": error_type}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _location(loc: Sequence[Any]) -> str:
    """`("body", "texts", 3)` -> `texts[3]`; the leading "body" says nothing to a client."""
    parts = [p for p in loc if p != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def validation_message(request: Request, errors: Sequence[Any]) -> tuple[int, str, str]:
    """Status, error type and a readable sentence for pydantic/FastAPI validation errors."""
    content_type = request.headers.get("content-type")
    first = errors[0] if errors else {}
    kind = first.get("type", "")
    if kind == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "not JSON")
        position = first.get("loc", ("body", "?"))[-1]
        return 422, "json_invalid", f"the request body is not valid JSON ({detail} at character {position})"
    if not _is_json(content_type) and request.method in ("POST", "PUT", "PATCH"):
        got = f"'{content_type}'" if content_type else "none"
        return (
            415,
            "unsupported_media_type",
            f"the body must be JSON sent with 'Content-Type: application/json' (got {got})",
        )
    where = _location(first.get("loc", ()))
    if kind in ("string_too_short", "string_pattern_mismatch"):  # minLength 1 and the HAS_WORDS pattern
        if where == "text":
            return 422, "empty_document", "the document has no paragraphs: it is empty or only whitespace"
        return 422, "empty_text", f"{where} is empty or only whitespace; every text needs words"
    if kind == "string_unicode":  # a lone surrogate: legal as a JSON escape, not as Unicode text
        return 422, "invalid_text", f"{where} holds an unpaired UTF-16 surrogate; send valid Unicode"
    if kind == "too_short" and where == "texts":
        return 422, "invalid_request", "texts is empty; send at least one paragraph"
    problems = []
    for error in errors[:5]:
        where = _location(error.get("loc", ()))
        if error.get("type") == "missing" and where == "body":
            problems.append("the request body is empty; send a JSON object")
        elif error.get("type") == "missing":
            problems.append(f"{where} is required")
        else:
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "invalid_request", "; ".join(problems) + more + "; see /docs for the request schema"


def install_handlers(app: FastAPI) -> None:
    """Make FastAPI's own errors (404, 405, 422, ...) use the service's one error shape."""

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.error_type, exc.message, exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        status, error_type, message = validation_message(request, list(exc.errors()))
        return error_response(status, error_type, message)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        headers = dict(exc.headers or {})
        if status == 404:
            message = f"no route {request.method} {request.url.path}; the API is described at /docs"
        elif status == 405:
            allowed = headers.get("Allow") or headers.get("allow") or "another method"
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        elif status == 400 and exc.detail == _FASTAPI_BODY_PARSE_ERROR:
            message = "the request body could not be decoded: send UTF-8 JSON (numbers of sane size)"
            return error_response(422, "json_invalid", message)
        else:
            message = str(exc.detail)
        return error_response(status, _HTTP_ERROR_TYPES.get(status, "http_error"), message, headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal", f"internal error ({type(exc).__name__}); see the server log")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
