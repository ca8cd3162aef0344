"""The label schema. Its order is the model's output order and is saved in every model directory."""

from typing import Final, Literal

LABELS: Final[tuple[str, ...]] = ("realist", "liberal_internationalist", "neither")
Label = Literal["realist", "liberal_internationalist", "neither"]
STANCE_LABELS: Final[tuple[str, ...]] = ("realist", "liberal_internationalist")

ID2LABEL: Final[dict[int, str]] = dict(enumerate(LABELS))
LABEL2ID: Final[dict[str, int]] = {label: i for i, label in ID2LABEL.items()}


def check_label(value: object) -> str:
    """Return `value` if it is a known label, else raise a ValueError naming the valid ones."""
    if value not in LABEL2ID:
        raise ValueError(f"unknown label {value!r}; expected one of {', '.join(LABELS)}")
    return str(value)
