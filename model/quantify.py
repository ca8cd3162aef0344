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
- `composite`: per label, counting moved towards ACC by the weight that minimises their blend's
  expected squared error. ACC is unbiased but noisy; counting is steady but biased by (M - I) p. The
  squared bias is estimated as (ACC - count)² less that difference's bootstrap variance, so the
  weight is near 0 where the two differ by no more than noise (label mixes near the rate rows',
  where counting's errors cancel) and near 1 under a real shift (`composite_weight`). The bias the
  blend keeps moves its interval's end on ACC's side out (`composite`).
Shares are clipped to [0, 1] and renormalised.

Intervals are percentile bootstrap intervals that pair, in each replicate, a resample of the CV rows
by group (the rates' uncertainty: an address's paragraphs share errors, so rows are resampled a year
at a time) with a resample of the sample's units (documents when there are documents, paragraphs
otherwise: the sampling uncertainty). When the sample's documents are known, each replicate's rates
also move by the drift that so many documents' own rates show about the average, and by their era's
(`RateDrift`).

Rates by vocabulary stratum. The team labeled the odd-year paragraphs that carry foreign-policy words;
the model reads far more `neither` paragraphs as a stance among those (14% at 2+ such words) than
among the domestic rest of an address (under 2%), so one set of rates taken from the labeled rows
overcorrects whole addresses. The file may therefore also hold rows of a random sample of the
unlabeled paragraphs (`"sources": "random_sample"`), each standing for `weights` paragraphs, so that
the rows together represent every odd-year paragraph; and each row's `strata` (`stratum`: how many
distinct foreign-policy words it has). Rates are measured per stratum, each paragraph to correct is
corrected with its stratum's rates, and the strata's shares are added up by their sizes.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from model.directory import read_json, read_temperature
from model.labeler import softmax
from model.labels import STANCE_LABELS

CV_PREDICTIONS = "cv_predictions.json"
# "ppi" (model.prediction_powered) needs hand labels of the corpus itself, not the model's error rates:
# it is a Method of `stance summarize --truth`, not of the Corrector.
Method = Literal["cc", "acc", "pacc", "em", "composite", "ppi"]
METHODS: tuple[Method, ...] = ("cc", "acc", "pacc", "em", "composite")
DEFAULT_METHOD: Method = "composite"  # chosen on held-out CV folds: docs/batch.md
# How notes, printouts and plot titles name each method.
METHOD_NAMES: dict[str, str] = {
    "cc": "CC (counting)",
    "acc": "ACC",
    "pacc": "PACC",
    "em": "EM",
    "composite": "COMPOSITE of counting and ACC",
    "ppi": "PPI, prediction-powered with your hand labels",
}
REPLICATES = 1000
CONFIDENCE = 0.95
# Units beyond this are bootstrapped in random blocks of exchangeable units (a valid bootstrap of
# a mean, since the blocks are exchangeable too), which bounds the cost for huge corpora.
MAX_UNITS = 20_000
EM_TOLERANCE, EM_MAX_ITERATIONS = 1e-6, 300
# EM's bootstrap runs the whole EM once per replicate (the others solve a 3 x 3 system): comparing methods
# over hundreds of samples, its intervals use fewer replicates.
EM_COMPARISON_REPLICATES = 100
# Eras of address years: the upper level of `RateDrift`, and the comparison's `eras` case (held-out
# rows by half-century, where there are enough of them). 25-year eras gave the same coverage of
# held-out half-centuries at intervals 2.5 points wider (docs/batch.md).
ERA_YEARS, MIN_ERA_ROWS = 50, 40


# Foreign-policy vocabulary: a paragraph's stratum is how many of these (distinct, case-folded) it uses.
FOREIGN_POLICY_WORDS = re.compile(
    r"\b(foreign|nations?|international|treat(?:y|ies)|wars?|peace|allies|alliances?|allied|military|army"
    r"|navy|naval|armed|arms|defen[cs]e|diplomac\w*|diplomatic|ambassadors?|ministers?|embass\w*|consul\w*"
    r"|world|global|enemy|enemies|aggression|security|sovereign\w*|soviet|communis\w*|europe\w*|china"
    r"|chinese|japan\w*|russia\w*|germany|german|britain|british|france|french|mexic\w*|spain|spanish"
    r"|cuba\w*|asia\w*|africa\w*|latin|neutral\w*|hemisphere|overseas|abroad|troops|nuclear|weapons?"
    r"|missiles?|terror\w*|league|nato|democrac\w*|freedom|liberty|tyranny|dictator\w*|empire"
    r"|imperial\w*|colonies|colonial|territor\w*|trade|tariffs?|commerce|commercial|powers?|governments)\b",
    re.IGNORECASE,
)
# Stratum i holds paragraphs with at least STRATUM_BOUNDS[i] and fewer than STRATUM_BOUNDS[i + 1] words.
STRATUM_BOUNDS = (0, 2, 4)
STRATA = ("0-1 foreign-policy words", "2-3 foreign-policy words", "4+ foreign-policy words")


