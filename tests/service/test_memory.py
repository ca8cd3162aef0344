"""The allocator setting `stance serve` makes at start."""

import ctypes.util
import platform

import pytest

from service.memory import fix_mmap_threshold


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_the_mmap_threshold_is_fixed_on_glibc() -> None:
    assert ctypes.util.find_library("c")
    assert fix_mmap_threshold() is True
