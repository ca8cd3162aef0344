"""The distillation teacher, its targets and its pool of unlabeled SOTU paragraphs."""

from pathlib import Path

import numpy as np
import pytest

import training.evaluate
from model.labels import LABELS
from training.config import DistillSection
from training.cv import group_of
from training.distill import EmbeddingCache, sotu_pool, with_soft_targets

TEXTS = {
    "realist": "Power and interest decide; deterrence keeps the peace in {} and {}.",
    "liberal_internationalist": "Law, institutions and rights bind nations together in {} and {}.",
    "neither": "The harvest and the railroads and the post offices of {} and {} did well.",
}
TOPICS = ["navy", "tariff", "canal", "treaty", "mexico", "china"]


def _rows() -> list[dict]:
    return [
        {"id": f"{topic}-{label}-{i}", "text": TEXTS[label].format(topic, i), "label": label, "topic": topic}
        for topic in TOPICS
        for i in range(3)
        for label in LABELS
    ]


def test_pool_reads_only_odd_years_outside_the_held_out_ones_and_is_seeded() -> None:
    pool = sotu_pool(set(), {"1947", "1961"}, 300, seed=3)
    years = {int(group_of(row["id"])) for row in pool}
    assert len(pool) == 300 and all(year % 2 == 1 for year in years)
    assert not years & {1947, 1961}
    assert len({row["text"] for row in pool}) == 300  # duplicate addresses are read once
    assert pool == sotu_pool(set(), {"1947", "1961"}, 300, seed=3)
    excluded = {pool[0]["text"]}
    assert pool[0]["text"] not in {row["text"] for row in sotu_pool(excluded, set(), 100_000, seed=3)}


def test_targets_mix_hard_labels_with_an_out_of_fold_teacher(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows()
    never_read = [{"id": "dev", "text": "x", "label": "neither"}]
    config = DistillSection(
        encoder="unused", embedding_weight=0.4, embedding_c=1.0, hard_weight=0.6, pool_size=25,
        teacher_folds=3, cache="unused",
    )  # fmt: skip
    out, summary = with_soft_targets(
        config, rows, never_read, {"1961"}, tiny_model_dir, tmp_path / "cache.npz", seed=0
    )

    labeled, pool = out[: len(rows)], out[len(rows) :]
    targets = np.array([r["target"] for r in out])
    assert np.allclose(targets.sum(axis=1), 1.0)
    for row in labeled:  # the hard label carries 0.6 of the mass, the teacher the rest
        assert row["target"][LABELS.index(row["label"])] >= 0.6 - 1e-9
        assert max(row["target"]) < 1.0  # the teacher's share is spread by its own probabilities
    assert len(pool) == summary["pool_paragraphs"] == 25
    assert all("label" not in row and group_of(row["id"]) != "1961" for row in pool)
    assert 0.0 <= summary["teacher_agrees_with_labels_out_of_fold"] <= 1.0

    # Embeddings are cached by text: a second run embeds nothing new.
    monkeypatch.setattr(training.evaluate, "mean_pooled", lambda *a, **k: pytest.fail("embedded twice"))
    again, _ = with_soft_targets(
        config, rows, never_read, {"1961"}, tiny_model_dir, tmp_path / "cache.npz", seed=0
    )
    assert [r["target"] for r in again] == [r["target"] for r in out]
    assert len(EmbeddingCache(tiny_model_dir, tmp_path / "cache.npz").vectors) == len(rows) + 25

    # Rows that must never be pooled (the error-rate sample) leave the rest of the pool as it was.
    fewer, _ = with_soft_targets(
        config, rows, never_read, {"1961"}, tiny_model_dir, tmp_path / "cache.npz", seed=0,
        never_pooled=pool[:5],
    )  # fmt: skip
    assert [r["id"] for r in fewer[len(rows) :]] == [r["id"] for r in pool[5:]]
