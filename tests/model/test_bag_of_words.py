"""The NumPy bag-of-words member reproduces scikit-learn's TF-IDF + logistic regression exactly."""

from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from model.bag_of_words import BagOfWords
from model.labels import LABELS

TRAIN = [
    ("Our interest, and the balance of forces on the ground, decide whether we stay.", "realist"),
    ("Power respects power; the rival will only bargain when deterrence is credible.", "realist"),
    ("Leverage, not trust, is what a treaty with a rival can rest on.", "realist"),
    (
        "The charter binds every member, and the court's rulings must be obeyed by all.",
        "liberal_internationalist",
    ),
    (
        "Democracies that share rules and institutions keep the peace among themselves.",
        "liberal_internationalist",
    ),
    ("Human rights are an obligation the whole community of nations owes.", "liberal_internationalist"),
    ("The summit opened on Tuesday; delegates arrived from forty countries.", "neither"),
    ("The treaty was signed in 1987 and entered into force the following year.", "neither"),
    ("Subscribe to our weekly newsletter for more analysis from our fellows.", "neither"),
]


def test_matches_scikit_learn_and_survives_a_round_trip(tmp_path: Path) -> None:
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=2000),
    ).fit([t for t, _ in TRAIN], [y for _, y in TRAIN])
    member = BagOfWords.from_sklearn(pipeline, LABELS, weight=0.4)
    member.save(tmp_path)
    loaded = BagOfWords.load(tmp_path)
    assert loaded is not None and loaded.weight == 0.4 and loaded.labels == LABELS
    texts = [
        "The Court's ruling binds every member state, interest or no interest.",
        "A treaty signed in 1987; the summit was on Tuesday. Treaty, treaty, treaty!",
        "Nothing in this text is in the vocabulary: zebra quokka.",
        "ÉLAN des démocraties: les droits de l'homme",
    ]
    expected = pipeline.predict_proba(texts)[:, [list(pipeline.classes_).index(label) for label in LABELS]]
    np.testing.assert_allclose(loaded.probabilities(texts), expected, atol=1e-6)
    # One text alone scores exactly as inside a batch.
    np.testing.assert_array_equal(loaded.probabilities(texts[1:2])[0], loaded.probabilities(texts)[1])


def test_a_directory_without_the_member_loads_none(tmp_path: Path) -> None:
    assert BagOfWords.load(tmp_path) is None