def stratum(text: str) -> int:
    """The vocabulary stratum of a paragraph (an index into STRATA)."""
    distinct = len({word.lower() for word in FOREIGN_POLICY_WORDS.findall(text)})
    return int(np.searchsorted(STRATUM_BOUNDS, distinct, side="right")) - 1


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
    weights: np.ndarray  # (n,) how many paragraphs of the population each row stands for
    strata: np.ndarray  # (n,) vocabulary stratum; all 0 in a file without strata
    sampled: np.ndarray  # (n,) bool: a random-sample row rather than a cross-validated labeled one
    n_strata: int = 1

    def __len__(self) -> int:
        return len(self.gold)

    def pooled(self) -> "CvPredictions":
        """The same rows as one stratum: one set of rates for every paragraph."""
        return replace(self, strata=np.zeros_like(self.strata), n_strata=1)

    def subset(self, mask: np.ndarray) -> "CvPredictions":
        rows = ("groups", "folds", "gold", "probs", "weights", "strata", "sampled")
        return replace(self, **{name: getattr(self, name)[mask] for name in rows})


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
        n = len(gold)
        weights = np.asarray(data.get("weights", [1.0] * n), dtype=np.float64)
        strata = np.asarray(data.get("strata", [0] * n), dtype=np.int64)
        sampled = np.asarray([s == "random_sample" for s in data.get("sources", ["cv"] * n)], dtype=bool)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a CV predictions file ({type(error).__name__}: {error})") from None
    if (
        probs.shape != (n, len(labels))
        or n == 0
        or any(len(a) != n for a in (groups, folds, weights, strata, sampled))
    ):
        raise ValueError(
            f"{path}: {n} gold labels, {len(groups)} groups, {len(folds)} folds, {len(weights)} weights, "
            f"{len(strata)} strata, {len(sampled)} sources and probabilities of shape {probs.shape} for "
            f"{len(labels)} labels: they must match"
        )
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3) or (probs < 0).any():
        raise ValueError(f"{path}: each row of probs must be probabilities summing to 1")
    if (weights <= 0).any() or not np.isfinite(weights).all():
        raise ValueError(f"{path}: every weight must be a positive number")
    n_strata = len(STRATA) if "strata" in data else 1
    if ((strata < 0) | (strata >= n_strata)).any():
        raise ValueError(f"{path}: strata must be indices 0-{n_strata - 1} (model.quantify.STRATA)")
    for s in range(n_strata):
        missing = [label for i, label in enumerate(labels) if not ((gold == i) & (strata == s)).any()]
        if missing:
            where = f" in stratum {STRATA[s]!r}" if n_strata > 1 else ""
            raise ValueError(
                f"{path}: no row{where} has gold label {', '.join(missing)}; its error rates are unknown"
            )
    return CvPredictions(
        labels,
        str(data.get("system", "")),
        groups,
        folds,
        gold,
        calibrate(probs, temperature),
        weights,
        strata,
        sampled,
        n_strata,
    )


@dataclass(frozen=True)
class Rates:
    """What the corrections need from labeled predictions, for one or many bootstrap replicates.

    Per stratum s: hard[..., s, i, j] = P(model says i | truth j); soft[..., s, i, j] = E[p_i | truth j];
    prior[..., s, j] = P(truth j).
    """

    hard: np.ndarray
    soft: np.ndarray
    prior: np.ndarray


def group_stats(cv: CvPredictions) -> tuple[np.ndarray, np.ndarray]:
    """Per group and stratum: weighted [counts of (said i, truth j), sums of p_i over truth j, counts of
    truth j], flattened; shape (groups, strata, 2k² + k)."""
    k = len(cv.labels)
    names, group_index = np.unique(cv.groups, return_inverse=True)
    truth = np.eye(k)[cv.gold]
    said = np.eye(k)[cv.probs.argmax(axis=1)]
    per_row = cv.weights[:, None] * np.concatenate(
        [
            (said[:, :, None] * truth[:, None, :]).reshape(len(cv), k * k),
            (cv.probs[:, :, None] * truth[:, None, :]).reshape(len(cv), k * k),
            truth,
        ],
        axis=1,
    )
    stats = np.zeros((len(names), cv.n_strata, per_row.shape[1]))
    np.add.at(stats, (group_index, cv.strata), per_row)
    return names, stats


def rates_from_stats(stats: np.ndarray, k: int) -> Rates:
    """Rates from (weighted) sums of `group_stats` rows; leading axes are replicates."""
    hard = stats[..., : k * k].reshape(*stats.shape[:-1], k, k)
    soft = stats[..., k * k : 2 * k * k].reshape(*stats.shape[:-1], k, k)
    truth = stats[..., 2 * k * k :]
    per_truth = np.maximum(truth, 1e-12)[..., None, :]
    return Rates(
        hard / per_truth, soft / per_truth, truth / np.maximum(truth.sum(axis=-1, keepdims=True), 1e-12)
    )


def measure_rates(cv: CvPredictions) -> Rates:
    return rates_from_stats(group_stats(cv)[1].sum(axis=0), len(cv.labels))


def bootstrap_rates(cv: CvPredictions, replicates: int, rng: np.random.Generator) -> Rates:
    """Rates of `replicates` resamples of the CV rows, a whole group (address year) at a time."""
    stats = group_stats(cv)[1]
    counts = resample_counts(rng, len(stats), replicates)
    return rates_from_stats(np.einsum("rg,gsm->rsm", counts, stats), len(cv.labels))


