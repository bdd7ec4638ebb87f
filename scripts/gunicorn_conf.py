"""gunicorn settings for `make run` and production: logs without query strings, warm indexes at boot.

Search boxes use GET, so a query string can carry the name of a victim or a suspect: neither the
access log nor the error log may ever write one (nor the Referer, which repeats the previous page's
query). `QuerylessLogger` enforces that whatever access-log format an operator chooses.

The screening and traveller indexes are built lazily on first use; with a large list of persons of
interest that first batch would wait seconds to minutes. A background thread builds them as soon as
the worker starts, and requests arriving meanwhile simply share the same lock.
"""

import gc
import logging
import re
import threading

from gunicorn.glogging import Logger

_QUERY = re.compile(r"\?[^\s\"']*")
_REMOVED = "?[query removed]"

# Method, path (never the query string), protocol, status, size, seconds, user agent; no Referer.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'


class _ScrubQueries(logging.Filter):
    """Error-log lines (gunicorn names the request URI on a failure) lose any query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub(_REMOVED, message), ()
        return True


class QuerylessLogger(Logger):
    """gunicorn's logger with every access-log atom that could hold a query string emptied or cut."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = f"{atoms['m']} {atoms['U']} {atoms['H']}"
        atoms["q"] = ""
        if "{query_string}e" in atoms:
            atoms["{query_string}e"] = ""
        for key, value in atoms.items():
            if key in ("f",) or key.startswith("{"):
                atoms[key] = _QUERY.sub(_REMOVED, value) if isinstance(value, str) else value
        return atoms

    def setup(self, cfg):
        super().setup(cfg)
        if not any(isinstance(f, _ScrubQueries) for f in self.error_log.filters):
            self.error_log.addFilter(_ScrubQueries())


logger_class = QuerylessLogger


# The cyclic collector. A batch of 500 crossings allocates hundreds of thousands of small objects (records,
# keys, rows) that reference counting frees; at Python's default thresholds (700, 10, 10) that set off ~65
# young and ~0.5 full collections a batch, and a full one walks the worker's whole heap (the persons-of-
# interest index, the bounded caches): ~70 ms of a 530 ms batch at 100k, more as the caches fill
# (docs/performance.md, session 27). At 20,000 the young collections are ~30 times rarer, and the objects the
# warm-up built, which live as long as the worker, are frozen out of every full collection. Cyclic garbage is
# still collected, only in larger, rarer passes.
GC_THRESHOLDS = (20_000, 10, 10)


def post_worker_init(worker):
    app = worker.wsgi  # the Flask app gunicorn loaded
    gc.set_threshold(*GC_THRESHOLDS)

    def warm():
        from datetime import date

        from screening.services import warm_up

        with app.app_context():
            try:
                persons, crossings = warm_up(today=date.today())
                gc.collect()  # garbage first: frozen objects are never collected
                gc.freeze()
                worker.log.info("indexes warm: %d persons of interest, %d crossings; %d objects frozen, collector "
                                "thresholds %s", persons, crossings, gc.get_freeze_count(), gc.get_threshold())
            except Exception:  # noqa: BLE001 - a cold index is built on first use anyway
                worker.log.exception("index warm-up failed; indexes will be built on first use")

    threading.Thread(target=warm, name="tsela-warm-up", daemon=True).start()
