# ruff: noqa: S608  -- DDL assembled from fixed fragments in this module; no value from outside reaches it
"""Crossings partitioned by month on PostgreSQL (migration 0022_crossings_partitioned; issue 10).

Why this shape (docs/operations.md, "Crossings partitioned by month"):
- `crossings` is PARTITION BY RANGE (crossed_at), one partition per UTC month (crossings_pYYYYMM) and a
  DEFAULT partition, so an insert for a month nobody created a partition for is stored, never refused.
- PostgreSQL wants the partition key in every unique constraint: the primary key is (id, crossed_at)
  and the table's unique key is (source, external_id, crossed_at); one crossing per (source, external_id)
  is kept by the plain table crossing_keys (migration 0023, below). `id` still comes from one sequence,
  so it stays unique, and the ORM keeps `id` alone as the mapper's primary key.
- A foreign key can reference a partitioned table only through such a composite key, so the four tables
  that point at a crossing (flags, match_judgements, traveller_judgement_crossings, post_flags) keep
  `crossing_id` alone, and triggers do what the foreign keys did: an insert or a change of crossing_id
  must name an existing crossing (locked FOR KEY SHARE, as the foreign key check does), and a crossing
  still referenced cannot be deleted.
- `crossings_ensure_partitions(n)` creates the partitions of this month and the next n months, and one
  for every month found in the default partition, moving those rows into it; the scheduler's
  `crossing-partitions` job calls it daily.

Pure text: no Flask, no models. A change to this SQL needs a new migration that re-runs it.
"""

from __future__ import annotations

import re
from datetime import datetime

REFERENCING = ("flags", "match_judgements", "traveller_judgement_crossings", "post_flags")
MONTHS_AHEAD = 3

# Column list of the parent, in order, for moving rows between tables of the same shape.
_COLUMNS = ("(SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = 'crossings'::regclass AND attnum > 0 AND NOT attisdropped)")

ADD_PARTITION = f"""
CREATE OR REPLACE FUNCTION crossings_add_partition(month date) RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  m date := CAST(date_trunc('month', month) AS date);
  lo timestamptz := CAST(m AS timestamp) AT TIME ZONE 'UTC';
  hi timestamptz := CAST(m + interval '1 month' AS timestamp) AT TIME ZONE 'UTC';
  part text := 'crossings_p' || to_char(m, 'YYYYMM');
  cols text;
BEGIN
  -- One creator at a time (the nightly job and a manager's command), until this transaction ends.
  PERFORM pg_advisory_xact_lock(hashtext('crossings_add_partition'));
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM crossings_default WHERE crossed_at >= lo AND crossed_at < hi) THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF crossings FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
  END IF;
  -- The default partition holds rows of that month: a new partition may not overlap them, so the default
  -- is detached, the month's rows move, and it is attached again, all in this transaction (writers wait
  -- on the lock; nothing is refused or lost).
  cols := {_COLUMNS};
  ALTER TABLE crossings DETACH PARTITION crossings_default;
  EXECUTE format('CREATE TABLE %I PARTITION OF crossings FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM crossings_default WHERE crossed_at >= %L AND crossed_at < %L',
                 part, cols, cols, lo, hi);
  DELETE FROM crossings_default WHERE crossed_at >= lo AND crossed_at < hi;
  ALTER TABLE crossings ATTACH PARTITION crossings_default DEFAULT;
  RETURN true;
END
$fn$"""

ENSURE_PARTITIONS = """
CREATE OR REPLACE FUNCTION crossings_ensure_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  made integer := 0;
  m date;
BEGIN
  FOR m IN SELECT CAST(g AS date) FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                                                       date_trunc('month', now() AT TIME ZONE 'UTC')
                                                       + make_interval(months => months_ahead), interval '1 month') g
  LOOP
    IF crossings_add_partition(m) THEN made := made + 1; END IF;
  END LOOP;
  FOR m IN SELECT DISTINCT CAST(date_trunc('month', crossed_at AT TIME ZONE 'UTC') AS date) FROM crossings_default
  LOOP
    IF crossings_add_partition(m) THEN made := made + 1; END IF;
  END LOOP;
  RETURN made;
END
$fn$"""

REF_CHECK = """
CREATE OR REPLACE FUNCTION crossings_ref_check() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.crossing_id IS NOT NULL THEN
    PERFORM 1 FROM crossings WHERE id = NEW.crossing_id FOR KEY SHARE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'insert or update on table "%" violates foreign key: crossing % does not exist',
        TG_TABLE_NAME, NEW.crossing_id USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  RETURN NULL;
END
$fn$"""

