import json
from pathlib import Path

import pytest

from training.corpus import TEST_TOPICS, CorpusError, assign_splits, load_corpus, split_rows

GOOD = {
    "id": "x-1",
    "text": "Some words.",
    "label": "neither",
    "topic": "nato",
    "genre": "op_ed",
    "era": "1990s",
    "voice": "none",
}


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_good_rows_load(tmp_path: Path) -> None:
    assert load_corpus([_file(tmp_path, [json.dumps(GOOD)])]) == [GOOD]


def test_every_bad_row_is_reported_with_file_and_line(tmp_path: Path) -> None:
    rows = [
        json.dumps(GOOD),
        json.dumps({**GOOD, "id": "x-2", "label": "hawkish"}),
        json.dumps({k: v for k, v in GOOD.items() if k != "topic"} | {"id": "x-3"}),
        json.dumps({**GOOD, "id": "x-4", "text": "   "}),
        json.dumps({**GOOD, "voice": "shouting"} | {"id": "x-5"}),
        json.dumps(GOOD),
    ]
    with pytest.raises(CorpusError) as error:
        load_corpus([_file(tmp_path, rows)])
    message = str(error.value)
    assert "5 bad corpus rows" in message
    assert "c.jsonl:2: 'label' is 'hawkish'" in message
    assert "c.jsonl:3: missing field 'topic'" in message
    assert "c.jsonl:4: 'text' must be a non-empty string" in message
    assert "c.jsonl:5: 'voice' is 'shouting'" in message
    assert "c.jsonl:6: duplicate id 'x-1' (first at" in message


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"c.jsonl:2: not valid JSON"):
        load_corpus([_file(tmp_path, [json.dumps(GOOD), "{oops"])])


def test_splits_hold_out_topics_and_keep_pairs_together() -> None:
    rows = [{**GOOD, "id": f"r{i}", "topic": "nato", "pair_id": f"p{i // 2}"} for i in range(400)]
    rows += [{**GOOD, "id": "t1", "topic": TEST_TOPICS[0]}]
    splits = assign_splits(rows)
    assert splits["t1"] == "test"
    assert 0.05 < list(splits.values()).count("dev") / 400 < 0.15
    for i in range(0, 400, 2):
        assert splits[f"r{i}"] == splits[f"r{i + 1}"]
    assert assign_splits(rows) == splits  # deterministic
    with pytest.raises(CorpusError, match="not in the split file"):
        split_rows(rows, {})
