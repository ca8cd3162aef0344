from pathlib import Path

import numpy as np
import pytest

from model.labeler import Labeler
from model.labels import LABELS
from tests.conftest import build_tiny_model


def test_predictions_cover_every_label_and_sum_to_one(tiny_labeler: Labeler) -> None:
    predictions = tiny_labeler.predict(["Troops moved north.", "Photo: a crowd in the square."])
    assert len(predictions) == 2
    for p in predictions:
        assert list(p.scores) == list(LABELS)
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert p.label == max(p.scores, key=p.scores.__getitem__)
        assert p.score == p.scores[p.label]


@pytest.fixture(scope="module")
def tiny_ensemble_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with both members a shipped model may carry: an int8 graph and a bag of words."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from model.bag_of_words import BagOfWords
    from model.export import export_onnx

    directory = build_tiny_model(tmp_path_factory.mktemp("tiny-ensemble"))
    export_onnx(directory)
    texts = [f"{word} {i} policy" for i, word in enumerate(["power", "law", "meeting"] * 4)]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, list(LABELS) * 4)
    BagOfWords.from_sklearn(pipeline, LABELS, weight=0.3).save(directory)
    return directory


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_paragraph_scores_the_same_alone_and_in_any_batch(tiny_ensemble_dir: Path, backend: str) -> None:
    """Research use needs a paragraph's label to be a function of the paragraph alone."""
    # Two threads: the int8 graph then runs a lone window on both cores and many at once, one per core.
    labeler = Labeler(tiny_ensemble_dir, backend=backend, threads=2)  # type: ignore[arg-type]
    assert labeler.backend == backend and labeler.bag_of_words is not None
    rng = np.random.default_rng(0)
    words = ["power", "law", "order", "treaty", "meeting", "interest", "rights", "deterrence", "summit"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 150)))) + f" #{i}" for i in range(50)]
    alone = [labeler.predict([t])[0] for t in texts]
    batched = [p for start in range(0, 50, 16) for p in labeler.predict(texts[start : start + 16])]
    shuffled = rng.permutation(50)
    in_other_company = dict(zip(shuffled, labeler.predict([texts[i] for i in shuffled]), strict=True))
    for i, (a, b) in enumerate(zip(alone, batched, strict=True)):
        for other in (b, in_other_company[i]):
            assert a.label == other.label
            np.testing.assert_allclose(list(a.scores.values()), list(other.scores.values()), atol=1e-5)


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
