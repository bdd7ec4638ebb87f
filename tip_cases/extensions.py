"""Flask extensions, created unbound and bound in create_app; this module imports no project module."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, event
from sqlalchemy.orm import DeclarativeBase, registry
from werkzeug.routing import IntegerConverter

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now; used as a per-row callable default."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # One registry carries both, because Flask-SQLAlchemy subclasses this base for db.Model.
    registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                        type_annotation_map={datetime: UTCDateTime()})


# Every id column is at most a signed 64-bit integer; larger numbers overflow the database driver.
MAX_ID = 2**63 - 1
MAX_PAGE = 100_000


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` in URLs: a number beyond any id is no route (404), not a driver overflow (500)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class TselaSQLAlchemy(SQLAlchemy):
    def paginate(self, select, *, page=None, **kwargs):
        """Clamp ?page= so a huge number is the last page's emptiness, not an OFFSET overflow (500)."""
        if page is None:
            from flask import has_request_context, request

            if has_request_context():
                page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
        return super().paginate(select, page=page, **kwargs)


db = TselaSQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
bootstrap = Bootstrap5()
babel = Babel()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets readers work while the importer writes; the busy timeout waits instead of failing."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def keep_plans_across_requests(app) -> None:
    """PostgreSQL: end a request's transaction that wrote nothing by COMMIT, not by Flask-SQLAlchemy's ROLLBACK.

    psycopg deallocates every prepared statement on ROLLBACK (`Connection.rollback` clears its cache), and a
    read-only request ended in one: no statement of a page ever reached psycopg's prepare threshold, so each was
    planned anew as a one-shot custom plan, 20-50 ms a statement over a decade's 127 month partitions where the
    cached generic plan runs in ~2 ms (docs/performance.md, session 12). A transaction that holds no transaction
    id (`txid_current_if_assigned()` IS NULL) wrote nothing, so COMMIT and ROLLBACK end it alike. The COMMIT is
    the driver's, under the ORM: no flush, no commit hooks, and whatever the session queued for a commit it never
    made is dropped by the rollback that follows, exactly as before. A write, an unhandled exception or a failed
    transaction is left to that rollback. Registered after `db.init_app`: Flask runs teardowns in reverse order,
    so this one runs before the session is removed.
    """
    from psycopg import Error as DriverError
    from psycopg.pq import TransactionStatus
    from sqlalchemy.exc import SQLAlchemyError

    @app.teardown_appcontext
    def _commit_read_only(exc: BaseException | None) -> None:
        if exc is not None or not db.session.registry.has() or db.engine.dialect.name != "postgresql":
            return
        session = db.session()
        if not session.is_active or not session.in_transaction():
            return
        try:
            connection = session.connection()
            driver = connection.connection.driver_connection
            if driver.info.transaction_status != TransactionStatus.INTRANS:
                return
            if connection.exec_driver_sql("SELECT txid_current_if_assigned()").scalar() is None:
                driver.commit()
        except (SQLAlchemyError, DriverError):  # the rollback that follows ends the transaction, as it would have
            return
