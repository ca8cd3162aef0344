"""Label shares from hand labels on a random sample of the rows and the model's probabilities on all of them.

The corrections in `model.quantify` borrow the model's error rates from State of the Union paragraphs;
on other writing those rates need not hold, and measured on op-eds they do not (docs/batch.md). A
random sample of hand labels from the corpus itself measures the model's errors where they apply.
Prediction-powered inference (Angelopoulos, Bates, Fannjiang, Jordan and Zrnic 2023, Science 382) turns
them into an estimate of each label's share that is unbiased whatever the model's errors:

    share = mean of the calibrated probabilities over every row
          + mean of (hand label - probability) over the hand-labeled rows

The first term is precise (every row) but carries the model's bias; the second measures that bias on
the hand-labeled rows. The better the model, the smaller the second term's noise, and the narrower the
interval than that of the hand labels alone. The one assumption: the hand-labeled rows are a random
sample of the rows estimated (of each group, for a group's share).
"""

import numpy as np

from model.quantify import CONFIDENCE, REPLICATES, resample_counts, simplex


def prediction_powered(
    probs: np.ndarray,
    truth: np.ndarray,
    units: np.ndarray | None = None,
    replicates: int = REPLICATES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(shares, low, high) of the rows from `probs` (n, k) and `truth` (n,: label index, -1 if unlabeled).

    The interval is a percentile bootstrap over `units` (each row's document; each row its own unit
    when None), drawing labeled and unlabeled rows of a unit together, so that it carries both terms'
    noise and their covariance. None when no row is hand-labeled.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n, k = probs.shape
    labeled = truth >= 0
    if not labeled.any():
        return None
    unit = np.arange(n) if units is None else np.unique(np.asarray(units), return_inverse=True)[1].ravel()
    count = int(unit.max()) + 1
    # Per unit: sums of probabilities, rows, sums of (hand label - probability), hand-labeled rows.
    residual = np.where(labeled[:, None], np.eye(k)[np.maximum(truth, 0)] - probs, 0.0)
    sums = np.zeros((count, 2 * k + 2))
    np.add.at(sums, unit, np.column_stack([probs, np.ones(n), residual, labeled.astype(float)]))

    def shares(totals: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = totals[..., :k] / totals[..., k : k + 1] + totals[..., k + 1 : 2 * k + 1] / totals[..., -1:]
        return simplex(raw, totals[..., :k] / np.maximum(totals[..., k : k + 1], 1e-12))

    point = shares(sums.sum(axis=0))
    # Replicates go in chunks so that the (replicates, units) counts stay near 32 MB for any corpus.
    rng, size = np.random.default_rng(seed), max(1, int(4e6 // count))
    drawn = np.concatenate(
        [
            resample_counts(rng, count, min(size, replicates - start)) @ sums
            for start in range(0, replicates, size)
        ]
    )
    # A resample that drew no hand-labeled row has no estimate: it is left out.
    drawn = drawn[drawn[:, -1] > 0]
    low, high = np.quantile(shares(drawn), [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    return point, np.minimum(low, point), np.maximum(high, point)
