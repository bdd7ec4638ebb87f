# ruff: noqa: S608  -- DDL assembled from fixed fragments in this module; no value from outside reaches it
"""SQL of the statistics rollups (migration 0014_stat_rollups): tables, triggers and the rebuild.

The rollups are kept by database triggers, so every writer of crossings and flags keeps them exact
in its own transaction: the API, imports, attach, merges and splits, re-resolution, a COPY, retention.
PostgreSQL uses statement-level triggers with transition tables (one grouped upsert per statement,
in key order, so concurrent writers lock rollup rows in the same order); SQLite uses row triggers
(one writer at a time). The local day uses the fixed UTC offset stored in stat_rollup_state, the
same offset the live queries use (tip_cases.reports.stats._offset_minutes).

Pure text: no Flask, no models. The migration imports it; a change to this SQL needs a new migration
that re-runs install().
"""

from __future__ import annotations

AGE_BANDS = [("0-11", 11), ("12-17", 17), ("18-24", 24), ("25-34", 34), ("35-49", 49)]
TRACKED = ("traveller_id", "border_post_id", "crossed_at", "direction", "sex", "nationality", "dob_year",
           "dob_month", "dob_day")
TABLES = ("stat_crossings_daily", "stat_crossings_people", "stat_traveller_days",
          "stat_flags_daily")


def _band(age: str, dob_year: str) -> str:
    whens = " ".join(f"WHEN {age} <= {high} THEN '{label}'" for label, high in AGE_BANDS)
    return f"CASE WHEN {dob_year} IS NULL THEN 'unknown' ELSE (CASE {whens} ELSE '50+' END) END"


class _Dialect:
    """Expressions over a row alias `r` whose local time uses the offset expression `off`."""

    def __init__(self, name: str, off: str):
        self.name, self.off = name, off

    def local(self, col: str) -> str:
        return f"(({col} AT TIME ZONE 'UTC') + make_interval(mins => {self.off}))"

    def day(self, col: str) -> str:
        if self.name == "postgresql":
            return f"CAST({self.local(col)} AS date)"
        return f"date({col}, printf('%+d minutes', {self.off}))"

    def month(self, col: str) -> str:
        if self.name == "postgresql":
            return f"CAST(date_trunc('month', {self.local(col)}) AS date)"
        return f"date({col}, printf('%+d minutes', {self.off}), 'start of month')"

    def ymd(self, col: str) -> str:
        if self.name == "postgresql":
            return f"CAST(to_char({self.local(col)}, 'YYYYMMDD') AS integer)"
        return f"CAST(strftime('%Y%m%d', {col}, printf('%+d minutes', {self.off})) AS INTEGER)"

    def age_band(self, r: str) -> str:
        born = f"({r}.dob_year * 10000 + COALESCE({r}.dob_month, 1) * 100 + COALESCE({r}.dob_day, 1))"
        return _band(f"(({self.ymd(r + '.crossed_at')} - {born}) / 10000)", f"{r}.dob_year")

    def sex(self, r: str) -> str:
        return f"CASE WHEN {r}.sex IN ('F', 'M') THEN {r}.sex ELSE 'X' END"

    def nat(self, r: str) -> str:
        return f"COALESCE({r}.nationality, 'unknown')"

    def unresolved(self, r: str) -> str:
        return f"CASE WHEN {r}.traveller_id IS NULL THEN 1 ELSE 0 END"


def _count_upserts(d: _Dialect, src: str, sign: str) -> list[str]:
    """Grouped signed deltas from `src` (rows aliased r, with a column `sign` unless sign is a literal)."""
    daily = (f"INSERT INTO stat_crossings_daily (day, border_post_id, direction, n) "
             f"SELECT {d.day('r.crossed_at')}, r.border_post_id, r.direction, SUM({sign}) FROM {src} "
             f"WHERE {d.day('r.crossed_at')} IS NOT NULL "
             f"GROUP BY 1, 2, 3 HAVING SUM({sign}) <> 0 ORDER BY 1, 2, 3 "
             f"ON CONFLICT (day, border_post_id, direction) DO UPDATE SET n = stat_crossings_daily.n + excluded.n")
    people = (f"INSERT INTO stat_crossings_people (day, border_post_id, sex, age_band, nationality, "
              f"unresolved, n) SELECT {d.day('r.crossed_at')}, r.border_post_id, {d.sex('r')}, {d.age_band('r')}, "
              f"{d.nat('r')}, {d.unresolved('r')}, SUM({sign}) FROM {src} WHERE {d.day('r.crossed_at')} IS NOT NULL "
              f"GROUP BY 1, 2, 3, 4, 5, 6 "
              f"HAVING SUM({sign}) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 "
              f"ON CONFLICT (day, border_post_id, sex, age_band, nationality, unresolved) "
              f"DO UPDATE SET n = stat_crossings_people.n + excluded.n")
    return [daily, people]


