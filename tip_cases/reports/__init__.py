"""Reports: statistics, charts, CSV/PDF exports and the disclosure checks applied to them.

May import the application shell, tip_cases.cases and screening; nothing imports it back.
"""
