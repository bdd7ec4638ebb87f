"""PURE: statistical disclosure control for tables and record extracts that leave the unit.

Two well-known methods, kept small enough to read:

* Tables: cell suppression. Primary suppression hides every count below k (the threshold rule; k
  defaults to 11, as the Counter Trafficking Data Collaborative publishes, so no visible figure counts
  fewer than 11 people). Secondary (complementary) suppression then hides more cells so that the
  published margins cannot be used to recompute a hidden one: the classic iterative heuristic used by
  statistical offices before optimisation methods (e.g. tau-Argus "hypercube"). Every *line* of the
  table (a row with its row total, a column with its column total, the totals row with the grand
  total) must hold either no hidden entry or at least two, and the hidden entries of a line must
  together hold at least k units, so subtraction only reveals "these hidden cells add up to n >= k".
  Complements are the smallest interior cells of the line (least information lost), margins last.

* Records: k-anonymity by the Datafly algorithm (Sweeney, 1998). While more than k records sit in
  equivalence classes (same quasi-identifier values) smaller than k, generalise the quasi-identifier
  with the most distinct values one level up its hierarchy; then suppress the records still in small
  classes. Every published combination of quasi-identifiers then describes at least k records.

Zero cells: a zero is published as 0 (policy: zeros are not counts of people, and hiding every zero
destroys most tables). A zero is never chosen as a complement while a non-zero cell is available,
because a hidden zero adds nothing to the protection level of its line. Callers that consider a
structural zero disclosive ("no child victims at this post") pass `suppress_zeros=True`, which
treats zeros as primary cells.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

DEFAULT_K = 11
HIDDEN = None  # the value a suppressed cell takes


@dataclass
class ProtectedTable:
    """A table after suppression. `grid` is the table extended with its margins (None = hidden).

    grid[i][j] for i < rows, j < cols is an interior cell; grid[i][cols] a row total; grid[rows][j]
    a column total; grid[rows][cols] the grand total.
    """

    grid: list[list[int | None]]
    rows: int
    cols: int
    primary: set[tuple[int, int]] = field(default_factory=set)
    secondary: set[tuple[int, int]] = field(default_factory=set)

    @property
    def cells(self) -> list[list[int | None]]:
        return [r[: self.cols] for r in self.grid[: self.rows]]

    @property
    def row_totals(self) -> list[int | None]:
        return [r[self.cols] for r in self.grid[: self.rows]]

    @property
    def col_totals(self) -> list[int | None]:
        return self.grid[self.rows][: self.cols]

    @property
    def total(self) -> int | None:
        return self.grid[self.rows][self.cols]

    @property
    def suppressed(self) -> set[tuple[int, int]]:
        return self.primary | self.secondary


def _lines(rows: int, cols: int, row_totals: bool, col_totals: bool) -> list[list[tuple[int, int]]]:
    """Each additive relation published with the table, as the positions it involves (margin last)."""
    lines: list[list[tuple[int, int]]] = []
    if row_totals:
        lines += [[(i, j) for j in range(cols)] + [(i, cols)] for i in range(rows)]
    if col_totals:
        lines += [[(i, j) for i in range(rows)] + [(rows, j)] for j in range(cols)]
    if row_totals and col_totals:
        lines.append([(rows, j) for j in range(cols)] + [(rows, cols)])  # totals row = grand total
        lines.append([(i, cols) for i in range(rows)] + [(rows, cols)])  # totals column = grand total
    return lines


def suppress_table(cells: Sequence[Sequence[int]], k: int = DEFAULT_K, *, row_totals: bool = True,
                   col_totals: bool = True, suppress_zeros: bool = False) -> ProtectedTable:
    """Primary suppression of counts below k, then complementary suppression over the published lines.

    Set `row_totals` / `col_totals` to False when those margins are not published: fewer relations
    need protecting, so fewer cells are hidden (a one-column table with a total uses
    `row_totals=False`).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    rows = len(cells)
    cols = len(cells[0]) if rows else 0
    if any(len(r) != cols for r in cells):
        raise ValueError("ragged table")
    if any(v < 0 for r in cells for v in r):
        raise ValueError("counts cannot be negative")
    values = [list(r) + [sum(r)] for r in cells]
    values.append([sum(cells[i][j] for i in range(rows)) for j in range(cols)]
                  + [sum(sum(r) for r in cells)])

    published = {(i, j) for i in range(rows) for j in range(cols)}
    if row_totals:
        published |= {(i, cols) for i in range(rows)}
    if col_totals:
        published |= {(rows, j) for j in range(cols)}
    if row_totals and col_totals:
        published.add((rows, cols))  # with one margin only, that margin's own total is the sum

    def sensitive(v: int) -> bool:
        return v < k and (v > 0 or suppress_zeros)

    primary = {(i, j) for (i, j) in published if sensitive(values[i][j])}
    hidden = set(primary)
    lines = _lines(rows, cols, row_totals, col_totals)

    lines_of: dict[tuple[int, int], list[list[tuple[int, int]]]] = {}
    for line in lines:
        for p in line:
            lines_of.setdefault(p, []).append(line)

    def _short(line) -> bool:
        in_line = [p for p in line if p in hidden]
        return bool(in_line) and (len(in_line) < 2 or sum(values[i][j] for i, j in in_line) < k)

    changed = True
    while changed:
        changed = False
        for line in lines:
            in_line = [p for p in line if p in hidden]
            if not in_line:
                continue
            amount = sum(values[i][j] for i, j in in_line)
            if len(in_line) >= 2 and amount >= k:
                continue
            candidates = [p for p in line if p not in hidden and p in published]
            if not candidates:
                continue  # the whole line is hidden already
            margin = line[-1]

            def rank(p, line=line, margin=margin):
                # Prefer a cell that also completes another line still short of protection: one
                # complement then does double duty (fewer cells hidden, less information lost).
                helps = sum(1 for other in lines_of[p] if other is not line and _short(other))
                return (p == margin, values[p[0]][p[1]] == 0, -helps, values[p[0]][p[1]], p)

            candidates.sort(key=rank)
            hidden.add(candidates[0])
            changed = True

    grid: list[list[int | None]] = [
        [(HIDDEN if (i, j) in hidden or (i, j) not in published else values[i][j]) for j in range(cols + 1)]
        for i in range(rows + 1)]
    return ProtectedTable(grid=grid, rows=rows, cols=cols, primary=primary, secondary=hidden - primary)


