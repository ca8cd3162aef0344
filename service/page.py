"""The reading room: one page at `/`, from HTML, CSS and JavaScript shipped inside this package.

No build step, and nothing loaded from outside the app: the Content-Security-Policy lets the page use only
its own files and the API, so it works offline and cannot leak what a reader pastes.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CSP})


def install_page(app: FastAPI) -> None:
    """Serve the page at `/` and its files under `/static/`."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/", page, methods=["GET", "HEAD"], include_in_schema=False)
