"""The engine's memos: bounded, registered, and emptied together (what the scheduler does after each slice)."""

from __future__ import annotations

from screening.engine import memo
from screening.engine.normalize import canonical, normalize_address


def test_a_registered_memo_caches_until_cleared():
    calls = []

    @memo.memo(maxsize=4)
    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    assert [double(1), double(1), double(2)] == [2, 2, 4]
    assert calls == [1, 2]  # the second call of 1 came from the memo
    assert memo.sizes()[f"{__name__}.test_a_registered_memo_caches_until_cleared.<locals>.double"] == 2
    for x in range(10):
        double(x)
    assert double.cache_info().currsize == 4  # bounded, as lru_cache is
    assert memo.clear() >= 4
    assert double.cache_info().currsize == 0
    double(1)
    assert calls[-1] == 1  # computed again after the clear


def test_clear_empties_the_engines_growing_memos():
    canonical("tjhabalala")
    normalize_address("12 Main Rd, Maseru")
    held = memo.sizes()
    assert held["screening.engine.normalize.canonical"] >= 1
    assert held["screening.engine.normalize.normalize_address"] >= 1
    assert memo.clear() >= 2
    assert set(memo.sizes().values()) == {0}
    assert canonical("tjhabalala") == "chabalala"  # still right once emptied
