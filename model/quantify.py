"""Label shares corrected for the model's known errors, with intervals (quantification).

Counting a model's labels misstates a corpus's label shares wherever the model errs unevenly: it
reads some `neither` paragraphs as a stance more often than the reverse, so counts overstate the
stances. The correction uses the model's error rates on real text it never trained on: the
cross-validated predictions on the team-labeled SOTU rows, which training writes into the model
directory as `cv_predictions.json`:

    {"labels": [...], "system": "...", "ids": [...], "groups": [...year of each row's address...],
     "folds": [...0-4...], "gold": [...label...], "probs": [[p per label], ...]}

`probs` are the fold models' uncalibrated probabilities; they are calibrated here with the model
directory's temperature, exactly as the Labeler calibrates its own (softmax(log p / T)), so that they
are comparable with the `scores` that `stance label` and the API report.

Methods, given rates measured on labeled predictions and a sample to correct:
- `cc`, classify and count: the share of paragraphs the model gives each label.
- `acc`, adjusted classify and count (Forman 2008): solve q = M p for the true shares p, where q is
  the count share and M[i, j] = P(model says i | truth is j).
- `pacc`, probabilistic ACC (Bella et al. 2010): the same with q = the mean probability of each label
  and M[i, j] = E[p_i | truth is j].
- `em`, EM prior adjustment (Saerens, Latinne and Decaestecker 2002): re-weight the calibrated
  probabilities by the ratio of new to training shares until the shares stop changing.
Shares are clipped to [0, 1] and renormalised.

Intervals are percentile bootstrap intervals that pair, in each replicate, a resample of the CV rows
by group (the rates' uncertainty: an address's paragraphs share errors, so rows are resampled a year
at a time) with a resample of the sample's units (documents when there are documents, paragraphs
otherwise: the sampling uncertainty).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from model.directory import read_json, read_temperature
from model.labeler import softmax

CV_PREDICTIONS = "cv_predictions.json"
Method = Literal["cc", "acc", "pacc", "em"]
METHODS: tuple[Method, ...] = ("cc", "acc", "pacc", "em")
DEFAULT_METHOD: Method = "acc"  # chosen on held-out CV folds: docs/batch.md
REPLICATES = 1000
CONFIDENCE = 0.95
# Units beyond this are bootstrapped in random blocks of exchangeable units (a valid bootstrap of
# a mean, since the blocks are exchangeable too), which bounds the cost for huge corpora.
MAX_UNITS = 20_000
EM_TOLERANCE, EM_MAX_ITERATIONS = 1e-6, 300
# EM's bootstrap runs the whole EM once per replicate (the others solve a 3 x 3 system): comparing methods
# over hundreds of samples, its intervals use fewer replicates.
EM_COMPARISON_REPLICATES = 100


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Apply a calibration temperature to probabilities, as the Labeler applies it to logits.

    The log of probabilities is the logits up to a constant per row, which the softmax ignores.
    """
    return softmax(np.log(np.maximum(probs, 1e-12)) / temperature)


@dataclass(frozen=True)
class CvPredictions:
    """Cross-validated predictions on labeled rows: what the error rates are measured on."""

    labels: tuple[str, ...]
    system: str
    groups: np.ndarray  # (n,) the CV group (address year) of each row
    folds: np.ndarray  # (n,) int
    gold: np.ndarray  # (n,) int index into labels
    probs: np.ndarray  # (n, k) calibrated

    def __len__(self) -> int:
        return len(self.gold)

    def subset(self, mask: np.ndarray) -> "CvPredictions":
        return CvPredictions(
            self.labels, self.system, self.groups[mask], self.folds[mask], self.gold[mask], self.probs[mask]
        )


