"""`model.prediction_powered`: label shares from a random sample of hand labels and the probabilities."""

import numpy as np

from model.prediction_powered import prediction_powered
from tests.conftest import synthetic_rows


def test_with_every_row_hand_labeled_the_shares_are_the_hand_labels() -> None:
    rng = np.random.default_rng(0)
    gold, probs = synthetic_rows(rng, np.array([30, 50, 120]))
    result = prediction_powered(probs, gold, replicates=50)
    assert result is not None
    point, low, high = result
    np.testing.assert_allclose(point, np.bincount(gold, minlength=3) / len(gold), atol=1e-12)
    assert (low <= point).all() and (point <= high).all()


def test_without_hand_labels_there_is_no_estimate() -> None:
    _, probs = synthetic_rows(np.random.default_rng(1), np.array([10, 10, 10]))
    assert prediction_powered(probs, np.full(30, -1)) is None


def test_unbiased_where_counting_is_not_and_narrower_than_hand_labels_alone() -> None:
    """A corpus whose mix is far from the synthetic model's training prior: the model's counts are biased,
    the prediction-powered shares are not, their intervals cover, and the model's probabilities make them
    narrower than the same hand labels alone (a model that knows nothing: probabilities 1/3)."""
    rng = np.random.default_rng(2)
    counts = np.array([600, 600, 300])
    gold, probs = synthetic_rows(rng, counts)
    truth = counts / counts.sum()
    counted = np.bincount(probs.argmax(axis=1), minlength=3) / len(gold)
    errors, covered, widths, alone = [], [], [], []
    for draw in range(60):
        hand = np.full(len(gold), -1)
        picked = rng.choice(len(gold), 150, replace=False)
        hand[picked] = gold[picked]
        result = prediction_powered(probs, hand, replicates=200, seed=draw)
        know_nothing = prediction_powered(np.full_like(probs, 1 / 3), hand, replicates=200, seed=draw)
        assert result is not None and know_nothing is not None
        point, low, high = result
        errors.append(point - truth)
        covered.append((low <= truth) & (truth <= high))
        widths.append(high - low)
        alone.append(know_nothing[2] - know_nothing[1])
    bias = np.abs(np.mean(errors, axis=0))
    assert np.abs(counted - truth).max() > 0.03  # counting is biased on this mix ...
    assert bias.max() < 0.01  # ... the prediction-powered shares are not
    assert np.mean(covered, axis=0).min() >= 0.85  # 95% intervals, 60 draws
    assert np.mean(widths) < 0.9 * np.mean(alone)


def test_documents_are_the_bootstrap_units() -> None:
    """Rows of a document err together; resampling documents, not rows, widens the interval."""
    rng = np.random.default_rng(3)
    gold, probs = synthetic_rows(rng, np.array([100, 100, 100]))
    hand = np.where(rng.random(300) < 0.5, gold, -1)
    documents = np.repeat(np.arange(10), 30)[rng.permutation(300)]
    # Make each document's rows share the model's mistakes: order documents by the residual.
    residual = np.eye(3)[gold][:, 0] - probs[:, 0]
    clustered = np.repeat(np.arange(10), 30)[np.argsort(np.argsort(residual))]
    by_row = prediction_powered(probs, hand, None, replicates=400)
    by_document = prediction_powered(probs, hand, clustered, replicates=400)
    shuffled = prediction_powered(probs, hand, documents, replicates=400)
    assert by_row is not None and by_document is not None and shuffled is not None
    np.testing.assert_allclose(by_row[0], by_document[0])
    width = {
        name: (r[2] - r[1])[0] for name, r in (("row", by_row), ("doc", by_document), ("shuf", shuffled))
    }
    assert width["doc"] > 1.5 * width["row"]
    assert width["shuf"] < 1.3 * width["row"]
