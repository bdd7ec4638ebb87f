"""Static files cached by the browser for a year, under URLs that change with their content.

A border post's link is slow (256 kbit/s, 300 ms): Bootstrap alone is about 300 KB, and fetching or even
revalidating it on every page made each page cost over 300 KB and ten seconds. Every `url_for` of a static
endpoint (ours and Bootstrap-Flask's) gets `?v=<content hash>`, so a response may be cached as immutable:
a changed file has a new URL, and the browser asks for nothing it already holds.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, request

YEAR = 365 * 24 * 3600
CACHE_CONTROL = f"public, max-age={YEAR}, immutable"


def is_static(endpoint: str | None) -> bool:
    return bool(endpoint) and (endpoint == "static" or endpoint.endswith(".static"))


def register(app: Flask) -> None:
    hashes: dict[tuple[str, float], str] = {}

    def folder(endpoint: str) -> str | None:
        if endpoint == "static":
            return app.static_folder
        bp = app.blueprints.get(endpoint.rsplit(".", 1)[0])
        return bp.static_folder if bp else None

    @app.url_defaults
    def _version(endpoint, values) -> None:
        if not is_static(endpoint) or "v" in values or not values.get("filename"):
            return
        base = folder(endpoint)
        path = os.path.join(base, values["filename"]) if base else None
        try:
            key = (path, os.stat(path).st_mtime)
        except (OSError, TypeError):
            return  # a missing file gets no version: its 404 stays visible
        if key not in hashes:
            with open(path, "rb") as f:
                hashes[key] = hashlib.sha256(f.read()).hexdigest()[:12]
        values["v"] = hashes[key]

    @app.after_request
    def _cache(response):
        if is_static(request.endpoint) and response.status_code in (200, 304):
            response.headers["Cache-Control"] = CACHE_CONTROL
            response.headers.pop("Pragma", None)
        return response
