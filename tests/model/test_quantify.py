"""model.quantify: loading CV predictions, the corrections, their intervals and the method comparison."""

import json
from dataclasses import astuple, replace
from pathlib import Path

import numpy as np
import pytest

from model.directory import write_json
from model.labeler import softmax
from model.labels import LABELS
from model.quantify import (
    DEFAULT_METHOD,
    STRATA,
    Corrector,
    CvPredictions,
    RateDrift,
    Sample,
    adjust,
    compare_methods,
    comparison_markdown,
    composite,
    composite_weight,
    em,
    load_corrector,
    load_cv_predictions,
    measure_rates,
    rate_variants,
    raw_estimate,
    resample_counts,
    stratum,
)
from tests.conftest import TRAIN_PRIOR, synthetic_rows, write_cv_predictions, write_stratified_cv_predictions


@pytest.fixture(scope="module")
def rates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cv_predictions(tmp_path_factory.mktemp("rates"))


def test_no_file_means_no_rates(tmp_path: Path) -> None:
    assert load_cv_predictions(tmp_path) is None
    assert load_corrector(tmp_path) is None


def test_a_broken_file_is_an_error_not_a_missing_one(rates_dir: Path, tmp_path: Path) -> None:
    content = json.loads((rates_dir / "cv_predictions.json").read_text())
    write_json(tmp_path / "cv_predictions.json", {**content, "folds": content["folds"][:-1]})
    with pytest.raises(ValueError, match="must match"):
        load_cv_predictions(tmp_path)
    write_json(tmp_path / "cv_predictions.json", {**content, "gold": ["neither"] * len(content["gold"])})
    with pytest.raises(ValueError, match="no row has gold label realist"):
        load_cv_predictions(tmp_path)
    with pytest.raises(ValueError, match="differ from the model's"):
        load_corrector(rates_dir, labels=list(reversed(LABELS)))


def test_probabilities_are_calibrated_as_the_labeler_calibrates_logits(tmp_path: Path) -> None:
    logits = np.random.default_rng(1).normal(0, 2, (30, 3))
    gold = [LABELS[i % 3] for i in range(30)]
    content = {"labels": list(LABELS), "system": "s", "ids": list(range(30)), "groups": ["1901"] * 30}
    content |= {"folds": [0] * 30, "gold": gold, "probs": softmax(logits).tolist()}
    write_json(tmp_path / "cv_predictions.json", content)
    cv = load_cv_predictions(tmp_path, temperature=1.7)
    assert cv is not None
    np.testing.assert_allclose(cv.probs, softmax(logits / 1.7), atol=1e-9)


def test_adjusted_counts_undo_known_rates() -> None:
    rates = np.array([[0.7, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.1, 0.7]])  # columns: truth
    truth = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(adjust(rates, rates @ truth), truth, atol=1e-12)
    # Observed shares no true mix can produce: solved, clipped to [0, 1] and renormalised.
    clipped = adjust(rates, np.array([0.02, 0.9, 0.08]))
    assert (clipped >= 0).all() and clipped.sum() == pytest.approx(1.0) and clipped[0] == 0.0


def test_each_correction_beats_counting_under_prior_shift(rates_dir: Path) -> None:
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    rates = measure_rates(cv)
    counts = np.array([1500, 1500, 1000])  # far from the training mix (0.1, 0.2, 0.7)
    _, probs = synthetic_rows(np.random.default_rng(7), counts)
    truth = counts / counts.sum()
    sample = Sample.of(probs)
    counted = np.abs(raw_estimate(sample).count_share - truth)
    for method in ("acc", "pacc", "composite"):
        corrected = Corrector(cv, method, replicates=50).estimate(sample).corrected
        assert corrected is not None
        assert (np.abs(corrected - truth) < counted).all(), method
    assert (np.abs(em(probs, rates.prior) - truth) < counted).all()


