"""Corpus loading and validation, and the committed train/dev/test split."""

import glob
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from model.labels import LABEL2ID, LABELS
from training.config import DataSection

CORPUS_FIELDS = ("id", "text", "label", "topic", "genre", "era", "voice")
VOICES = ("advocacy", "description", "rebuttal", "none")
# `rhetoric`: ceremony, exhortation and bare threats that use foreign-policy words without reasoning.
NEITHER_SUBTYPES = ("fp_narration", "furniture", "domestic", "rhetoric")
# Held out whole, so the team test measures transfer to topics the model never saw.
TEST_TOPICS = (
    "league_of_nations",
    "sanctions",
    "vietnam_war",
    "migration_refugees",
    "humanitarian_intervention",
    "north_korea",
)
DEV_FRACTION = 0.10


class CorpusError(ValueError):
    """Corpus rows that cannot be used; the message lists each with its file and line."""


def expand(patterns: Iterable[str], root: Path = Path()) -> list[Path]:
    """Resolve glob patterns (relative to `root`) to a sorted, de-duplicated list of files."""
    paths: set[Path] = set()
    for pattern in patterns:
        matched = glob.glob(str(root / pattern))
        if not matched:
            raise CorpusError(f"no files match {pattern!r} (looked under {root.resolve()})")
        paths.update(Path(p) for p in matched)
    return sorted(paths)


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed JSON) for each non-blank line; bad JSON raises CorpusError."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise CorpusError(f"{path}:{number}: not valid JSON ({error.msg})") from None


def _problems(row: Any, required: tuple[str, ...]) -> list[str]:
    if not isinstance(row, dict):
        return ["row is not a JSON object"]
    problems = [f"missing field {name!r}" for name in required if name not in row]
    text = row.get("text")
    if "text" in row and (not isinstance(text, str) or not text.strip()):
        problems.append("'text' must be a non-empty string")
    if "label" in row and row["label"] not in LABEL2ID:
        problems.append(f"'label' is {row['label']!r}; expected one of {', '.join(LABELS)}")
    if "voice" in required and "voice" in row and row["voice"] not in VOICES:
        problems.append(f"'voice' is {row['voice']!r}; expected one of {', '.join(VOICES)}")
    if row.get("subtype") is not None and row["subtype"] not in NEITHER_SUBTYPES:
        problems.append(f"'subtype' is {row['subtype']!r}; expected one of {', '.join(NEITHER_SUBTYPES)}")
    return problems


def load_rows(paths: Iterable[Path], required: tuple[str, ...] = ("id", "text", "label")) -> list[dict]:
    """Load and validate labeled JSONL rows; every problem is reported at once, with file:line."""
    rows: list[dict] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for path in paths:
        for number, row in read_jsonl(path):
            where = f"{path}:{number}"
            problems = _problems(row, required)
            if not problems and row["id"] in seen:
                problems.append(f"duplicate id {row['id']!r} (first at {seen[row['id']]})")
            if problems:
                errors.extend(f"{where}: {p}" for p in problems)
                continue
            seen[row["id"]] = where
            rows.append(row)
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise CorpusError(f"{len(errors)} bad corpus rows:\n  {shown}{more}")
    return rows


def load_corpus(paths: Iterable[Path]) -> list[dict]:
    """Team-written corpus rows, with the full schema required."""
    return load_rows(paths, CORPUS_FIELDS)


def content_hash(paths: Iterable[Path]) -> str:
    """SHA-256 over the files' names and bytes: identifies the data a model was trained on."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _bucket(key: str) -> float:
    """A stable number in [0, 1) from a key: the same row lands in the same split on every machine."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 16**8


def assign_splits(rows: Iterable[dict]) -> dict[str, str]:
    """Test = whole held-out topics; dev = 10% of the rest; contrast pairs never straddle splits."""
    splits = {}
    for row in rows:
        if row["topic"] in TEST_TOPICS:
            splits[row["id"]] = "test"
        else:
            key = row.get("pair_id") or row["id"]
            splits[row["id"]] = "dev" if _bucket(key) < DEV_FRACTION else "train"
    return splits


def split_rows(rows: list[dict], splits: dict[str, str]) -> dict[str, list[dict]]:
    """Partition corpus rows by a committed split file; a row missing from it is an error."""
    missing = [row["id"] for row in rows if row["id"] not in splits]
    if missing:
        raise CorpusError(
            f"{len(missing)} corpus rows are not in the split file (e.g. {missing[:3]}); "
            "run `stance splits` to regenerate it"
        )
    parts: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for row in rows:
        parts[splits[row["id"]]].append(row)
    return parts


def load_training_data(data: DataSection, root: Path = Path()) -> tuple[dict[str, list[dict]], str]:
    """Every split a training run uses, and the hash of the files they came from.

    Returns {"train", "team_dev", "team_test", "real_dev"}: `train` is the corpus train split plus
    the train-only extra files; `real_dev` is the real labeled dev set, never trained on.
    """
    corpus_files = expand(data.corpus, root)
    extra_files = expand(data.extra_train, root) if data.extra_train else []
    corpus = load_corpus(corpus_files)
    parts = split_rows(corpus, json.loads((root / data.splits).read_text()))
    extra = load_rows(extra_files)
    real_dev = load_rows([root / data.real_dev])
    dev_texts = {row["text"].strip() for row in real_dev}
    leaked = [row["id"] for row in corpus + extra if row["text"].strip() in dev_texts]
    if leaked:
        raise CorpusError(f"real dev paragraphs found in training data: {leaked[:5]}")
    sets = {
        "train": parts["train"] + extra,
        "team_dev": parts["dev"],
        "team_test": parts["test"],
        "real_dev": real_dev,
    }
    return sets, content_hash([*corpus_files, *extra_files, root / data.splits])