# A row that moves to another month's partition (crossed_at corrected) is deleted from one partition and
# inserted into another: it still exists by id, and its references stay valid.
REF_GUARD = f"""
CREATE OR REPLACE FUNCTION crossings_ref_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF ({" OR ".join(f"EXISTS (SELECT 1 FROM {t} WHERE crossing_id = OLD.id)" for t in REFERENCING)})
     AND NOT EXISTS (SELECT 1 FROM crossings WHERE id = OLD.id) THEN
    RAISE EXCEPTION 'delete from table "crossings" violates foreign key: crossing % is still referenced',
      OLD.id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$fn$"""


def create_table(name: str) -> str:
    """The partitioned table, same columns, defaults and NOT NULLs as `name` (the table it replaces)."""
    return f"CREATE TABLE crossings (LIKE {name} INCLUDING DEFAULTS) PARTITION BY RANGE (crossed_at)"


# Constraints and indexes on the parent (they propagate to every partition, present and future).
CONSTRAINTS = (
    "ALTER TABLE crossings ADD CONSTRAINT pk_crossings PRIMARY KEY (id, crossed_at)",
    "ALTER TABLE crossings ADD CONSTRAINT uq_crossings_source_external_id UNIQUE (source, external_id, crossed_at)",
    "ALTER TABLE crossings ADD CONSTRAINT fk_crossings_api_client_id_api_clients FOREIGN KEY (api_client_id) "
    "REFERENCES api_clients (id)",
    "ALTER TABLE crossings ADD CONSTRAINT fk_crossings_border_post_id_border_posts FOREIGN KEY (border_post_id) "
    "REFERENCES border_posts (id)",
    "ALTER TABLE crossings ADD CONSTRAINT fk_crossings_captured_by_user_id_users FOREIGN KEY (captured_by_user_id) "
    "REFERENCES users (id)",
    "ALTER TABLE crossings ADD CONSTRAINT fk_crossings_traveller_id_travellers FOREIGN KEY (traveller_id) "
    "REFERENCES travellers (id)",
    "CREATE INDEX ix_crossings_crossed_at ON crossings (crossed_at)",
    "CREATE INDEX ix_crossings_document_number ON crossings (document_number)",
    "CREATE INDEX ix_crossings_post_crossed_at ON crossings (border_post_id, crossed_at)",
    "CREATE INDEX ix_crossings_stats ON crossings (crossed_at, border_post_id, direction, traveller_id)",
    "CREATE INDEX ix_crossings_traveller_id ON crossings (traveller_id)",
)


def referential_triggers() -> list[str]:
    out = [REF_CHECK, REF_GUARD]
    for t in REFERENCING:
        out.append(f"CREATE TRIGGER {t}_crossing_ref AFTER INSERT OR UPDATE OF crossing_id ON {t} "
                   f"FOR EACH ROW EXECUTE FUNCTION crossings_ref_check()")
    out.append("CREATE TRIGGER crossings_ref_guard AFTER DELETE ON crossings FOR EACH ROW "
               "EXECUTE FUNCTION crossings_ref_guard()")
    return out


def drop_referential_triggers() -> list[str]:
    out = [f"DROP TRIGGER IF EXISTS {t}_crossing_ref ON {t}" for t in REFERENCING]
    out += ["DROP TRIGGER IF EXISTS crossings_ref_guard ON crossings",
            "DROP FUNCTION IF EXISTS crossings_ref_guard()", "DROP FUNCTION IF EXISTS crossings_ref_check()"]
    return out


def foreign_keys() -> list[str]:
    """The plain foreign keys to crossings(id) of before the partitioning (for the downgrade)."""
    return [f"ALTER TABLE {t} ADD CONSTRAINT fk_{t}_crossing_id_crossings FOREIGN KEY (crossing_id) "
            f"REFERENCES crossings (id)" for t in REFERENCING]


def drop_foreign_keys() -> list[str]:
    return [f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS fk_{t}_crossing_id_crossings" for t in REFERENCING]


_PARTITION_NAME = re.compile(r"^crossings_(p\d{6}|default)(_|$)")


_KEY_LOG = ("traveller_key_changes", "ix_traveller_key_changes")  # screening.key_changes: PostgreSQL's alone


def by_design(name: str | None, type_: str, *, postgresql: bool) -> bool:
    """Schema objects that differ from the models on PostgreSQL on purpose (this module's docstring): the
    partitions and their copies of the indexes, the idempotency key with crossed_at, the foreign keys
    to crossings.id that triggers replace, and the log of key changes (screening.key_changes). The models
    describe SQLite's plain table; autogenerate (migrations/env.py) and the models-versus-migrations test
    leave these alone."""
    if not postgresql or not name:
        return False
    if type_ in ("table", "index"):
        return bool(_PARTITION_NAME.match(name)) or name.startswith(_KEY_LOG)
    if type_ == "unique_constraint":
        return name == "uq_crossings_source_external_id"
    if type_ == "foreign_key_constraint":
        return name in {f"fk_{t}_crossing_id_crossings" for t in REFERENCING}
    return False


def is_partitioned(conn) -> bool:
    """Whether crossings is a partitioned table here (a SQLAlchemy connection on any dialect)."""
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
                                  "WHERE partrelid = to_regclass('crossings'))")).scalar())


