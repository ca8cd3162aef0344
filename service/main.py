"""The stance REST service: `create_app` builds it, `serve` runs it. Importing this module does nothing."""

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service.body_limit import BodyLimitMiddleware
from service.errors import ErrorBody, install_handlers
from service.metrics import MetricsMiddleware
from service.page import install_page
from service.routes import require_api_key, router, v1
from service.runtime import Loader, ServiceState, load_labeler
from service.schemas import declare_limits
from service.settings import Settings, get_settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("stance.service")

DESCRIPTION = """
Label foreign-policy paragraphs `realist`, `liberal_internationalist` or `neither`.

Every error is JSON: `{"error": "<what is wrong and how to fix it>", "error_type": "..."}`.
"""


def _package_version() -> str:
    try:
        return version("stance")
    except PackageNotFoundError:
        return "0"


def create_app(settings: Settings | None = None, *, loader: Loader | None = None) -> FastAPI:
    """Build the app. The model loads in the background once it starts; `/ready` says when it is done.

    `loader` replaces how the Labeler is made from the settings (tests use it to gate or slow loading).
    """
    state = ServiceState(settings or get_settings(), loader or load_labeler)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load in the background: the server answers /health (and 503 on /ready) meanwhile.
        loading = asyncio.create_task(state.load(), name="stance-load-model")
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            await state.close()

    app = FastAPI(
        title="stance",
        version=_package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = state
    install_handlers(app)
    settings = state.settings
    if settings.api_key is not None:
        # A dependency of the whole /v1 router, so every endpoint on it, present or future, needs the key.
        app.include_router(v1, dependencies=[Depends(require_api_key)], responses={401: {"model": ErrorBody}})
    else:
        app.include_router(v1)
    app.include_router(router)
    install_page(app)
    routes = {path for r in app.routes if isinstance(path := getattr(r, "path", None), str)}
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_limits(generate_openapi(), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Added last = outermost: the metrics see every answer, the 413s of the body limit included, and the
    # CORS headers go on those 413s too, so a browser page can read why.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=routes)
    return app


def _draining_server(config: "uvicorn.Config", state: ServiceState) -> "uvicorn.Server":
    """A uvicorn server whose first SIGTERM or Ctrl-C drains before it stops.

    Draining: /ready and new /v1 requests answer 503 `shutting_down` at once (so a load balancer takes the
    instance out), requests already in flight finish, and as soon as none is left, or the grace period
    (`STANCE_SHUTDOWN_GRACE_SECONDS`) is over, uvicorn's own shutdown runs (closing the listening socket).
    Requests still waiting on the model when the grace period ends get a 503 `shutting_down`. The process
    then exits 0. A second signal skips the wait.
    """
    import uvicorn

    grace = state.settings.shutdown_grace_seconds

    class DrainingServer(uvicorn.Server):
        loop: asyncio.AbstractEventLoop | None = None
        drain: "asyncio.Task[None] | None" = None

        async def serve(self, sockets: Any = None) -> None:
            self.loop = asyncio.get_running_loop()
            await super().serve(sockets)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.loop is None or self.drain is not None or self.should_exit:
                super().handle_exit(sig, frame)
                return
            log.info("signal %d: draining (grace period %.0f s)", sig, grace)
            state.start_draining()
            # This runs as a signal handler: schedule the wait on the loop instead of running it here.
            self.loop.call_soon_threadsafe(self._start_drain)

        def _start_drain(self) -> None:
            assert self.loop is not None
            self.drain = self.loop.create_task(self._drain(), name="stance-drain")

        async def _drain(self) -> None:
            deadline = time.monotonic() + grace
            while state.metrics.in_flight > 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if state.metrics.in_flight > 0:
                # Out of time: requests still waiting on the model get a JSON 503 now, rather than the plain
                # 500 of a task uvicorn cancels.
                log.warning("grace period over with %d requests in flight", state.metrics.in_flight)
                await state.close()
            self.config.timeout_graceful_shutdown = max(1, round(deadline - time.monotonic()))
            # Not `handle_exit`: it would re-raise the signal at the end and the exit code would be 143.
            self.should_exit = True

    return DrainingServer(config)


def serve(
    host: str | None = None,
    port: int | None = None,
    model_dir: str | Path | None = None,
    *,
    loader: Loader | None = None,
) -> None:
    """Run the service with uvicorn; None arguments fall back to the settings (STANCE_* variables).

    `loader` is `create_app`'s (tests serve a deliberately slow model through it).
    """
    import uvicorn

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if model_dir is not None:
        overrides["model_dir"] = Path(model_dir)
    settings = get_settings().model_copy(update=overrides)
    if not (settings.model_dir / "config.json").is_file():
        # Fail before binding the port: a server that can never become ready helps nobody.
        raise SystemExit(
            f"stance serve: no model directory at {settings.model_dir} (config.json missing); "
            "pass --model DIR or set STANCE_MODEL_DIR"
        )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings, loader=loader)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
    )
    server = _draining_server(config, app.state.service)
    server.run()
    if server.started:
        # A clean stop (a signal that came during the drain has already ended the process). Leave now: the
        # interpreter's teardown of torch took minutes on a busy machine, and a model call that outlived the
        # grace period would keep it waiting for its thread; a server has nothing left to save.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