def _tids(src: str) -> str:
    """The travellers of the rows in `src` (aliased r), as a subquery of ids."""
    return f"(SELECT DISTINCT r.traveller_id FROM {src} WHERE r.traveller_id IS NOT NULL)"


def _traveller_recompute(d: _Dialect, keys_src: str, months: bool) -> list[str]:
    """Delete and recompute, from crossings, the (day, post, traveller) rows, and before 0027 the (month,
    traveller) rows, of the travellers in `keys_src` (rows aliased r): a recount is exact where a delta cannot
    keep a minimum."""
    out = []
    tables = [("stat_traveller_days", d.day("{a}.crossed_at"), "day, border_post_id, traveller_id",
               "c.border_post_id = k.border_post_id AND")]
    if months:
        tables.append(("stat_traveller_months", d.month("{a}.crossed_at"), "month, traveller_id", ""))
    for table, key, cols, join in tables:
        per_post = "border_post_id" in cols
        kcols = f"{key.format(a='r')} AS p, " + ("r.border_post_id, " if per_post else "") + "r.traveller_id"
        keys = (f"(SELECT DISTINCT {kcols} FROM {keys_src} WHERE r.traveller_id IS NOT NULL "
                f"AND {key.format(a='r')} IS NOT NULL)")
        first = cols.split(",")[0]
        match = f"s.{first} = k.p AND s.traveller_id = k.traveller_id" + (
            " AND s.border_post_id = k.border_post_id" if per_post else "")
        # The travellers as an array, evaluated once: PostgreSQL then reads the rollup and crossings
        # through their traveller_id indexes (a transition table has no statistics, and a join on it
        # was planned as a scan of every crossing).
        tids = _tids(keys_src)
        in_tids = (f" = ANY(ARRAY{tids})" if d.name == "postgresql" else f" IN {tids}")
        out.append(f"DELETE FROM {table} WHERE {table}.traveller_id{in_tids} AND EXISTS (SELECT 1 FROM {keys} k "
                   f"WHERE {match.replace('s.', table + '.')})")
        group = "k.p, " + ("k.border_post_id, " if per_post else "") + "k.traveller_id"
        out.append(f"INSERT INTO {table} ({cols}, n, first_at) SELECT {group}, COUNT(*), MIN(c.crossed_at) "
                   f"FROM {keys} k JOIN crossings c ON c.traveller_id = k.traveller_id AND {join} "
                   f"{key.format(a='c')} = k.p WHERE c.traveller_id{in_tids} GROUP BY {group} ORDER BY {group} "
                   f"ON CONFLICT ({cols}) DO UPDATE SET n = excluded.n, first_at = excluded.first_at")
    return out


