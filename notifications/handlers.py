"""Notifications' answers to the application shell, connected at app start (register_handlers)."""

from __future__ import annotations

from flask import Flask

from notifications.jobhealth import failing_jobs
from tip_cases import signals as shell_signals


def _jobs_healthy(_sender) -> bool:
    """A scheduled job whose latest run failed makes /healthz say "degraded"."""
    return not failing_jobs()


def register(app: Flask) -> None:
    shell_signals.health_check.connect(_jobs_healthy)
