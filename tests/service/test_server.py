"""The service under a real uvicorn server on a loopback port: what a client on the network sees."""

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from model.labeler import Labeler
from model.labels import LABELS
from service.main import create_app
from service.runtime import LabelerLike, load_labeler
from service.settings import Settings
from tests.service.helpers import GatedLabeler, live_server, ready_url, tiny_settings
from tests.service.test_classify import assert_matches
from tests.service.test_documents import ARTICLE, check_document

BODY_LIMIT = 8192


@pytest.fixture(scope="module")
def base_url(tiny_model_dir: Path) -> Iterator[str]:
    with live_server(create_app(tiny_settings(tiny_model_dir, max_body_bytes=BODY_LIMIT))) as url:
        ready_url(url)
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def test_every_endpoint(http: httpx.Client, tiny_labeler: Labeler) -> None:
    assert http.get("/health").json() == {"status": "alive"}
    assert http.get("/ready").json()["status"] == "ready"
    info = http.get("/v1/model").json()
    assert info["labels"] == list(LABELS)
    texts = ["Power decides.", "Institutions bind."]
    classified = http.post("/v1/classify", json={"texts": texts})
    assert classified.status_code == 200
    for result, expected in zip(classified.json()["results"], tiny_labeler.predict(texts), strict=True):
        assert_matches(result, expected)
    assert http.post("/v1/documents", json={"text": "a\n\nb"}).json()["summary"]["paragraphs"] == 2
    assert "stance_http_requests_total" in http.get("/metrics").text
    assert http.get("/docs").status_code == 200
    schema = http.get("/openapi.json").json()
    assert {"/v1/classify", "/v1/documents", "/v1/model", "/health", "/ready"} <= set(schema["paths"])
    assert http.get("/missing").json()["error_type"] == "not_found"


def test_documents_article_with_furniture(http: httpx.Client, tiny_labeler: Labeler) -> None:
    response = http.post("/v1/documents", json={"text": ARTICLE})
    assert response.status_code == 200
    body = response.json()
    check_document(ARTICLE, body, tiny_labeler)
    assert sum(body["summary"]["counts"].values()) == len(body["paragraphs"]) == 6


def test_concurrent_clients_get_their_own_results(http: httpx.Client, tiny_labeler: Labeler) -> None:
    clients = 16
    # Every text has its own length, so a result given to the wrong client or position would show.
    requests = [[" ".join([f"state{c}"] * (3 * c + j + 1)) for j in range(3)] for c in range(clients)]
    barrier = threading.Barrier(clients)

    def send(texts: list[str]) -> list[dict]:
        barrier.wait(timeout=30)
        response = http.post("/v1/classify", json={"texts": texts})
        assert response.status_code == 200, response.text
        return list(response.json()["results"])

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(send, requests))
    for texts, results in zip(requests, answers, strict=True):
        assert len(results) == len(texts)
        for result, expected in zip(results, tiny_labeler.predict(texts), strict=True):
            assert_matches(result, expected)


def test_body_over_the_limit_by_content_length(http: httpx.Client) -> None:
    body = json.dumps({"texts": ["a" * BODY_LIMIT]})
    response = http.post("/v1/classify", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error_type"] == "too_large"
    assert f"{len(body)} bytes" in response.json()["error"]


def chunked_request(base_url: str, chunks: list[bytes]) -> tuple[int, dict]:
    """POST a chunked body over a raw socket (no Content-Length), then read the whole answer."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        head = (
            "POST /v1/classify HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        sock.sendall(head.encode() + payload)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body)


def test_chunked_body_over_the_limit(base_url: str) -> None:
    texts = json.dumps({"texts": ["b" * (BODY_LIMIT + 100)]}).encode()
    chunks = [texts[i : i + 1000] for i in range(0, len(texts), 1000)]
    status, body = chunked_request(base_url, chunks)
    assert status == 413
    assert body["error_type"] == "too_large"
    # The same way of sending, within the limit, is labeled.
    small = json.dumps({"texts": ["small enough"]}).encode()
    status, body = chunked_request(base_url, [small[:5], small[5:]])
    assert status == 200
    assert len(body["results"]) == 1


def test_chunked_body_over_the_limit_with_httpx(http: httpx.Client) -> None:
    def stream() -> Iterator[bytes]:
        yield b'{"texts": ["'
        for _ in range(10):
            yield b"c" * 1000
        yield b'"]}'

    response = http.post("/v1/classify", content=stream(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error_type"] == "too_large"


def test_not_ready_before_the_model_loads(tiny_model_dir: Path) -> None:
    release = threading.Event()

    def gated(settings: Settings) -> LabelerLike:
        assert release.wait(timeout=30)
        return load_labeler(settings)

    try:
        app = create_app(tiny_settings(tiny_model_dir), loader=gated)
        with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert http.get("/health").status_code == 200
            not_ready = http.get("/ready")
            assert not_ready.status_code == 503
            assert not_ready.json()["error_type"] == "not_ready"
            assert not_ready.headers["retry-after"] == "1"
            assert http.post("/v1/classify", json={"texts": ["x"]}).status_code == 503
            release.set()
            ready_url(url)
            assert http.get("/ready").status_code == 200
            assert http.post("/v1/classify", json={"texts": ["x"]}).status_code == 200
    finally:
        release.set()


def test_a_full_queue_answers_429_with_retry_after(tiny_model_dir: Path, tiny_labeler: Labeler) -> None:
    slow = GatedLabeler(tiny_labeler)
    app = create_app(tiny_settings(tiny_model_dir, queue_size=2), loader=lambda settings: slow)
    try:
        with live_server(app) as url:
            ready_url(url)
            slow.entered.clear()
            slow.gate.clear()
            with httpx.Client(base_url=url, timeout=60) as http, ThreadPoolExecutor(1) as pool:
                first = pool.submit(http.post, "/v1/classify", json={"texts": ["one", "two"]})
                assert slow.entered.wait(timeout=30)  # the queue now holds 2 of 2 paragraphs
                refused = http.post("/v1/classify", json={"texts": ["three"]})
                assert refused.status_code == 429
                assert refused.headers["retry-after"] == "1"
                assert refused.json()["error_type"] == "queue_full"
                document = http.post("/v1/documents", json={"text": "four"})
                assert document.status_code == 429
                slow.gate.set()
                assert first.result(timeout=60).status_code == 200
                assert http.post("/v1/classify", json={"texts": ["three"]}).status_code == 200
    finally:
        slow.gate.set()