def test_the_composite_weight_follows_the_bias_that_stands_out_of_the_noise() -> None:
    variance, covariance = np.array([1e-4]), np.array([0.0])
    # ACC and counting differ by no more than their noise: counting's bias is not shown, keep counting.
    assert composite_weight(np.array([0.005]), variance, covariance)[0] == 0.0
    # A difference ten noise widths wide: almost all of it is counting's bias, follow ACC.
    assert composite_weight(np.array([0.1]), variance, covariance)[0] == pytest.approx(0.99)
    # In between, the least-squared-error weight: b² = d² - Var = 3e-4, w = b² / (b² + Var) = 0.75.
    assert composite_weight(np.array([0.02]), variance, covariance)[0] == pytest.approx(0.75)
    # Counting's noise moving with the difference (covariance) argues for counting; never past it.
    assert composite_weight(np.array([0.02]), variance, np.array([1e-3]))[0] == 0.0


def test_the_composite_lies_between_counting_and_acc_and_sums_to_one() -> None:
    rng = np.random.default_rng(2)
    count = np.array([0.3, 0.2, 0.5])
    adjusted = np.array([0.2, 0.1, 0.7])
    count_replicates = count + rng.normal(0, 0.01, (500, 3))
    adjusted_replicates = adjusted + rng.normal(0, 0.03, (500, 3))
    point, replicates, residual = composite(count, adjusted, count_replicates, adjusted_replicates)
    assert point.sum() == pytest.approx(1.0) and np.allclose(replicates.sum(axis=1), 1.0)
    # Differences of 10-20 points against noise of about 3: close to ACC, short of it.
    assert (np.abs(point - adjusted) < np.abs(count - adjusted) / 4).all()
    # The bias the blend keeps points towards ACC, and is no more than the way left to it.
    assert (np.sign(residual) == np.sign(adjusted - count)).all()
    assert (np.abs(residual) <= np.abs(adjusted - point) + 1e-9).all() and (np.abs(residual) > 1e-3).all()
    # Where ACC and counting agree within noise, the blend is counting and keeps no estimated bias.
    _, _, none = composite(
        count, count + 0.001, count_replicates, count_replicates + rng.normal(0, 0.03, (500, 3))
    )
    assert (none == 0).all()


