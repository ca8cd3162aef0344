"""A TF-IDF + logistic-regression member of the model: words alone, stored without pickle.

On real text the fine-tuned transformer and a bag of words make different mistakes, and averaging
their probabilities beats either (measured in docs/experiments.md). So a model directory may hold
this second member: `bag_of_words.json` (vocabulary and settings) and `bag_of_words.safetensors`
(idf, coefficients, intercept). Inference re-implements scikit-learn's TfidfVectorizer (default
token pattern, lowercase, word n-grams, sublinear tf, l2 norm) and the multinomial logistic
regression in NumPy, so serving needs neither scikit-learn nor pickle; a test holds the two equal.
"""

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SETTINGS = "bag_of_words.json"
WEIGHTS = "bag_of_words.safetensors"
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern


@dataclass(frozen=True)
class BagOfWords:
    """TF-IDF features and a linear layer; `labels` is the column order of `coef`."""

    vocabulary: dict[str, int]
    ngram_range: tuple[int, int]
    idf: np.ndarray
    coef: np.ndarray  # (labels, features)
    intercept: np.ndarray
    labels: tuple[str, ...]
    weight: float  # this member's share of the averaged probabilities

    def _terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's non-zero features: (columns, l2-normalised sublinear tf-idf values)."""
        low, high = self.ngram_range
        tokens = TOKEN.findall(text.lower())
        grams = Counter(
            " ".join(tokens[i : i + n]) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)
        )
        found = [(self.vocabulary[g], count) for g, count in grams.items() if g in self.vocabulary]
        columns = np.array([c for c, _ in found], dtype=np.int64)
        values = np.array([(1.0 + math.log(n)) * self.idf[c] for c, n in found], dtype=np.float64)
        norm = np.linalg.norm(values)
        return columns, values / norm if norm > 0 else values

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities in `labels` order; each row depends on its own text only."""
        scores = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            columns, values = self._terms(text)
            scores[row] += self.coef[:, columns] @ values
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, directory: Path) -> None:
        from safetensors.numpy import save_file

        settings = {
            "ngram_range": list(self.ngram_range),
            "labels": list(self.labels),
            "weight": self.weight,
            "vocabulary": self.vocabulary,
        }
        (directory / SETTINGS).write_text(json.dumps(settings, separators=(",", ":")) + "\n")
        # float32 on disk: the shipped directory must stay under 50 MB, and it moves probabilities < 1e-6.
        arrays = {"idf": self.idf, "coef": self.coef, "intercept": self.intercept}
        save_file({k: v.astype(np.float32) for k, v in arrays.items()}, str(directory / WEIGHTS))

    @staticmethod
    def remove(directory: Path) -> None:
        """Delete a directory's member, if it has one."""
        for name in (SETTINGS, WEIGHTS):
            (directory / name).unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> "BagOfWords | None":
        """The directory's bag-of-words member, or None when it has none."""
        if not (directory / SETTINGS).exists():
            return None
        from safetensors.numpy import load_file

        settings = json.loads((directory / SETTINGS).read_text())
        arrays = load_file(str(directory / WEIGHTS))
        low, high = settings["ngram_range"]
        return cls(
            vocabulary=settings["vocabulary"],
            ngram_range=(low, high),
            idf=arrays["idf"].astype(np.float64),
            coef=arrays["coef"].astype(np.float64),
            intercept=arrays["intercept"].astype(np.float64),
            labels=tuple(settings["labels"]),
            weight=float(settings["weight"]),
        )

    @classmethod
    def from_sklearn(cls, pipeline: Any, labels: Sequence[str], weight: float) -> "BagOfWords":
        """Convert a fitted TfidfVectorizer + LogisticRegression pipeline, reordering to `labels`."""
        vectorizer, classifier = pipeline[0], pipeline[-1]
        order = [list(classifier.classes_).index(label) for label in labels]
        return cls(
            vocabulary={str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
            ngram_range=tuple(vectorizer.ngram_range),
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
            coef=np.asarray(classifier.coef_[order], dtype=np.float64),
            intercept=np.asarray(classifier.intercept_[order], dtype=np.float64),
            labels=tuple(labels),
            weight=weight,
        )
