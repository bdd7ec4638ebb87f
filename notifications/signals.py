"""What notifications asks of the packages that own a message's subject.

Cases and screening publish to notifications; notifications never imports their services. Where it
must call back (a partner acknowledges a referral) or needs their part of a job (case reminders),
it sends one of these signals and the owning package answers with a handler it connects at app
start (tip_cases.cases.handlers, wired by the factory's register_handlers).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# A partner acknowledged a message about a referral. kwargs: referral_id, by, now.
referral_acknowledged = _signals.signal("referral-acknowledged")

# The reminders job is running. kwargs: now, idle_days. Each receiver publishes its reminders and
# returns a short outcome for the job's log line.
reminders_due = _signals.signal("reminders-due")