def test_the_composite_interval_reaches_out_by_the_bias_the_blend_keeps(
    rates_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every replicate keeps the blend's bias alike, so the percentile interval cannot see it: the end on
    ACC's side is moved out by it, and the point stays where it was."""
    import model.quantify

    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    corrector = Corrector(cv, "composite", replicates=200)
    _, probs = synthetic_rows(np.random.default_rng(4), np.array([100, 100, 200]))
    sample = Sample.of(probs)
    before = corrector.estimate(sample)
    blend = model.quantify.composite
    kept = np.array([0.3, 0.0, -0.3])
    monkeypatch.setattr(model.quantify, "composite", lambda *a: (*blend(*a)[:2], kept))
    after = corrector.estimate(sample)
    assert before.corrected is not None and after.corrected is not None
    assert after.low is not None and after.high is not None and before.low is not None
    np.testing.assert_array_equal(after.corrected, before.corrected)
    assert after.high[0] >= min(1.0, before.corrected[0] + 0.3) - 1e-9  # realist's end reaches out
    assert after.low[2] <= max(0.0, before.corrected[2] - 0.3) + 1e-9  # and `neither`'s, the other way
    assert after.low[0] == before.low[0] and after.low[1] == before.low[1]  # the other ends stay


def test_em_on_calibrated_probabilities_at_the_training_mix_stays_there() -> None:
    _, probs = synthetic_rows(np.random.default_rng(3), np.array([400, 800, 2800]))
    np.testing.assert_allclose(em(probs, TRAIN_PRIOR), TRAIN_PRIOR, atol=0.03)


def test_rows_labeled_by_rule_keep_their_label() -> None:
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    sample = Sample.of(probs, units=["a", "a", "b", "b"], ruled=np.array([False, False, True, True]))
    assert sample.units == 2 and sample.ruled.sum() == 2 and len(sample.probs) == 2
    raw = raw_estimate(sample)
    assert raw.n == 4
    np.testing.assert_allclose(raw.count_share, [0.25, 0.25, 0.5])
    np.testing.assert_allclose(raw.mean_probability, [0.225, 0.225, 0.55])


def test_corrected_shares_mix_in_headings_and_sum_to_one(rates_dir: Path) -> None:
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    _, probs = synthetic_rows(np.random.default_rng(5), np.array([30, 30, 40]))
    headings = np.zeros(len(probs) + 100, bool)
    headings[len(probs) :] = True
    with_headings = np.vstack([probs, np.tile([0.0, 0.0, 1.0], (100, 1))])
    corrector = Corrector(cv, "pacc", replicates=200)
    alone = corrector.estimate(Sample.of(probs))
    mixed = corrector.estimate(Sample.of(with_headings, ruled=headings))
    assert alone.corrected is not None and mixed.corrected is not None
    # Half the rows are headings: every model share halves, and `neither` gains the other half.
    np.testing.assert_allclose(mixed.corrected, alone.corrected / 2 + np.array([0, 0, 0.5]), atol=1e-9)
    for estimate in (alone, mixed):
        corrected, low, high = estimate.corrected, estimate.low, estimate.high
        assert corrected is not None and low is not None and high is not None
        assert corrected.sum() == pytest.approx(1.0)
        assert (low <= corrected + 1e-9).all() and (corrected <= high + 1e-9).all()


def test_intervals_narrow_with_more_documents_and_repeat_exactly(rates_dir: Path) -> None:
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    corrector = Corrector(cv, "pacc", replicates=300)
    rng = np.random.default_rng(11)
    widths = []
    for documents in (5, 200):
        _, probs = synthetic_rows(rng, rng.multinomial(20 * documents, [0.3, 0.3, 0.4]))
        units = rng.integers(0, documents, len(probs))
        first = corrector.estimate(Sample.of(probs, units))
        again = corrector.estimate(Sample.of(probs, units))
        assert first.low is not None and first.high is not None and again.low is not None
        np.testing.assert_array_equal(first.low, again.low)
        widths.append(first.high - first.low)
    assert (widths[1] < widths[0]).all()


def test_bootstrap_resamples_draw_every_unit_count_once_per_draw() -> None:
    counts = resample_counts(np.random.default_rng(0), units=7, replicates=500)
    assert counts.shape == (500, 7)
    assert (counts.sum(axis=1) == 7).all()
    assert counts.mean() == pytest.approx(1.0, abs=0.05)


def test_on_held_out_synthetic_folds_corrections_beat_counts_and_intervals_cover(rates_dir: Path) -> None:
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    results = compare_methods(cv, ("cc", "acc", "pacc", "composite"), replicates=200, shifted=10)
    methods = results["methods"]
    for case in ("natural", "shifted"):
        counted = methods["cc"][case]["mae"]
        for method in ("acc", "pacc"):
            mae = methods[method][case]["mae"]
            assert all(mae[label] < counted[label] for label in LABELS), (method, case, mae, counted)
    # The composite follows ACC where counting's bias stands out of the noise (every label under
    # shift, and on average here), and stays with counting where it does not (realist's 1.6 points).
    composite_mae = methods["composite"]["shifted"]["mae"]
    assert all(composite_mae[label] < methods["cc"]["shifted"]["mae"][label] for label in LABELS)
    natural, counted = methods["composite"]["natural"]["mae"], methods["cc"]["natural"]["mae"]
    assert sum(natural.values()) < 0.7 * sum(counted.values())
    assert all(natural[label] < counted[label] + 0.002 for label in LABELS), (natural, counted)
    for label in LABELS:
        # 50 shifted samples per label: 95% coverage gives 44 or more in all but 1% of runs.
        assert methods[DEFAULT_METHOD]["shifted"]["coverage"][label] >= 0.86
        assert methods["cc"]["shifted"]["coverage"][label] < 0.5
    table = comparison_markdown(results)
    assert "| pacc |" in table and "coverage realist" in table


def test_clarity_shift_is_compared_only_with_the_teams_confidence(rates_dir: Path) -> None:
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    without = compare_methods(cv, ("cc", "acc"), replicates=50, shifted=2)
    assert "clear" not in without["methods"]["cc"]
    # The team is "sure" exactly where the synthetic model is right: clear rows that the rates, which
    # average over every row's errors, cannot tell apart from the rest.
    sure = cv.probs.argmax(axis=1) == cv.gold
    results = compare_methods(cv, ("cc", "acc"), replicates=50, shifted=2, sure=sure)
    methods = results["methods"]
    assert methods["cc"]["clear"]["samples"] == 5 and methods["cc"]["clear_shifted"]["samples"] == 10
    # On rows the model reads right, counting is exact and ACC corrects errors that are not there.
    assert all(mae == 0.0 for mae in methods["cc"]["clear"]["mae"].values())
    assert all(mae > 0.01 for mae in methods["acc"]["clear"]["mae"].values())
    # Clear stances and misread `neither` rows: counting misses the `neither` share; so does ACC.
    assert methods["cc"]["murky"]["mae"]["neither"] > 0.1
    assert methods["acc"]["murky"]["mae"]["neither"] > 0.1
    table = comparison_markdown(results)
    assert "labeled rows the team was sure of, at the labeled rows' label mix (5 samples)" in table


def drifting(cv: CvPredictions) -> CvPredictions:
    """The synthetic rates with every even year reading 30% of its `neither` rows as realist."""
    probs = cv.probs.copy()
    even = np.array([int(group) % 2 == 0 for group in cv.groups])
    flipped = even & (cv.gold == 2) & (np.random.default_rng(0).random(len(cv)) < 0.3)
    probs[flipped] = [0.8, 0.1, 0.1]
    return replace(cv, probs=probs)


def test_drift_is_what_years_differ_by_beyond_the_noise_of_their_rows(rates_dir: Path) -> None:
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    # Every synthetic year errs alike: what their rates differ by is mostly their rows' noise.
    assert RateDrift.of(cv).years.shrink[0, 0, 2] < 0.5
    # Half the years misread `neither` paragraphs: most of that column's variance is drift.
    assert RateDrift.of(drifting(cv)).years.shrink[0, 0, 2] > 0.75


def test_a_few_documents_carry_the_drift_of_their_rates_in_the_interval(rates_dir: Path) -> None:
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    corrector = Corrector(drifting(cv), "acc", replicates=300)
    _, probs = synthetic_rows(np.random.default_rng(1), np.array([60, 60, 280]))
    sample = Sample.of(probs, units=np.arange(len(probs)) % 4)
    assert sample.documents == 4
    with_drift = corrector.estimate(sample)
    without = corrector.estimate(replace(sample, documents=None))
    assert with_drift.high is not None and with_drift.low is not None
    assert without.high is not None and without.low is not None
    wider = (with_drift.high - with_drift.low) - (without.high - without.low)
    assert wider[0] > 0.05 and wider[2] > 0.05, wider


def test_an_era_that_errs_as_one_keeps_its_drift_however_many_documents(rates_dir: Path) -> None:
    """Years from 1950 read 30% of their `neither` rows as realist: that is an era's drift, not a
    year's, and a sample of 40 documents from one era cannot average it away."""
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    late = np.array([int(group) >= 1950 for group in cv.groups])
    flipped = late & (cv.gold == 2) & (np.random.default_rng(0).random(len(cv)) < 0.3)
    era_drifting = replace(cv, probs=np.where(flipped[:, None], [0.8, 0.1, 0.1], cv.probs))
    drift = RateDrift.of(era_drifting)
    assert drift.eras is not None and drift.eras.shrink[0, 0, 2] > 0.75
    assert drift.years.shrink[0, 0, 2] < 0.5  # within an era, the years err alike
    assert RateDrift.of(era_drifting, era_years=None).eras is None

    _, probs = synthetic_rows(np.random.default_rng(1), np.array([60, 60, 280]))
    sample = Sample.of(probs, units=np.arange(len(probs)) % 40)
    widths = []
    for rates in (cv, era_drifting):
        estimate = Corrector(rates, "acc", replicates=300).estimate(sample)
        assert estimate.high is not None and estimate.low is not None
        widths.append(estimate.high - estimate.low)
    assert widths[1][0] - widths[0][0] > 0.05 and widths[1][2] - widths[0][2] > 0.05, widths


def test_drift_skips_a_true_label_without_rate_rows(rates_dir: Path) -> None:
    """A stratum can lack a label's rows altogether (a small random sample); its drift is then none."""
    cv = load_cv_predictions(rates_dir)
    assert cv is not None
    corrector = Corrector(cv.subset(cv.gold != 0), "acc", replicates=50)
    _, probs = synthetic_rows(np.random.default_rng(1), np.array([60, 60, 280]))
    estimate = corrector.estimate(Sample.of(probs, units=np.arange(len(probs)) % 4))
    assert estimate.corrected is not None and np.isfinite(estimate.corrected).all()


def test_strata_count_distinct_foreign_policy_words() -> None:
    assert stratum("We reformed the tariff schedule.") == 0  # one word: `tariff`
    assert stratum("The navy and the Navy guard our commerce.") == 1  # navy, commerce
    assert stratum("Peace among nations rests on treaties, trade and the League.") == 2
    assert [STRATA[stratum(t)] for t in ("", "War. War. War.")] == [STRATA[0], STRATA[0]]


def test_weighted_rows_count_as_that_many_rows(tmp_path: Path) -> None:
    cv = load_cv_predictions(write_stratified_cv_predictions(tmp_path))
    assert cv is not None and cv.n_strata == len(STRATA) and cv.sampled.sum() > 0
    repeat = np.repeat(np.arange(len(cv)), cv.weights.astype(int))
    ones = replace(cv.subset(repeat), weights=np.ones(len(repeat)))
    for a, b in zip(astuple(measure_rates(cv)), astuple(measure_rates(ones)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_each_stratum_is_corrected_with_its_own_rates(tmp_path: Path) -> None:
    """Rates of the labeled (keyword-rich) rows alone overcorrect a whole-address mix; by stratum, not."""
    cv = load_cv_predictions(write_stratified_cv_predictions(tmp_path))
    assert cv is not None
    rng = np.random.default_rng(9)
    gold_fp, probs_fp = synthetic_rows(rng, np.array([100, 120, 180]), 0.9)
    gold_dom, probs_dom = synthetic_rows(rng, np.array([60, 60, 3880]), 0.35)
    probs = np.vstack([probs_fp, probs_dom])
    strata = np.r_[np.full(len(gold_fp), 2), np.zeros(len(gold_dom), int)]
    truth = np.bincount(np.r_[gold_fp, gold_dom], minlength=3) / len(strata)
    stratified = Corrector(cv, "acc", replicates=200).estimate(Sample.of(probs, None, None, strata))
    labeled_only = Corrector(rate_variants(cv)["labeled rows"], "acc", replicates=200).estimate(
        Sample.of(probs)
    )
    assert stratified.corrected is not None and labeled_only.corrected is not None
    error, before = np.abs(stratified.corrected - truth), np.abs(labeled_only.corrected - truth)
    assert (error < before).all() and error.max() < 0.01, (error, before)
    assert stratified.low is not None and stratified.high is not None
    assert ((stratified.low <= truth) & (truth <= stratified.high)).all()
    with pytest.raises(ValueError, match="per vocabulary stratum"):
        Corrector(cv, "acc", replicates=20).estimate(Sample.of(probs))
    pooled = Corrector(cv, "acc", replicates=20).pooled()
    assert pooled.n_strata == 1 and pooled.stratified_file
    assert pooled.estimate(Sample.of(probs, None, None, strata)).corrected is not None


def test_a_stratum_without_a_label_is_an_error(tmp_path: Path) -> None:
    content = json.loads((write_stratified_cv_predictions(tmp_path) / "cv_predictions.json").read_text())
    content["strata"] = [3 if s == 2 else s for s in content["strata"]]
    write_json(tmp_path / "cv_predictions.json", content)
    with pytest.raises(ValueError, match="strata must be indices"):
        load_cv_predictions(tmp_path)
    content["strata"] = [1 if s == 3 else s for s in content["strata"]]
    write_json(tmp_path / "cv_predictions.json", content)
    with pytest.raises(ValueError, match=r"no row in stratum '4\+ foreign-policy words' has gold label"):
        load_cv_predictions(tmp_path)
