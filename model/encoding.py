"""Tokenisation, windowing and batching: the one preprocessing path shared by training and inference.

A paragraph longer than the model's window is not cut: it is split into overlapping windows whose
logits the Labeler averages. Only beyond `max_windows` windows is the tail dropped, and the
prediction then says `truncated`.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


@dataclass(frozen=True)
class WindowConfig:
    """How paragraphs are cut into model inputs; saved in the model directory's `stance.json`."""

    max_length: int = 256  # tokens per window, special tokens included
    stride: int = 64  # tokens shared by consecutive windows, so no sentence loses its context
    max_windows: int = 8  # beyond this a paragraph is truncated (8 windows ~ 1,200 words)


@dataclass(frozen=True)
class Encoded:
    """Windows of a list of paragraphs; `owner[k]` is the paragraph that window k belongs to."""

    windows: list[list[int]]
    owner: list[int]
    n_tokens: list[int]
    n_windows: list[int]
    truncated: list[bool]


def load_tokenizer(directory: Path, config: WindowConfig) -> Tokenizer:
    """The fast (Rust) tokenizer from `tokenizer.json`, set to cut overlapping windows.

    Used directly rather than through transformers so that serving with ONNX never imports torch.
    """
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()  # batches are padded by `pad`, after length bucketing
    tokenizer.enable_truncation(max_length=config.max_length, stride=config.stride)
    return tokenizer


def encode(tokenizer: Tokenizer, texts: Sequence[str], config: WindowConfig) -> Encoded:
    """Tokenise `texts` into windows of at most `config.max_length` tokens (see `load_tokenizer`)."""
    windows: list[list[int]] = []
    owner: list[int] = []
    n_tokens = [0] * len(texts)
    n_windows = [0] * len(texts)
    truncated = [False] * len(texts)
    for paragraph, encoding in enumerate(tokenizer.encode_batch(list(texts))):
        for window in [encoding, *encoding.overflowing]:
            content = len(window.ids) - 2  # [CLS] ... [SEP]
            # Every window after the first repeats `stride` tokens of the one before it.
            n_tokens[paragraph] += content if n_windows[paragraph] == 0 else content - config.stride
            if n_windows[paragraph] >= config.max_windows:
                truncated[paragraph] = True
                continue
            n_windows[paragraph] += 1
            windows.append(window.ids)
            owner.append(paragraph)
    return Encoded(windows, owner, n_tokens, n_windows, truncated)


def length_buckets(
    lengths: Sequence[int], token_budget: int, max_batch: int, max_padding: float = 1.25
) -> Iterator[list[int]]:
    """Yield batches of indices, sorted by length, each padding to at most `token_budget` tokens.

    Sorting first means each batch pads to a length close to its members' own; `max_padding` caps the
    padded size at that multiple of the real tokens, because a few paragraphs of mixed lengths (an API
    micro-batch) would otherwise all pad to the longest. The budget bounds memory and latency.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batch: list[int] = []
    real = 0
    for index in order:
        padded_if_added = lengths[index] * (len(batch) + 1)  # sorted: the newcomer is the longest
        if batch and (
            padded_if_added > token_budget
            or len(batch) >= max_batch
            or padded_if_added > max_padding * (real + lengths[index])
        ):
            yield batch
            batch, real = [], 0
        batch.append(index)
        real += lengths[index]
    if batch:
        yield batch


def pad(windows: Sequence[Sequence[int]], pad_id: int) -> dict[str, np.ndarray]:
    """Right-pad windows into the int64 arrays a BERT encoder takes."""
    width = max(len(w) for w in windows)
    input_ids = np.full((len(windows), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(windows), width), dtype=np.int64)
    for row, window in enumerate(windows):
        input_ids[row, : len(window)] = window
        attention_mask[row, : len(window)] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": np.zeros_like(input_ids),
    }
