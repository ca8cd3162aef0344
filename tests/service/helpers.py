"""Helpers for the service tests: a ready TestClient, a real uvicorn server, a gated Labeler."""

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model.labeler import Labeler, Prediction
from service.settings import Settings

READY_TIMEOUT = 60.0


def wait_ready(get: Callable[[str], Any], timeout: float = READY_TIMEOUT) -> None:
    """Poll GET /ready until it answers 200 (the model loads in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get("/ready").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"the app was not ready after {timeout} s")


@contextmanager
def ready_client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient whose lifespan has run and whose model is loaded."""
    with TestClient(app) as client:
        wait_ready(client.get)
        yield client


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Run `app` under a real uvicorn server on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not server.started:
            assert thread.is_alive(), "the server thread died while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not thread.is_alive(), "the server did not shut down"


def ready_url(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        wait_ready(client.get)


class GatedLabeler:
    """Wraps a Labeler; once armed, `predict` signals `entered` and waits for `gate` before running."""

    def __init__(self, inner: Labeler) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def labels(self) -> Sequence[str]:
        return self.inner.labels

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def version(self) -> str:
        return self.inner.version

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls.append(list(texts))
        self.entered.set()
        assert self.gate.wait(timeout=30), "the test never opened the gate"
        return self.inner.predict(texts)


def tiny_settings(model_dir: Path, **overrides: Any) -> Settings:
    return Settings(model_dir=model_dir, **overrides)


class SlowLabeler(GatedLabeler):
    """A Labeler that takes `delay` seconds more per call, so requests stay in flight long enough to watch."""

    def __init__(self, inner: Labeler, delay: float) -> None:
        super().__init__(inner)
        self.delay = delay

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        time.sleep(self.delay)
        return self.inner.predict(texts)
