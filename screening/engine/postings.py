"""Compact posting lists for the blocking indexes (screening.index and screening.resolve).

A key maps to a bare slot number while it has one entry and to a list once it has more: most
exact-date and document keys are unique, and a bare int costs nothing where a one-element list
costs 64 bytes. Pure: standard library only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from screening.engine.normalize import PartialDate


def exact_ordinal(dob: PartialDate | None) -> int | None:
    """A full, non-placeholder date of birth as an ordinal key; None when the date is partial."""
    if dob is None or dob.precision != "day" or dob.is_placeholder:
        return None
    return date(dob.year, dob.month, dob.day).toordinal()


def add_slot(d: dict, key: Any, slot: int) -> None:
    cur = d.get(key)
    if cur is None:
        d[key] = slot
    elif isinstance(cur, list):
        cur.append(slot)
    else:
        d[key] = [cur, slot]


def discard_slot(d: dict, key: Any, slot: int) -> None:
    cur = d.get(key)
    if cur is None:
        return
    if isinstance(cur, list):
        if slot in cur:
            cur.remove(slot)
        if len(cur) == 1:
            d[key] = cur[0]
        elif not cur:
            del d[key]
    elif cur == slot:
        del d[key]


def extend_slots(out: set[int], value: int | list[int] | None) -> None:
    if value is None:
        return
    if isinstance(value, list):
        out.update(value)
    else:
        out.add(value)
