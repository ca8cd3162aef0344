"""`stance label --explain`: each row carries the Labeler's explanation, as the API gives it."""

import json
from pathlib import Path

import pytest

from model.labeler import Labeler
from model.segment import split_paragraphs
from tests.batch.conftest import FakeLabeler, header, read_rows, run_label, write_rows

DOCUMENT = (
    "The Case for Patience\n\nBy R. Amari\n\nGreat powers compete for security. Alliances last only while "
    "interests align. Treaties are paper.\n\nLaw binds nations. Courts, not cannons, should settle their "
    "quarrels.\n\nOne sentence alone."
)


def test_documents_explained_into_jsonl(
    tmp_path: Path, decisive_model_dir: Path, decisive_labeler: Labeler
) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": "d1", "text": DOCUMENT}])
    out = tmp_path / "out.jsonl"
    assert (
        run_label([source, "-o", out, "--model", decisive_model_dir, "--documents", "--explain", "-q"]) == 0
    )
    rows = read_rows(out)
    paragraphs = split_paragraphs(DOCUMENT)
    assert [row["text"] for row in rows] == [p.text for p in paragraphs]
    assert [row["heading"] for row in rows] == [True, True, False, False, False]
    for row, paragraph in zip(rows, paragraphs, strict=True):
        assert row["explanation_capped"] is False
        if row["heading"]:
            assert (row["label"], row["score"], row["explanation"]) == ("neither", 1.0, [])
            continue
        expected = decisive_labeler.explain(paragraph.text)
        assert row["label"] == expected.prediction.label
        # Offsets into the document, like the row's own start and end.
        assert [(s["start"], s["end"]) for s in row["explanation"]] == [
            (paragraph.start + s.start, paragraph.start + s.end) for s in expected.sentences
        ]
        assert [s["effect"] for s in row["explanation"]] == pytest.approx(
            [s.effect for s in expected.sentences], abs=1e-5
        )
    assert rows[-1]["explanation"][0]["effect"] is None  # one sentence: nothing to leave it out of


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_explanations_are_json_text_in_tables(tmp_path: Path, decisive_model_dir: Path, suffix: str) -> None:
    texts = [
        "Law binds nations. Courts should settle quarrels.",
        "Power decides. Treaties are paper. Arms last.",
    ]
    source = write_rows(tmp_path / "in.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)])
    outputs = {}
    for kind in (".jsonl", suffix):
        out = tmp_path / f"out{kind}"
        assert run_label([source, "-o", out, "--model", decisive_model_dir, "--explain", "-q"]) == 0
        outputs[kind] = read_rows(out)
    assert header(tmp_path / f"out{suffix}")[-2:] == ["explanation", "explanation_capped"]
    table = [json.loads(row["explanation"]) for row in outputs[suffix]]
    assert table == [row["explanation"] for row in outputs[".jsonl"]]
    assert all(len(explanation) == 2 + i for i, explanation in enumerate(table))


def test_without_explain_no_explanation_and_no_resuming_across(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"id": f"r{i}", "text": f"Paragraph {i}. It has two sentences."} for i in range(30)]
    source = write_rows(tmp_path / "in.jsonl", rows)
    plain = tmp_path / "plain.jsonl"
    assert run_label([source, "-o", plain, "-q"], FakeLabeler()) == 0
    assert "explanation" not in read_rows(plain)[0]
    out = tmp_path / "out.jsonl"
    assert (
        run_label([source, "-o", out, "--explain", "--chunk-size", "10"], FakeLabeler(interrupt_on_call=2))
        == 130
    )
    assert run_label([source, "-o", out, "--resume"], FakeLabeler()) == 2
    assert "explain differs" in capsys.readouterr().err
    assert run_label([source, "-o", out, "--resume", "--explain", "-q"], FakeLabeler()) == 0
    explained = read_rows(out)
    assert len(explained) == 30 and all(len(row["explanation"]) == 2 for row in explained)
