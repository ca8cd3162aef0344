"""Which sentences a paragraph's label rests on, measured by leaving each one out (occlusion).

For a paragraph labeled L with calibrated probability p, the effect of one of its sentences is

    effect = p - q

where q is the calibrated probability of the same label L for the paragraph with that sentence left
out (the text before it joined to the text after it). All the copies of a paragraph are labeled in
one `predict` call, so the numbers are deterministic: the same text and model give the same effects.

What the number means:
- Positive: without this sentence the model is less sure of L; 0.25 means 25 percentage points less.
  The largest positive effects mark the sentences the label rests on.
- Negative: without it, L becomes *more* likely: the sentence pulls the other way (a view the
  paragraph sets out and then rejects, say).
- Near 0: the model's verdict does not depend on it.

What it does not mean:
- It describes this model, not the text: a sentence a reader finds decisive can show 0, and a
  large effect on a wrong label is still a wrong label.
- Effects do not add up to p, and a small one does not prove a sentence unimportant: two
  sentences making the same point each show little, since the other one still stands.
- It measures the drop of L only. Without a sentence, the model may prefer another label
  altogether; the effect then reads as large, and q is still L's probability.
- A paragraph minus a sentence is a text nobody wrote; some of the change may come from the seam.
- `None` means "not measured": the paragraph is one sentence (leaving it out leaves nothing to
  read), or the sentence comes after the first `max_sentences` (the explanation is then `capped`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model.segment import Sentence, split_sentences

if TYPE_CHECKING:
    from model.labeler import Prediction

# Explaining a paragraph of n sentences costs n + 1 model reads of it; the bound caps that cost.
MAX_SENTENCES = 24


@dataclass(frozen=True)
class SentenceEffect:
    """One sentence, `text[start:end]`, and how much the label's probability drops without it."""

    start: int
    end: int
    effect: float | None

    def to_dict(self, offset: int = 0) -> dict[str, Any]:
        """As the API and the batch script write it, with offsets moved by `offset`."""
        return {"start": self.start + offset, "end": self.end + offset, "effect": self.effect}


@dataclass(frozen=True)
class Explained:
    """A paragraph's prediction and the effect of each of its sentences on its label."""

    prediction: "Prediction"
    sentences: tuple[SentenceEffect, ...]
    capped: bool  # more sentences than the bound: those past it have effect None

    def explanation(self, offset: int = 0) -> list[dict[str, Any]]:
        """The `explanation` field: every sentence with its effect, offsets moved by `offset`."""
        return [sentence.to_dict(offset) for sentence in self.sentences]


@dataclass(frozen=True)
class Occlusion:
    """What to label to explain one paragraph: the paragraph, then a copy without each measured sentence.

    Split from the labeling so that the service can send `texts` through its shared micro-batcher;
    `explain_texts` is the whole round trip for callers that hold a `predict` function.
    """

    text: str
    sentences: tuple[Sentence, ...]
    measured: int  # the first `measured` sentences get a copy each

    @classmethod
    def of(cls, text: str, max_sentences: int = MAX_SENTENCES) -> "Occlusion":
        sentences = tuple(split_sentences(text))
        # One sentence alone cannot be left out: nothing would be left to read.
        measured = min(len(sentences), max_sentences) if len(sentences) > 1 else 0
        return cls(text, sentences, measured)

    @classmethod
    def whole(cls, text: str) -> "Occlusion":
        """Just the paragraph, no sentence left out: its `explain` is the prediction with no effects."""
        return cls(text, (), 0)

    @property
    def texts(self) -> list[str]:
        """The paragraph itself, then one copy per measured sentence with that sentence left out."""
        text = self.text
        copies = [
            f"{text[: s.start].rstrip()} {text[s.end :].lstrip()}".strip()
            for s in self.sentences[: self.measured]
        ]
        return [text, *copies]

    @property
    def cost(self) -> int:
        """Characters the model reads for `texts`, without building them."""
        left_out = sum(s.end - s.start for s in self.sentences[: self.measured])
        return (1 + self.measured) * len(self.text) - left_out

    @property
    def capped(self) -> bool:
        return len(self.sentences) > 1 and self.measured < len(self.sentences)

    def explain(self, predictions: "Sequence[Prediction]") -> Explained:
        """Effects from the predictions of `texts`, in the same order."""
        if len(predictions) != 1 + self.measured:
            raise ValueError(f"{len(predictions)} predictions for {1 + self.measured} texts")
        full, *without = predictions
        effects: list[float | None] = [round(full.score - p.scores[full.label], 6) for p in without]
        effects += [None] * (len(self.sentences) - self.measured)
        sentences = tuple(
            SentenceEffect(s.start, s.end, effect) for s, effect in zip(self.sentences, effects, strict=True)
        )
        return Explained(full, sentences, self.capped)


def explain_texts(
    predict: "Callable[[Sequence[str]], Sequence[Prediction]]",
    texts: Sequence[str],
    max_sentences: int = MAX_SENTENCES,
) -> list[Explained]:
    """Explain each text (a paragraph), labeling every copy of every text in a single `predict` call."""
    plans = [Occlusion.of(text, max_sentences) for text in texts]
    return assemble(plans, predict(all_texts(plans)))


def all_texts(plans: Sequence[Occlusion]) -> list[str]:
    """Every text the plans need labeled, plan after plan."""
    return [text for plan in plans for text in plan.texts]


def assemble(plans: Sequence[Occlusion], predictions: "Sequence[Prediction]") -> list[Explained]:
    """Each plan's explanation, from the predictions of `all_texts(plans)`."""
    explained = []
    position = 0
    for plan in plans:
        count = 1 + plan.measured
        explained.append(plan.explain(predictions[position : position + count]))
        position += count
    if position != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {position} texts")
    return explained
