"""Small-cell suppression and k-anonymity, as a table of cases that reads like the specification."""

from __future__ import annotations

import random

import pytest

from tip_cases.reports.disclosure import (
    is_k_anonymous,
    k_anonymise,
    suppress_counts,
    suppress_table,
)


def _lines(p, row_totals=True, col_totals=True):
    R, C = p.rows, p.cols
    lines = []
    if row_totals:
        lines += [[(i, j) for j in range(C)] + [(i, C)] for i in range(R)]
    if col_totals:
        lines += [[(i, j) for i in range(R)] + [(R, j)] for j in range(C)]
    return lines


def recoverable(p, values, row_totals=True, col_totals=True) -> set:
    """An attacker's back-substitution: any line with one unknown left gives that unknown away."""
    known = {(i, j): v for i, row in enumerate(p.grid) for j, v in enumerate(row) if v is not None}
    found = set()
    changed = True
    while changed:
        changed = False
        for line in _lines(p, row_totals, col_totals):
            unknown = [q for q in line if q not in known]
            if len(unknown) != 1:
                continue
            (q,) = unknown
            margin = line[-1]
            if q == margin:
                known[q] = sum(known[x] for x in line[:-1])
            else:
                known[q] = known[margin] - sum(known[x] for x in line[:-1] if x != q)
            assert known[q] == values[q[0]][q[1]]
            found.add(q)
            changed = True
    return found


def full(cells):
    rows = [list(r) + [sum(r)] for r in cells]
    rows.append([sum(c) for c in zip(*cells, strict=True)] + [sum(map(sum, cells))])
    return rows


CASES = [
    # (name, cells, k, hidden interior cells expected)
    ("no small cells: nothing hidden", [[20, 30], [40, 50]], 11, set()),
    ("one small cell: a rectangle of four is hidden",
     [[20, 5, 30], [40, 50, 60], [12, 13, 14]], 11, {(0, 0), (0, 1), (2, 0), (2, 1)}),
    ("zeros are published and never chosen as complements while a count is available",
     [[0, 3, 40], [0, 30, 50], [0, 20, 60]], 11, {(0, 1), (0, 2), (2, 1), (2, 2)}),
    ("two small cells in a row protect each other only if they hold k together",
     [[6, 7, 50], [30, 40, 60], [25, 35, 45]], 11, {(0, 0), (0, 1)} | {(2, 0), (2, 1)}),
    ("small cells summing to at least k in one row still need column complements",
     [[6, 6, 50], [30, 40, 60]], 11, {(0, 0), (0, 1), (1, 0), (1, 1)}),
]


@pytest.mark.parametrize(("name", "cells", "k", "expected"), CASES, ids=[c[0] for c in CASES])
def test_table_suppression(name, cells, k, expected):
    p = suppress_table(cells, k)
    interior = {q for q in p.suppressed if q[0] < p.rows and q[1] < p.cols}
    assert interior == expected
    # Nothing visible is a small count, and no hidden cell can be recomputed from the margins.
    for i, row in enumerate(p.grid):
        for j, v in enumerate(row):
            assert v is None or v == 0 or v >= k, (i, j, v)
    assert not recoverable(p, full(cells)) & p.suppressed


def test_one_suppressed_cell_in_a_row_is_never_left_alone():
    # With the row total published, 4 alone could be recomputed as 184 - 50 - 60 - 70.
    p = suppress_table([[50, 4, 60, 70]], 11, col_totals=False)
    assert p.cells == [[None, None, 60, 70]] and p.row_totals == [184]
    assert p.primary == {(0, 1)} and p.secondary == {(0, 0)}


def test_one_column_with_total_hides_the_smallest_other_count():
    p = suppress_counts([3, 50, 60, 0])
    assert [r[0] for r in p.grid] == [None, None, 60, 0, 113]
    assert p.primary == {(0, 0)} and p.secondary == {(1, 0)}


def test_small_total_is_itself_hidden():
    p = suppress_counts([3, 4])
    assert [r[0] for r in p.grid] == [None, None, None]


def test_zero_policy_can_treat_zeros_as_sensitive():
    assert suppress_counts([0, 40, 50]).grid[0][0] == 0
    p = suppress_counts([0, 40, 50], suppress_zeros=True)
    assert p.grid[0][0] is None and p.grid[1][0] is None  # the zero plus a complement


def test_margins_only_where_published():
    p = suppress_table([[5, 40], [30, 40]], 11, row_totals=False, col_totals=True)
    assert p.row_totals == [None, None] and p.total is None
    assert p.col_totals == [35, 80]


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_never_disclose_a_hidden_cell(seed):
    rng = random.Random(seed)
    rows, cols = rng.randint(1, 6), rng.randint(1, 6)
    cells = [[rng.choice([0, 1, 2, 5, 9, 10, 11, 12, 30, 80, 200]) for _ in range(cols)] for _ in range(rows)]
    p = suppress_table(cells, 11)
    assert not recoverable(p, full(cells)) & p.suppressed
    assert all(v is None or v == 0 or v >= 11 for row in p.grid for v in row)


def test_invalid_tables_are_refused():
    with pytest.raises(ValueError):
        suppress_table([[1, 2], [3]], 11)
    with pytest.raises(ValueError):
        suppress_table([[-1]], 11)
    with pytest.raises(ValueError):
        suppress_table([[1]], 0)


# --- k-anonymity ----------------------------------------------------------------------------------

QI = {
    "sex": [lambda _v: "*"],
    "age": [lambda v: "adult" if v != "0-17" else "minor", lambda _v: "*"],
    "country": [lambda v: v if v in ("LSO", "ZAF") else "other", lambda _v: "*"],
}


def _records():
    out = []
    for i in range(60):
        out.append({"sex": "F" if i % 3 else "M", "age": ["18-24", "25-34", "0-17"][i % 3],
                    "country": ["LSO", "ZAF", "BWA", "SWZ", "MOZ"][i % 5], "flag": i % 2})
    out.append({"sex": "M", "age": "0-17", "country": "ZWE", "flag": 1})  # a unique outlier
    return out


def test_datafly_makes_every_combination_describe_k_records():
    result = k_anonymise(_records(), QI, k=11)
    assert is_k_anonymous(result.records, list(QI), 11)
    assert len(result.records) + result.suppressed_records == 61
    assert result.suppressed_records <= 11
    assert any(result.levels.values())  # something had to be generalised
    assert all(r["country"] in ("LSO", "ZAF", "other", "*") for r in result.records)
    assert {r["flag"] for r in result.records} == {0, 1}  # non-identifying columns pass through


def test_already_anonymous_data_is_left_alone():
    records = [{"sex": "F", "age": "18-24", "country": "LSO"}] * 12
    result = k_anonymise(records, QI, k=11)
    assert result.levels == {"sex": 0, "age": 0, "country": 0} and result.records == records


def test_fewer_than_k_records_are_all_suppressed():
    result = k_anonymise(_records()[:5], QI, k=11)
    assert result.records == [] and result.suppressed_records == 5
