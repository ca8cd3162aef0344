"""Every input format, every output format, --documents, folders: against the real (tiny) Labeler."""

import json
from pathlib import Path
from typing import Any

import pytest

import cli
from model.labels import LABELS
from model.segment import split_paragraphs
from tests.batch.conftest import header, read_rows, write_rows

TEXTS = [
    "The balance of power in Europe must be preserved by military strength.",
    "We will build international institutions and uphold human rights.",
    "Tariffs on steel rose again this year.",
    "Deterrence, not treaties, keeps the peace between great powers.",
    "Democracy and open trade spread together, and make the world safer.",
]
ROWS = [{"id": f"p{i}", "text": text, "year": 1950 + i} for i, text in enumerate(TEXTS)]
PREDICTION_COLUMNS = [
    "label",
    "score",
    *(f"score_{label}" for label in LABELS),
    "n_tokens",
    "truncated",
    "model_name",
    "model_version",
]


def label(*argv: object) -> int:
    return cli.main(["label", *(str(a) for a in argv), "--quiet"])


def assert_predictions(rows: list[dict], texts: list[str], labeler: Any) -> None:
    """Each row carries the Labeler's own prediction for its text, in input order."""
    expected = labeler.predict(texts)
    assert [row["text"] for row in rows] == texts
    for row, prediction in zip(rows, expected, strict=True):
        assert row["label"] == prediction.label
        assert float(row["score"]) == pytest.approx(prediction.score, abs=1e-5)
        for name in LABELS:
            assert float(row[f"score_{name}"]) == pytest.approx(prediction.scores[name], abs=1e-5)
        assert int(row["n_tokens"]) == prediction.n_tokens
        assert row["model_name"] == "tiny-test"
        assert row["model_version"] == "0.0.1"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".txt"])
def test_every_input_format(tmp_path: Path, tiny_model_dir: Path, tiny_labeler: Any, suffix: str) -> None:
    source = write_rows(tmp_path / f"in{suffix}", ROWS)
    out = tmp_path / "out.jsonl"
    assert label(source, "-o", out, "--model", tiny_model_dir) == 0
    rows = read_rows(out)
    assert_predictions(rows, TEXTS, tiny_labeler)
    if suffix == ".txt":
        # One paragraph per line; ids from the file name and line number.
        assert [row["id"] for row in rows] == [f"in.txt:{n}" for n in range(1, len(TEXTS) + 1)]
        assert list(rows[0]) == ["id", "text", *PREDICTION_COLUMNS[:5], "scores", *PREDICTION_COLUMNS[5:]]
    else:
        assert [row["id"] for row in rows] == [row["id"] for row in ROWS]
        # Input columns kept with their types (CSV has only strings).
        assert [row["year"] for row in rows] == [
            str(r["year"]) if suffix == ".csv" else r["year"] for r in ROWS
        ]
    for row in rows:
        assert row["scores"] == {name: row[f"score_{name}"] for name in LABELS}
        assert row["score"] == row["scores"][row["label"]] == max(row["scores"].values())
        assert row["truncated"] is False


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_every_output_format(tmp_path: Path, tiny_model_dir: Path, tiny_labeler: Any, suffix: str) -> None:
    # A gold `label` column, a nested value and a row without an id.
    rows = [
        {"id": "a", "text": TEXTS[0], "label": "realist", "meta": {"speaker": "X"}},
        {"text": TEXTS[1], "label": "neither", "meta": {"speaker": "Y"}},
        {"id": "c", "text": TEXTS[2], "label": "liberal_internationalist", "meta": {"speaker": "Z"}},
    ]
    source = write_rows(tmp_path / "in.jsonl", rows)
    out = tmp_path / f"out{suffix}"
    assert label(source, "-o", out, "--model", tiny_model_dir) == 0
    written = read_rows(out)
    assert_predictions(written, TEXTS[:3], tiny_labeler)
    assert [row["id"] for row in written] == ["a", "in.jsonl:2", "c"]
    # The input's own `label` is kept, renamed, never overwritten by the prediction.
    assert [row["input_label"] for row in written] == [row["label"] for row in rows]
    scores = ["scores"] if suffix == ".jsonl" else []
    expected = [
        "id",
        "text",
        "input_label",
        "meta",
        *PREDICTION_COLUMNS[:5],
        *scores,
        *PREDICTION_COLUMNS[5:],
    ]
    assert header(out) == expected
    if suffix == ".csv":
        assert [json.loads(row["meta"]) for row in written] == [row["meta"] for row in rows]
        assert {row["truncated"] for row in written} == {"false"}
    else:
        assert [row["meta"] for row in written] == [row["meta"] for row in rows]
        assert {row["truncated"] for row in written} == {False}
    assert not (tmp_path / f"out{suffix}.errors.jsonl").exists()
    assert not (tmp_path / f"out{suffix}.parts").exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_documents_are_split_with_offsets(
    tmp_path: Path, tiny_model_dir: Path, tiny_labeler, suffix: str
) -> None:
    documents = [
        {"id": "speech-1", "text": f"{TEXTS[0]}\n\n{TEXTS[1]}\nwrapped line.\n\n\n   {TEXTS[2]}  \n"},
        {"id": "speech-2", "text": TEXTS[3]},
        {"id": "speech-3", "text": f"\r\n{TEXTS[4]}\r\n\r\n{TEXTS[0]}"},
    ]
    source = write_rows(tmp_path / f"docs{suffix}", documents)
    out = tmp_path / "out.jsonl"
    assert label(source, "-o", out, "--model", tiny_model_dir, "--documents", "--chunk-size", "2") == 0
    rows = read_rows(out)
    expected_texts = []
    for document in documents:
        paragraphs = split_paragraphs(document["text"])
        mine = [row for row in rows if row["document_id"] == document["id"]]
        assert [row["paragraph_index"] for row in mine] == list(range(len(paragraphs)))
        assert [row["id"] for row in mine] == [f"{document['id']}:{p.index}" for p in paragraphs]
        for row in mine:
            assert document["text"][row["start"] : row["end"]] == row["text"]
        expected_texts += [p.text for p in paragraphs]
    assert len(rows) == 3 + 1 + 2
    assert_predictions(rows, expected_texts, tiny_labeler)


