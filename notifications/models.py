"""Partner agencies, channels, subscription rules, the outbox and delivery attempts."""

from __future__ import annotations
