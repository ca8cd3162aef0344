"""The document verdict rule (service.summary), on hand-made predictions."""

import pytest

from model.labeler import Prediction
from model.labels import LABELS
from service.summary import summarize


def prediction(realist: float, liberal: float) -> Prediction:
    neither = round(1 - realist - liberal, 6)
    scores = {"realist": realist, "liberal_internationalist": liberal, "neither": neither}
    label = max(scores, key=scores.__getitem__)
    return Prediction(label, scores[label], scores, n_tokens=10, n_windows=1, truncated=False)


REALIST = prediction(0.8, 0.1)
LIBERAL = prediction(0.1, 0.8)
NEITHER = prediction(0.1, 0.1)


def test_no_stance_paragraph_is_neither() -> None:
    summary = summarize([NEITHER, NEITHER], LABELS)
    assert summary.overall == "neither"
    assert summary.counts == {"realist": 0, "liberal_internationalist": 0, "neither": 2}
    assert summary.stance_paragraphs == 0
    assert summary.realist_share is None
    assert summary.liberal_internationalist_share is None
    assert summary.realist_mass_share is None


def test_neither_paragraphs_do_not_dilute_a_side() -> None:
    summary = summarize([REALIST, NEITHER, NEITHER, NEITHER], LABELS)
    assert summary.overall == "realist"
    assert summary.realist_share == 1.0
    assert summary.paragraphs == 4
    assert summary.stance_paragraphs == 1


def test_each_side_and_mixed() -> None:
    assert summarize([LIBERAL, LIBERAL, LIBERAL], LABELS).overall == "liberal_internationalist"
    assert summarize([REALIST, LIBERAL], LABELS).overall == "mixed"
    # Three to one: realist holds (3*0.8 + 0.1) / (3*0.9 + 0.9) = 0.694 of the stance mass.
    three_to_one = summarize([REALIST, REALIST, REALIST, LIBERAL], LABELS)
    assert three_to_one.overall == "realist"
    assert three_to_one.realist_share == 0.75
    assert three_to_one.realist_mass_share == pytest.approx(2.5 / 3.6, abs=1e-6)


def test_two_to_one_by_count_can_still_be_mixed() -> None:
    # Two realist paragraphs and one liberal one, by counts exactly 2/3 realist; but by mass
    # (0.8 + 0.8 + 0.1) / (0.9 + 0.9 + 0.9) = 0.63 < 2/3, so the document is mixed.
    summary = summarize([REALIST, REALIST, LIBERAL], LABELS)
    assert summary.realist_share == pytest.approx(2 / 3, abs=1e-6)
    assert summary.overall == "mixed"


def test_confidence_weighs_more_than_counts() -> None:
    hesitant_realist = prediction(0.40, 0.35)
    confident_liberal = prediction(0.02, 0.97)
    # Two realist paragraphs against one, but the liberal one is far more sure of itself.
    # Realist mass 0.40 + 0.40 + 0.02 = 0.82 against 0.35 + 0.35 + 0.97 = 1.67: liberal holds 0.67 >= 2/3.
    summary = summarize([hesitant_realist, hesitant_realist, confident_liberal], LABELS)
    assert summary.counts["realist"] == 2
    assert summary.realist_share == pytest.approx(2 / 3, abs=1e-6)
    assert summary.realist_mass_share == pytest.approx(0.82 / 2.49, abs=1e-6)
    assert summary.overall == "liberal_internationalist"


def test_threshold_is_inclusive_and_configurable() -> None:
    # Realist mass 0.5 + 0.5 = 1.0 against 0.25 + 0.25 = 0.5: exactly 2/3 (exact in binary floating point).
    exact = [prediction(0.5, 0.25), prediction(0.5, 0.25)]
    assert summarize(exact, LABELS).realist_mass_share == pytest.approx(2 / 3, abs=1e-6)
    assert summarize(exact, LABELS, threshold=2 / 3).overall == "realist"
    assert summarize(exact, LABELS, threshold=0.7).overall == "mixed"
    mirrored = [prediction(0.25, 0.5), prediction(0.25, 0.5)]
    assert summarize(mirrored, LABELS).overall == "liberal_internationalist"