def load_cv_predictions(directory: str | Path, temperature: float = 1.0) -> CvPredictions | None:
    """The model directory's CV predictions, calibrated with `temperature`; None when there are none.

    A file that is there but malformed raises ValueError: a broken file must not pass for a missing one.
    """
    path = Path(directory) / CV_PREDICTIONS
    data = read_json(path)
    if data is None:
        return None
    try:
        labels = tuple(str(label) for label in data["labels"])
        index = {label: i for i, label in enumerate(labels)}
        probs = np.asarray(data["probs"], dtype=np.float64)
        gold = np.asarray([index[label] for label in data["gold"]], dtype=np.int64)
        groups = np.asarray([str(group) for group in data["groups"]])
        folds = np.asarray(data["folds"], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a CV predictions file ({type(error).__name__}: {error})") from None
    n = len(gold)
    if probs.shape != (n, len(labels)) or len(groups) != n or len(folds) != n or n == 0:
        raise ValueError(
            f"{path}: {n} gold labels, {len(groups)} groups, {len(folds)} folds and probabilities of "
            f"shape {probs.shape} for {len(labels)} labels: they must match"
        )
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3) or (probs < 0).any():
        raise ValueError(f"{path}: each row of probs must be probabilities summing to 1")
    missing = [label for i, label in enumerate(labels) if not (gold == i).any()]
    if missing:
        raise ValueError(f"{path}: no row has gold label {', '.join(missing)}; its error rates are unknown")
    return CvPredictions(
        labels, str(data.get("system", "")), groups, folds, gold, calibrate(probs, temperature)
    )


@dataclass(frozen=True)
class Rates:
    """What the corrections need from labeled predictions, for one or many bootstrap replicates.

    hard[..., i, j] = P(model says i | truth j); soft[..., i, j] = E[p_i | truth j];
    prior[..., j] = P(truth j).
    """

    hard: np.ndarray
    soft: np.ndarray
    prior: np.ndarray


def group_stats(cv: CvPredictions) -> tuple[np.ndarray, np.ndarray]:
    """Per group: [counts of (said i, truth j), sums of p_i over truth j, counts of truth j], flattened."""
    k = len(cv.labels)
    names, group_index = np.unique(cv.groups, return_inverse=True)
    truth = np.eye(k)[cv.gold]
    said = np.eye(k)[cv.probs.argmax(axis=1)]
    per_row = np.concatenate(
        [
            (said[:, :, None] * truth[:, None, :]).reshape(len(cv), k * k),
            (cv.probs[:, :, None] * truth[:, None, :]).reshape(len(cv), k * k),
            truth,
        ],
        axis=1,
    )
    stats = np.zeros((len(names), per_row.shape[1]))
    np.add.at(stats, group_index, per_row)
    return names, stats


def rates_from_stats(stats: np.ndarray, k: int) -> Rates:
    """Rates from (weighted) sums of `group_stats` rows; leading axes are replicates."""
    hard = stats[..., : k * k].reshape(*stats.shape[:-1], k, k)
    soft = stats[..., k * k : 2 * k * k].reshape(*stats.shape[:-1], k, k)
    truth = stats[..., 2 * k * k :]
    per_truth = np.maximum(truth, 1e-12)[..., None, :]
    return Rates(hard / per_truth, soft / per_truth, truth / truth.sum(axis=-1, keepdims=True))


def measure_rates(cv: CvPredictions) -> Rates:
    return rates_from_stats(group_stats(cv)[1].sum(axis=0), len(cv.labels))


def bootstrap_rates(cv: CvPredictions, replicates: int, rng: np.random.Generator) -> Rates:
    """Rates of `replicates` resamples of the CV rows, a whole group (address year) at a time."""
    stats = group_stats(cv)[1]
    return rates_from_stats(resample_counts(rng, len(stats), replicates) @ stats, len(cv.labels))


