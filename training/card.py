"""The model card: README.md in the model directory, written from the config and the measured report."""

import tomllib
from pathlib import Path
from typing import Any

from model.directory import CARD, Manifest, read_json
from model.quantify import CV_PREDICTIONS
from training.config import TrainConfig
from training.evaluate import markdown_table

_LIMITS = """\
- Trained on paragraphs written by the team (modern English prose set in 1900s-2020s) plus
  team-labeled odd-year State of the Union paragraphs (1791-2023). Other registers (legal text,
  transcripts, social media) and other languages are out of distribution; pre-1900 prose is seen
  only in presidential messages.
- One label per paragraph: mixed paragraphs get the label whose reasoning carries the conclusion,
  which annotators themselves sometimes dispute (see `lean` rows in the dev set).
- The real dev set (119 paragraphs) chose the checkpoint and fitted the temperature, so its figures
  are optimistic; the team test split (held-out topics) is the less biased estimate for team-style
  text, and even-year State of the Union addresses are reserved for external evaluation.
- Short text (headlines, captions) carries little signal; expect `neither` with low confidence.
"""


def write_card(directory: Path, config: TrainConfig, report: dict[str, Any]) -> None:
    manifest = Manifest.load(directory)
    calibration = read_json(directory / "calibration.json", default={})
    real_dev = report["model"].get("real_dev", {})
    per_class = "\n".join(
        f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |"
        for label, c in real_dev.get("per_class", {}).items()
    )
    pairs = report.get("contrast_pairs", {})
    pair_lines = "\n".join(
        f"- {split}: {p['pairs']} pairs, both right {p['pair_accuracy']:.3f}, "
        f"paragraphs right {p['paragraph_accuracy']:.3f}"
        for split, p in pairs.items()
        if p.get("pairs")
    )
    probe = report.get("shortcut_probe")
    probe_line = (
        f"TF-IDF + logistic regression reaches {probe['tfidf_logreg_team_test_macro_f1']:.3f} macro-F1 on "
        f"the held-out-topic team test split (alarm at {probe['threshold']}): "
        + ("**the data is too easy**." if probe["too_easy"] else "below the alarm.")
        if probe
        else "not run."
    )
    training = report.get("training", {})
    tfidf_real = report.get("baselines", {}).get("tfidf_logreg", {}).get("real_dev", {}).get("macro_f1")
    versus_tfidf = ""
    if tfidf_real is not None and "macro_f1" in real_dev:
        gap = real_dev["macro_f1"] - tfidf_real
        versus_tfidf = (
            f"**On real text the model is {abs(gap) * 100:.1f} points {'above' if gap >= 0 else 'below'} "
            f"TF-IDF + logistic regression trained on the same data** ({real_dev['macro_f1']:.3f} vs "
            f"{tfidf_real:.3f} real-dev macro-F1)."
        )
        paired = report.get("versus_tfidf", {}).get("real_dev")
        if paired and "macro_f1_ci95" in real_dev:
            low, high = paired["difference_ci95"]
            versus_tfidf += (
                f" 95% bootstrap intervals (2,000 resamples of the 119 paragraphs): model macro-F1 "
                f"{real_dev['macro_f1_ci95'][0]:.3f}-{real_dev['macro_f1_ci95'][1]:.3f}; model minus TF-IDF, "
                f"paired, {low * 100:+.1f} to {high * 100:+.1f} points"
                + (", so the two are not distinguishable on this set." if low < 0 < high else ".")
            )
    gate = report.get("int8_gate")
    if gate:
        rows = "\n".join(
            f"| {split} | {c['agreement']:.3f} | {c['macro_f1_torch']:.3f} | {c['macro_f1_onnx']:.3f} |"
            if "agreement" in c
            else f"| {split} (fold models) | | {c['macro_f1_torch']:.3f} | {c['macro_f1_onnx']:.3f} |"
            for split, c in gate["splits"].items()
        )
        verdict = (
            (
                "passed: served by the int8 ONNX graph (`model.int8.onnx`"
                + (
                    ", rebuilt from the weights on install and used only if its SHA-256 is "
                    f"`{manifest.int8_sha256[:16]}...`, the gated graph's)"
                    if manifest.int8_sha256
                    else ")"
                )
            )
            if gate["passed"]
            else "**not passed**: the int8 graph was discarded; torch serves the model (fp32 compute)"
        )
        backend_section = (
            f"int8 gate (macro-F1 drop <= "
            f"{gate['max_macro_f1_drop']} on every split) {verdict}.\n\n"
            "| split | label agreement | macro-F1 fp32 | macro-F1 int8 |\n|---|---|---|---|\n" + rows
        )
    else:
        backend_section = f"served by {report.get('backend', 'torch')} (no int8 export configured)."
    seconds, threads = training.get("seconds", "?"), training.get("threads", "?")
    shipped = "model+tfidf" if config.model.bag_of_words_weight else "model"
    real_text = _real_text_section(report, shipped, read_json(directory / CV_PREDICTIONS))
    ece = f"ECE {calibration.get('ece_before')} -> {calibration.get('ece_after')}"
    nll = f"NLL {calibration.get('nll_before')} -> {calibration.get('nll_after')}"
    config_toml = _as_toml(config)
    best = training.get("best_step")
    checkpoint = (
        f"best real-dev checkpoint at step {best}" if best else "last weights kept (no checkpoint selection)"
    )
    distilled = training.get("distillation")
    pool = (
        f", plus {distilled['pool_paragraphs']} unlabeled odd-year SOTU paragraphs with the teacher's "
        "probabilities (`[distill]` below, `training/distill.py`)"
        if distilled
        else ""
    )
    text = f"""# {manifest.name} {manifest.version}

Labels each paragraph of foreign-policy writing `realist`, `liberal_internationalist` or `neither`
(standard: `docs/labeling-guide.md`). Fine-tuned from `{manifest.base_model}`
(sentence-transformers/all-MiniLM-L6-v2: BERT, 6 layers, 384 hidden, 22.7M parameters).

- Trained: {manifest.trained_at} in {seconds} s on {threads} CPU threads,
  {training.get("steps", "?")} steps, {checkpoint}
- Training data: {training.get("train_paragraphs", "?")} labeled paragraphs{pool};
  corpus SHA-256 `{manifest.corpus_sha256}`
- Windows: {manifest.window.max_length} tokens, stride {manifest.window.stride}, at most
  {manifest.window.max_windows} per paragraph (window logits averaged; beyond that, `truncated`)
- Calibration: temperature {calibration.get("temperature", 1.0)} fitted on the real dev set
  ({ece}, {nll})

## Intended use
Measuring which logic foreign-policy prose argues from, paragraph by paragraph, across many
documents (op-eds, reports, speeches), with calibrated probabilities for every label. Not for
judging individual authors, and not a substitute for reading the paragraphs that matter.

{real_text}

## Results (macro-F1; every baseline trained on the same training data)
`real_dev`: 119 real State of the Union paragraphs (odd years, never trained on).
`team_dev`: 10% of the team corpus. `team_test`: whole topics held out of training.

{markdown_table(report)}

{versus_tfidf}

Real dev, per class:

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

Contrast pairs (minimal edits that flip the label):
{pair_lines or "- none in the evaluated splits"}

Shortcut probe: {probe_line}

Backend: {backend_section}

Figures: `confusion_<split>.png`, `reliability_<split>.png`; all numbers: `metrics.json`.

## Known limits
{_LIMITS}
## Training config
```toml
{config_toml}```
"""
    (directory / CARD).write_text(text)


