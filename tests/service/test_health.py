"""GET /health (alive) and GET /ready (model loaded and warmed up), through loading and its failure."""

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from fastapi.testclient import TestClient

from model.labeler import Labeler, Prediction
from service.main import create_app
from service.runtime import WARMUP_TEXT, LabelerLike, load_labeler
from service.settings import Settings
from tests.service.helpers import GatedLabeler, tiny_settings, wait_ready


def test_alive_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "alive"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model": {"name": "tiny-test", "version": "0.0.1"}}


def test_not_ready_until_loaded_and_warmed(tiny_model_dir: Path, tiny_labeler: Labeler) -> None:
    loading = threading.Event()
    release = threading.Event()
    wrapped = GatedLabeler(tiny_labeler)
    wrapped.gate.clear()  # hold the warm-up prediction too

    def slow_loader(settings: Settings) -> LabelerLike:
        loading.set()
        assert release.wait(timeout=30)
        assert settings.model_dir == tiny_model_dir
        return wrapped

    app = create_app(tiny_settings(tiny_model_dir), loader=slow_loader)
    try:
        with TestClient(app) as client:
            assert loading.wait(timeout=30)
            assert client.get("/health").status_code == 200
            for path in ("/ready", "/v1/model"):
                response = client.get(path)
                assert response.status_code == 503
                assert response.json()["error_type"] == "not_ready"
                assert response.headers["retry-after"] == "1"
            classify = client.post("/v1/classify", json={"texts": ["x"]})
            assert classify.status_code == 503
            assert classify.json()["error_type"] == "not_ready"
            release.set()
            # Loaded but the warm-up prediction has not run: still not ready.
            assert wrapped.entered.wait(timeout=30)
            assert client.get("/ready").status_code == 503
            wrapped.gate.set()
            wait_ready(client.get)
            assert wrapped.calls == [[WARMUP_TEXT]]
            assert client.post("/v1/classify", json={"texts": ["x"]}).status_code == 200
    finally:
        release.set()
        wrapped.gate.set()


class ThreadRecordingLabeler(GatedLabeler):
    """Records the thread of every prediction."""

    def __init__(self, inner: Labeler) -> None:
        super().__init__(inner)
        self.threads: list[threading.Thread] = []

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.threads.append(threading.current_thread())
        return super().predict(texts)


def test_the_warm_up_runs_on_the_thread_that_serves(tiny_model_dir: Path, tiny_labeler: Labeler) -> None:
    # Torch keeps an OpenMP thread team per calling thread: a warm-up on another thread made every
    # later request slower (service.batcher.MicroBatcher.warm_up).
    recording = ThreadRecordingLabeler(tiny_labeler)
    app = create_app(tiny_settings(tiny_model_dir), loader=lambda settings: recording)
    with TestClient(app) as client:
        wait_ready(client.get)
        for _ in range(3):
            assert client.post("/v1/classify", json={"texts": ["x", "y"]}).status_code == 200
    assert recording.calls[0] == [WARMUP_TEXT]
    assert len(recording.threads) == 4
    assert len({thread.ident for thread in recording.threads}) == 1


def test_stopping_while_warming_up_closes_the_batcher(tiny_model_dir: Path, tiny_labeler: Labeler) -> None:
    recording = ThreadRecordingLabeler(tiny_labeler)
    recording.gate.clear()  # hold the warm-up until the app has stopped
    app = create_app(tiny_settings(tiny_model_dir), loader=lambda settings: recording)
    try:
        with TestClient(app) as client:
            assert recording.entered.wait(timeout=30)
            assert client.get("/ready").status_code == 503
    finally:
        recording.gate.set()
    # The warm-up's thread belongs to the batcher's executor: it ends only once the batcher is closed.
    recording.threads[0].join(timeout=30)
    assert not recording.threads[0].is_alive()


def test_a_model_that_fails_to_load(tmp_path: Path) -> None:
    app = create_app(Settings(model_dir=tmp_path / "missing"), loader=load_labeler)
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while True:
            response = client.get("/ready")
            if response.json()["error_type"] == "model_load_failed" or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert response.status_code == 503
        assert response.json()["error_type"] == "model_load_failed"
        assert "missing" in response.json()["error"]
        assert client.get("/health").status_code == 200
        classify = client.post("/v1/classify", json={"texts": ["x"]})
        assert classify.status_code == 503
        assert classify.json()["error_type"] == "model_load_failed"