def suppress_counts(counts: Sequence[int], k: int = DEFAULT_K, *, total: bool = True,
                    suppress_zeros: bool = False) -> ProtectedTable:
    """One column of counts with (optionally) its total: the 1-D case of `suppress_table`."""
    return suppress_table([[c] for c in counts], k, row_totals=False, col_totals=total,
                          suppress_zeros=suppress_zeros)


# --- k-anonymity of record extracts ---------------------------------------------------------------

Hierarchy = Sequence[Callable[[Hashable], Hashable]]
SUPPRESSED = "*"


@dataclass
class AnonymisedExtract:
    records: list[dict]
    levels: dict[str, int]
    suppressed_records: int
    k: int

    def classes(self, quasi_identifiers: Sequence[str]) -> Counter:
        return Counter(tuple(r[q] for q in quasi_identifiers) for r in self.records)


def k_anonymise(records: Sequence[dict], quasi_identifiers: dict[str, Hierarchy], k: int = DEFAULT_K,
                *, max_suppressed: int | None = None) -> AnonymisedExtract:
    """Datafly: generalise the most varied quasi-identifier until few records remain in small classes.

    `quasi_identifiers` maps each column to its generalisation steps (functions from the original
    value to a coarser one; the last step should map everything to "*"). `max_suppressed` (default
    k) is how many records may be dropped instead of generalising further.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    max_suppressed = k if max_suppressed is None else max_suppressed
    levels = dict.fromkeys(quasi_identifiers, 0)
    names = list(quasi_identifiers)

    def view(record: dict) -> dict:
        out = dict(record)
        for q in names:
            if levels[q]:
                out[q] = quasi_identifiers[q][levels[q] - 1](record[q])
        return out

    while True:
        current = [view(r) for r in records]
        sizes = Counter(tuple(r[q] for q in names) for r in current)
        small = sum(n for n in sizes.values() if n < k)
        if small <= max_suppressed:
            break
        options = [q for q in names if levels[q] < len(quasi_identifiers[q])]
        if not options:
            break  # everything generalised to the top: the rest is suppressed below
        distinct = {q: len({r[q] for r in current}) for q in options}
        levels[max(options, key=lambda q: (distinct[q], -names.index(q)))] += 1

    kept = [r for r in current if sizes[tuple(r[q] for q in names)] >= k]
    return AnonymisedExtract(records=kept, levels=levels, suppressed_records=len(current) - len(kept), k=k)


def is_k_anonymous(records: Sequence[dict], quasi_identifiers: Sequence[str], k: int = DEFAULT_K) -> bool:
    sizes = Counter(tuple(r[q] for q in quasi_identifiers) for r in records)
    return all(n >= k for n in sizes.values())