def simplex(shares: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and renormalise; `fallback` where nothing positive is left."""
    clipped = np.clip(shares, 0.0, 1.0)
    total = clipped.sum(axis=-1, keepdims=True)
    return np.where(total > 0, clipped / np.where(total > 0, total, 1.0), fallback)


def adjust(rates: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Solve observed = rates @ true for `true` (batched), then clip and renormalise.

    The pseudo-inverse is the inverse whenever the rates are invertible, and still answers when a
    degenerate resample makes them singular.
    """
    solved = (np.linalg.pinv(rates) @ observed[..., None])[..., 0]
    return simplex(solved, observed)


def em(probs: np.ndarray, prior: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """EM prior adjustment (Saerens et al. 2002) of calibrated `probs` (n, k) trained under `prior`.

    Batched: `prior` (..., k) and row `weights` (..., n) carry replicate axes; returns shares (..., k).
    """
    prior = np.asarray(prior, dtype=np.float64)
    weights = np.ones(probs.shape[0]) if weights is None else weights
    weights = np.broadcast_to(weights, (*prior.shape[:-1], probs.shape[0]))
    total = weights.sum(axis=-1, keepdims=True)
    shares = prior.copy()
    for _ in range(EM_MAX_ITERATIONS):
        posterior = probs * (shares / prior)[..., None, :]
        posterior /= posterior.sum(axis=-1, keepdims=True)
        updated = (weights[..., :, None] * posterior).sum(axis=-2) / total
        done = np.abs(updated - shares).max() < EM_TOLERANCE
        shares = updated
        if done:
            break
    return shares


def corrected_shares(method: Method, rates: Rates, sample: "Sample", weights: np.ndarray) -> np.ndarray:
    """Each replicate's shares of `sample`'s model-labeled rows by `method`.

    `rates` and the unit `weights` (..., units) carry the same leading replicate axes.
    """
    if method == "em":
        rows = weights[..., sample.row_unit]
        return em(sample.probs, rates.prior, rows)
    n = np.maximum(weights @ sample.n_model, 1e-12)[..., None]
    counts = (weights @ sample.said) / n
    if method == "cc":
        return counts
    if method == "acc":
        return adjust(rates.hard, counts)
    if method == "pacc":
        return adjust(rates.soft, (weights @ sample.prob_sums) / n)
    raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")


@dataclass(frozen=True)
class Sample:
    """Rows to estimate shares of, summed per bootstrap unit.

    Rows whose label is set by rule (headings: `neither` with probability 1) are not the model's
    guesses: they are kept out of the correction and added back with their label.
    """

    probs: np.ndarray  # (m, k) the model-labeled rows
    row_unit: np.ndarray  # (m,) each model-labeled row's unit
    said: np.ndarray  # (units, k) model-labeled rows per top label
    prob_sums: np.ndarray  # (units, k) their probabilities summed
    ruled: np.ndarray  # (units, k) rows labeled by rule, per label
    n_model: np.ndarray  # (units,)

    @classmethod
    def of(
        cls,
        probs: np.ndarray,
        units: Sequence[object] | np.ndarray | None = None,
        ruled: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> "Sample":
        probs = np.asarray(probs, dtype=np.float64)
        n, k = probs.shape
        if units is None:
            unit = np.arange(n)
        else:
            unit = np.unique(np.asarray([str(u) for u in units]), return_inverse=True)[1].reshape(-1)
        count = int(unit.max()) + 1 if n else 0
        if count > MAX_UNITS:
            unit = (rng or np.random.default_rng(0)).permutation(count)[unit] % MAX_UNITS
            count = MAX_UNITS
        ruled = np.zeros(n, dtype=bool) if ruled is None else np.asarray(ruled, dtype=bool)
        top = np.eye(k)[probs.argmax(axis=1)] if n else np.zeros((0, k))
        said, prob_sums, by_rule = (np.zeros((count, k)) for _ in range(3))
        model = ~ruled
        np.add.at(said, unit[model], top[model])
        np.add.at(prob_sums, unit[model], probs[model])
        np.add.at(by_rule, unit[ruled], top[ruled])
        return cls(probs[model], unit[model], said, prob_sums, by_rule, said.sum(axis=1))

    @property
    def units(self) -> int:
        return len(self.n_model)


@dataclass(frozen=True)
class Estimate:
    """Label shares of a sample: raw, and (with rates) corrected with a confidence interval."""

    n: int
    count_share: np.ndarray
    mean_probability: np.ndarray
    method: Method | None = None
    corrected: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None


class Corrector:
    """Corrects label shares for the error rates measured on CV predictions.

    The rates' bootstrap replicates are drawn once; each estimate draws its own resamples of the
    sample's units from the same seed, so the same sample always gets the same interval.
    """

    def __init__(
        self,
        cv: CvPredictions,
        method: Method = DEFAULT_METHOD,
        replicates: int = REPLICATES,
        seed: int = 0,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        self.labels = cv.labels
        self.system = cv.system
        self.n_rows = len(cv)
        self.n_groups = len(np.unique(cv.groups))
        self.method = method
        self.seed = seed
        self.rates = measure_rates(cv)
        self.replicate_rates = bootstrap_rates(cv, replicates, np.random.default_rng(seed))

    @property
    def replicates(self) -> int:
        return len(self.replicate_rates.prior)

    def estimate(self, sample: Sample, confidence: float = CONFIDENCE) -> Estimate:
        """Corrected shares of `sample` with a percentile interval over paired bootstrap replicates."""
        raw = raw_estimate(sample)
        if raw.n == 0:
            return raw
        rng = np.random.default_rng(self.seed + 1)
        point = _mix(sample, corrected_shares(self.method, self.rates, sample, np.ones(sample.units)))
        # Replicates go in chunks so that the (replicates, units) weights, and EM's (replicates, rows,
        # labels) posteriors, stay near 32 MB whatever the corpus size.
        width = max(sample.units, 3 * len(sample.probs) if self.method == "em" else 0)
        size = max(1, int(4e6 // width))
        replicates = []
        for start in range(0, self.replicates, size):
            chunk = slice(start, min(start + size, self.replicates))
            weights = resample_counts(rng, sample.units, chunk.stop - chunk.start)
            rates = _take(self.replicate_rates, chunk)
            replicates.append(_mix(sample, corrected_shares(self.method, rates, sample, weights), weights))
        stacked = np.concatenate(replicates)
        low, high = np.quantile(stacked, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
        return Estimate(raw.n, raw.count_share, raw.mean_probability, self.method, point, low, high)


def resample_counts(rng: np.random.Generator, units: int, replicates: int) -> np.ndarray:
    """How often each unit is drawn in each of `replicates` bootstrap resamples (multinomial counts).

    Drawn as indices and counted: three times faster than `Generator.multinomial` with many units.
    """
    drawn = rng.integers(0, units, (replicates, units)) + units * np.arange(replicates)[:, None]
    return np.bincount(drawn.ravel(), minlength=replicates * units).reshape(replicates, units).astype(float)


def raw_estimate(sample: Sample) -> Estimate:
    """Count shares and mean probabilities alone (what is known without error rates)."""
    n = int(sample.n_model.sum() + sample.ruled.sum())
    if n == 0:
        nothing = np.full(sample.said.shape[1], np.nan)
        return Estimate(0, nothing, nothing)
    ruled = sample.ruled.sum(axis=0)
    return Estimate(n, (sample.said.sum(axis=0) + ruled) / n, (sample.prob_sums.sum(axis=0) + ruled) / n)


def _mix(sample: Sample, model_shares: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Shares of all rows: the model-labeled rows' corrected shares plus the rows labeled by rule."""
    weights = np.ones(sample.units) if weights is None else weights
    n_model = (weights @ sample.n_model)[..., None]
    ruled = weights @ sample.ruled
    return (n_model * model_shares + ruled) / np.maximum(n_model + ruled.sum(axis=-1, keepdims=True), 1e-12)


def _take(rates: Rates, index: slice) -> Rates:
    return Rates(rates.hard[index], rates.soft[index], rates.prior[index])


def compare_methods(
    cv: CvPredictions,
    methods: Sequence[Method] = METHODS,
    replicates: int = REPLICATES,
    shifted: int = 40,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict[str, Any]:
    """How well each method recovers known shares of held-out CV folds, and how often intervals cover them.

    Each fold in turn is held out: rates come from the other folds, and the held-out fold is
    estimated as it is (its addresses are the bootstrap units), then `shifted` times resampled to a
    random label mix (drawn uniformly from all mixes; the fold's size, rows drawn with replacement
    within each label) to test the methods under prior shift, where counting fails most.
    """
    rng = np.random.default_rng(seed)
    k = len(cv.labels)
    errors: dict[tuple[Method, str], list[np.ndarray]] = {}
    covered: dict[tuple[Method, str], list[np.ndarray]] = {}
    for fold in np.unique(cv.folds):
        train, test = cv.subset(cv.folds != fold), cv.subset(cv.folds == fold)
        correctors = [Corrector(train, method, _replicates(method, replicates), seed) for method in methods]
        cases = [
            ("natural", Sample.of(test.probs, test.groups), np.bincount(test.gold, minlength=k) / len(test))
        ]
        for _ in range(shifted):
            counts = rng.multinomial(len(test), rng.dirichlet(np.ones(k)))
            rows = np.concatenate(
                [rng.choice(np.flatnonzero(test.gold == j), c) for j, c in enumerate(counts) if c]
            )
            # The resampled rows come from a few addresses, often many times over: addresses stay the units.
            cases.append(("shifted", Sample.of(test.probs[rows], test.groups[rows]), counts / counts.sum()))
        for case, sample, truth in cases:
            for corrector in correctors:
                estimate = corrector.estimate(sample, confidence)
                assert (
                    estimate.corrected is not None and estimate.low is not None and estimate.high is not None
                )
                key = (corrector.method, case)
                errors.setdefault(key, []).append(np.abs(estimate.corrected - truth))
                covered.setdefault(key, []).append((estimate.low <= truth) & (truth <= estimate.high))
    results: dict[str, Any] = {
        "labels": list(cv.labels),
        "system": cv.system,
        "rows": len(cv),
        "folds": len(np.unique(cv.folds)),
        "shifted_per_fold": shifted,
        "replicates": replicates,
        "confidence": confidence,
        "methods": {},
    }
    for (method, case), values in errors.items():
        mae, coverage = np.mean(values, axis=0), np.mean(covered[(method, case)], axis=0)
        results["methods"].setdefault(method, {"replicates": _replicates(method, replicates)})[case] = {
            "samples": len(values),
            "mae": {label: round(float(v), 4) for label, v in zip(cv.labels, mae, strict=True)},
            "coverage": {label: round(float(v), 3) for label, v in zip(cv.labels, coverage, strict=True)},
        }
    return results


def _replicates(method: Method, replicates: int) -> int:
    return min(replicates, EM_COMPARISON_REPLICATES) if method == "em" else replicates


def comparison_markdown(results: dict[str, Any]) -> str:
    """`compare_methods`'s results as two markdown tables (held-out folds as they are; shifted mixes)."""
    labels = results["labels"]
    lines = []
    for case, title in (
        ("natural", "held-out folds as they are"),
        ("shifted", "held-out folds resampled to shifted label mixes"),
    ):
        any_method = next(iter(results["methods"].values()))[case]
        lines += [
            f"{title} ({any_method['samples']} samples): mean absolute error, points; coverage of the "
            f"{results['confidence']:.0%} interval",
            "",
            "| method | "
            + " | ".join(f"MAE {label}" for label in labels)
            + " | MAE mean | "
            + " | ".join(f"coverage {label}" for label in labels)
            + " |",
            "|---" * (2 * len(labels) + 2) + "|",
        ]
        for method, cases in results["methods"].items():
            mae, coverage = cases[case]["mae"], cases[case]["coverage"]
            name = (
                method
                if cases["replicates"] == results["replicates"]
                else f"{method} ({cases['replicates']} replicates)"
            )
            lines.append(
                f"| {name} | "
                + " | ".join(f"{100 * mae[label]:.1f}" for label in labels)
                + f" | {100 * np.mean(list(mae.values())):.1f} | "
                + " | ".join(f"{coverage[label]:.0%}" for label in labels)
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def load_corrector(
    directory: str | Path,
    labels: Sequence[str] | None = None,
    method: Method = DEFAULT_METHOD,
    replicates: int = REPLICATES,
) -> Corrector | None:
    """A Corrector for the model in `directory` (CV predictions at its temperature); None without them."""
    cv = load_cv_predictions(directory, read_temperature(Path(directory)))
    if cv is None:
        return None
    if labels is not None and tuple(labels) != cv.labels:
        raise ValueError(
            f"{Path(directory) / CV_PREDICTIONS}: labels {list(cv.labels)} differ from the model's "
            f"{list(labels)}"
        )
    return Corrector(cv, method, replicates)
