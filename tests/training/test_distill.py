"""The distillation teacher, its targets and its pool of unlabeled SOTU paragraphs."""

from pathlib import Path

import numpy as np
import pytest

import training.evaluate
from model.labels import LABELS
from training.config import DistillSection
from training.cv import group_of
from training.distill import BIAS, EmbeddingCache, Teacher, out_of_fold, sotu_pool, with_soft_targets

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
        teacher_folds=3, cache="unused", feature_weight=0.0, bias_expert=0.0,
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


def test_a_bias_expert_adds_out_of_fold_bag_of_words_log_probabilities(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    rows = _rows()
    config = DistillSection(
        encoder="unused", embedding_weight=1.0, embedding_c=1.0, hard_weight=0.5, pool_size=10,
        teacher_folds=3, cache="unused", feature_weight=0.0, bias_expert=0.5,
    )  # fmt: skip
    out, _ = with_soft_targets(config, rows, [], set(), tiny_model_dir, tmp_path / "cache.npz", seed=0)
    bias = np.array([row[BIAS] for row in out])
    assert bias.shape == (len(rows) + 10, len(LABELS))
    assert np.allclose(np.exp(bias / 0.5).sum(axis=1), 1.0, atol=1e-4)  # half of log-probabilities
    # The labeled rows' expert is the out-of-fold one, not one that saw their topics.
    words = Teacher(EmbeddingCache(tiny_model_dir, tmp_path / "cache.npz"), 0.0, 1.0)
    expert = np.exp(bias[: len(rows)] / 0.5)
    assert np.allclose(expert, out_of_fold(words, rows, 3), atol=1e-4)
    assert not np.allclose(expert, words.fit(rows).predict(rows), atol=1e-3)
