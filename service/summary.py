"""A document's verdict from its paragraphs' predictions.

The rule: only stance paragraphs (labeled realist or liberal_internationalist) count. Each contributes
its probability mass for both sides, so a confident paragraph weighs more than a hesitant one. With
R = sum of P(realist) and L = sum of P(liberal_internationalist) over stance paragraphs, the document is
`realist` when R / (R + L) >= threshold (default 2/3), `liberal_internationalist` when
L / (R + L) >= threshold, else `mixed`; with no stance paragraph it is `neither`.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from model.labels import STANCE_LABELS
from service.schemas import Overall, Summary

if TYPE_CHECKING:  # importing the Labeler module pulls in transformers; types need not
    from model.labeler import Prediction

REALIST, LIBERAL = STANCE_LABELS


def summarize(
    predictions: "Sequence[Prediction]", labels: Sequence[str], threshold: float = 2 / 3
) -> Summary:
    """Counts, shares and the overall verdict for one document's paragraph predictions."""
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
    )
