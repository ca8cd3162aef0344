"""GET /metrics: Prometheus text from the app's own registry."""

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.main import create_app
from tests.service.helpers import ready_client, tiny_settings


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(table: dict, name: str, **labels: str) -> float:
    return float(table.get((name, frozenset(labels.items())), 0.0))


def test_requests_latency_paragraphs_batches_and_queue(tiny_model_dir: Path) -> None:
    with ready_client(create_app(tiny_settings(tiny_model_dir))) as client:
        before = samples(client)
        texts = ["one paragraph", "another paragraph", "a third"]
        labels = [r["label"] for r in client.post("/v1/classify", json={"texts": texts}).json()["results"]]
        document = client.post("/v1/documents", json={"text": "first\n\nsecond"}).json()
        labels += [p["label"] for p in document["paragraphs"]]
        client.post("/v1/classify", json={"texts": [" "]})  # 422
        client.get("/no/such/route")  # 404
        after = samples(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"route": "/v1/classify", "method": "POST"}
    assert delta("stance_http_requests_total", status="200", **route) == 1
    assert delta("stance_http_requests_total", status="422", **route) == 1
    assert delta("stance_http_requests_total", route="/v1/documents", method="POST", status="200") == 1
    # Unknown paths share one label, so scanners cannot create unbounded series.
    assert delta("stance_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("stance_http_request_duration_seconds_count", route="/v1/classify") == 2
    for label in set(labels):
        assert delta("stance_paragraphs_classified_total", label=label) == labels.count(label)
    # The warm-up prediction does not go through the batcher: only the 5 paragraphs above count.
    assert delta("stance_batch_size_paragraphs_sum") == 5
    assert 1 <= delta("stance_batch_size_paragraphs_count") <= 2
    assert value(after, "stance_queue_depth_paragraphs") == 0
    assert value(after, "stance_model_ready") == 1


def test_each_app_has_its_own_registry(tiny_model_dir: Path) -> None:
    with ready_client(create_app(tiny_settings(tiny_model_dir))) as first:
        first.post("/v1/classify", json={"texts": ["counted once"]})
        with ready_client(create_app(tiny_settings(tiny_model_dir))) as second:
            fresh = samples(second)
            assert value(fresh, "stance_batch_size_paragraphs_sum") == 0
        assert value(samples(first), "stance_batch_size_paragraphs_sum") == 1
