"""What screening's pages ask of packages that build on it (cases), without importing them.

Cases import screening; screening never imports cases. A page that shows a flag's or a traveller's
cases sends one of these signals; the cases package connects a handler at app start
(tip_cases.cases.handlers) that returns extra template context.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace, Signal

_signals = Namespace()

# Sender: the Flag shown. Receivers return a dict of template context (its cases, the attach form).
flag_page = _signals.signal("flag-page")

# Sender: the Traveller shown; kwargs: flag_ids (the traveller's flags) and crossing_ids (their crossings,
# already read by the page). Receivers return a dict.
traveller_page = _signals.signal("traveller-page")


def page_context(signal: Signal, sender: Any, **kwargs) -> dict:
    """The template context every receiver of `signal` contributes, merged."""
    context: dict = {}
    for _receiver, extra in signal.send(sender, **kwargs):
        context.update(extra or {})
    return context

# The one search box (screening.search). Sender: the parsed Query; kwargs: actor. Receivers return a list
# of screening.search.Hit for their own records, already limited to what the actor may see.
search = _signals.signal("search")