def _traveller_delta_pg(d: _Dialect, src: str, removing: bool, months: bool) -> list[str]:
    """PostgreSQL: add or remove the crossings of `src` (rows aliased r) in the distinct-person tables.

    Adding is an upsert (count plus, earliest time kept); removing subtracts, re-reads the first time
    from crossings only where the removed crossings held it, and drops rows left empty. Only the
    keys concerned are read, through the rollups' primary keys and the crossings' traveller_id index.
    """
    out = []
    tables = [("stat_traveller_days", d.day, "day", True)] + ([("stat_traveller_months", d.month, "month", False)]
                                                             if months else [])
    for table, key, first, per_post in tables:
        cols = f"{first}, " + ("border_post_id, " if per_post else "") + "traveller_id"
        keys = (f"SELECT {key('r.crossed_at')} AS p, " + ("r.border_post_id, " if per_post else "")
                + f"r.traveller_id, COUNT(*) AS cnt, MIN(r.crossed_at) AS mn FROM {src} "
                + f"WHERE r.traveller_id IS NOT NULL AND {key('r.crossed_at')} IS NOT NULL GROUP BY 1, 2"
                + (", 3" if per_post else ""))
        if not removing:
            out.append(f"INSERT INTO {table} ({cols}, n, first_at) SELECT k.p, "
                       + ("k.border_post_id, " if per_post else "") + f"k.traveller_id, k.cnt, k.mn FROM ({keys}) k "
                       f"ORDER BY 1, 2" + (", 3" if per_post else "") + f" ON CONFLICT ({cols}) DO UPDATE SET "
                       f"n = {table}.n + excluded.n, first_at = LEAST({table}.first_at, excluded.first_at)")
            continue
        t = table
        post_match = f" AND {t}.border_post_id = k.border_post_id" if per_post else ""
        c_post = f" AND c.border_post_id = {t}.border_post_id" if per_post else ""
        out.append(f"UPDATE {t} SET n = {t}.n - k.cnt, first_at = CASE WHEN {t}.n > k.cnt "
                   f"AND k.mn <= {t}.first_at THEN COALESCE((SELECT MIN(c.crossed_at) FROM crossings c "
                   f"WHERE c.traveller_id = {t}.traveller_id{c_post} AND {key('c.crossed_at')} = {t}.{first}), "
                   f"{t}.first_at) ELSE {t}.first_at END FROM ({keys}) k WHERE {t}.{first} = k.p "
                   f"AND {t}.traveller_id = k.traveller_id{post_match}")
        out.append(f"DELETE FROM {t} USING ({keys}) k WHERE {t}.{first} = k.p AND {t}.traveller_id = k.traveller_id"
                   f"{post_match} AND {t}.n <= 0")
    return out


# Each (day, post, traveller) row points at the traveller's row before it: prev_day in (day, post) order over all
# posts, prev_post_day at the same post. A row whose pointer falls before a period's first day (or is empty) is
# the traveller's first in the period, so counting persons in any period is a filter, not a GROUP BY over every
# traveller-day (tip_cases.reports.stats._rollup_firsts; docs/performance.md, session 11).
_PREV = ("lag(day) OVER (PARTITION BY traveller_id ORDER BY day, border_post_id)",
         "lag(day) OVER (PARTITION BY traveller_id, border_post_id ORDER BY day)")


# Above this many rows in one statement the pointers are re-read by a hash semi-join, not by an array of
# traveller ids: a bitmap scan over a large set of the rollup's rows turns lossy, and its recheck compares each
# row with every id of the array in turn (an InitPlan array is not hashed): a 2M-row INSERT was still running
# after 15 minutes where the join takes seconds (docs/performance.md, session 12). Below it the array keeps a
# batch on the traveller_id index instead of a scan of every traveller-day.
PREV_BULK_ROWS = 20_000


