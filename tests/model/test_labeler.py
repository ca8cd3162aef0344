from pathlib import Path

import numpy as np
import pytest

from model.labeler import Labeler
from model.labels import LABELS


def test_predictions_cover_every_label_and_sum_to_one(tiny_labeler: Labeler) -> None:
    predictions = tiny_labeler.predict(["Troops moved north.", "Photo: a crowd in the square."])
    assert len(predictions) == 2
    for p in predictions:
        assert list(p.scores) == list(LABELS)
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert p.label == max(p.scores, key=p.scores.__getitem__)
        assert p.score == p.scores[p.label]


def test_batching_does_not_change_results(tiny_labeler: Labeler) -> None:
    texts = [("word " * n).strip() + f" case {n}" for n in (3, 80, 10, 200, 1, 40)]
    together = tiny_labeler.predict(texts)
    alone = [tiny_labeler.predict([t])[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert a.label == b.label
        assert a.scores == pytest.approx(b.scores, abs=1e-4)


def test_long_paragraph_is_windowed_and_flagged(tiny_labeler: Labeler) -> None:
    (p,) = tiny_labeler.predict(["policy " * 1000])
    assert p.n_windows == tiny_labeler.manifest.window.max_windows
    assert p.truncated
    assert p.n_tokens == 1000


def test_temperature_is_applied(tiny_model_dir: Path, tiny_labeler: Labeler) -> None:
    assert tiny_labeler.temperature == 1.5
    logits, *_ = tiny_labeler.logits(["A treaty was signed."])
    expected = np.exp(logits / 1.5) / np.exp(logits / 1.5).sum()
    (p,) = tiny_labeler.predict(["A treaty was signed."])
    assert list(p.scores.values()) == pytest.approx(expected[0].tolist(), abs=1e-5)


@pytest.mark.parametrize("bad", ["", "   \n\t", None])
def test_empty_text_is_refused(tiny_labeler: Labeler, bad: object) -> None:
    with pytest.raises(ValueError, match="empty"):
        tiny_labeler.predict(["fine text", bad])  # type: ignore[list-item]


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        Labeler(tmp_path / "nowhere")


def test_unicode_of_every_kind(tiny_labeler: Labeler) -> None:
    texts = ["🌍🕊️ peace", "السلام والأمن الدولي", "e\u0301\u0301 combining", "nul\x00inside", "中文段落"]
    predictions = tiny_labeler.predict(texts)
    assert [p.label in LABELS for p in predictions] == [True] * len(texts)
