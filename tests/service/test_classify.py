"""POST /v1/classify: the Labeler's calibrated predictions, one per text, in input order."""

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model.labeler import Labeler, Prediction
from model.labels import LABELS
from service.main import create_app
from tests.service.conftest import EXPLAIN_LIMIT
from tests.service.helpers import ready_client, tiny_settings

UNICODE_TEXTS = [
    "Deterrence works 💪🇺🇸 when the threat is credible 🚀",
    "يجب على الدول الكبرى احترام القانون الدولي",  # Arabic, right to left
    "שלום עולם and the balance of power",  # Hebrew mixed with English
    "Cafe\u0301 diplomacy, a\u0300\u0301\u0302 stacked combining marks",
    "a NUL\x00inside and \x00 again",
    "\u200b\u200dzero-width joiners\ufeff and a BOM",
    "中国与美国的战略竞争",
]


def assert_matches(result: dict, expected: Prediction) -> None:
    """The service's answer is the Labeler's own prediction for the same text."""
    assert result["n_tokens"] == expected.n_tokens
    assert result["n_windows"] == expected.n_windows
    assert result["truncated"] == expected.truncated
    assert set(result["scores"]) == set(expected.scores)
    for label, probability in expected.scores.items():
        assert result["scores"][label] == pytest.approx(probability, abs=2e-6)
    assert result["label"] == max(result["scores"], key=result["scores"].__getitem__)
    assert result["score"] == result["scores"][result["label"]]


def test_results_are_the_labelers_in_input_order(client: TestClient, tiny_labeler: Labeler) -> None:
    # Different lengths make every result recognisable by its token count.
    texts = [" ".join(["alliance"] * n) + " and the United Nations" for n in (7, 1, 30, 4, 12)]
    response = client.post("/v1/classify", json={"texts": texts})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": "tiny-test", "version": "0.0.1"}
    assert len(body["results"]) == len(texts)
    for result, expected in zip(body["results"], tiny_labeler.predict(texts), strict=True):
        assert_matches(result, expected)


def test_scores_cover_every_label_and_sum_to_one(client: TestClient) -> None:
    response = client.post("/v1/classify", json={"texts": ["States pursue power above all."]})
    (result,) = response.json()["results"]
    assert set(result["scores"]) == set(LABELS)
    assert math.isclose(sum(result["scores"].values()), 1.0, abs_tol=1e-5)
    assert set(result) == {"label", "score", "scores", "n_tokens", "n_windows", "truncated"}


def test_unicode_of_every_kind(client: TestClient, tiny_labeler: Labeler) -> None:
    response = client.post("/v1/classify", json={"texts": UNICODE_TEXTS})
    assert response.status_code == 200, response.text
    for result, expected in zip(response.json()["results"], tiny_labeler.predict(UNICODE_TEXTS), strict=True):
        assert_matches(result, expected)


def test_a_long_text_is_windowed_and_says_truncated(client: TestClient, tiny_labeler: Labeler) -> None:
    # The tiny model reads 64-token windows, at most 4 of them: this text is longer than that.
    text = " ".join(f"word{i}" for i in range(600))
    (result,) = client.post("/v1/classify", json={"texts": [text]}).json()["results"]
    assert result["n_windows"] == 4
    assert result["truncated"] is True
    assert_matches(result, tiny_labeler.predict([text])[0])


def test_duplicate_texts_get_identical_results(client: TestClient) -> None:
    results = client.post("/v1/classify", json={"texts": ["Same text."] * 3}).json()["results"]
    assert results[0] == results[1] == results[2]


def test_limits_are_inclusive(tiny_model_dir: Path) -> None:
    app = create_app(tiny_settings(tiny_model_dir, max_texts=3, max_text_chars=50))
    with ready_client(app) as client:
        assert client.post("/v1/classify", json={"texts": ["x" * 50] * 3}).status_code == 200
        too_many = client.post("/v1/classify", json={"texts": ["fine"] * 4})
        assert too_many.status_code == 413
        assert too_many.json()["error_type"] == "too_many_texts"
        too_long = client.post("/v1/classify", json={"texts": ["ok", "x" * 51]})
        assert too_long.status_code == 413
        assert too_long.json()["error_type"] == "text_too_long"
        assert "texts[1]" in too_long.json()["error"]


EXPLAINED = [
    "Great powers compete for security. Alliances last only while interests align. Treaties are paper.",
    "Law binds nations. Courts, not cannons, should settle their quarrels.",
    "One sentence alone.",
]


def test_explain_gives_the_labelers_own_explanations(
    decisive_client: TestClient, decisive_labeler: Labeler
) -> None:
    response = decisive_client.post("/v1/classify", json={"texts": EXPLAINED, "explain": True})
    assert response.status_code == 200, response.text
    for result, text in zip(response.json()["results"], EXPLAINED, strict=True):
        expected = decisive_labeler.explain(text)
        assert_matches(result, expected.prediction)
        assert result["explanation_capped"] is False
        assert [(s["start"], s["end"]) for s in result["explanation"]] == [
            (s.start, s.end) for s in expected.sentences
        ]
        for got, want in zip(result["explanation"], expected.sentences, strict=True):
            assert got["effect"] == pytest.approx(want.effect, abs=2e-6)
    assert response.json()["results"][2]["explanation"] == [{"start": 0, "end": 19, "effect": None}]
    # Without explain, the answer is as it always was.
    plain = decisive_client.post("/v1/classify", json={"texts": EXPLAINED}).json()["results"]
    assert all("explanation" not in result and "explanation_capped" not in result for result in plain)


def test_explain_has_its_own_limit(decisive_client: TestClient) -> None:
    # 12 sentences of 35 characters: the model reads 420 characters 13 times over, less each sentence once.
    text = "Power decides the fate of nations. " * 12
    assert 12 * len(text) > EXPLAIN_LIMIT
    assert decisive_client.post("/v1/classify", json={"texts": [text]}).status_code == 200
    response = decisive_client.post("/v1/classify", json={"texts": [text], "explain": True})
    assert response.status_code == 413
    body = response.json()
    assert body["error_type"] == "explain_too_large"
    assert str(EXPLAIN_LIMIT) in body["error"] and "STANCE_MAX_EXPLAIN_CHARS" in body["error"]
    short = decisive_client.post("/v1/classify", json={"texts": [text[: 35 * 4]], "explain": True})
    assert short.status_code == 200
