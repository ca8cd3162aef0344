import numpy as np
import pytest

from training.calibration import fit_temperature
from training.metrics import bootstrap_macro_f1, classification_report, expected_calibration_error

LABELS = ("realist", "liberal_internationalist", "neither")


def test_report_matches_a_hand_computed_example() -> None:
    gold = [
        "realist",
        "realist",
        "realist",
        "liberal_internationalist",
        "liberal_internationalist",
        "neither",
    ]
    pred = ["realist", "realist", "neither", "liberal_internationalist", "realist", "neither"]
    report = classification_report(gold, pred, None, LABELS)
    # realist: tp=2, predicted 3, gold 3 -> P=R=F1=2/3
    # liberal_internationalist: tp=1, predicted 1, gold 2 -> P=1, R=1/2, F1=2/3
    # neither: tp=1, predicted 2, gold 1 -> P=1/2, R=1, F1=2/3
    assert report["per_class"]["realist"] == {
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
        "support": 3,
    }
    assert report["per_class"]["liberal_internationalist"]["recall"] == 0.5
    assert report["per_class"]["neither"]["precision"] == 0.5
    assert report["macro_f1"] == pytest.approx(0.6667, abs=1e-4)
    assert report["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert report["confusion"]["matrix"] == [[2, 0, 1], [1, 1, 0], [0, 0, 1]]


def test_ece_by_hand() -> None:
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([1.0, 1.0, 0.0, 1.0])
    # bin (0.9, 1.0]: |0.95 - 1.0| * 2/4 ; bin (0.5, 0.6]: |0.55 - 0.5| * 2/4
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.025 + 0.025)


def test_temperature_softens_an_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, size=400)
    logits = rng.normal(size=(400, 3))
    logits[np.arange(400), gold] += 1.0
    overconfident = logits * 8  # right ~70% of the time, but nearly certain every time
    assert fit_temperature(overconfident, gold) > 3
    assert 0.5 < fit_temperature(logits, gold) < 2


def test_bootstrap_interval_brackets_the_macro_f1_and_pairs_differences() -> None:
    rng = np.random.default_rng(1)
    labels = list(LABELS)
    gold = list(rng.choice(labels, 200))
    good = [g if rng.random() < 0.85 else str(rng.choice(labels)) for g in gold]
    poor = [g if rng.random() < 0.40 else str(rng.choice(labels)) for g in gold]

    result = bootstrap_macro_f1(gold, good, labels, reference=poor)
    low, high = result["macro_f1_ci95"]
    point = classification_report(gold, good, None, labels)["macro_f1"]
    assert low < point < high and high - low < 0.2
    # The paired difference is the plain difference of the two macro-F1s, and clearly above zero.
    expected = point - classification_report(gold, poor, None, labels)["macro_f1"]
    assert abs(result["difference"] - expected) < 1e-3
    assert 0 < result["difference_ci95"][0] < expected < result["difference_ci95"][1]

    itself = bootstrap_macro_f1(gold, gold, labels, reference=gold)
    assert itself["macro_f1_ci95"] == [1.0, 1.0]
    assert itself["difference"] == 0 and itself["difference_ci95"] == [0.0, 0.0]


def test_grouped_bootstrap_resamples_whole_groups() -> None:
    """Singleton groups are the paragraph bootstrap; correlated groups widen the interval."""
    labels = ["a", "b", "c"]
    gold = [labels[i % 3] for i in range(120)]
    # Errors come in blocks of ten: one document the model reads wrong, the next it reads right.
    predicted = [g if (i // 10) % 2 else labels[(i + 1) % 3] for i, g in enumerate(gold)]
    plain = bootstrap_macro_f1(gold, predicted, labels)
    assert bootstrap_macro_f1(gold, predicted, labels, groups=[str(i) for i in range(120)]) == plain
    grouped = bootstrap_macro_f1(gold, predicted, labels, groups=[str(i // 10) for i in range(120)])
    width = lambda r: r["macro_f1_ci95"][1] - r["macro_f1_ci95"][0]  # noqa: E731
    assert width(grouped) > 1.5 * width(plain)
