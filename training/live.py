"""The live op-ed check: real opinion and analysis paragraphs, committed as URL + position + labels only.

Published writing is not ours to store or train on, so `data/live_oped/labels.jsonl` holds no text:
each row names a page (`url`), a paragraph `position` in the page text as the search tool returned it
(non-empty lines, 0-based), the SHA-256 of that paragraph, and two blind annotators' labels. Whoever
scores a model supplies the text (url, position, text) and the hashes prove it is the same paragraph.
"""

import hashlib
from pathlib import Path

import numpy as np

from model.labels import LABEL2ID
from training.corpus import CorpusError, read_jsonl

LABEL_FIELDS = ("url", "position", "sha256", "label_a", "label_b", "label")
LIVE_LABELS = Path(__file__).resolve().parents[1] / "data" / "live_oped" / "labels.jsonl"


def paragraph_id(url: str, position: int) -> str:
    return f"{url}#{position}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_live(path: Path, required: tuple[str, ...]) -> list[dict]:
    """Rows keyed by (url, position); every missing field, bad label or repeated paragraph is reported."""
    rows, problems, seen = [], [], set()
    for number, row in read_jsonl(path):
        missing = [name for name in required if name not in row] if isinstance(row, dict) else ["an object"]
        labels = [row.get(k) for k in ("label_a", "label_b") if isinstance(row, dict) and k in row]
        if missing or any(label not in LABEL2ID for label in labels):
            problems.append(f"{path}:{number}: needs {missing or 'known labels'}")
            continue
        key = paragraph_id(row["url"], int(row["position"]))
        if key in seen:
            problems.append(f"{path}:{number}: {key} appears twice")
        seen.add(key)
        rows.append(row)
    if problems:
        raise CorpusError(f"{len(problems)} bad live rows, e.g. {problems[:3]}")
    return rows


def load_live_rows(text_path: Path, labels_path: Path = LIVE_LABELS) -> list[dict]:
    """Agreed live paragraphs with their text, {id, url, text, label}; a wrong or missing text is an error."""
    texts = {
        paragraph_id(r["url"], int(r["position"])): r["text"]
        for r in read_live(text_path, ("url", "position", "text"))
    }
    rows, problems = [], []
    for row in read_live(labels_path, LABEL_FIELDS):
        key = paragraph_id(row["url"], int(row["position"]))
        text = texts.get(key)
        if text is None or sha256(text) != row["sha256"]:
            why = "no text given" if text is None else "text differs from the labeled one"
            problems.append(f"{key}: {why}")
            continue
        if row.get("label"):  # the agreed label; rows the annotators disagreed on have none
            rows.append({"id": key, "url": row["url"], "text": text, "label": row["label"]})
    if problems:
        raise CorpusError(f"{len(problems)} live paragraphs cannot be scored, e.g. {problems[:3]}")
    return rows


def report(rows: list[dict], probabilities: dict[str, np.ndarray]) -> dict[str, dict]:
    """Macro-F1 of each system on the live rows, with intervals that resample whole pages.

    Each system after the first is also compared with the first, paired on the same paragraphs.
    """
    from model.labels import LABELS
    from training.metrics import bootstrap_macro_f1, classification_report

    gold = [r["label"] for r in rows]
    pages = [r["url"] for r in rows]
    first = None
    out: dict[str, dict] = {}
    for system, probs in probabilities.items():
        predicted = [LABELS[i] for i in probs.argmax(axis=1)]
        entry = {**classification_report(gold, predicted, probs, LABELS)}
        entry.update(bootstrap_macro_f1(gold, predicted, LABELS, reference=first, groups=pages))
        first = first or predicted
        out[system] = entry
    return out


def markdown(results: dict[str, dict]) -> str:
    names = list(results)
    lines = [
        "| system | n | macro-F1 | 95% CI (pages resampled) | F1 realist / liberal_int. / neither | "
        f"minus {names[0]} (paired 95% CI) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        f1s = " / ".join(f"{r['per_class'][k]['f1']:.2f}" for k in r["per_class"])
        gap = (
            f"{r['difference']:+.3f} ({r['difference_ci95'][0]:+.3f} to {r['difference_ci95'][1]:+.3f})"
            if "difference" in r
            else ""
        )
        low, high = r["macro_f1_ci95"]
        lines.append(f"| {name} | {r['n']} | {r['macro_f1']:.3f} | {low:.3f}-{high:.3f} | {f1s} | {gap} |")
    return "\n".join(lines)
