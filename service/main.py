"""The stance REST service: `create_app` builds it, `serve` runs it. Importing this module does nothing."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI

from service.body_limit import BodyLimitMiddleware
from service.errors import install_handlers
from service.metrics import MetricsMiddleware
from service.page import install_page
from service.routes import router
from service.runtime import Loader, ServiceState, load_labeler
from service.settings import Settings, get_settings

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
    app.include_router(router)
    install_page(app)
    every_route = [*app.routes, *router.routes]
    routes = {path for r in every_route if isinstance(path := getattr(r, "path", None), str)}
    # Added last = outermost: the metrics see every answer, the 413s of the body limit included.
    app.add_middleware(BodyLimitMiddleware, max_bytes=state.settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=routes)
    return app


def serve(host: str | None = None, port: int | None = None, model_dir: str | Path | None = None) -> None:
    """Run the service with uvicorn; None arguments fall back to the settings (STANCE_* variables)."""
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
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=30,
    )