def test_txt_document_is_one_document(tmp_path: Path, tiny_model_dir: Path) -> None:
    content = f"{TEXTS[0]}\n\n{TEXTS[1]}\n\n{TEXTS[2]}\n"
    (tmp_path / "speech.txt").write_text(content)
    out = tmp_path / "out.csv"
    assert label(tmp_path / "speech.txt", "-o", out, "--model", tiny_model_dir, "--documents") == 0
    rows = read_rows(out)
    assert [row["document_id"] for row in rows] == ["speech.txt"] * 3
    assert [content[int(row["start"]) : int(row["end"])] for row in rows] == TEXTS[:3]
    assert header(out)[:6] == ["id", "text", "document_id", "paragraph_index", "start", "end"]


def test_folder_recursion_custom_fields_and_own_output(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    write_rows(folder / "b.jsonl", [{"key": "b1", "body": TEXTS[0]}, {"body": TEXTS[1]}])
    write_rows(folder / "sub" / "a.csv", [{"key": "", "body": TEXTS[2]}])
    write_rows(folder / "a.parquet", [{"key": "p1", "body": TEXTS[3]}])
    (folder / "notes.md").write_text("not an input")
    out = folder / "labels.jsonl"  # inside the folder: must not be read as an input, now or on resume
    argv = [folder, "-o", out, "--model", tiny_model_dir, "--text-field", "body", "--id-field", "key"]
    assert label(*argv) == 0
    rows = read_rows(out)
    # Sorted by path inside the folder; missing ids are <relative path>:<row>.
    assert [row["key"] for row in rows] == ["p1", "b1", "b.jsonl:2", "sub/a.csv:2"]
    assert [row["body"] for row in rows] == [TEXTS[3], TEXTS[0], TEXTS[1], TEXTS[2]]
    before = out.read_bytes()
    assert label(*argv, "--resume") == 0
    assert out.read_bytes() == before
