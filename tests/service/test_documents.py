"""POST /v1/documents: segmentation with offsets, per-paragraph labels, and the document summary."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model.labeler import Labeler
from model.labels import LABELS, STANCE_LABELS
from model.quantify import DEFAULT_METHOD
from model.segment import is_heading, split_paragraphs
from service.main import create_app
from tests.conftest import write_cv_predictions
from tests.service.helpers import ready_client, tiny_settings

ARTICLE = """By Jane Doe, Diplomatic Correspondent
Updated 3 March 2025, 09:14

The balance of power in East Asia is shifting, and no treaty will stop a rising state
from pressing its advantage. Washington should hedge, arm its partners and expect rivalry.

Photo: Soldiers at a border crossing near the disputed zone. (Agency photo)

Only binding international institutions, open trade and a rules-based order backed by the
United Nations can turn that rivalry into cooperation.

Subscribe to our newsletter

   \t
Readers wrote in from everywhere 🌍, in Arabic — مرحبا — and in Hebrew — שלום.
"""


def check_document(text: str, body: dict, labeler: Labeler) -> None:
    """Offsets, order, predictions and summary of a /v1/documents answer for `text`."""
    paragraphs = body["paragraphs"]
    expected = split_paragraphs(text)
    assert [p["text"] for p in paragraphs] == [p.text for p in expected]
    for i, paragraph in enumerate(paragraphs):
        assert paragraph["index"] == i
        assert text[paragraph["start"] : paragraph["end"]] == paragraph["text"]
    for paragraph, prediction in zip(paragraphs, labeler.predict([p.text for p in expected]), strict=True):
        assert paragraph["n_tokens"] == prediction.n_tokens
        assert paragraph["heading"] == is_heading(paragraph["text"])
        if paragraph["heading"]:  # `neither` by rule, whatever the model says
            assert paragraph["label"] == "neither" and paragraph["score"] == 1.0
            assert paragraph["scores"] == {label: float(label == "neither") for label in LABELS}
            continue
        for label, probability in prediction.scores.items():
            assert paragraph["scores"][label] == pytest.approx(probability, abs=2e-6)
    summary = body["summary"]
    assert set(summary["counts"]) == set(LABELS)
    assert sum(summary["counts"].values()) == summary["paragraphs"] == len(paragraphs)
    for label in LABELS:
        assert summary["counts"][label] == sum(p["label"] == label for p in paragraphs)
    stance = [p for p in paragraphs if p["label"] in STANCE_LABELS]
    assert summary["stance_paragraphs"] == len(stance)
    if stance:
        assert summary["realist_share"] + summary["liberal_internationalist_share"] == pytest.approx(1.0)
        realist = sum(p["scores"]["realist"] for p in stance)
        liberal = sum(p["scores"]["liberal_internationalist"] for p in stance)
        assert summary["realist_mass_share"] == pytest.approx(realist / (realist + liberal), abs=1e-5)
    else:
        assert summary["overall"] == "neither"
        assert summary["realist_share"] is None


def test_article_with_page_furniture(client: TestClient, tiny_labeler: Labeler) -> None:
    response = client.post("/v1/documents", json={"text": ARTICLE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "tiny-test", "version": "0.0.1"}
    texts = [p["text"] for p in body["paragraphs"]]
    # Furniture is its own paragraph (so it can be labeled `neither`), not glued to the prose around it.
    assert texts[0] == "By Jane Doe, Diplomatic Correspondent\nUpdated 3 March 2025, 09:14"
    assert "Subscribe to our newsletter" in texts
    assert any(t.startswith("Photo: Soldiers") for t in texts)
    assert len(texts) == 6
    # Byline and dateline, the caption (it ends in a bracket, not a full stop) and the newsletter prompt read
    # like headings: `neither` by rule.
    assert [p["heading"] for p in body["paragraphs"]] == [True, False, True, False, True, False]
    check_document(ARTICLE, body, tiny_labeler)


def test_crlf_document_offsets(client: TestClient, tiny_labeler: Labeler) -> None:
    text = ARTICLE.replace("\n", "\r\n")
    response = client.post("/v1/documents", json={"text": text})
    assert response.status_code == 200, response.text
    check_document(text, response.json(), tiny_labeler)


def test_single_paragraph_without_blank_lines(client: TestClient, tiny_labeler: Labeler) -> None:
    text = "  One paragraph\nwrapped over lines\nwith leading spaces.  "
    body = client.post("/v1/documents", json={"text": text}).json()
    assert len(body["paragraphs"]) == 1
    assert body["paragraphs"][0]["start"] == 2
    check_document(text, body, tiny_labeler)


@pytest.mark.parametrize("text", ["", " ", "\n\n\n", " \t\r\n \n\f", "\u00a0\u2003\n\n\u3000"])
def test_a_document_without_paragraphs_is_422(client: TestClient, text: str) -> None:
    response = client.post("/v1/documents", json={"text": text})
    assert response.status_code == 422
    assert response.json()["error_type"] == "empty_document"


def test_document_limit_and_long_paragraphs(tiny_model_dir: Path, tiny_labeler: Labeler) -> None:
    # The per-text limit of /v1/classify does not apply to a document's paragraphs; the document limit does.
    app = create_app(tiny_settings(tiny_model_dir, max_document_chars=400, max_text_chars=50))
    with ready_client(app) as client:
        text = ("x" * 100 + "\n\n" + "realpolitik " * 30)[:400]
        assert len(text) == 400
        response = client.post("/v1/documents", json={"text": text})
        assert response.status_code == 200, response.text
        check_document(text, response.json(), tiny_labeler)
        over = client.post("/v1/documents", json={"text": text + "y"})
        assert over.status_code == 413
        assert over.json()["error_type"] == "document_too_long"
        assert "401 characters" in over.json()["error"]


def test_explained_document(decisive_client: TestClient, decisive_labeler: Labeler) -> None:
    response = decisive_client.post("/v1/documents", json={"text": ARTICLE, "explain": True})
    assert response.status_code == 200, response.text
    body = response.json()
    check_document(ARTICLE, body, decisive_labeler)
    for paragraph in body["paragraphs"]:
        assert paragraph["explanation_capped"] is False
        if paragraph["heading"]:
            assert paragraph["explanation"] == []  # labeled by rule: nothing to explain
            continue
        expected = decisive_labeler.explain(paragraph["text"])
        assert paragraph["label"] == expected.prediction.label
        # Offsets index the document sent, not the paragraph.
        assert [(s["start"], s["end"]) for s in paragraph["explanation"]] == [
            (paragraph["start"] + s.start, paragraph["start"] + s.end) for s in expected.sentences
        ]
        for sentence, want in zip(paragraph["explanation"], expected.sentences, strict=True):
            assert ARTICLE[sentence["start"] : sentence["end"]] in paragraph["text"]
            assert sentence["effect"] == pytest.approx(want.effect, abs=2e-6)
    assert body["summary"]["mixed_threshold"] == pytest.approx(2 / 3, abs=1e-6)


def test_corrected_shares_without_rates_say_so(client: TestClient) -> None:
    corrected = client.post("/v1/documents", json={"text": ARTICLE}).json()["summary"]["corrected_shares"]
    assert corrected["method"] is None and corrected["shares"] is None
    assert "no error rates" in corrected["note"]


def test_corrected_shares_with_the_model_error_rates(tiny_model_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    write_cv_predictions(directory)
    long = "\n\n".join(f"Paragraph {i} on alliances, trade and the balance of power." for i in range(25))
    with ready_client(create_app(tiny_settings(directory))) as client:
        for text, short in ((long, False), (ARTICLE, True)):
            response = client.post("/v1/documents", json={"text": text})
            assert response.status_code == 200
            corrected = response.json()["summary"]["corrected_shares"]
            assert corrected["method"] == DEFAULT_METHOD and corrected["short"] is short
            assert set(corrected["shares"]) == set(LABELS)
            for share in corrected["shares"].values():
                assert 0 <= share["low"] <= share["share"] <= share["high"] <= 1
            assert ("wide" in corrected["note"]) is short
