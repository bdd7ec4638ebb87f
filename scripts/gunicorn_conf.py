"""gunicorn settings for `make run` and production: warm each worker's in-memory indexes after boot.

The screening and traveller indexes are built lazily on first use; with a large list of persons of
interest that first batch would wait seconds to minutes. A background thread builds them as soon as
the worker starts, and requests arriving meanwhile simply share the same lock.
"""

import threading


def post_worker_init(worker):
    app = worker.wsgi  # the Flask app gunicorn loaded

    def warm():
        from datetime import date

        from screening.services import warm_up

        with app.app_context():
            try:
                persons, crossings = warm_up(today=date.today())
                worker.log.info("indexes warm: %d persons of interest, %d crossings", persons, crossings)
            except Exception:  # noqa: BLE001 - a cold index is built on first use anyway
                worker.log.exception("index warm-up failed; indexes will be built on first use")

    threading.Thread(target=warm, name="tsela-warm-up", daemon=True).start()