def _interval(entry: dict[str, Any]) -> str:
    low, high = entry["macro_f1_ci95"]
    return f"{entry['macro_f1']:.3f} ({low:.3f}-{high:.3f})"


def _real_text_section(report: dict[str, Any], shipped: str, rates: dict[str, Any] | None) -> str:
    """Cross-validation over the team-labeled SOTU rows and the live op-ed check, with intervals."""
    lines = ["## On real text (macro-F1 with 95% bootstrap intervals)"]
    cv = report.get("cv")
    if cv:
        lines += [
            "",
            "Grouped cross-validation over the team-labeled odd-year SOTU rows (`stance cv`; folds "
            f"{', '.join(map(str, cv['folds_done'].get('model', [])))} of the 5 in `data/cv_folds.json`;",
            "folds hold out whole years, each fold's models train on everything else, intervals resample",
            "years):",
            "",
            "| system | CV macro-F1 | minus TF-IDF, paired |",
            "|---|---|---|",
        ]
        for system, entry in cv["systems"].items():
            gap = cv.get("versus_tfidf", {}).get(system)
            shown = (
                f"{gap['difference'] * 100:+.1f} pts ({gap['difference_ci95'][0] * 100:+.1f} to "
                f"{gap['difference_ci95'][1] * 100:+.1f})"
                if gap
                else ""
            )
            name = f"**{system} (shipped)**" if system == shipped else system
            lines.append(f"| {name} | {_interval(entry['cv'])} | {shown} |")
        if rates:
            sources = rates.get("sources", ["cv"] * len(rates["ids"]))
            sampled = sources.count("random_sample")
            lines += [
                "",
                f"Error rates for `stance summarize` (`cv_predictions.json`): the shipped system's "
                f"{sources.count('cv'):,} out-of-fold predictions"
                + (
                    f", and its predictions on {sampled:,} randomly drawn unlabeled odd-year paragraphs "
                    "it never read (weighted to stand for every such paragraph), by vocabulary stratum"
                    if sampled
                    else ""
                )
                + ".",
            ]
    live = report.get("live_oped")
    if live:
        lines += [
            "",
            f"Live op-ed check ({next(iter(live.values()))['n']} real opinion and analysis paragraphs,",
            "from pages no corpus writer read; two blind annotators agree on each label; `stance live`;",
            "intervals resample pages):",
            "",
            "| system | live macro-F1 | F1 realist / liberal int. / neither |",
            "|---|---|---|",
        ]
        for system, entry in live.items():
            f1s = " / ".join(f"{c['f1']:.2f}" for c in entry["per_class"].values())
            lines.append(f"| {system} | {_interval(entry)} | {f1s} |")
    else:
        lines += ["", "Live op-ed check: not run for this build (`stance train --live-text FILE` adds it)."]
    return "\n".join(lines)


def _as_toml(config: TrainConfig) -> str:
    lines = []
    for section, values in config.model_dump().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is None:
                continue  # TOML has no null; an absent key loads back as the same None default
            rendered = repr(value).replace("'", '"') if not isinstance(value, bool) else str(value).lower()
            lines.append(f"{key} = {rendered}")
        lines.append("")
    text = "\n".join(lines)
    tomllib.loads(text)  # what the card shows must be a config one can train from
    return text