def ensure(session, months_ahead: int = MONTHS_AHEAD) -> int | None:
    """Create the coming months' partitions (and empty the default partition); None when not partitioned."""
    from sqlalchemy import text

    conn = session.connection()
    if not is_partitioned(conn):
        return None
    return int(conn.execute(text("SELECT crossings_ensure_partitions(:n)"), {"n": months_ahead}).scalar_one())


def add_months(session, first: datetime, last: datetime) -> int:
    """Partitions for every month from `first` to `last` (UTC), before a bulk load of history, so the rows
    go straight to their month instead of the default partition; 0 when not partitioned."""
    from sqlalchemy import text

    conn = session.connection()
    if not is_partitioned(conn):
        return 0
    return int(conn.execute(text(
        "SELECT count(*) FILTER (WHERE crossings_add_partition(CAST(m AS date))) FROM generate_series("
        "date_trunc('month', CAST(:a AS timestamptz) AT TIME ZONE 'UTC'), "
        "date_trunc('month', CAST(:b AS timestamptz) AT TIME ZONE 'UTC'), interval '1 month') m"),
        {"a": first, "b": last}).scalar_one())


# --- one crossing per (source, external_id), across all months (migration 0023_crossing_keys) ----------
#
# `crossing_keys` is a plain table with (source, external_id) as its primary key. store_crossings claims
# a batch's keys there first (INSERT ... ON CONFLICT DO NOTHING RETURNING) and stores only the crossings
# it won; a concurrent sender of the same external id waits on the claim and is told "duplicate". This
# trigger is the backstop for every other way a crossing gets in (COPY loaders, an ORM insert, an
# operator's SQL): it writes the key of a crossing that has none, and a crossing whose key another
# crossing holds fails with unique_violation. One statement per INSERT or COPY, not one per row.

KEYS_FILL_PG = """
CREATE OR REPLACE FUNCTION crossing_keys_fill() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO crossing_keys (source, external_id, crossing_id, crossed_at)
  SELECT n.source, n.external_id, n.id, n.crossed_at FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM crossing_keys k WHERE k.source = n.source AND k.external_id = n.external_id
                    AND k.crossing_id = n.id);
  RETURN NULL;
END
$fn$"""

KEYS_TRIGGER_PG = ("CREATE TRIGGER crossing_keys_fill AFTER INSERT ON crossings REFERENCING NEW TABLE AS new_rows "
                   "FOR EACH STATEMENT EXECUTE FUNCTION crossing_keys_fill()")

KEYS_TRIGGER_SQLITE = """
CREATE TRIGGER crossing_keys_fill AFTER INSERT ON crossings FOR EACH ROW
WHEN NOT EXISTS (SELECT 1 FROM crossing_keys WHERE source = NEW.source AND external_id = NEW.external_id
                 AND crossing_id = NEW.id)
BEGIN
  INSERT INTO crossing_keys (source, external_id, crossing_id, crossed_at)
  VALUES (NEW.source, NEW.external_id, NEW.id, NEW.crossed_at);
END"""

# An installation upgraded to 0023 gets the key of every stored crossing: on PostgreSQL the first (lowest
# id) of each key, should two senders have raced before session 5's advisory locks (the later ones keep no
# key and are counted by the migration); SQLite's plain table never allowed two.
def keys_backfill(dialect: str) -> str:
    if dialect == "postgresql":
        return ("INSERT INTO crossing_keys (source, external_id, crossing_id, crossed_at) "
                "SELECT DISTINCT ON (source, external_id) source, external_id, id, crossed_at FROM crossings "
                "ORDER BY source, external_id, id")
    return ("INSERT INTO crossing_keys (source, external_id, crossing_id, crossed_at) "
            "SELECT source, external_id, id, crossed_at FROM crossings")


def key_triggers(dialect: str) -> list[str]:
    return [KEYS_FILL_PG, KEYS_TRIGGER_PG] if dialect == "postgresql" else [KEYS_TRIGGER_SQLITE]


def drop_key_triggers(dialect: str) -> list[str]:
    out = ["DROP TRIGGER IF EXISTS crossing_keys_fill" + (" ON crossings" if dialect == "postgresql" else "")]
    if dialect == "postgresql":
        out.append("DROP FUNCTION IF EXISTS crossing_keys_fill()")
    return out
