"""What the application shell asks of the packages built on it, without importing them.

The shell (factory, sign-in, access, audit, /healthz) sits below every other package. Where it needs
their answer, it sends a signal; the package connects a handler at app start (the factory's
register_handlers).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# /healthz asks whether anything makes the service "degraded". Receivers return True when healthy;
# an exception counts as degraded (for example a table not migrated yet).
health_check = _signals.signal("health-check")

# The navigation asks for the counts it shows beside a destination (new flags at my post, my tasks
# due). Sent with the signed-in user and `keys`, the counts wanted; a receiver returns {key: number}
# for the keys it knows, from a small indexed query, or {}.
nav_counts = _signals.signal("nav-counts")
