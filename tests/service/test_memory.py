"""The model calls of `stance serve` hand freed heap memory back to the system."""

import platform
from collections.abc import Sequence

import pytest

import service.memory
from service.memory import returning_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_glibc_malloc_trim_is_found_and_runs() -> None:
    trim = service.memory._malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)  # 1: memory was released, 0: there was none to release


def test_every_model_call_is_followed_by_a_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []

    def trim(pad: int) -> int:
        trims.append(pad)
        return 1

    monkeypatch.setattr(service.memory, "_malloc_trim", lambda: trim)

    def predict(texts: Sequence[str]) -> list[int]:
        if "boom" in texts:
            raise ValueError("boom")
        return [len(t) for t in texts]

    wrapped = returning_memory(predict)
    assert wrapped(["ab", "c"]) == [2, 1]
    with pytest.raises(ValueError, match="boom"):
        wrapped(["boom"])
    assert trims == [0, 0]


def test_without_malloc_trim_predict_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service.memory, "_malloc_trim", lambda: None)

    def predict(texts: Sequence[str]) -> list[str]:
        return list(texts)

    assert returning_memory(predict) is predict
