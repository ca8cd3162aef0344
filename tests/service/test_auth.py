"""The optional API key (`STANCE_API_KEY`) and CORS (`STANCE_CORS_ORIGINS`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.main import create_app
from tests.service.helpers import ready_client, tiny_settings

KEY = "s3cret-key_0123456789"
CLASSIFY = ("POST", "/v1/classify", {"texts": ["Power decides."]})
DOCUMENTS = ("POST", "/v1/documents", {"text": "Power decides.\n\nLaw binds."})
MODEL = ("GET", "/v1/model", None)
V1 = [CLASSIFY, DOCUMENTS, MODEL]


@pytest.fixture(scope="module")
def locked(tiny_model_dir: Path) -> Iterator[TestClient]:
    with ready_client(create_app(tiny_settings(tiny_model_dir, api_key=KEY))) as client:
        yield client


def call(client: TestClient, request: tuple, headers: dict[str, str] | None = None) -> int:
    method, path, body = request
    return client.request(method, path, json=body, headers=headers).status_code


@pytest.mark.parametrize("request_", V1, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", f"Basic {KEY}", "Bearer "],
)
def test_every_v1_call_without_the_key_is_a_json_401(
    locked: TestClient, request_: tuple, authorization: str | None
) -> None:
    method, path, body = request_
    headers = {"Authorization": authorization} if authorization else {}
    response = locked.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error_type"] == "unauthorized"
    assert "Authorization: Bearer" in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("request_", V1, ids=lambda r: f"{r[0]} {r[1]}")
def test_the_key_opens_every_v1_call(locked: TestClient, request_: tuple) -> None:
    assert call(locked, request_, {"Authorization": f"Bearer {KEY}"}) == 200


def test_health_ready_and_metrics_stay_open(locked: TestClient) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert locked.get(path).status_code == 200, path


def test_the_schema_says_v1_needs_the_key(locked: TestClient) -> None:
    schema = locked.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path in ("/v1/classify", "/v1/documents", "/v1/model"):
        for operation in schema["paths"][path].values():
            assert operation["security"] == [{"HTTPBearer": []}]
            assert "401" in operation["responses"]
    assert "security" not in schema["paths"]["/ready"]["get"]


def test_without_a_key_everything_is_open(client: TestClient) -> None:
    for request in V1:
        assert call(client, request) == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_an_empty_key_means_no_key_and_a_key_must_fit_a_header(tiny_model_dir: Path) -> None:
    assert tiny_settings(tiny_model_dir, api_key="").api_key is None
    for unusable in ("cl\u00e9", "two words", "tab\there"):
        with pytest.raises(ValidationError, match="printable ASCII"):
            tiny_settings(tiny_model_dir, api_key=unusable)


PREFLIGHT = {
    "Origin": "https://newsroom.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_cors_is_off_by_default(client: TestClient) -> None:
    preflight = client.options("/v1/classify", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    answer = client.post("/v1/classify", json=CLASSIFY[2], headers={"Origin": PREFLIGHT["Origin"]})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def test_cors_allows_the_listed_origins_only(tiny_model_dir: Path) -> None:
    settings = tiny_settings(tiny_model_dir, api_key=KEY, cors_origins=["https://newsroom.example"])
    with ready_client(create_app(settings)) as client:
        # A preflight carries no credentials: it must not need the key.
        preflight = client.options("/v1/classify", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://newsroom.example"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        answer = client.post(
            "/v1/classify",
            json=CLASSIFY[2],
            headers={"Origin": "https://newsroom.example", "Authorization": f"Bearer {KEY}"},
        )
        assert answer.headers["access-control-allow-origin"] == "https://newsroom.example"
        # The 401 carries the header too, so the page can read why it was refused.
        refused = client.post(
            "/v1/classify", json=CLASSIFY[2], headers={"Origin": "https://newsroom.example"}
        )
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "https://newsroom.example"
        other = client.options("/v1/classify", headers={**PREFLIGHT, "Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


def test_cors_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    monkeypatch.setenv("STANCE_CORS_ORIGINS", "https://a.example, https://b.example")
    assert tiny_settings(tiny_model_dir).cors_origins == ["https://a.example", "https://b.example"]
