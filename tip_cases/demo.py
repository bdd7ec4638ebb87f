"""Demo data: one account per role with a known password and TOTP secret, then each package's demo set.

Loading is idempotent: every record is looked up by a natural key before it is created.
"""

from __future__ import annotations

import importlib
import importlib.util

from sqlalchemy import select

from tip_cases import accounts
from tip_cases.extensions import db
from tip_cases.models import User

DEMO_PASSWORD = "Tsela-demo-2026!"  # noqa: S105 - published demo credential, documented in the README

# username, role, post, full name, TOTP secret (base32; published so a new user can try the second factor)
DEMO_USERS = [
    ("officer", "border_officer", "MSB", "Palesa Mokoena (Maseru Bridge)", "TSELADEMOOFFICERMASERUBRIDGEPOST"),
    ("officer2", "border_officer", "MPB", "Thabo Letsie (Maputsoe Bridge)", "TSELADEMOOFFICERMAPUTSOEBRIDGEAA"),
    ("investigator", "investigator", None, "Lineo Sekhonyana", "TSELADEMOINVESTIGATORLINEOAAAAAA"),
    ("investigator2", "investigator", None, "Mpho Nthako", "TSELADEMOINVESTIGATORMPHOAAAAAAA"),
    ("manager", "manager", None, "Teboho Ramaboea", "TSELADEMOMANAGERTEBOHOAAAAAAAAAA"),
    ("admin", "admin", None, "Nthabiseng Mofokeng", "TSELADEMOADMINISTRATORAAAAAAAAAA"),
]

# Each package may add a `demo` module with load() -> list[str]; missing ones are skipped.
PACKAGE_LOADERS = ["screening.demo", "tip_cases.cases.demo", "notifications.demo"]


def load() -> list[str]:
    lines = []
    created = 0
    for username, role, post, full_name, secret in DEMO_USERS:
        if db.session.execute(select(User.id).where(User.username == username)).first():
            continue
        accounts.create_user(username, DEMO_PASSWORD, role, post_code=post, full_name=full_name,
                             email=f"{username}@tsela.example", totp_secret=secret)
        created += 1
    db.session.commit()
    lines.append(f"demo users: {created} created, {len(DEMO_USERS) - created} already present")
    for name in PACKAGE_LOADERS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        lines.extend(module.load())
        db.session.commit()
    lines.append("")
    lines.append(f"Sign in at http://127.0.0.1:5000 with password {DEMO_PASSWORD!r} and a TOTP code:")
    for username, role, _post, _name, secret in DEMO_USERS:
        lines.append(f"  {username:<14} {role:<15} TOTP secret {secret}")
    lines.append("Current code for a user: flask --app tip_cases demo totp USERNAME")
    return lines
