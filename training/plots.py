"""PNG figures for reports: confusion matrix and reliability diagram."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np


def confusion_matrix_png(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str, path: Path
) -> None:
    data = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    ax.imshow(data, cmap="Blues")
    short = [label.replace("_internationalist", "_intl") for label in labels]
    ax.set_xticks(range(len(labels)), short, rotation=20)
    ax.set_yticks(range(len(labels)), short)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            color = "white" if data[i, j] > data.max() / 2 else "black"
            ax.text(j, i, str(data[i, j]), ha="center", va="center", color=color)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability_png(
    confidence: np.ndarray, correct: np.ndarray, title: str, path: Path, bins: int = 10
) -> None:
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    centers, accuracy, counts = [], [], []
    for b in range(bins):
        members = index == b
        if members.any():
            centers.append(confidence[members].mean())
            accuracy.append(correct[members].mean())
            counts.append(int(members.sum()))
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(centers, accuracy, "o-", label="model")
    for x, y, n in zip(centers, accuracy, counts, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("confidence (calibrated top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
