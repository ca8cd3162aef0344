"""The document verdict rule (service.summary), on hand-made predictions."""

from pathlib import Path

import numpy as np
import pytest

from model.labeler import Prediction
from model.labels import LABELS
from model.quantify import DEFAULT_METHOD, Corrector, load_corrector
from service.summary import corrected_shares, summarize
from tests.conftest import synthetic_rows, write_cv_predictions, write_stratified_cv_predictions


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


@pytest.fixture(scope="module")
def corrector(tmp_path_factory: pytest.TempPathFactory) -> Corrector:
    found = load_corrector(write_cv_predictions(tmp_path_factory.mktemp("rates")), LABELS)
    assert found is not None
    return found


def synthetic_predictions(n: int, seed: int = 0) -> list[Prediction]:
    _, probs = synthetic_rows(np.random.default_rng(seed), np.array([n // 3, n // 3, n - 2 * (n // 3)]))
    return [prediction(float(p[0]), float(p[1])) for p in probs]


def test_corrected_shares_of_a_document_with_intervals(corrector: Corrector) -> None:
    long, short = synthetic_predictions(300), synthetic_predictions(8, seed=1)
    widths = []
    for predictions, is_short in ((long, False), (short, True)):
        corrected = corrected_shares(predictions, LABELS, corrector)
        assert (
            corrected.method == DEFAULT_METHOD
            and corrected.short is is_short
            and corrected.shares is not None
        )
        assert set(corrected.shares) == set(LABELS)
        assert sum(s.share for s in corrected.shares.values()) == pytest.approx(1.0, abs=1e-3)
        for share in corrected.shares.values():
            assert 0 <= share.low <= share.share <= share.high <= 1
        assert ("wide" in corrected.note) is is_short
        # Where the rates come from, and that other writing may not share them (measured on op-eds).
        assert "measured on State of the Union paragraphs" in corrected.note and "op-eds" in corrected.note
        widths.append(np.mean([s.high - s.low for s in corrected.shares.values()]))
    assert widths[1] > 2 * widths[0]


def test_headings_count_as_neither_in_corrected_shares(corrector: Corrector) -> None:
    predictions = synthetic_predictions(40)
    heading = Prediction(
        "neither", 1.0, {"realist": 0.0, "liberal_internationalist": 0.0, "neither": 1.0}, 3, 1, False
    )
    plain = corrected_shares(predictions, LABELS, corrector).shares
    mixed = corrected_shares(
        [*predictions, *[heading] * 40], LABELS, corrector, [False] * 40 + [True] * 40
    ).shares
    assert plain is not None and mixed is not None
    assert mixed["neither"].share == pytest.approx(plain["neither"].share / 2 + 0.5, abs=1e-3)
    assert mixed["realist"].share == pytest.approx(plain["realist"].share / 2, abs=1e-3)


def test_without_rates_the_summary_says_it_is_not_corrected() -> None:
    summary = summarize([REALIST, NEITHER], LABELS)
    assert summary.corrected_shares.method is None and summary.corrected_shares.shares is None
    assert summary.corrected_shares.note.startswith("Not corrected")


def test_a_documents_paragraphs_are_corrected_by_their_vocabulary_stratum(tmp_path: Path) -> None:
    stratified = load_corrector(write_stratified_cv_predictions(tmp_path), LABELS, replicates=100)
    assert stratified is not None and stratified.n_strata > 1
    predictions = synthetic_predictions(60)
    texts = [
        "Treaties, trade and peace among nations." if i % 4 == 0 else "Roads were built." for i in range(60)
    ]
    by_stratum = corrected_shares(predictions, LABELS, stratified, texts=texts)
    one_set = corrected_shares(predictions, LABELS, stratified)  # no texts: the pooled rates
    assert "by how many foreign-policy words" in by_stratum.note and "random sample" in by_stratum.note
    assert "by how many foreign-policy words" not in one_set.note
    assert by_stratum.shares is not None and one_set.shares is not None
    assert by_stratum.shares["neither"].share != one_set.shares["neither"].share
