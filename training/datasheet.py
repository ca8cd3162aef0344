"""Corpus statistics: what the corpus checks assert and what the datasheet (data/README.md) reports."""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.labels import STANCE_LABELS

GIVEAWAY = re.compile(
    r"\brealis\w*|\bliberal\w*|\binternationalis\w*|\bidealis\w*|balance of power|rules-based", re.IGNORECASE
)
# Words that name what a paragraph is about, not how it reasons about it: the model's errors on real
# op-eds followed them (democracy -> liberal internationalist, treaty or summit -> a stance).
TOPIC_WORDS = (
    "democra", "human rights", "aid", "treat", "united nations", "charter", "law", "court", "institution",
    "sanction", "intervention", "alliance", "nato", "deterr", "military", "war", "nuclear", "trade",
    "summit", "negotiat", "security", "peace", "troops", "arms",
)  # fmt: skip
NEAR_DUPLICATE_COSINE = 0.85  # word 1-2-gram TF-IDF cosine above which two paragraphs say the same thing


def words(text: str) -> int:
    return len(text.split())


def decade(era: str) -> int:
    return int(era[:4])


@dataclass(frozen=True)
class NearDuplicate:
    first: str
    second: str
    cosine: float


def near_duplicates(rows: Sequence[dict], threshold: float = NEAR_DUPLICATE_COSINE) -> list[NearDuplicate]:
    """Pairs of rows whose texts nearly coincide, except the two halves of a contrast pair."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform([r["text"] for r in rows])
    similarity = (matrix @ matrix.T).tocoo()
    found = []
    for i, j, value in zip(similarity.row, similarity.col, similarity.data, strict=True):
        if i < j and value >= threshold:
            a, b = rows[i], rows[j]
            if a.get("pair_id") and a.get("pair_id") == b.get("pair_id"):
                continue
            found.append(NearDuplicate(a["id"], b["id"], round(float(value), 3)))
    return found


def topic_word_probe(rows: Sequence[dict]) -> float:
    """How well topic words alone predict the label on topics never seen: leave-one-topic-out macro-F1
    of a logistic regression on which TOPIC_WORDS a paragraph contains (chance is about 0.33)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    patterns = [re.compile(r"\b" + word, re.IGNORECASE) for word in TOPIC_WORDS]
    x = np.array([[bool(p.search(r["text"])) for p in patterns] for r in rows], dtype=float)
    y = np.array([r["label"] for r in rows])
    topics = np.array([r["topic"] for r in rows])
    predicted = np.empty(len(rows), dtype=object)
    for topic in sorted(set(topics)):
        held = topics == topic
        probe = LogisticRegression(max_iter=2000, class_weight="balanced").fit(x[~held], y[~held])
        predicted[held] = probe.predict(x[held])
    return round(float(f1_score(y, predicted, average="macro")), 3)


def statistics(rows: Sequence[dict]) -> dict[str, Any]:
    """Counts by label, subtype, topic, genre, era and voice; length, giveaway and pair figures."""
    stance = [r for r in rows if r["label"] in STANCE_LABELS]
    topics: dict[str, Counter] = {}
    for r in rows:
        topics.setdefault(r["topic"], Counter())[r["label"]] += 1
    pairs: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("pair_id"):
            pairs.setdefault(r["pair_id"], []).append(r)
    lengths = {
        label: np.percentile([words(r["text"]) for r in rows if r["label"] == label], [10, 25, 50, 75, 90])
        .round(1)
        .tolist()
        for label in sorted({r["label"] for r in rows})
    }
    return {
        "rows": len(rows),
        "labels": dict(Counter(r["label"] for r in rows)),
        "neither_subtypes": dict(Counter(r.get("subtype") for r in rows if r["label"] == "neither")),
        "topics": {t: dict(c) for t, c in sorted(topics.items())},
        "genres": dict(Counter(r["genre"] for r in rows).most_common()),
        "eras": dict(sorted(Counter(r["era"] for r in rows).items())),
        "voices": dict(Counter(r["voice"] for r in rows)),
        "stance_voices": dict(Counter(r["voice"] for r in stance)),
        "words_min_max": [min(words(r["text"]) for r in rows), max(words(r["text"]) for r in rows)],
        "word_percentiles_10_25_50_75_90": lengths,
        "stance_before_1990": round(sum(decade(r["era"]) < 1990 for r in stance) / len(stance), 4),
        "stance_describe_or_rebut": round(
            sum(r["voice"] in ("description", "rebuttal") for r in stance) / len(stance), 4
        ),
        "stance_giveaway_rate": round(sum(bool(GIVEAWAY.search(r["text"])) for r in stance) / len(stance), 4),
        "contrast_pairs": sum(
            len(members) == 2 and members[0]["label"] != members[1]["label"] for members in pairs.values()
        ),
        "incomplete_pairs": sorted(p for p, members in pairs.items() if len(members) != 2),
    }


def markdown(rows: Sequence[dict], extra: Sequence[dict]) -> str:
    """The datasheet's measured tables (pasted into data/README.md by `python -m training.datasheet`)."""
    stats = statistics(rows)
    out = [f"Team corpus: {stats['rows']} paragraphs. Odd-year SOTU training rows: {len(extra)}.", ""]
    out += ["| label | team corpus | odd-year SOTU |", "|---|---|---|"]
    sotu = Counter(r["label"] for r in extra)
    out += [f"| {label} | {n} | {sotu.get(label, 0)} |" for label, n in sorted(stats["labels"].items())]
    out += ["", "`neither` by kind: " + ", ".join(f"{k} {v}" for k, v in stats["neither_subtypes"].items())]
    out += ["", "| topic | realist | liberal_internationalist | neither |", "|---|---|---|---|"]
    for topic, counts in stats["topics"].items():
        r, li, n = (counts.get(k, 0) for k in ("realist", "liberal_internationalist", "neither"))
        out.append(f"| {topic} | {r} | {li} | {n} |")
    out += ["", "Genres: " + ", ".join(f"{k} {v}" for k, v in stats["genres"].items())]
    out += ["", "Eras: " + ", ".join(f"{k} {v}" for k, v in stats["eras"].items())]
    out += [
        "",
        "Voices (stance paragraphs): " + ", ".join(f"{k} {v}" for k, v in stats["stance_voices"].items()),
    ]
    out += [
        "",
        f"- stance paragraphs set before 1990: {stats['stance_before_1990']:.1%}",
        f"- stance paragraphs that describe or rebut a camp: {stats['stance_describe_or_rebut']:.1%}",
        f"- stance paragraphs with a giveaway word: {stats['stance_giveaway_rate']:.1%}",
        f"- contrast pairs: {stats['contrast_pairs']}",
        f"- words per paragraph: {stats['words_min_max'][0]}-{stats['words_min_max'][1]}; "
        "10/25/50/75/90th percentiles by label: "
        + "; ".join(f"{k} {v}" for k, v in stats["word_percentiles_10_25_50_75_90"].items()),
        f"- near-duplicate pairs outside contrast pairs (TF-IDF cosine >= {NEAR_DUPLICATE_COSINE}): "
        f"{len(near_duplicates(rows))}",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    from training.corpus import expand, load_corpus, load_rows

    print(
        markdown(load_corpus(expand(["data/corpus/*.jsonl"])), load_rows(expand(["data/sotu_train/*.jsonl"])))
    )
