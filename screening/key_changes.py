"""Which traveller keys changed since a snapshot: lets a batch read its candidates' keys before it takes the
key locks (PostgreSQL only).

Attach reads every probe key of a batch (~6,500 index probes of a decade's `traveller_keys` for 500 API
crossings) and, until migration 0032, did so under the key locks, while the other worker's batch waited
(docs/performance.md, session 31: 15 % of a batch's wall time, half of it under the locks). Now the batch
reads the keys first, then locks, then reads again only the keys another transaction changed in between.

Every statement that writes `traveller_keys` logs, through a statement trigger, the keys it touched and its
transaction id in the UNLOGGED table `traveller_key_changes` (a statement of more than 20,000 rows, such as a
rebuild, logs NULL: "everything"). A reader takes `snapshot()` before its read and, once it holds the
locks, `changed_since()` lists the keys of the log rows committed after that snapshot
(`pg_visible_in_snapshot`): a writer of one of its keys either committed before the lock was granted, and its
rows are visible, or it waits for the reader's locks. Unlogged is enough: a crash ends every reader too.

The trigger prunes rows older than a minute as it goes (one writer at a time, under a try-lock on advisory
slot (0x7453, 1025), beside screening.online's key slots: writers never wait for one another here), recording
the highest pruned transaction id; a reader whose snapshot is older than that reads everything again, so
pruning can never hide a change. SQLite has one writer and no key locks: nothing to log there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# In the SQL below: a statement writing more than 20,000 keys (a rebuild, a re-resolution's refresh) logs NULL;
# rows older than a minute are pruned (a reader waits seconds for its locks).
TABLE = "traveller_key_changes"

INSTALL = [
    """CREATE UNLOGGED TABLE traveller_key_changes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        xid bigint NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        keys bigint[])""",
    "CREATE INDEX ix_traveller_key_changes_xid ON traveller_key_changes (xid)",
    "CREATE INDEX ix_traveller_key_changes_at ON traveller_key_changes (at)",
    "CREATE UNLOGGED TABLE traveller_key_changes_pruned (id integer PRIMARY KEY, through bigint NOT NULL)",
    """CREATE FUNCTION traveller_keys_log() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        gone bigint;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO traveller_key_changes (xid, keys)
            SELECT pg_current_xact_id()::text::bigint,
                   CASE WHEN count(*) > 20000 THEN NULL ELSE array_agg(DISTINCT key) END
            FROM new_rows HAVING count(*) > 0;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO traveller_key_changes (xid, keys)
            SELECT pg_current_xact_id()::text::bigint,
                   CASE WHEN count(*) > 20000 THEN NULL ELSE array_agg(DISTINCT key) END
            FROM old_rows HAVING count(*) > 0;
        ELSE
            INSERT INTO traveller_key_changes (xid, keys)
            SELECT pg_current_xact_id()::text::bigint,
                   CASE WHEN count(*) > 20000 THEN NULL ELSE array_agg(DISTINCT key) END
            FROM (SELECT key FROM old_rows UNION ALL SELECT key FROM new_rows) u HAVING count(*) > 0;
        END IF;
        -- Prune by one writer at a time (the others skip rather than wait), marking how far it pruned.
        IF pg_try_advisory_xact_lock(29779, 1025) THEN
            WITH d AS (DELETE FROM traveller_key_changes
                       WHERE at < clock_timestamp() - interval '1 minute' RETURNING xid)
            SELECT max(xid) INTO gone FROM d;
            IF gone IS NOT NULL THEN
                INSERT INTO traveller_key_changes_pruned VALUES (1, gone) ON CONFLICT (id)
                DO UPDATE SET through = greatest(traveller_key_changes_pruned.through, EXCLUDED.through);
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER traveller_keys_log_insert AFTER INSERT ON traveller_keys "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION traveller_keys_log()",
    "CREATE TRIGGER traveller_keys_log_delete AFTER DELETE ON traveller_keys "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION traveller_keys_log()",
    "CREATE TRIGGER traveller_keys_log_update AFTER UPDATE ON traveller_keys "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION traveller_keys_log()",
]

UNINSTALL = [
    "DROP TRIGGER IF EXISTS traveller_keys_log_insert ON traveller_keys",
    "DROP TRIGGER IF EXISTS traveller_keys_log_delete ON traveller_keys",
    "DROP TRIGGER IF EXISTS traveller_keys_log_update ON traveller_keys",
    "DROP FUNCTION IF EXISTS traveller_keys_log()",
    "DROP TABLE IF EXISTS traveller_key_changes_pruned",
    "DROP TABLE IF EXISTS traveller_key_changes",
]

_SNAPSHOT = text("SELECT pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
# One statement, one snapshot: the log rows and the pruning mark are read as of the same moment.
_CHANGED = text(
    "SELECT keys FROM traveller_key_changes WHERE xid >= :xmin "
    "AND NOT pg_visible_in_snapshot(xid::text::xid8, CAST(:snap AS pg_snapshot)) "
    "UNION ALL SELECT NULL FROM traveller_key_changes_pruned WHERE through >= :xmin")


def installed(session: Session) -> bool:
    """Whether this database logs key changes (PostgreSQL at migration 0032 or later)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return session.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar()


def snapshot(session: Session) -> tuple[str, int]:
    """The moment a read of keys starts from: take it before the read (a change committed in between is then
    read twice, never missed)."""
    snap, xmin = session.execute(_SNAPSHOT).one()
    return snap, int(xmin)


def changed_since(session: Session, since: tuple[str, int], keys: set[int]) -> set[int] | None:
    """Of `keys`, those written by transactions committed after `since` (visible to this statement); None when
    that cannot be told (a bulk write, or rows pruned since): read them all again."""
    snap, xmin = since
    out: set[int] = set()
    for (changed,) in session.execute(_CHANGED, {"snap": snap, "xmin": xmin}):
        if changed is None:
            return None
        out.update(k for k in changed if k in keys)
    return out