def _prev_refresh_pg(src: str, day: str, bulk: bool = True, since: bool = True) -> str:
    """Re-point the rows of the travellers of `src` (rows aliased r): an upsert in key order, so concurrent
    writers lock rollup rows in one order, as every other rollup statement does. With `bulk`, a PL/pgSQL
    branch on the statement's size (PREV_BULK_ROWS); without it, the array form alone (0027's triggers).

    With `since` (0031), the small branch reads only the rows from the statement's first day (`day` of r's
    crossed_at) on: a row added or removed moves the pointers of the rows after it, never of those before, and
    the rows after it find theirs by two index probes each. An API batch of crossings of today then reads a row
    or two per traveller, where the lag over all their rows read a decade of them (~18,000 rows for 500
    travellers at 20M; docs/performance.md, sessions 30 and 31)."""

    t = "stat_traveller_days"

    def upsert(rows: str) -> str:
        """The changed pointers of `rows` (a rollup row's columns with pd and ppd, the pointers it should have)."""
        return (f"INSERT INTO {t} (day, border_post_id, traveller_id, n, first_at, prev_day, "
                f"prev_post_day) SELECT day, border_post_id, traveller_id, n, first_at, pd, ppd FROM ({rows}) x "
                f"WHERE prev_day IS DISTINCT FROM pd OR prev_post_day IS DISTINCT FROM ppd ORDER BY 1, 2, 3 "
                f"ON CONFLICT (day, border_post_id, traveller_id) DO UPDATE SET prev_day = excluded.prev_day, "
                f"prev_post_day = excluded.prev_post_day")

    def lagged(where: str) -> str:
        return f"SELECT *, {_PREV[0]} AS pd, {_PREV[1]} AS ppd FROM {t} WHERE traveller_id {where}"

    tids = _tids(src)
    if since:
        small = upsert(
            f"SELECT s.*, (SELECT p.day FROM {t} p WHERE p.traveller_id = s.traveller_id "
            f"AND (p.day, p.border_post_id) < (s.day, s.border_post_id) "
            f"ORDER BY p.day DESC, p.border_post_id DESC LIMIT 1) AS pd, "
            f"(SELECT p.day FROM {t} p WHERE p.traveller_id = s.traveller_id AND p.border_post_id = s.border_post_id "
            f"AND p.day < s.day ORDER BY p.day DESC LIMIT 1) AS ppd FROM {t} s "
            f"WHERE s.traveller_id = ANY(ARRAY{tids}) "
            f"AND s.day >= (SELECT MIN({day}) FROM {src} WHERE r.traveller_id IS NOT NULL)")
    else:
        small = upsert(lagged(f"= ANY(ARRAY{tids})"))
    if not bulk:
        return small
    return (f"IF (SELECT COUNT(*) FROM {src}) <= {PREV_BULK_ROWS} THEN\n    {small};\n  ELSE\n    "
            f"{upsert(lagged(f'IN {tids}'))};\n  END IF")


def _prev_refresh_sqlite(tid: str) -> str:
    """SQLite (a row trigger, one traveller): the pointers as correlated maxima over the traveller's rows."""
    t = "stat_traveller_days"
    return (f"UPDATE {t} SET prev_day = (SELECT MAX(p.day) FROM {t} p WHERE p.traveller_id = {t}.traveller_id "
            f"AND (p.day < {t}.day OR (p.day = {t}.day AND p.border_post_id < {t}.border_post_id))), "
            f"prev_post_day = (SELECT MAX(p.day) FROM {t} p WHERE p.traveller_id = {t}.traveller_id "
            f"AND p.border_post_id = {t}.border_post_id AND p.day < {t}.day) WHERE {t}.traveller_id = {tid}")


def _flag_upsert(d: _Dialect, src: str, sign: str) -> str:
    return (f"INSERT INTO stat_flags_daily (day, border_post_id, n) "
            f"SELECT {d.day('r.created_at')}, r.border_post_id, SUM({sign}) FROM {src} "
            f"WHERE {d.day('r.created_at')} IS NOT NULL "
            f"GROUP BY 1, 2 HAVING SUM({sign}) <> 0 ORDER BY 1, 2 "
            f"ON CONFLICT (day, border_post_id) DO UPDATE SET n = stat_flags_daily.n + excluded.n")


def _changed(old: str, new: str) -> str:
    """An update that moves a crossing in the rollups; pseudonymisation never does (figures survive)."""
    moved = " OR ".join(f"{old}.{c} IS DISTINCT FROM {new}.{c}" if c != "crossed_at" else
                        f"{old}.{c} <> {new}.{c}" for c in TRACKED)
    return f"({moved}) AND NOT ({old}.pseudonymised_at IS NULL AND {new}.pseudonymised_at IS NOT NULL)"


_OFF_SELECT = "(SELECT offset_minutes FROM stat_rollup_state WHERE id = 1)"


