"""Configuration classes, chosen by TSELA_CONFIG or FLASK_ENV-like names; secrets come from the environment."""

from __future__ import annotations

import os
from datetime import timedelta


def _database_url() -> str | None:
    """Normalise DATABASE_URL so Heroku-style postgres:// URLs use the psycopg 3 driver."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


# The published development default. It is weak by design and judged by its own value, never by the
# environment's: an operator's SECRET_KEY must not end up on the list of weak keys.
DEV_SECRET_KEY = "dev-only-insecure-secret-key"  # noqa: S105


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = _database_url()  # None -> SQLite in the instance folder (set by create_app)
    # hide_parameters: a database error's message (logged by the 500 handler) must not carry the row's
    # names, dates of birth or document numbers.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}
    SQLALCHEMY_RECORD_QUERIES = False
    # PostgreSQL's JIT stays off on Tsela's connections unless POSTGRES_JIT=1 (see tip_cases._default_database).
    POSTGRES_JIT = os.environ.get("POSTGRES_JIT", "") == "1"

    # Sessions: 8-hour absolute lifetime, 30-minute idle lifetime, enforced server-side (tip_cases.auth).
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=8)
    SESSION_IDLE_LIFETIME = timedelta(minutes=30)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "tsela_session"
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)

    WTF_CSRF_TIME_LIMIT = 8 * 3600
    BOOTSTRAP_SERVE_LOCAL = True  # border posts have poor connectivity: no CDN anywhere
    BOOTSTRAP_BOOTSWATCH_THEME = None

    LOCKOUT_THRESHOLD = 5
    LOCKOUT_DURATION = timedelta(minutes=15)
    PASSWORD_MIN_LENGTH = 12
    # A new or reset second factor needs the administrator's one-time code; it lapses after this.
    ENROLMENT_CODE_LIFETIME = timedelta(hours=72)
    TIMEZONE = "Africa/Maseru"
    # Crossings older than this, linked to nothing, are pseudonymised (tip_cases.cases.retention).
    RETENTION_YEARS = int(os.environ.get("TSELA_RETENTION_YEARS", "5"))
    # PostgreSQL: month partitions of crossings kept ready this many months ahead (screening.partitions).
    CROSSING_PARTITIONS_AHEAD = int(os.environ.get("TSELA_CROSSING_PARTITIONS_AHEAD", "3"))
    # `screening resolve` goes out of core (DuckDB, screening.engine.resolve_batch) above this many crossings.
    TRACING_OUT_OF_CORE_ABOVE = int(os.environ.get("TSELA_TRACING_OUT_OF_CORE_ABOVE", "2000000"))
    # ... where a connected component of the blocking graph over this many crossings is cut on stronger
    # keys (hierarchical blocking; 0: never cut, exact but unbounded). docs/operations.md, "Batch
    # resolution out of core": 500,000 keeps a shard's index under ~1.3 GiB. At 20M on the bench's generator the
    # cut leaves a 10M piece that the last resort chunks, which costs recall (docs/performance.md, session 13).
    TRACING_COMPONENT_CAP = int(os.environ.get("TSELA_TRACING_COMPONENT_CAP", "500000"))
    # ... with the blocking keys and the shards mapped over this many worker processes (each holds a
    # shard: memory grows by one shard's index per process; docs/operations.md).
    TRACING_RESOLVE_PROCESSES = int(os.environ.get("TSELA_TRACING_RESOLVE_PROCESSES", "1"))
    # The nightly risk rules take recently seen travellers this many at a time (bounded scheduler memory).
    TRACING_PATTERN_CHUNK = int(os.environ.get("TSELA_TRACING_PATTERN_CHUNK", "2000"))
    # ... and fewer where history is dense: each chunk is sized so that it reads about this many crossings
    # (a decade's traveller brings ten times a year's neighbourhood; screening.tracing.Slices). 10,000 is what
    # a year of 100k crossings reads in a slice of 100 travellers, so a slice at 20M reads no more than one
    # there (20,000 held the scheduler ~25 MiB higher at 20M; docs/performance.md, session 25).
    TRACING_PATTERN_ROWS = int(os.environ.get("TSELA_TRACING_PATTERN_ROWS", "10000"))
    # Interface languages (tip_cases.i18n): a user's choice in their profile wins, else this default.
    LANGUAGES = ("en", "st")
    BABEL_DEFAULT_LOCALE = os.environ.get("TSELA_DEFAULT_LOCALE", "en")
    BABEL_DEFAULT_TIMEZONE = "Africa/Maseru"
    APP_NAME = "Tsela"

    # Screening thresholds are configuration, never hidden in code.
    SCREENING_FLAG_THRESHOLD = float(os.environ.get("SCREENING_FLAG_THRESHOLD", "0.80"))

    # Evidence files live outside the web root, in the instance folder unless set.
    EVIDENCE_DIR = os.environ.get("EVIDENCE_DIR")
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024
    # Every other request body (forms, API batches) is refused above this, by its Content-Length, before it
    # is read (tip_cases.limits); only the endpoints below keep MAX_CONTENT_LENGTH, for their files.
    MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", str(1024 * 1024)))
    LARGE_BODY_ENDPOINTS = frozenset({"cases.upload_evidence", "screening.import_csv", "tracing.bulk"})
    MAX_JSON_DEPTH = 32  # a crossing batch is 4 levels deep; 5,000 levels would exhaust the parser's stack

    # Rate limits (tip_cases.ratelimits). Counters must be shared by every worker and node: production sets
    # RATELIMIT_STORAGE_URI=redis://...; unset, each process counts on its own (memory://), which is enough
    # for `make run`'s single process and needs no Redis on a fresh clone.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "tsela")
    RATELIMIT_HEADERS_ENABLED = True  # 429s carry Retry-After
    RATELIMIT_SWALLOW_ERRORS = True  # Redis down: serve (the lockout still guards passwords), and log it
    # How many proxies stand in front of gunicorn and append X-Forwarded-For (0: none, the address is the peer's).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    RATELIMIT_SIGN_IN = os.environ.get("RATELIMIT_SIGN_IN", "10 per minute;60 per hour")
    RATELIMIT_TOTP = os.environ.get("RATELIMIT_TOTP", "10 per minute;60 per hour")
    RATELIMIT_ACK_LINK = os.environ.get("RATELIMIT_ACK_LINK", "20 per minute")
    RATELIMIT_API = os.environ.get("RATELIMIT_API", "600 per minute")

    MAIL_SERVER = os.environ.get("MAIL_SERVER")  # None -> the local mail sink (dev/demo)
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_FROM = os.environ.get("MAIL_FROM", "tsela@localhost")
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")

    # Audit trail (tip_cases.audit): rows are chained with an HMAC keyed by AUDIT_HMAC_KEY (never stored in
    # the database; retired keys, comma-separated, in AUDIT_HMAC_OLD_KEYS), and the chain's head is signed
    # with the Ed25519 AUDIT_SIGNING_KEY into AUDIT_CHECKPOINT_PATH. Unset in development: random keys in
    # the instance folder.
    AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY")
    AUDIT_HMAC_OLD_KEYS = os.environ.get("AUDIT_HMAC_OLD_KEYS", "")
    AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY")
    AUDIT_CHECKPOINT_PUBLIC_KEYS = os.environ.get("AUDIT_CHECKPOINT_PUBLIC_KEYS", "")
    AUDIT_CHECKPOINT_PATH = os.environ.get("AUDIT_CHECKPOINT_PATH")  # None -> instance/audit-checkpoints.jsonl
    AUDIT_CHECKPOINT_MINUTES = float(os.environ.get("AUDIT_CHECKPOINT_MINUTES", "15"))

    # Roles (docs/postnode.md): "headquarters" (the default) publishes the signed watchlist; "post" is a node
    # bound to one border post (TSELA_POST_CODE) that screens offline against its local copy and syncs with
    # HQ_URL using its own API client's token (HQ_API_TOKEN).
    TSELA_ROLE = os.environ.get("TSELA_ROLE", "headquarters")
    TSELA_POST_CODE = os.environ.get("TSELA_POST_CODE")
    HQ_URL = os.environ.get("HQ_URL")
    HQ_API_TOKEN = os.environ.get("HQ_API_TOKEN")
    # Headquarters signs the watchlist with this Ed25519 key (PEM or base64 seed; unset in development: a key in
    # the instance folder); a post trusts the public keys listed in WATCHLIST_PUBLIC_KEYS (base64, comma-separated).
    WATCHLIST_SIGNING_KEY = os.environ.get("WATCHLIST_SIGNING_KEY")
    WATCHLIST_PUBLIC_KEYS = os.environ.get("WATCHLIST_PUBLIC_KEYS", "")
    WATCHLIST_MAX_DELTAS = int(os.environ.get("WATCHLIST_MAX_DELTAS", "100"))  # per response
    # The post's watchlist is kept AES-256-GCM encrypted with POST_EXTRACT_KEY (base64 of 32 bytes; unset in
    # development: a key in the instance folder) at POST_EXTRACT_PATH (default instance/post-watchlist.bin).
    POST_EXTRACT_KEY = os.environ.get("POST_EXTRACT_KEY")
    POST_EXTRACT_PATH = os.environ.get("POST_EXTRACT_PATH")
    # Store and forward (screening.postsync): a post sends its outbox every POST_SYNC_SECONDS; headquarters
    # reminds a post's managers when its node has not synced for POST_SYNC_OVERDUE_HOURS.
    POST_SYNC_SECONDS = float(os.environ.get("POST_SYNC_SECONDS", "30"))
    POST_SYNC_OVERDUE_HOURS = float(os.environ.get("POST_SYNC_OVERDUE_HOURS", "6"))

    # The in-app webhook receiver exists so a demo shows a signed delivery without another server.
    NOTIFY_DEMO_RECEIVER = os.environ.get("NOTIFY_DEMO_RECEIVER", "1") != "0"

    DEBUG = False
    TESTING = False

    @classmethod
    def validate(cls, config: dict) -> None:
        """Hook for configs that must refuse to start on unsafe settings."""


class DevelopmentConfig(Config):
    DEBUG = False  # the Werkzeug debugger is a remote shell; opt in with FLASK_DEBUG=1 on your own machine


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production-0123456789"  # noqa: S105
    WTF_CSRF_ENABLED = True
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"hide_parameters": True}
    AUDIT_HMAC_KEY = "testing-audit-hmac-key-not-for-production-0123456789"  # noqa: S105
    AUDIT_SIGNING_KEY = "dGVzdGluZy1hdWRpdC1zaWduaW5nLWtleS0zMmJ5dGU="  # a fixed test seed  # noqa: S105
    WATCHLIST_SIGNING_KEY = "dGVzdGluZy13YXRjaGxpc3Qtc2lnbmluZy1rZXktMzI="  # a fixed test seed  # noqa: S105
    POST_EXTRACT_KEY = "dGVzdGluZy1wb3N0LWV4dHJhY3Qta2V5LTMyYnl0ZXM="  # noqa: S105
    RATELIMIT_ENABLED = False  # tests sign in many times a minute; tests/security/test_rate_limits.py turns it on


ROLES = ("headquarters", "post")


def role_problems(config: dict) -> list[str]:
    """What stops this node starting in its role (checked by create_app for every config)."""
    role = config.get("TSELA_ROLE") or "headquarters"
    if role not in ROLES:
        return [f"TSELA_ROLE must be one of {', '.join(ROLES)}, not {role!r}"]
    problems = []
    if role == "post":
        if not config.get("TSELA_POST_CODE"):
            problems.append("TSELA_ROLE=post needs TSELA_POST_CODE (the border post this node serves)")
        if config.get("PREFERRED_URL_SCHEME") == "https":  # production
            if not config.get("WATCHLIST_PUBLIC_KEYS"):
                problems.append("a production post node needs WATCHLIST_PUBLIC_KEYS (headquarters' public key)")
            if not config.get("POST_EXTRACT_KEY"):
                problems.append("a production post node needs POST_EXTRACT_KEY (the watchlist's encryption key)")
    return problems


WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", DEV_SECRET_KEY, TestingConfig.SECRET_KEY}


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    # Served over HTTPS only (TLS at the proxy): browsers must never fall back to plain HTTP.
    HSTS = "max-age=31536000; includeSubDomains"
    NOTIFY_DEMO_RECEIVER = os.environ.get("NOTIFY_DEMO_RECEIVER", "0") == "1"
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def validate(cls, config: dict) -> None:
        """Refuse to start with DEBUG on, a weak SECRET_KEY or no DATABASE_URL."""
        problems = []
        if config.get("DEBUG"):
            problems.append("DEBUG must be off in production")
        key = config.get("SECRET_KEY") or ""
        if key in WEAK_SECRETS or len(key) < 32 or len(set(key)) < 10:
            problems.append("SECRET_KEY is missing or weak (use at least 32 random characters)")
        audit_key = config.get("AUDIT_HMAC_KEY") or ""
        if audit_key in WEAK_SECRETS or len(audit_key) < 32 or len(set(audit_key)) < 10 \
                or audit_key in (key, TestingConfig.AUDIT_HMAC_KEY):
            problems.append("AUDIT_HMAC_KEY is missing or weak (at least 32 random characters, not the SECRET_KEY)")
        if not config.get("SQLALCHEMY_DATABASE_URI"):
            problems.append("DATABASE_URL is not set")
        if problems:
            raise RuntimeError("Refusing to start: " + "; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
