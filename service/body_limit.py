"""A pure ASGI middleware refusing request bodies over a byte limit before anything parses them."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import send_error


class BodyLimitMiddleware:
    """Answer 413 for a body over `max_bytes`.

    A declared `Content-Length` over the limit is refused before a byte is read. Otherwise (including
    chunked bodies, which declare no length) the body is read here, counting bytes as they stream in, and
    refused as soon as the count passes the limit; a body within the limit is replayed to the app.
    Buffering is bounded by the limit itself.
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
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_error(send, 400, "bad_request", "the Content-Length header is not a number")
                    return
                if declared > self.max_bytes:
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