def postgresql_install(prev_days: bool = True, bulk: bool = True, since: bool = True) -> list[str]:
    """Functions and statement triggers on crossings and flags (PostgreSQL 10+); without the prev_day pointers
    for the migrations before 0027, whose tables do not have them; `bulk=False` gives 0027's pointer refresh
    (one form whatever the statement's size), for its downgrade from 0028; `since=False` the refresh of 0028-0030
    (every row of the statement's travellers), for theirs from 0031."""
    d = _Dialect("postgresql", "off")
    ins = "(SELECT * FROM new_rows) r"
    dele = "(SELECT * FROM old_rows) r"
    moved = (f"(SELECT o.*, -1 AS sign FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {_changed('o', 'n')} "
             f"UNION ALL SELECT n.*, 1 AS sign FROM old_rows o JOIN new_rows n ON n.id = o.id "
             f"WHERE {_changed('o', 'n')}) r")
    moved_out = f"(SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {_changed('o', 'n')}) r"
    moved_in = f"(SELECT n.* FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {_changed('o', 'n')}) r"

    def body(stmts: list[str]) -> str:
        return ";\n  ".join(stmts) + ";"

    months = not prev_days  # before 0027: the monthly table, no pointers

    def prev(src: str) -> list[str]:
        return [_prev_refresh_pg(src, d.day("r.crossed_at"), bulk, since)] if prev_days else []

    out = []
    for name, stmts in (
            ("stat_crossings_ins", _count_upserts(d, ins, "1") + _traveller_delta_pg(d, ins, False, months)
             + prev(ins)),
            ("stat_crossings_del", _count_upserts(d, dele, "-1") + _traveller_delta_pg(d, dele, True, months)
             + prev(dele)),
            ("stat_crossings_upd", _count_upserts(d, moved, "r.sign") + _traveller_delta_pg(d, moved_out, True, months)
             + _traveller_delta_pg(d, moved_in, False, months) + prev(moved)),
            ("stat_flags_ins", [_flag_upsert(d, ins, "1")]),
            ("stat_flags_del", [_flag_upsert(d, dele, "-1")]),
            ("stat_flags_upd", [_flag_upsert(d, "(SELECT o.*, -1 AS sign FROM old_rows o UNION ALL "
                                                "SELECT n.*, 1 AS sign FROM new_rows n) r", "r.sign")])):
        out.append(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
                   f"DECLARE off integer;\nBEGIN\n  SELECT offset_minutes INTO off FROM stat_rollup_state "
                   f"WHERE id = 1;\n"
                   # No state row: rollups not built, readers use live queries.
                   f"  IF off IS NULL THEN\n    RETURN NULL;\n  END IF;\n  {body(stmts)}\n  RETURN NULL;\nEND\n$fn$")
    for table, prefix in (("crossings", "stat_crossings"), ("flags", "stat_flags")):
        out += [
            f"CREATE TRIGGER {prefix}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_ins()",
            f"CREATE TRIGGER {prefix}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_del()",
            f"CREATE TRIGGER {prefix}_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_upd()",
        ]
    return out


def postgresql_uninstall() -> list[str]:
    out = []
    for table, prefix in (("crossings", "stat_crossings"), ("flags", "stat_flags")):
        for op in ("ins", "del", "upd"):
            out.append(f"DROP TRIGGER IF EXISTS {prefix}_{op} ON {table}")
            out.append(f"DROP FUNCTION IF EXISTS {prefix}_{op}()")
    return out


