"""Every error is JSON {"error", "error_type"} with the right status; bad input never makes a 500."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from model.labeler import Labeler, Prediction
from service.main import create_app
from service.runtime import LabelerLike
from service.settings import Settings
from tests.service.helpers import GatedLabeler, ready_client, tiny_settings

JSON = {"content-type": "application/json"}


def assert_error(response: Any, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "error_type"}
    assert body["error_type"] == error_type
    assert isinstance(body["error"], str) and len(body["error"]) > 10
    return body


BAD_CLASSIFY_BODIES: list[tuple[bytes | str, int, str]] = [
    ("{bad json", 422, "json_invalid"),
    ('{"texts": ["a"]', 422, "json_invalid"),
    (b'{"texts": ["\xff\xfe"]}', 422, "json_invalid"),
    ("", 422, "invalid_request"),
    ("null", 422, "invalid_request"),
    ("[]", 422, "invalid_request"),
    ('"just a string"', 422, "invalid_request"),
    ("{}", 422, "invalid_request"),
    ('{"texts": null}', 422, "invalid_request"),
    ('{"texts": "not a list"}', 422, "invalid_request"),
    ('{"texts": [1, 2]}', 422, "invalid_request"),
    ('{"texts": [["nested"]]}', 422, "invalid_request"),
    ('{"texts": [{"text": "a"}]}', 422, "invalid_request"),
    ('{"texts": [true]}', 422, "invalid_request"),
    ('{"texts": ["ok", null]}', 422, "invalid_request"),
    ('{"texts": ["ok"], "extra": 1}', 422, "invalid_request"),
    ('{"text": "wrong field"}', 422, "invalid_request"),
    ('{"texts": []}', 422, "invalid_request"),
    ('{"texts": [""]}', 422, "empty_text"),
    ('{"texts": ["ok", "   \\n\\t "]}', 422, "empty_text"),
    ('{"texts": ["\\u00a0\\u2003"]}', 422, "empty_text"),
    ('{"texts": ["\\ud800 lone surrogate"]}', 422, "invalid_text"),
    ('{"texts": ["x\\udfff"]}', 422, "invalid_text"),
    ('{"texts": [' + "1" * 5000 + "]}", 422, "json_invalid"),  # Python refuses such long integers
]


@pytest.mark.parametrize(("body", "status", "error_type"), BAD_CLASSIFY_BODIES)
def test_bad_classify_bodies(client: TestClient, body: bytes | str, status: int, error_type: str) -> None:
    assert_error(client.post("/v1/classify", content=body, headers=JSON), status, error_type)


def test_errors_name_the_bad_index(client: TestClient) -> None:
    empty = assert_error(client.post("/v1/classify", json={"texts": ["a", "b", " "]}), 422, "empty_text")
    assert "texts[2]" in empty["error"]
    wrong = assert_error(client.post("/v1/classify", json={"texts": ["a", 7]}), 422, "invalid_request")
    assert "texts[1]" in wrong["error"]
    surrogate = '{"texts": ["fine", "bad \\ud83d"]}'
    broken = assert_error(client.post("/v1/classify", content=surrogate, headers=JSON), 422, "invalid_text")
    assert "texts[1]" in broken["error"]


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        ("{", 422, "json_invalid"),
        ('{"text": 5}', 422, "invalid_request"),
        ('{"texts": ["a"]}', 422, "invalid_request"),
        ('{"text": "\\ud800"}', 422, "invalid_text"),
        ('{"text": "\\n\\n"}', 422, "empty_document"),
    ],
)
def test_bad_document_bodies(client: TestClient, body: str, status: int, error_type: str) -> None:
    assert_error(client.post("/v1/documents", content=body, headers=JSON), status, error_type)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_json_needs_a_json_content_type(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = assert_error(
        client.post("/v1/classify", content=json.dumps({"texts": ["a"]}), headers=headers),
        415,
        "unsupported_media_type",
    )
    assert "application/json" in body["error"]


def test_json_content_type_with_charset_is_fine(client: TestClient) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    response = client.post("/v1/classify", content=json.dumps({"texts": ["a"]}), headers=headers)
    assert response.status_code == 200


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    assert "/docs" in assert_error(client.get("/v2/nothing"), 404, "not_found")["error"]
    body = assert_error(client.get("/v1/classify"), 405, "method_not_allowed")
    assert "POST" in body["error"]
    assert_error(client.post("/health"), 405, "method_not_allowed")
    assert_error(client.delete("/v1/model"), 405, "method_not_allowed")


def test_body_over_the_byte_limit(tiny_model_dir: Path) -> None:
    with ready_client(create_app(tiny_settings(tiny_model_dir, max_body_bytes=1000))) as client:
        exact = json.dumps({"texts": ["a" * 985]})
        assert len(exact) == 1000
        assert client.post("/v1/classify", content=exact, headers=JSON).status_code == 200
        over = json.dumps({"texts": ["a" * 986]})
        body = assert_error(client.post("/v1/classify", content=over, headers=JSON), 413, "too_large")
        assert "1000 bytes" in body["error"]
        assert_error(client.post("/v1/documents", content=over, headers=JSON), 413, "too_large")


class PoisonLabeler(GatedLabeler):
    """Fails on any batch holding the word POISON, as a broken model would."""

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if any("POISON" in text for text in texts):
            raise RuntimeError("the model blew up")
        return super().predict(texts)


def test_a_failing_model_gives_a_clean_500_and_the_service_goes_on(
    tiny_model_dir: Path, tiny_labeler: Labeler
) -> None:
    def loader(settings: Settings) -> LabelerLike:
        return PoisonLabeler(tiny_labeler)

    app = create_app(tiny_settings(tiny_model_dir), loader=loader)
    with ready_client(app) as client:
        body = assert_error(
            client.post("/v1/classify", json={"texts": ["fine", "POISON"]}), 500, "inference_failed"
        )
        assert "the model blew up" in body["error"]
        assert client.post("/v1/classify", json={"texts": ["fine"]}).status_code == 200
        assert_error(client.post("/v1/documents", json={"text": "ok\n\nPOISON"}), 500, "inference_failed")
        assert client.post("/v1/documents", json={"text": "ok\n\nalso ok"}).status_code == 200
