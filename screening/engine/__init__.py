"""The pure matching engine: names, dates, documents, MRZ, row parsing, scoring, blocking indexes,
traveller resolution and risk patterns.

Standard library and rapidfuzz only: never Flask, Flask-SQLAlchemy, SQLAlchemy or the app's models
(tests/test_layout.py fails otherwise), so every module here is tested without an app.
"""