def sqlite_install(prev_days: bool = True) -> list[str]:
    """Row triggers: SQLite has one writer at a time, so per-row upserts cannot deadlock."""
    d = _Dialect("sqlite", _OFF_SELECT)

    def one(alias: str, sign: int) -> str:
        cols = ", ".join(f"{alias}.{c} AS {c}" for c in TRACKED + ("created_at",))
        return f"(SELECT {cols}, {sign} AS sign) r"

    def trig(name: str, event: str, stmts: list[str], when: str = "") -> str:
        body = ";\n  ".join(stmts)
        # No state row: rollups not built, readers use live queries.
        cond = "EXISTS (SELECT 1 FROM stat_rollup_state WHERE id = 1)" + (f" AND ({when})" if when else "")
        return f"CREATE TRIGGER {name} AFTER {event} FOR EACH ROW WHEN {cond} BEGIN\n  {body};\nEND"

    tracked = ", ".join(TRACKED)
    old, new = one("OLD", -1), one("NEW", 1)
    months = not prev_days  # before 0027: the monthly table, no pointers

    def prev(*aliases: str) -> list[str]:
        return [_prev_refresh_sqlite(f"{a}.traveller_id") for a in aliases] if prev_days else []

    out = [
        trig("stat_crossings_ins", "INSERT ON crossings", _count_upserts(d, new, "r.sign")
             + _traveller_recompute(d, new, months) + prev("NEW")),
        trig("stat_crossings_del", "DELETE ON crossings", _count_upserts(d, old, "r.sign")
             + _traveller_recompute(d, old, months) + prev("OLD")),
        trig("stat_crossings_upd", f"UPDATE OF {tracked} ON crossings",
             _count_upserts(d, old, "r.sign") + _count_upserts(d, new, "r.sign")
             + _traveller_recompute(d, old, months) + _traveller_recompute(d, new, months) + prev("OLD", "NEW"),
             when=_changed("OLD", "NEW").replace("IS DISTINCT FROM", "IS NOT")),
    ]
    fold, fnew = (f"(SELECT {a}.created_at AS created_at, {a}.border_post_id AS border_post_id, {s} AS sign) r"
                  for a, s in (("OLD", -1), ("NEW", 1)))
    out += [
        trig("stat_flags_ins", "INSERT ON flags", [_flag_upsert(d, fnew, "r.sign")]),
        trig("stat_flags_del", "DELETE ON flags", [_flag_upsert(d, fold, "r.sign")]),
        trig("stat_flags_upd", "UPDATE OF created_at, border_post_id ON flags",
             [_flag_upsert(d, fold, "r.sign"), _flag_upsert(d, fnew, "r.sign")]),
    ]
    return out


def sqlite_uninstall() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {p}_{op}" for p in ("stat_crossings", "stat_flags")
            for op in ("ins", "del", "upd")]


def prev_fill(dialect: str) -> str:
    """Point every row of stat_traveller_days at the traveller's row before it (both databases)."""
    t = "stat_traveller_days"
    differ = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return (f"UPDATE {t} SET prev_day = x.pd, prev_post_day = x.ppd FROM (SELECT day, border_post_id, "
            f"traveller_id, {_PREV[0]} AS pd, {_PREV[1]} AS ppd FROM {t}) AS x WHERE {t}.day = x.day "
            f"AND {t}.border_post_id = x.border_post_id AND {t}.traveller_id = x.traveller_id "
            f"AND ({t}.prev_day {differ} x.pd OR {t}.prev_post_day {differ} x.ppd)")


def install(dialect: str, prev_days: bool = True, bulk: bool = True, since: bool = True) -> list[str]:
    return postgresql_install(prev_days, bulk, since) if dialect == "postgresql" else sqlite_install(prev_days)


def uninstall(dialect: str) -> list[str]:
    return postgresql_uninstall() if dialect == "postgresql" else sqlite_uninstall()


def rebuild(dialect: str, prev_days: bool = True) -> list[str]:
    """Empty every rollup and recount it from crossings and flags (the offset already set); prev_days=False
    gives the layout before 0027 (a monthly distinct table, no pointers) for the migrations before it."""
    d = _Dialect(dialect, _OFF_SELECT)
    out = [f"DELETE FROM {t}" for t in TABLES + (() if prev_days else ("stat_traveller_months",))]
    src = "crossings r"
    out += _count_upserts(d, src, "1")
    out.append(f"INSERT INTO stat_traveller_days (day, border_post_id, traveller_id, n, first_at) "
               f"SELECT {d.day('r.crossed_at')}, r.border_post_id, r.traveller_id, COUNT(*), MIN(r.crossed_at) "
               f"FROM crossings r WHERE r.traveller_id IS NOT NULL AND {d.day('r.crossed_at')} IS NOT NULL "
               f"GROUP BY 1, 2, 3")
    if prev_days:
        out.append(prev_fill(dialect))
    else:  # before 0027
        out.append(f"INSERT INTO stat_traveller_months (month, traveller_id, n, first_at) "
                   f"SELECT {d.month('r.crossed_at')}, r.traveller_id, COUNT(*), MIN(r.crossed_at) "
                   f"FROM crossings r WHERE r.traveller_id IS NOT NULL AND {d.month('r.crossed_at')} IS NOT NULL "
                   f"GROUP BY 1, 2")
    out.append(_flag_upsert(d, "flags r", "1"))
    return out
