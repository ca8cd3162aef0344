"""`stance summarize`: label shares of `stance label` output, by column, as a CSV and a PNG."""

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli import main
from model.directory import Manifest, write_json
from model.labels import ID2LABEL, LABELS
from model.quantify import DEFAULT_METHOD, METHOD_NAMES
from tests.batch.conftest import FakeLabeler, run_label, write_rows
from tests.conftest import synthetic_rows, write_cv_predictions, write_stratified_cv_predictions

COLUMNS = ["group", "label", "n", "count_share", "mean_probability", "corrected_share", "low", "high"]


def model_dir(path: Path, rates: bool = True) -> Path:
    """A model directory as summarize reads it: labels, manifest, temperature, and (if `rates`) CV rates."""
    path.mkdir()
    write_json(path / "config.json", {"id2label": {str(i): label for i, label in ID2LABEL.items()}})
    Manifest(name=FakeLabeler.name, version=FakeLabeler.version).save(path)
    write_json(path / "calibration.json", {"temperature": 1.0})
    return write_cv_predictions(path) if rates else path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with path.open(newline="") as handle:
        assert next(csv.reader(handle)) == COLUMNS
    return rows


def labeled_rows(n_documents: int = 30, seed: int = 0) -> list[dict[str, Any]]:
    """`stance label --documents`-like output of the synthetic model: decades, documents, some headings."""
    rng = np.random.default_rng(seed)
    rows = []
    for document in range(n_documents):
        _, probs = synthetic_rows(rng, rng.multinomial(12, [0.3, 0.3, 0.4]))
        decade = "1900s" if document % 2 else "1950s"
        for index, p in enumerate(probs):
            row: dict[str, object] = {
                "id": f"d{document}:{index}",
                "text": "x",
                "decade": decade,
                "document_id": f"d{document}",
            }
            row |= {"heading": index == 0, "model_name": "fake", "model_version": "9.9.9"}
            scores = np.array([0.0, 0.0, 1.0]) if index == 0 else p
            row["label"] = LABELS[int(scores.argmax())]
            row |= {f"score_{label}": round(float(s), 6) for label, s in zip(LABELS, scores, strict=True)}
            rows.append(row)
    return rows


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_summary_of_each_output_format(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture) -> None:
    rows = labeled_rows()
    labeled = write_rows(tmp_path / f"out{suffix}", rows)
    directory = model_dir(tmp_path / "model")
    assert main(["summarize", str(labeled), "--by", "decade", "--model", str(directory)]) == 0
    table = read_csv(tmp_path / f"out{suffix}.summary.csv")
    assert (tmp_path / f"out{suffix}.summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [r["group"] for r in table] == ["all"] * 3 + ["decade=1950s"] * 3 + ["decade=1900s"] * 3
    for group in ("all", "decade=1950s", "decade=1900s"):
        members = [r for r in rows if group == "all" or group == f"decade={r['decade']}"]
        block = [r for r in table if r["group"] == group]
        assert [r["label"] for r in block] == list(LABELS)
        assert {int(r["n"]) for r in block} == {len(members)}
        for r in block:
            counted = sum(m["label"] == r["label"] for m in members) / len(members)
            mean = np.mean([m[f"score_{r['label']}"] for m in members])
            assert float(r["count_share"]) == pytest.approx(counted, abs=1e-4)
            assert float(r["mean_probability"]) == pytest.approx(mean, abs=1e-4)
            assert float(r["low"]) <= float(r["corrected_share"]) <= float(r["high"])
        assert sum(float(r["corrected_share"]) for r in block) == pytest.approx(1.0, abs=2e-4)
    out = capsys.readouterr().out
    assert METHOD_NAMES[DEFAULT_METHOD] in out and "documents (`document_id`)" in out


def test_the_three_formats_give_the_same_summary(tmp_path: Path) -> None:
    rows = labeled_rows(n_documents=8, seed=3)
    directory = model_dir(tmp_path / "model")
    tables = []
    for suffix in (".jsonl", ".csv", ".parquet"):
        labeled = write_rows(tmp_path / f"out{suffix}", rows)
        assert main(["summarize", str(labeled), "--model", str(directory), "--replicates", "100"]) == 0
        tables.append(read_csv(tmp_path / f"out{suffix}.summary.csv"))
    assert tables[0] == tables[1] == tables[2]


def test_corrected_shares_are_closer_to_the_truth_than_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    counts = np.array([900, 900, 1200])  # the synthetic model undercounts the two rarer labels here
    _, probs = synthetic_rows(rng, counts)
    rows = [
        {
            "id": str(i),
            "text": "x",
            "label": LABELS[int(p.argmax())],
            "model_name": "fake",
            "model_version": "9.9.9",
        }
        | {f"score_{label}": float(s) for label, s in zip(LABELS, p, strict=True)}
        for i, p in enumerate(probs)
    ]
    labeled = write_rows(tmp_path / "out.jsonl", rows)
    assert main(["summarize", str(labeled), "--model", str(model_dir(tmp_path / "model"))]) == 0
    table = read_csv(tmp_path / "out.jsonl.summary.csv")
    for r, truth in zip(table, counts / counts.sum(), strict=True):
        assert abs(float(r["corrected_share"]) - truth) < abs(float(r["count_share"]) - truth)
        assert float(r["low"]) <= truth <= float(r["high"])


def test_rates_by_stratum_need_the_text_column(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """With the paragraphs' text each is corrected by its stratum's rates; without it, one set serves all."""
    directory = model_dir(tmp_path / "model", rates=False)
    write_stratified_cv_predictions(directory)
    rows = labeled_rows(n_documents=10, seed=2)
    for i, row in enumerate(rows):
        row["text"] = "Treaties, trade and peace among nations." if i % 3 == 0 else "The harvest was good."
    tables = {}
    for name, keep in (
        ("with", rows),
        ("without", [{k: v for k, v in r.items() if k != "text"} for r in rows]),
    ):
        labeled = write_rows(tmp_path / f"{name}.jsonl", keep)
        assert main(["summarize", str(labeled), "--model", str(directory), "--replicates", "100"]) == 0
        tables[name] = read_csv(tmp_path / f"{name}.jsonl.summary.csv")
        out = capsys.readouterr().out
        assert ("measured separately for paragraphs with 0-1 foreign-policy words" in out) == (name == "with")
        assert ("has no `text` column" in out) == (name == "without")
        assert "random sample of unlabeled paragraphs" in out
        assert (
            "measured on State of the Union paragraphs" in out
            and "--draw N" in out
            and "--hand-labels" in out
        )
    assert [r["count_share"] for r in tables["with"]] == [r["count_share"] for r in tables["without"]]
    assert [r["corrected_share"] for r in tables["with"]] != [r["corrected_share"] for r in tables["without"]]


def test_without_rates_it_gives_raw_shares_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    labeled = write_rows(tmp_path / "out.csv", labeled_rows(n_documents=4))
    directory = model_dir(tmp_path / "model", rates=False)
    plot = tmp_path / "shares.png"
    assert main(["summarize", str(labeled), "--model", str(directory), "--plot", str(plot)]) == 0
    table = read_csv(tmp_path / "out.csv.summary.csv")
    assert all(r["count_share"] and not r["corrected_share"] and not r["low"] for r in table)
    assert "NO CORRECTION" in capsys.readouterr().out
    assert plot.exists()


def test_real_stance_label_output_with_a_column_of_the_input(tmp_path: Path) -> None:
    inputs = write_rows(
        tmp_path / "in.csv", [{"id": i, "text": "w" * (i + 5), "source": "ab"[i % 2]} for i in range(40)]
    )
    output = tmp_path / "out.parquet"
    assert run_label([inputs, "-o", output], FakeLabeler()) == 0
    csv_path = tmp_path / "summary.csv"
    args = [
        str(output),
        "--by",
        "source",
        "--model",
        str(model_dir(tmp_path / "model")),
        "--csv",
        str(csv_path),
    ]
    assert main(["summarize", *args]) == 0
    groups = {r["group"]: int(r["n"]) for r in read_csv(csv_path)}
    assert groups == {"all": 40, "source=a": 20, "source=b": 20}


def test_unusable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    labeled = write_rows(tmp_path / "out.jsonl", labeled_rows(n_documents=2))
    directory = model_dir(tmp_path / "model")
    assert main(["summarize", str(labeled), "--by", "president", "--model", str(directory)]) == 2
    assert "no 'president' column" in capsys.readouterr().err
    assert main(["summarize", str(tmp_path / "missing.jsonl"), "--model", str(directory)]) == 2
    other = tmp_path / "other"
    model_dir(other)
    Manifest(name="another", version="1.0.0").save(other)
    assert main(["summarize", str(labeled), "--model", str(other)]) == 2
    assert "labeled by fake 9.9.9" in capsys.readouterr().err


def test_compare_methods_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    directory = model_dir(tmp_path / "model")
    assert main(["summarize", "--compare-methods", "--model", str(directory), "--replicates", "20"]) == 0
    out = capsys.readouterr().out
    for method in ("cc", "acc", "pacc", "em", "composite"):
        assert f"| {method} |" in out


def test_compare_methods_reads_the_teams_confidence_for_clarity_shift(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    directory = model_dir(tmp_path / "model")
    ids = json.loads((directory / "cv_predictions.json").read_text())["ids"]
    annotations = tmp_path / "labeled.jsonl"
    annotations.write_text(
        "".join(
            json.dumps({"id": i, "confidence": ("sure", "lean")[n % 2]}) + "\n" for n, i in enumerate(ids)
        )
    )
    arguments = ["summarize", "--compare-methods", "--model", str(directory), "--replicates", "20"]
    assert main([*arguments, "--annotations", str(annotations)]) == 0
    captured = capsys.readouterr()
    assert "the team was sure of" in captured.out and "clarity-shift" not in captured.err
    # A row without a confidence (or no file at all) leaves the clarity cases out, and says so.
    annotations.write_text("\n".join(annotations.read_text().splitlines()[1:]))
    assert main([*arguments, "--annotations", str(annotations)]) == 0
    captured = capsys.readouterr()
    assert "the team was sure of" not in captured.out
    assert "the clarity-shift cases are left out" in captured.err


def _check_rows(out: str) -> dict[str, list[str]]:
    """The `--truth` table's rows: first cell -> the other cells."""
    rows = [line.strip("|").split(" | ") for line in out.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_truth_checks_every_method_against_hand_labels(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = labeled_rows(n_documents=12, seed=5)
    rng = np.random.default_rng(5)
    for i, row in enumerate(rows):
        # Hand labels on two rows in three, agreeing with the model four times in five.
        agree = rng.random() < 0.8
        row["gold"] = "" if i % 3 == 2 else (row["label"] if agree else LABELS[rng.integers(3)])
    labeled = write_rows(tmp_path / "out.csv", rows)
    directory = model_dir(tmp_path / "model")
    assert (
        main(["summarize", str(labeled), "--model", str(directory), "--truth", "gold", "--replicates", "50"])
        == 0
    )
    out = capsys.readouterr().out
    checked = [r for r in rows if r["gold"]]
    assert f"hand labels in `gold` ({len(checked)} rows)" in out
    table = _check_rows(out)
    assert table["method"][:3] == [f"`{label}`" for label in LABELS]
    truth = [sum(r["gold"] == label for r in checked) / len(checked) for label in LABELS]
    assert table["true share"][:3] == [f"{t:.1%}" for t in truth]
    counted = [sum(r["label"] == label for r in checked) / len(checked) for label in LABELS]
    cells = table[METHOD_NAMES["cc"]]
    assert cells[:3] == [f"{c:.1%} ({100 * (c - t):+.1f})" for c, t in zip(counted, truth, strict=True)]
    assert float(cells[3]) == pytest.approx(
        np.mean([100 * abs(c - t) for c, t in zip(counted, truth, strict=True)]), abs=0.06
    )
    for method in ("acc", "pacc", "em", "composite"):
        assert METHOD_NAMES[method] in table
        assert table[METHOD_NAMES[method]][4].endswith("of 3")


def test_truth_without_rates_checks_counting(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = [r | {"gold": r["label"]} for r in labeled_rows(n_documents=3)]
    labeled = write_rows(tmp_path / "out.jsonl", rows)
    directory = model_dir(tmp_path / "model", rates=False)
    assert main(["summarize", str(labeled), "--model", str(directory), "--truth", "gold"]) == 0
    table = _check_rows(capsys.readouterr().out)
    assert METHOD_NAMES["cc"] in table and METHOD_NAMES["acc"] not in table
    assert table[METHOD_NAMES["cc"]][3] == "0.0"  # hand labels equal to the model's: counting is exact


def test_truth_column_must_hold_labels(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    directory = model_dir(tmp_path / "model")
    rows = labeled_rows(n_documents=2)
    labeled = write_rows(tmp_path / "out.jsonl", [r | {"gold": "realism"} for r in rows])
    assert main(["summarize", str(labeled), "--model", str(directory), "--truth", "gold"]) == 2
    assert "'realism', not labels" in capsys.readouterr().err
    assert main(["summarize", str(labeled), "--model", str(directory), "--truth", "hand"]) == 2
    assert "no 'hand' column" in capsys.readouterr().err
    empty = write_rows(tmp_path / "empty.jsonl", [r | {"gold": ""} for r in rows])
    assert main(["summarize", str(empty), "--model", str(directory), "--truth", "gold"]) == 2
    assert "no hand label on any row" in capsys.readouterr().err


def test_method_ppi_corrects_with_the_hand_labels(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = labeled_rows(n_documents=20, seed=6)
    rng = np.random.default_rng(6)
    for row in rows:
        # The 1900s' hand labels: a random third of their rows; the 1950s have none.
        row["gold"] = row["label"] if row["decade"] == "1900s" and rng.random() < 1 / 3 else ""
        if row["gold"] and rng.random() < 0.3:
            row["gold"] = "neither"
    labeled = write_rows(tmp_path / "out.jsonl", rows)
    directory = model_dir(tmp_path / "model")
    args = ["summarize", str(labeled), "--model", str(directory), "--by", "decade", "--replicates", "200"]
    assert main([*args, "--method", "ppi"]) == 2
    assert "--method ppi corrects with hand labels" in capsys.readouterr().err
    assert main([*args, "--method", "ppi", "--truth", "gold"]) == 0
    assert METHOD_NAMES["ppi"] in capsys.readouterr().out
    table = {(r["group"], r["label"]): r for r in read_csv(tmp_path / "out.jsonl.summary.csv")}
    for group, members in (("all", rows), ("decade=1900s", [r for r in rows if r["decade"] == "1900s"])):
        checked = [r for r in members if r["gold"]]
        for label in LABELS:
            expected = np.mean([r[f"score_{label}"] for r in members]) + np.mean(
                [(r["gold"] == label) - r[f"score_{label}"] for r in checked]
            )
            row = table[(group, label)]
            assert float(row["corrected_share"]) == pytest.approx(expected, abs=1e-4)
            assert float(row["low"]) <= float(row["corrected_share"]) <= float(row["high"])
    # No hand label in the 1950s: counted, not corrected.
    assert all(not table[("decade=1950s", label)]["corrected_share"] for label in LABELS)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_draw_writes_a_random_sheet_whose_hand_labels_come_back_by_id(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture
) -> None:
    rows = labeled_rows(n_documents=20, seed=8)
    labeled = write_rows(tmp_path / f"out{suffix}", rows)
    assert main(["summarize", str(labeled), "--draw", "40", "--by", "decade"]) == 0
    sheet = tmp_path / f"out{suffix}.to_label.csv"
    assert f"then: stance summarize {labeled} --method ppi --hand-labels {sheet}" in capsys.readouterr().out
    drawn = read_sheet(sheet)
    assert list(drawn[0]) == ["id", "document_id", "decade", "text", "hand_label"]
    order = {row["id"]: i for i, row in enumerate(rows)}
    positions = [order[row["id"]] for row in drawn]
    assert len(set(positions)) == 40 and positions != sorted(positions)  # distinct rows, in random order
    assert all(row["hand_label"] == "" for row in drawn)
    again = tmp_path / f"again{suffix}"
    again.write_bytes(labeled.read_bytes())
    assert main(["summarize", str(again), "--draw", "40", "--seed", "1"]) == 0
    redrawn = read_sheet(tmp_path / f"again{suffix}.to_label.csv")
    assert [row["id"] for row in redrawn] != [row["id"] for row in drawn]
    # Drawing again would overwrite a sheet that may hold hand labels: refused.
    assert main(["summarize", str(again), "--draw", "40"]) == 2
    assert "move it away to draw again" in capsys.readouterr().err

    # Fill in the top 30 (a random sample too) and correct with them: the same as a column in OUT.
    by_id = {row["id"]: row for row in rows}
    for row in drawn[:30]:
        row["hand_label"] = "neither" if row["id"].endswith(":1") else by_id[row["id"]]["label"]
    with sheet.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(drawn[0]))
        writer.writeheader()
        writer.writerows(drawn)
    filled = {row["id"]: row["hand_label"] for row in drawn}
    column = write_rows(tmp_path / "column.jsonl", [r | {"gold": filled.get(r["id"], "")} for r in rows])
    directory = model_dir(tmp_path / "model")
    common = ["--model", str(directory), "--by", "decade", "--method", "ppi", "--replicates", "100"]
    assert main(["summarize", str(labeled), *common, "--hand-labels", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert f"check against the hand labels in `hand_label` of {sheet} (30 rows)" in out
    assert main(["summarize", str(column), *common, "--truth", "gold"]) == 0
    assert read_csv(tmp_path / f"out{suffix}.summary.csv") == read_csv(tmp_path / "column.jsonl.summary.csv")


def read_sheet(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_draw_and_hand_labels_refuse_what_cannot_be_joined(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    labeled = write_rows(tmp_path / "out.jsonl", labeled_rows(n_documents=2))
    directory = model_dir(tmp_path / "model")
    assert main(["summarize", str(labeled), "--draw", "3", "--document-column", "source"]) == 2
    assert "has no 'source' column" in capsys.readouterr().err
    assert main(["summarize", str(labeled), "--draw", "0"]) == 2
    assert main(["summarize", str(labeled), "--draw", "25"]) == 2
    assert "--draw must be between 1 and the 24 rows" in capsys.readouterr().err
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,hand_label\nd0:1,realist\nd9:1,neither\n")
    summarize = ["summarize", str(labeled), "--model", str(directory), "--hand-labels", str(sheet)]
    assert main(summarize) == 2
    assert "1 id(s) are not rows of" in capsys.readouterr().err
    sheet.write_text("id,label\nd0:1,realist\n")
    assert main(summarize) == 2
    assert "has no 'hand_label' column" in capsys.readouterr().err
    sheet.write_text("id,hand_label\nd0:1,realism\n")
    assert main(summarize) == 2
    assert "'realism', not labels" in capsys.readouterr().err
    assert main([*summarize, "--truth", "label"]) == 2
    assert "not both" in capsys.readouterr().err
    repeated = write_rows(tmp_path / "repeated.jsonl", labeled_rows(n_documents=2) * 2)
    assert main(["summarize", str(repeated), "--draw", "3"]) == 2
    assert "ids repeat" in capsys.readouterr().err
