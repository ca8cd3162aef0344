"""The app factory, `serve`, settings from the environment, and the OpenAPI description."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import service.main
from service.main import create_app, serve
from service.settings import Settings, get_settings


def test_importing_creates_no_app() -> None:
    assert not hasattr(service.main, "app")


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    defaults = Settings()
    assert (defaults.host, defaults.port, defaults.backend) == ("127.0.0.1", 8000, "auto")
    assert (defaults.max_texts, defaults.max_text_chars) == (256, 20_000)
    assert defaults.max_body_bytes == 2 * 1024 * 1024
    assert (defaults.max_document_chars, defaults.queue_size) == (500_000, 1024)
    assert (defaults.batch_window_ms, defaults.batch_token_budget) == (0.0, 16_384)
    monkeypatch.setenv("STANCE_PORT", "9123")
    monkeypatch.setenv("STANCE_MAX_TEXTS", "7")
    monkeypatch.setenv("STANCE_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("STANCE_BACKEND", "onnx")
    configured = Settings()
    assert (configured.port, configured.max_texts, configured.backend) == (9123, 7, "onnx")
    assert configured.model_dir == tmp_path
    monkeypatch.setenv("STANCE_QUEUE_SIZE", "0")
    with pytest.raises(ValueError, match="queue_size"):
        Settings()


def test_get_settings_is_cached() -> None:
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()


def test_serve_falls_back_to_settings_and_applies_overrides(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    import uvicorn

    calls: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: calls.append(self.config))
    monkeypatch.setenv("STANCE_PORT", "8765")
    monkeypatch.setenv("STANCE_SHUTDOWN_GRACE_SECONDS", "7")
    monkeypatch.setenv("STANCE_MODEL_DIR", str(tiny_model_dir))
    get_settings.cache_clear()
    try:
        serve()
        serve(host="0.0.0.0", port=9000, model_dir=str(tiny_model_dir))
    finally:
        get_settings.cache_clear()
    assert (calls[0].host, calls[0].port) == ("127.0.0.1", 8765)
    assert (calls[1].host, calls[1].port) == ("0.0.0.0", 9000)
    assert calls[1].timeout_graceful_shutdown == 7
    app = calls[1].app
    assert isinstance(app, FastAPI)
    assert app.state.service.settings.model_dir == tiny_model_dir


def test_serve_refuses_a_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no model directory"):
        serve(model_dir=tmp_path / "nothing-here")


def test_openapi_has_request_examples_and_error_shapes(tmp_path: Path) -> None:
    # The schema needs no model: build an app whose model never loads and never start it.
    client = TestClient(create_app(Settings(model_dir=tmp_path)))
    schema = client.get("/openapi.json").json()
    classify = schema["paths"]["/v1/classify"]["post"]
    examples = classify["requestBody"]["content"]["application/json"]["examples"]
    assert all("texts" in example["value"] for example in examples.values())
    assert {"413", "422", "429", "503"} <= set(classify["responses"])
    documents = schema["paths"]["/v1/documents"]["post"]
    assert "examples" in documents["requestBody"]["content"]["application/json"]
    for operation in (classify, documents):  # `explain` is documented, with an example that uses it
        examples = operation["requestBody"]["content"]["application/json"]["examples"]
        assert any(example["value"].get("explain") is True for example in examples.values())
    for name in ("ClassifyRequest", "DocumentRequest"):
        assert schema["components"]["schemas"][name]["properties"]["explain"]["default"] is False
    result = schema["components"]["schemas"]["Result"]["properties"]
    assert {"explanation", "explanation_capped"} <= set(result)
    answer = classify["responses"]["200"]["content"]["application/json"]["example"]["results"][0]
    assert set(answer) == set(result) and all(
        {"start", "end", "effect"} == set(s) for s in answer["explanation"]
    )
    assert client.get("/docs").status_code == 200
