"""Temperature scaling (Guo et al., 2017): one scalar that makes confidences match accuracy."""

import numpy as np

from model.labeler import softmax


def negative_log_likelihood(logits: np.ndarray, gold: np.ndarray, temperature: float) -> float:
    probs = softmax(logits / temperature)
    return float(-np.log(np.clip(probs[np.arange(len(gold)), gold], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature minimising dev-set NLL: a log-spaced grid, then a finer grid around the best."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
    best = min(grid, key=lambda t: negative_log_likelihood(logits, gold, t))
    fine = np.linspace(best / 1.05, best * 1.05, 101)
    return round(float(min(fine, key=lambda t: negative_log_likelihood(logits, gold, t))), 4)
