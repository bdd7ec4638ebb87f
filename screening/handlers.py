"""Screening's part in other packages' machinery, wired at app start by the factory's register_handlers.

The risk-pattern jobs run in the one scheduler process; notifications.scheduler never imports
screening, so screening registers its jobs here.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from notifications.scheduler import register_job
from screening import tracing
from tip_cases.extensions import db


def job_patterns(now: datetime) -> str:
    """Risk rules for travellers with new crossings (set aside at ingest, see screening.tracing)."""
    raised = tracing.evaluate_due(now=now)
    db.session.commit()
    return f"risk flags raised {raised}"


def job_patterns_daily(now: datetime) -> str:
    """All recent travellers once a day: "not returned after N days" becomes true with time alone."""
    raised = len(tracing.evaluate_patterns(now=now))
    db.session.commit()
    return f"risk flags raised {raised}"


def register(app: Flask) -> None:
    """Add the risk-pattern jobs to the scheduler (ids and timing as before the jobs moved here)."""
    register_job(app, "tracing-patterns", job_patterns, "interval", start_now=True,
                 seconds=float(app.config.get("TRACING_PATTERN_SECONDS", 15)))
    register_job(app, "tracing-patterns-daily", job_patterns_daily, "cron", hour=2, minute=30)