@dataclass(frozen=True)
class DriftLevel:
    """One level of rate drift: each unit's (year's or era's) rates about the level above, and how much
    of their spread is drift rather than the noise of their rows."""

    deviations: np.ndarray  # (units, 2, strata, k, k): each unit's hard and soft rates minus the level above
    rows: np.ndarray  # (units, strata, k) weighted rows of each true label
    shrink: np.ndarray  # (2, strata, k): sqrt(between-unit variance / observed variance)

    def draw(self, count: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        """`count` replicates' mean shrunk deviation of `draws` units drawn in proportion to their rows;
        (count, 2, strata, k, k)."""
        units, _, strata, k, _ = self.deviations.shape
        out = np.zeros((count, 2, strata, k, k))
        for s in range(strata):
            for j in range(k):
                weights = self.rows[:, s, j]
                if weights.sum() <= 0:  # no rate rows of this true label here: nothing to drift
                    continue
                picked = rng.choice(units, (count, draws), p=weights / weights.sum())
                out[:, :, s, :, j] = self.shrink[None, :, s, j, None] * self.deviations[
                    picked, :, s, :, j
                ].mean(1)
        return out


def _spread(rates: np.ndarray, rows: np.ndarray, about: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deviations of units' rates (units, 2, strata, k, k) from `about` (same shape), zero where a unit
    has no rows of a true label, and their row-weighted mean square per (kind, stratum, true label)."""
    present = (rows > 0)[:, None, :, None, :]
    deviation = np.where(present, rates - about, 0.0)
    total = np.maximum(rows.sum(axis=0), 1e-12)
    return deviation, (rows[:, None] * (deviation**2).sum(axis=-2)).sum(axis=0) / total


@dataclass(frozen=True)
class RateDrift:
    """How far one address's error rates stray from the average, net of the noise of its few rows.

    A random-effects view in two levels: every era (half-century) has rates of its own, and every
    address year has rates of its own about its era's; the rate rows measure each year's with the
    noise of a few dozen rows. Per stratum and true label, each level's variance is estimated by the
    method of moments: the years' row-weighted variance about their era's rates less the multinomial
    noise of their (Kish effective) row counts; the eras' variance about the pooled rates less what
    their years' drift and noise would give alone; both floored at 0.

    A sample of m documents meets the rates of m such years, which come from one era as far as the
    rates know (neighbouring years err alike, and a user's corpus is one population): `apply` adds
    to each replicate's rates one era's deviation and the mean deviation of m years about their
    eras, each shrunk to its level's share of drift, so that only drift and not the rows' own noise
    is added. The era term does not shrink with m: that is what more documents of one era cannot
    average away.
    """

    years: DriftLevel
    eras: DriftLevel | None

    @classmethod
    def of(cls, cv: CvPredictions, era_years: int | None = ERA_YEARS) -> "RateDrift":
        k = len(cv.labels)
        names, stats = group_stats(cv)
        year = np.unique(cv.groups, return_inverse=True)[1]
        squares = np.zeros((len(names), cv.n_strata, k))
        np.add.at(squares, (year, cv.strata, cv.gold), cv.weights**2)
        rows = stats[..., 2 * k * k :]
        # Kish: a year's weighted random-sample rows are as informative as their number, not their weight.
        effective = np.where(rows > 0, rows**2 / np.maximum(squares, 1e-12), np.inf)

        def rates_of(summed: np.ndarray) -> np.ndarray:  # (units, strata, m) -> (units, 2, strata, k, k)
            rates = rates_from_stats(summed, k)
            return np.stack([rates.hard, rates.soft], axis=1)

        pooled = measure_rates(cv)
        mean = np.stack([pooled.hard, pooled.soft])  # (2, strata, k, k)
        # One row's variance, summed over what the model says: exact for hard rates, a bound for soft.
        noise = (mean * (1 - mean)).sum(axis=-2)  # (2, strata, k)
        # (years, 2, strata, k): each year's sampling variance (0 where it has no rows: effective is inf)
        year_noise = noise[None] / effective[:, None]
        era_of = np.zeros(len(names), dtype=np.int64)
        if era_years is not None:
            era_of = np.unique(
                [int(n) // era_years if n.isdigit() else -1 for n in names], return_inverse=True
            )[1]
        eras = int(era_of.max()) + 1
        era_stats = np.zeros((eras, *stats.shape[1:]))
        np.add.at(era_stats, era_of, stats)
        era_rates, era_rows = rates_of(era_stats), era_stats[..., 2 * k * k :]

        def level(
            deviation: np.ndarray, observed: np.ndarray, expected_noise: np.ndarray, unit_rows: np.ndarray
        ) -> tuple[DriftLevel, np.ndarray]:
            """The level, and its between-unit variance: what the units differ by beyond the noise."""
            between = np.maximum(observed - expected_noise, 0.0)
            return DriftLevel(deviation, unit_rows, np.sqrt(between / np.maximum(observed, 1e-12))), between

        total = np.maximum(rows.sum(axis=0), 1e-12)[None]  # (1, strata, k)
        deviation, observed = _spread(rates_of(stats), rows, era_rates[era_of])
        within = (rows[:, None] * year_noise).sum(axis=0) / total
        years, year_between = level(deviation, observed, within, rows)
        if eras == 1:
            return cls(years, None)
        # An era's rates carry its years' drift and noise, each year weighted by its share of the era's rows.
        share = rows / np.maximum(era_rows[era_of], 1e-12)
        carried = np.zeros((eras, 2, *rows.shape[1:]))
        np.add.at(carried, era_of, share[:, None] ** 2 * (year_noise + year_between[None]))
        era_deviation, era_observed = _spread(era_rates, era_rows, mean[None])
        era_noise = (era_rows[:, None] * carried).sum(axis=0) / total
        return cls(years, level(era_deviation, era_observed, era_noise, era_rows)[0])

    def apply(self, rates: Rates, documents: int, rng: np.random.Generator) -> Rates:
        """Replicate rates moved by the drift that a sample of `documents` documents meets."""
        count = len(rates.prior)
        # A mean of m draws varies as 1/m: draw at most as many years as there are, and scale.
        draws = max(1, min(documents, len(self.years.rows)))
        drift = np.sqrt(draws / max(documents, 1)) * self.years.draw(count, draws, rng)
        if self.eras is not None:
            drift += self.eras.draw(count, 1, rng)
        hard, soft = (
            np.clip(matrix + drift[:, kind], 0.0, None)
            for kind, matrix in enumerate((rates.hard, rates.soft))
        )
        return Rates(
            hard / np.maximum(hard.sum(axis=-2, keepdims=True), 1e-12),
            soft / np.maximum(soft.sum(axis=-2, keepdims=True), 1e-12),
            rates.prior,
        )


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
    # A bootstrap resample of a small stratum can lack a label: its prior is then ~0, not 0.
    prior = np.maximum(np.asarray(prior, dtype=np.float64), 1e-12)
    weights = np.ones(probs.shape[0]) if weights is None else weights
    weights = np.broadcast_to(weights, (*prior.shape[:-1], probs.shape[0]))
    total = np.maximum(weights.sum(axis=-1, keepdims=True), 1e-12)
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
    """Each replicate's shares of `sample`'s model-labeled rows by `method`, stratum by stratum.

    `rates` and the unit `weights` (..., units) carry the same leading replicate axes. Each stratum is
    corrected with its own rates; the strata's shares are then weighted by their sizes.
    """
    sizes = weights @ sample.n_model  # (..., strata)
    if method == "em":
        # Replicates that drew no row of a stratum divide 0 by 0 there; those shares are dropped below.
        with np.errstate(invalid="ignore", divide="ignore"):
            rows = weights[..., sample.row_unit] * sample.row_weight
            per_stratum = np.stack(
                [
                    em(
                        sample.probs[sample.row_stratum == s],
                        rates.prior[..., s, :],
                        rows[..., sample.row_stratum == s],
                    )
                    if (sample.row_stratum == s).any()
                    else rates.prior[..., s, :]
                    for s in range(sample.strata)
                ],
                axis=-2,
            )
    else:
        n = np.maximum(sizes, 1e-12)[..., None]
        counts = np.einsum("...u,usk->...sk", weights, sample.said) / n
        if method == "cc":
            per_stratum = counts
        elif method == "acc":
            per_stratum = adjust(rates.hard, counts)
        elif method == "pacc":
            per_stratum = adjust(rates.soft, np.einsum("...u,usk->...sk", weights, sample.prob_sums) / n)
        else:
            raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    total = np.maximum(sizes.sum(axis=-1, keepdims=True), 1e-12)
    # A stratum a replicate drew no row of has no shares (EM's are 0/0): it weighs nothing anyway.
    per_stratum = np.where(sizes[..., None] > 0, per_stratum, 0.0)
    return (sizes[..., None] * per_stratum).sum(axis=-2) / total


@dataclass(frozen=True)
class Sample:
    """Rows to estimate shares of, summed per bootstrap unit and vocabulary stratum.

    Rows whose label is set by rule (headings: `neither` with probability 1) are not the model's
    guesses: they are kept out of the correction and added back with their label. Row weights (1
    unless given) say how many paragraphs a row stands for, as in a weighted sample.
    """

    probs: np.ndarray  # (m, k) the model-labeled rows
    row_unit: np.ndarray  # (m,) each model-labeled row's unit
    row_stratum: np.ndarray  # (m,)
    row_weight: np.ndarray  # (m,)
    said: np.ndarray  # (units, strata, k) model-labeled rows per top label
    prob_sums: np.ndarray  # (units, strata, k) their probabilities summed
    ruled: np.ndarray  # (units, k) rows labeled by rule, per label
    n_model: np.ndarray  # (units, strata)
    documents: int | None = None  # how many documents the rows come from, when known

    @classmethod
    def of(
        cls,
        probs: np.ndarray,
        units: Sequence[object] | np.ndarray | None = None,
        ruled: np.ndarray | None = None,
        strata: Sequence[int] | np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        row_weights: np.ndarray | None = None,
        documents: int | None = None,
    ) -> "Sample":
        """`units` name each row's document; without them each row is a unit, and `documents` may say
        how many documents the rows come from (the API's one)."""
        probs = np.asarray(probs, dtype=np.float64)
        n, k = probs.shape
        if units is None:
            unit = np.arange(n)
        else:
            unit = np.unique(np.asarray([str(u) for u in units]), return_inverse=True)[1].reshape(-1)
        count = int(unit.max()) + 1 if n else 0
        if units is not None:
            documents = count
        if count > MAX_UNITS:
            unit = (rng or np.random.default_rng(0)).permutation(count)[unit] % MAX_UNITS
            count = MAX_UNITS
        ruled = np.zeros(n, dtype=bool) if ruled is None else np.asarray(ruled, dtype=bool)
        stratum_of = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
        weight = np.ones(n) if row_weights is None else np.asarray(row_weights, dtype=np.float64)
        n_strata = len(STRATA) if strata is not None else 1
        top = weight[:, None] * (np.eye(k)[probs.argmax(axis=1)] if n else np.zeros((0, k)))
        said, prob_sums = (np.zeros((count, n_strata, k)) for _ in range(2))
        by_rule = np.zeros((count, k))
        model = ~ruled
        np.add.at(said, (unit[model], stratum_of[model]), top[model])
        np.add.at(prob_sums, (unit[model], stratum_of[model]), weight[model, None] * probs[model])
        np.add.at(by_rule, unit[ruled], top[ruled])
        return cls(
            probs[model],
            unit[model],
            stratum_of[model],
            weight[model],
            said,
            prob_sums,
            by_rule,
            said.sum(axis=2),
            documents,
        )

    @property
    def units(self) -> int:
        return len(self.n_model)

    @property
    def strata(self) -> int:
        return self.n_model.shape[1]

    def pooled(self) -> "Sample":
        """The same rows as one stratum (for rates measured without strata)."""
        return Sample(
            self.probs,
            self.row_unit,
            np.zeros_like(self.row_stratum),
            self.row_weight,
            self.said.sum(axis=1, keepdims=True),
            self.prob_sums.sum(axis=1, keepdims=True),
            self.ruled,
            self.n_model.sum(axis=1, keepdims=True),
            self.documents,
        )


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
        self.n_rows = int((~cv.sampled).sum())
        self.n_sampled = int(cv.sampled.sum())
        self.n_groups = len(np.unique(cv.groups[~cv.sampled]))
        self.n_strata = cv.n_strata
        self.method = method
        self.seed = seed
        self.replicate_count = replicates
        self.cv = cv
        self.stratified_file = False  # set on a pooled() copy of stratified rates
        self._pooled: Corrector | None = None
        self.rates = measure_rates(cv)
        self.replicate_rates = bootstrap_rates(cv, replicates, np.random.default_rng(seed))
        self.drift = RateDrift.of(cv)

    @property
    def replicates(self) -> int:
        return len(self.replicate_rates.prior)

    def pooled(self) -> "Corrector":
        """The same rates as one set for every paragraph: for samples whose strata are unknown.

        Built once per Corrector (its bootstrap is the cost), so a caller may ask on every request.
        """
        if self._pooled is None:
            self._pooled = Corrector(self.cv.pooled(), self.method, self.replicate_count, self.seed)
            self._pooled.stratified_file = self.n_strata > 1
        return self._pooled

    def estimate(self, sample: Sample, confidence: float = CONFIDENCE) -> Estimate:
        """Corrected shares of `sample` with a percentile interval over paired bootstrap replicates."""
        raw = raw_estimate(sample)
        if raw.n == 0:
            return raw
        if self.n_strata == 1:
            sample = sample.pooled()
        elif sample.strata != self.n_strata:
            raise ValueError(
                "these rates are per vocabulary stratum: build the Sample with each row's strata"
            )
        if self.method == "composite":
            (count, adjusted), (count_replicates, adjusted_replicates), read, ruled = self._shares(
                ("cc", "acc"), sample
            )
            point, replicates, residual = composite(count, adjusted, count_replicates, adjusted_replicates)
        else:
            (point,), (replicates,), read, ruled = self._shares((self.method,), sample)
            residual = np.zeros_like(point)
        everything = np.ones(sample.units)
        n_read, n_ruled = everything @ sample.n_model.sum(axis=1), everything @ sample.ruled
        stacked = _mix(replicates, read, ruled)
        low, high = np.quantile(stacked, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
        # A bias-aware interval: the end on ACC's side moves out by the bias the blend keeps (none for
        # the unblended methods). On held-out shifted mixes this took coverage from 89-90% to 92-99%.
        mixed = _mix(point, n_read, n_ruled)
        shift = _mix(np.clip(point + residual, 0.0, 1.0), n_read, n_ruled) - mixed
        low, high = np.clip(np.minimum(low, low + shift), 0, 1), np.clip(np.maximum(high, high + shift), 0, 1)
        point = mixed
        return Estimate(raw.n, raw.count_share, raw.mean_probability, self.method, point, low, high)

    def _shares(
        self, methods: Sequence[Method], sample: Sample
    ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
        """Each method's shares of the model-labeled rows: of `sample`, and of each bootstrap replicate.

        The methods see the same resamples (`composite` pairs counting's and ACC's). Also returns each
        replicate's count of model-labeled rows and of rows labeled by rule (per label), to mix the
        two back together.
        """
        rng = np.random.default_rng(self.seed + 1)
        replicate_rates = self.replicate_rates
        if sample.documents is not None and set(methods) != {"cc"}:
            # The sample's documents have rates of their own: the interval must carry their drift.
            drift_rng = np.random.default_rng([self.seed, 2, sample.documents])
            replicate_rates = self.drift.apply(replicate_rates, sample.documents, drift_rng)
        points = [corrected_shares(method, self.rates, sample, np.ones(sample.units)) for method in methods]
        # Replicates go in chunks so that the (replicates, units) weights, and EM's (replicates, rows,
        # labels) posteriors, stay near 32 MB whatever the corpus size.
        width = max(sample.units, 3 * len(sample.probs) if "em" in methods else 0)
        size = max(1, int(4e6 // width))
        shares: list[list[np.ndarray]] = [[] for _ in methods]
        read, ruled = [], []
        for start in range(0, self.replicates, size):
            chunk = slice(start, min(start + size, self.replicates))
            weights = resample_counts(rng, sample.units, chunk.stop - chunk.start)
            rates = _take(replicate_rates, chunk)
            for method, replicates in zip(methods, shares, strict=True):
                replicates.append(corrected_shares(method, rates, sample, weights))
            read.append(weights @ sample.n_model.sum(axis=1))
            ruled.append(weights @ sample.ruled)
        return points, [np.concatenate(r) for r in shares], np.concatenate(read), np.concatenate(ruled)


def composite_weight(difference: np.ndarray, variance: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """The weight on ACC that minimises the expected squared error of count + w (ACC - count).

    With counting's error e = b + u (bias b, noise u) and d = ACC - count = -b + v (ACC unbiased), the
    error of the blend is e + w d, least at w = (b² - Cov(u, v)) / (b² + Var(v)). b² is estimated by
    d² - Var(v) (its expectation is b² + Var(v)), floored at 0; Var(v) and Cov(u, v) come from the
    paired bootstrap replicates. Clipped to [0, 1]: between counting and ACC, never beyond either.
    """
    bias = np.maximum(difference**2 - variance, 0.0)
    return np.clip((bias - covariance) / np.maximum(bias + variance, 1e-12), 0.0, 1.0)


def composite(
    count: np.ndarray, adjusted: np.ndarray, count_replicates: np.ndarray, adjusted_replicates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counting blended towards ACC by `composite_weight`, for the point estimate and every replicate;
    and the blend's estimated remaining bias, about (1 - w) b, signed towards ACC.

    Each replicate takes its own weight from its own difference, so the interval carries the
    uncertainty of the weight as well as of the two estimates. What it cannot carry is the bias the
    blend keeps: every replicate keeps it alike, so it must be added to the interval (`Corrector`).
    """
    differences = adjusted_replicates - count_replicates
    variance = differences.var(axis=0)
    centred = count_replicates - count_replicates.mean(axis=0)
    covariance = (centred * (differences - differences.mean(axis=0))).mean(axis=0)

    def blend(counted: np.ndarray, difference: np.ndarray) -> np.ndarray:
        return simplex(counted + composite_weight(difference, variance, covariance) * difference, counted)

    difference = adjusted - count
    point = blend(count, difference)
    # Of the way left from the blend to ACC, (1 - w) d, the share b / |d| is bias rather than noise.
    bias = np.sqrt(np.maximum(difference**2 - variance, 0.0))
    residual = (adjusted - point) * np.minimum(1.0, bias / np.maximum(np.abs(difference), 1e-12))
    return point, blend(count_replicates, differences), residual


def resample_counts(rng: np.random.Generator, units: int, replicates: int) -> np.ndarray:
    """How often each unit is drawn in each of `replicates` bootstrap resamples (multinomial counts).

    Drawn as indices and counted: three times faster than `Generator.multinomial` with many units.
    """
    drawn = rng.integers(0, units, (replicates, units)) + units * np.arange(replicates)[:, None]
    return np.bincount(drawn.ravel(), minlength=replicates * units).reshape(replicates, units).astype(float)


def raw_estimate(sample: Sample) -> Estimate:
    """Count shares and mean probabilities alone (what is known without error rates)."""
    total = float(sample.n_model.sum() + sample.ruled.sum())
    if total == 0:
        nothing = np.full(sample.ruled.shape[1], np.nan)
        return Estimate(0, nothing, nothing)
    ruled = sample.ruled.sum(axis=0)
    said, prob_sums = sample.said.sum(axis=(0, 1)), sample.prob_sums.sum(axis=(0, 1))
    return Estimate(round(total), (said + ruled) / total, (prob_sums + ruled) / total)


def _mix(model_shares: np.ndarray, read: np.ndarray, ruled: np.ndarray) -> np.ndarray:
    """Shares of all rows: `read` model-labeled rows at their corrected shares, plus the `ruled` rows
    (per label) labeled by rule; leading axes are replicates."""
    total = np.maximum(read[..., None] + ruled.sum(axis=-1, keepdims=True), 1e-12)
    return (read[..., None] * model_shares + ruled) / total


def _take(rates: Rates, index: slice) -> Rates:
    return Rates(rates.hard[index], rates.soft[index], rates.prior[index])


def rate_variants(cv: CvPredictions) -> dict[str, CvPredictions]:
    """The ways of measuring rates that the comparison weighs against each other.

    `stratified` is the file as it is. When it has strata or random-sample rows, the ablations are one
    set of rates from every row (`pooled`) and one from the labeled CV rows alone (`labeled rows`, as
    before the random sample existed).
    """
    variants = {"stratified": cv}
    one = cv.pooled()
    if cv.n_strata > 1:
        variants["pooled"] = one
    if cv.sampled.any():
        variants["labeled rows"] = one.subset(~cv.sampled)
    return variants


def compare_methods(
    cv: CvPredictions,
    methods: Sequence[Method] = METHODS,
    replicates: int = REPLICATES,
    shifted: int = 40,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    sure: np.ndarray | None = None,
) -> dict[str, Any]:
    """How well each method recovers known shares of held-out CV folds, and how often intervals cover them.

    Each fold in turn is held out: rates come from the other folds, and the held-out fold is
    estimated as it is: every paragraph of its years (`natural`: random-sample rows weighted, when
    the file has them, so the fold stands for whole addresses), its labeled rows alone (`labeled`:
    foreign-policy paragraphs, when there are random-sample rows), and each half-century of its
    years (`eras`, the subgroups a `--by` summary compares); its years are the bootstrap units.
    It is then `shifted` times resampled to a random label mix (drawn uniformly from
    all mixes; the fold's size, rows drawn with replacement within each label, in proportion to their
    weights) to test the methods under prior shift, where counting fails most. Given `sure` (per row:
    the team marked its label `sure`, not `lean`), it adds the clarity shifts of `_clarity_cases`. The
    default method is also run with the ablated rates of `rate_variants`.
    """
    rng = np.random.default_rng(seed)
    # A stream of its own, so the other cases draw the same samples with or without `sure`.
    clarity_rng = np.random.default_rng([seed, 1])
    k = len(cv.labels)
    variants = rate_variants(cv)
    systems = [(method, "stratified") for method in methods]
    systems += [(DEFAULT_METHOD, name) for name in variants if name != "stratified"]
    errors: dict[tuple[str, str], list[np.ndarray]] = {}
    used: dict[str, int] = {}
    covered: dict[tuple[str, str], list[np.ndarray]] = {}
    widths: dict[tuple[str, str], list[np.ndarray]] = {}
    for fold in np.unique(cv.folds):
        test = cv.subset(cv.folds == fold)
        test_sure = None if sure is None else sure[cv.folds == fold]
        correctors = {
            (method, name): Corrector(
                variants[name].subset(variants[name].folds != fold),
                method,
                comparison_replicates(method, replicates),
                seed,
            )
            for method, name in systems
        }

        everything = np.arange(len(test))
        cases = [("natural", *_held_out(test, everything, test.weights))]
        if test.sampled.any():
            labeled = np.flatnonzero(~test.sampled)
            cases.append(("labeled", *_held_out(test, labeled, np.ones(len(labeled)))))
        # Subgroups as users summarise them (`--by` an era): each half-century of the held-out years.
        era = np.array([int(group) // ERA_YEARS if group.isdigit() else -1 for group in test.groups])
        for value in np.unique(era):
            rows = np.flatnonzero(era == value)
            if value >= 0 and len(rows) >= MIN_ERA_ROWS:
                cases.append(("eras", *_held_out(test, rows, test.weights[rows])))
        if test_sure is not None:
            cases += _clarity_cases(clarity_rng, test, test_sure, shifted)
        for _ in range(shifted):
            counts = rng.multinomial(len(test), rng.dirichlet(np.ones(k)))
            rows = np.concatenate([_draw(rng, test, j, c) for j, c in enumerate(counts) if c])
            # The resampled rows come from a few addresses, often many times over: addresses stay the units.
            cases.append(("shifted", *_held_out(test, rows, np.ones(len(rows)))))
        for name, sample, truth in cases:
            for (method, variant), corrector in correctors.items():
                estimate = corrector.estimate(sample, confidence)
                assert (
                    estimate.corrected is not None and estimate.low is not None and estimate.high is not None
                )
                key = (method if variant == "stratified" else f"{method} ({variant})", name)
                used[key[0]] = corrector.replicates
                errors.setdefault(key, []).append(np.abs(estimate.corrected - truth))
                covered.setdefault(key, []).append((estimate.low <= truth) & (truth <= estimate.high))
                widths.setdefault(key, []).append(estimate.high - estimate.low)
    results: dict[str, Any] = {
        "labels": list(cv.labels),
        "system": cv.system,
        "rows": int((~cv.sampled).sum()),
        "random_sample_rows": int(cv.sampled.sum()),
        "strata": list(STRATA) if cv.n_strata > 1 else [],
        "folds": len(np.unique(cv.folds)),
        "shifted_per_fold": shifted,
        "replicates": replicates,
        "confidence": confidence,
        "methods": {},
    }
    for (system, name), values in errors.items():
        mae, coverage = np.mean(values, axis=0), np.mean(covered[(system, name)], axis=0)
        results["methods"].setdefault(system, {"replicates": used[system]})[name] = {
            "samples": len(values),
            "mae": {label: round(float(v), 4) for label, v in zip(cv.labels, mae, strict=True)},
            "coverage": {label: round(float(v), 3) for label, v in zip(cv.labels, coverage, strict=True)},
            # An interval's worth is its coverage at its width: wide enough to cover is easy.
            "width": {
                label: round(float(v), 4)
                for label, v in zip(cv.labels, np.mean(widths[(system, name)], axis=0), strict=True)
            },
        }
    return results


def _clarity_cases(
    rng: np.random.Generator, test: CvPredictions, sure: np.ndarray, shifted: int
) -> list[tuple[str, Sample, np.ndarray]]:
    """Held-out labeled rows narrowed by how sure the team was of them: writing clearer or murkier than
    the rate rows, which no error rate can see (the corrections assume a shift of label mix alone).

    `clear`: the rows the team was sure of, at the labeled rows' own label mix; `clear_shifted`: the
    same at `shifted` random mixes; `murky`: the stance rows it was sure of and the `neither` rows it
    leaned on (those it nearly gave a stance), at the labeled rows' mix. That last is the pattern of the
    real text outside the rate rows: the op-eds' and the real dev set's stance paragraphs are clear,
    and their `neither` paragraphs draw stances two to four times as often (docs/batch.md).
    """
    labeled = ~test.sampled
    k = len(test.labels)
    mix = np.bincount(test.gold[labeled], minlength=k)  # the labeled rows' own counts of each label
    stance = np.isin(np.asarray(test.labels)[test.gold], STANCE_LABELS)
    clear, murky = test.subset(labeled & sure), test.subset(labeled & (sure == stance))
    draws = [("clear", clear, mix), ("murky", murky, mix)]
    draws += [
        ("clear_shifted", clear, rng.multinomial(labeled.sum(), rng.dirichlet(np.ones(k))))
        for _ in range(shifted)
    ]
    cases = []
    for name, rows, counts in draws:
        if all((rows.gold == j).any() for j in np.flatnonzero(counts)):
            drawn = np.concatenate([_draw(rng, rows, j, c) for j, c in enumerate(counts) if c])
            cases.append((name, *_held_out(rows, drawn, np.ones(len(drawn)))))
    return cases


def _draw(rng: np.random.Generator, test: CvPredictions, label: int, count: int) -> np.ndarray:
    """`count` rows of gold `label`, with replacement, in proportion to their weights."""
    pick = np.flatnonzero(test.gold == label)
    weights = test.weights[pick]
    return rng.choice(pick, count, p=None if np.all(weights == weights[0]) else weights / weights.sum())


def _held_out(test: CvPredictions, rows: np.ndarray, weights: np.ndarray) -> tuple[Sample, np.ndarray]:
    """Held-out `rows` (repeats allowed, weighted) as a Sample, addresses as units; and their true shares."""
    truth = np.bincount(test.gold[rows], weights=weights, minlength=len(test.labels))
    strata = test.strata[rows] if test.n_strata > 1 else None
    sample = Sample.of(test.probs[rows], test.groups[rows], None, strata, row_weights=weights)
    return sample, truth / truth.sum()


def comparison_replicates(method: Method, replicates: int) -> int:
    """Replicates for `method` when many methods are compared: EM's bootstrap runs a whole EM per
    replicate, so it gets fewer."""
    return min(replicates, EM_COMPARISON_REPLICATES) if method == "em" else replicates


def comparison_markdown(results: dict[str, Any]) -> str:
    """`compare_methods`'s results as markdown tables, one per kind of held-out sample."""
    labels = results["labels"]
    lines = []
    whole = " (every paragraph of those years: labeled rows and the weighted random sample)"
    for case, title in (
        ("natural", "held-out folds as they are" + (whole if results.get("random_sample_rows") else "")),
        ("labeled", "held-out folds' labeled rows alone (foreign-policy paragraphs)"),
        ("eras", "held-out folds' half-centuries (every paragraph of those years, as above)"),
        ("shifted", "held-out folds resampled to shifted label mixes"),
        ("clear", "held-out folds' labeled rows the team was sure of, at the labeled rows' label mix"),
        (
            "clear_shifted",
            "held-out folds' labeled rows the team was sure of, resampled to shifted label mixes",
        ),
        (
            "murky",
            "held-out folds' stance rows the team was sure of and `neither` rows it leaned on, at the "
            "labeled rows' label mix (the pattern of op-eds and the real dev set)",
        ),
    ):
        if case not in next(iter(results["methods"].values())):
            continue
        any_method = next(iter(results["methods"].values()))[case]
        lines += [
            f"{title} ({any_method['samples']} samples): mean absolute error, points; coverage of the "
            f"{results['confidence']:.0%} interval, and its mean width in points",
            "",
            "| method | "
            + " | ".join(f"MAE {label}" for label in labels)
            + " | MAE mean | "
            + " | ".join(f"coverage {label}" for label in labels)
            + " | width mean |",
            "|---" * (2 * len(labels) + 3) + "|",
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
                + f" | {100 * np.mean(list(cases[case]['width'].values())):.1f} |"
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
