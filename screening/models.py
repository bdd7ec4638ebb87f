"""Crossings, persons of interest, flags and travellers."""

from __future__ import annotations
