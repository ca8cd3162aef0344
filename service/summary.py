"""A document's verdict from its paragraphs' predictions.

The rule: only stance paragraphs (labeled realist or liberal_internationalist) count. Each contributes
its probability mass for both sides, so a confident paragraph weighs more than a hesitant one. With
R = sum of P(realist) and L = sum of P(liberal_internationalist) over stance paragraphs, the document is
`realist` when R / (R + L) >= threshold (default 2/3), `liberal_internationalist` when
L / (R + L) >= threshold, else `mixed`; with no stance paragraph it is `neither`.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from model.labels import STANCE_LABELS
from model.quantify import METHOD_NAMES, Corrector, Sample, stratum
from service.schemas import CorrectedShares, Overall, ShareInterval, Summary

if TYPE_CHECKING:  # importing the Labeler module pulls in transformers; types need not
    from model.labeler import Prediction

REALIST, LIBERAL = STANCE_LABELS
SHORT_DOCUMENT = 20  # paragraphs read by the model, below which `corrected_shares` says it is short
NO_RATES = (
    "Not corrected: the model directory has no error rates (cv_predictions.json), so only the raw `counts` "
    "are given."
)


def corrected_shares(
    predictions: "Sequence[Prediction]",
    labels: Sequence[str],
    corrector: Corrector | None,
    headings: Sequence[bool] | None = None,
    no_rates: str = NO_RATES,
    texts: Sequence[str] | None = None,
) -> CorrectedShares:
    """The document's label shares corrected for the model's errors; headings keep their rule's label.

    The paragraphs' `texts` place each in its vocabulary stratum, whose error rates correct it; without
    them one set of rates serves all (`Corrector.pooled`).
    """
    ruled = np.zeros(len(predictions), bool) if headings is None else np.asarray(headings, bool)
    read = int((~ruled).sum())
    short = read < SHORT_DOCUMENT
    if corrector is None:
        return CorrectedShares(method=None, shares=None, short=short, note=no_rates)
    probs = np.array([[p.scores[label] for label in labels] for p in predictions], dtype=np.float64)
    if texts is None and corrector.n_strata > 1:
        corrector = corrector.pooled()
    strata = [stratum(text) for text in texts] if texts is not None and corrector.n_strata > 1 else None
    # One document: its own error rates may stray from the average, and the interval says so.
    estimate = corrector.estimate(Sample.of(probs, ruled=ruled, strata=strata, documents=1))
    assert estimate.corrected is not None and estimate.low is not None and estimate.high is not None
    shares = {
        label: ShareInterval(
            share=round(float(estimate.corrected[i]), 4),
            low=round(float(estimate.low[i]), 4),
            high=round(float(estimate.high[i]), 4),
        )
        for i, label in enumerate(labels)
    }
    sampled = (
        f" and {corrector.n_sampled:,} on a random sample of unlabeled paragraphs"
        if corrector.n_sampled
        else ""
    )
    by = ", by how many foreign-policy words a paragraph uses" if corrector.n_strata > 1 else ""
    note = (
        f"Shares of the document's {len(predictions)} paragraphs, corrected for the model's error rates on "
        f"real text ({METHOD_NAMES[corrector.method]}, rates from {corrector.n_rows:,} cross-validated "
        f"predictions{sampled}{by}); 95% intervals over the paragraphs, the rates and how far one document's "
        "own error rates, and those of its era, may stray from them. The rates are measured on State of the "
        "Union paragraphs: on other writing they may not hold (on op-eds the counts were closer; "
        "docs/batch.md)."
    )
    if short:
        note += (
            f" The model read only {read} paragraph{'s' if read != 1 else ''}: the intervals are wide, and "
            "shares of a document this short say little."
        )
    return CorrectedShares(method=corrector.method, shares=shares, short=short, note=note)


def summarize(
    predictions: "Sequence[Prediction]",
    labels: Sequence[str],
    threshold: float = 2 / 3,
    corrected: CorrectedShares | None = None,
) -> Summary:
    """Counts, shares and the overall verdict for one document's paragraph predictions."""
    corrected = corrected or corrected_shares(predictions, labels, None)
    counts = dict.fromkeys(labels, 0)
    for prediction in predictions:
        counts[prediction.label] = counts.get(prediction.label, 0) + 1
    stance = [p for p in predictions if p.label in STANCE_LABELS]
    if not stance:
        return Summary(
            counts=counts,
            paragraphs=len(predictions),
            stance_paragraphs=0,
            realist_share=None,
            liberal_internationalist_share=None,
            realist_mass_share=None,
            overall="neither",
            mixed_threshold=round(threshold, 6),
            corrected_shares=corrected,
        )
    realist_mass = sum(p.scores.get(REALIST, 0.0) for p in stance)
    liberal_mass = sum(p.scores.get(LIBERAL, 0.0) for p in stance)
    total = realist_mass + liberal_mass
    # A stance paragraph's two stance probabilities cannot both be 0 (its label is the argmax of them);
    # the guard only protects against a degenerate model.
    realist_mass_share = realist_mass / total if total > 0 else 0.5
    liberal_mass_share = liberal_mass / total if total > 0 else 0.5
    overall: Overall
    if realist_mass_share >= threshold:
        overall = "realist"
    elif liberal_mass_share >= threshold:
        overall = "liberal_internationalist"
    else:
        overall = "mixed"
    return Summary(
        counts=counts,
        paragraphs=len(predictions),
        stance_paragraphs=len(stance),
        realist_share=round(counts.get(REALIST, 0) / len(stance), 6),
        liberal_internationalist_share=round(counts.get(LIBERAL, 0) / len(stance), 6),
        realist_mass_share=round(realist_mass_share, 6),
        overall=overall,
        mixed_threshold=round(threshold, 6),
        corrected_shares=corrected,
    )
