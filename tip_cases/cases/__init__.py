"""Case management (HTCDS v2.0): cases, persons and their roles, consent, referrals, tasks, evidence.

May import the application shell (tip_cases.*), screening and notifications; nothing outside
tip_cases.reports imports it.
"""
