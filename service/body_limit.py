"""A pure ASGI middleware refusing request bodies over a byte limit before anything parses them."""

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import send_error

# How much of a refused body is still read (and dropped) so that its 413 reaches the client, and for how long.
DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 10.0


class BodyLimitMiddleware:
    """Answer 413 for a body over `max_bytes`.

    A declared `Content-Length` over the limit is refused before the app sees it. Otherwise (including
    chunked bodies, which declare no length) the body is read here, counting bytes as they stream in, and
    refused as soon as the count passes the limit; a body within the limit is replayed to the app.
    Buffering is bounded by the limit itself.

    Before a 413 the rest of the body is read and dropped (up to `DRAIN_BYTES` and `DRAIN_SECONDS`): a
    server that answers and closes while the client is still sending makes the client's kernel see a reset,
    and the client then often never reads the answer. A client that sent `Expect: 100-continue` has not sent
    its body yet, so it is answered at once.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, declared: int | None) -> str:
        size = f"is {declared} bytes, over" if declared is not None else "passed"
        return (
            f"the request body {size} the limit of {self.max_bytes} bytes; send fewer or shorter texts per "
            "request (the limit is STANCE_MAX_BODY_BYTES)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if b"content-length" in headers:
            try:
                declared = int(headers[b"content-length"])
            except ValueError:
                await send_error(send, 400, "bad_request", "the Content-Length header is not a number")
                return
            if declared > self.max_bytes:
                if headers.get(b"expect", b"").lower() != b"100-continue":
                    await _drain(receive, more_body=True)
                await send_error(send, 413, "too_large", self._too_large(declared))
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _drain(receive, message.get("more_body", False))
                await send_error(send, 413, "too_large", self._too_large(None))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body, only a disconnect can come

        await self.app(scope, replay, send)


async def _drain(receive: Receive, more_body: bool) -> None:
    """Read and drop the rest of a request body, within the bounds; past them the answer goes out anyway."""
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while more_body and dropped < DRAIN_BYTES:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                dropped += len(message.get("body", b""))
                more_body = message.get("more_body", False)
