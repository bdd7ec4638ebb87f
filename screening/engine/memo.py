"""Memos whose size follows the variety of the data seen, in one registry so a batch process can empty them.

Each is bounded (`functools.lru_cache`), so a web worker keeps them: attach meets the same names and dates
again and again. The scheduler is different: its rules read a decade's denser neighbourhoods slice after
slice, and memos kept between slices fill with every spelling and birth date met in the run, four times
as many at 20M crossings as at 100k (docs/performance.md, session 25). Emptied after each slice, a memo
holds what one slice met, and a slice reads the same number of crossings at any size.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

_MEMOS: list[Any] = []


def memo(maxsize: int) -> Callable[[Callable], Any]:
    """`functools.lru_cache(maxsize)`, registered for `clear`."""
    def wrap(fn: Callable) -> Any:
        cached = lru_cache(maxsize=maxsize)(fn)
        _MEMOS.append(cached)
        return cached
    return wrap


def sizes() -> dict[str, int]:
    """Entries held per memo, by qualified name (for probes and tests)."""
    return {f"{m.__module__}.{m.__qualname__}": m.cache_info().currsize for m in _MEMOS}


def clear() -> int:
    """Empty every registered memo; the entries dropped. Safe beside other threads (lru_cache locks)."""
    dropped = 0
    for m in _MEMOS:
        dropped += m.cache_info().currsize
        m.cache_clear()
    return dropped
