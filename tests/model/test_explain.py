"""Occlusion explanations: each sentence's effect is the label's probability drop without it."""

from collections.abc import Sequence

import pytest

from model.explain import Occlusion, explain_texts
from model.labeler import Labeler, Prediction
from model.segment import split_sentences

PARAGRAPH = (
    "Great powers compete for security, whatever they sign. An alliance lasts only while interests "
    "align.\nWhen they part, treaties are paper. Only the balance of power keeps the peace."
)


class CountingPredict:
    """A labeler's `predict` that records each call."""

    def __init__(self, labeler: Labeler) -> None:
        self.labeler = labeler
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls.append(list(texts))
        return self.labeler.predict(texts)


def test_effect_is_the_drop_without_each_sentence(decisive_labeler: Labeler) -> None:
    explained = decisive_labeler.explain(PARAGRAPH)
    full = decisive_labeler.predict([PARAGRAPH])[0]
    assert explained.prediction == full
    sentences = split_sentences(PARAGRAPH)
    assert [(s.start, s.end) for s in explained.sentences] == [(s.start, s.end) for s in sentences]
    assert not explained.capped
    for effect, sentence in zip(explained.sentences, sentences, strict=True):
        without = PARAGRAPH[: sentence.start] + " " + PARAGRAPH[sentence.end :]
        assert PARAGRAPH[sentence.start : sentence.end] not in without
        expected = full.score - decisive_labeler.predict([without])[0].scores[full.label]
        assert effect.effect == pytest.approx(expected, abs=2e-6)
    # The decisive tiny model moves by points when a sentence goes, both ways across this paragraph.
    assert max(abs(s.effect or 0) for s in explained.sentences) > 0.005


def test_one_model_call_and_deterministic(decisive_labeler: Labeler) -> None:
    counting = CountingPredict(decisive_labeler)
    first = explain_texts(counting, [PARAGRAPH])[0]
    assert len(counting.calls) == 1 and len(counting.calls[0]) == 1 + len(split_sentences(PARAGRAPH))
    assert explain_texts(counting, [PARAGRAPH])[0] == first


def test_several_paragraphs_share_one_call_and_match_one_by_one(decisive_labeler: Labeler) -> None:
    texts = [PARAGRAPH, "Law binds nations. Courts settle their quarrels.", "A single sentence here."]
    counting = CountingPredict(decisive_labeler)
    together = explain_texts(counting, texts)
    assert len(counting.calls) == 1
    for explained, text in zip(together, texts, strict=True):
        alone = decisive_labeler.explain(text)
        assert explained.prediction.label == alone.prediction.label
        assert [s.effect for s in explained.sentences] == pytest.approx(
            [s.effect for s in alone.sentences], abs=1e-5
        )


def test_a_single_sentence_is_not_measured(decisive_labeler: Labeler) -> None:
    counting = CountingPredict(decisive_labeler)
    (explained,) = explain_texts(counting, ["  Power decides everything in the end.  "])
    assert counting.calls == [["  Power decides everything in the end.  "]]  # nothing to leave it out of
    assert [(s.start, s.end, s.effect) for s in explained.sentences] == [(2, 38, None)]
    assert not explained.capped


def test_the_bound_caps_the_cost_and_says_so(decisive_labeler: Labeler) -> None:
    counting = CountingPredict(decisive_labeler)
    (explained,) = explain_texts(counting, [PARAGRAPH], max_sentences=2)
    assert len(counting.calls[0]) == 3  # the paragraph and two copies
    assert explained.capped
    assert [s.effect is None for s in explained.sentences] == [False, False, True, True]
    plan = Occlusion.of(PARAGRAPH, max_sentences=2)
    assert plan.cost == sum(len(text) for text in plan.texts) + 2  # each copy also loses a space


def test_offsets_move_into_the_document() -> None:
    plan = Occlusion.of("One point. Another point.")
    prediction = Prediction(
        "neither", 0.5, {"realist": 0.2, "liberal_internationalist": 0.3, "neither": 0.5}, 5, 1, False
    )
    lower = Prediction(
        "neither", 0.4, {"realist": 0.3, "liberal_internationalist": 0.3, "neither": 0.4}, 3, 1, False
    )
    higher = Prediction(
        "realist", 0.7, {"realist": 0.7, "liberal_internationalist": 0.1, "neither": 0.2}, 3, 1, False
    )
    explained = plan.explain([prediction, lower, higher])
    # Without the first sentence `neither` drops 0.1; without the second it drops 0.3 (another label wins).
    assert explained.explanation(offset=100) == [
        {"start": 100, "end": 110, "effect": 0.1},
        {"start": 111, "end": 125, "effect": 0.3},
    ]
    with pytest.raises(ValueError, match="2 predictions for 3 texts"):
        plan.explain([prediction, lower])
