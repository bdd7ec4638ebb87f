"""Screenshots of each demo role's home page at 1366x768 (a border-post laptop), in English and Sesotho.

`make screenshots` writes docs/screenshots/<role>-<lang>.png. It builds its own throw-away SQLite database
with the demo data, serves the app on a loopback port in a thread and drives Debian's Chromium (as the
browser tests do), so the images show exactly what a new user sees. Each PNG is reduced to a 256-colour
palette (Pillow, already installed for the PDF reports), which keeps it readable and under 150 KB.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROLES = ("officer", "investigator", "manager", "admin")
LOCALES = ("en", "st")
WIDTH, HEIGHT = 1366, 768
LIMIT = 150 * 1024


def small_png(raw: bytes) -> bytes:
    """The screenshot as a 256-colour palette PNG: text and flat colours survive, the size drops ~3x."""
    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def totp_code(user) -> str:
    """A code the server accepts now: the current step, or the next one if that was just used."""
    import pyotp

    totp = pyotp.TOTP(user.totp_secret)
    step = int(time.time()) // totp.interval
    if user.totp_last_step is not None and user.totp_last_step >= step:
        step = user.totp_last_step + 1
    return totp.generate_otp(step)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from sqlalchemy import select
    from werkzeug.serving import make_server

    from tip_cases import create_app, demo
    from tip_cases.extensions import db
    from tip_cases.models import User

    tmp = Path(tempfile.mkdtemp(prefix="tsela-shots-"))
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'shots.db'}",
                                 "EVIDENCE_DIR": str(tmp / "evidence"),
                                 "AUDIT_CHECKPOINT_PATH": str(tmp / "audit-checkpoints.jsonl")})
    with app.app_context():
        upgrade()
        demo.load()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=args.chromium, headless=True,
                                 args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    written = []
    try:
        for username in ROLES:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(30000)
            with app.app_context():
                user = db.session.execute(select(User).where(User.username == username)).scalar_one()
                code = totp_code(user)
            page.goto(base + "/login")
            page.fill("#username", username)
            page.fill("#password", demo.DEMO_PASSWORD)
            page.press("#password", "Enter")
            page.wait_for_url("**/login/verify**")
            page.fill("#code", code)
            page.press("#code", "Enter")
            page.get_by_test_id("home-heading").wait_for()
            for locale in LOCALES:
                with app.app_context():  # the user's own choice, as on the language page
                    db.session.execute(select(User).where(User.username == username)).scalar_one().locale = locale
                    db.session.commit()
                page.goto(base + "/")
                page.get_by_test_id("home-heading").wait_for()
                page.wait_for_load_state("networkidle")
                assert page.get_attribute("html", "lang") == locale
                png = small_png(page.screenshot(full_page=False))
                target = out / f"{username}-{locale}.png"
                target.write_bytes(png)
                written.append((target, len(png)))
            context.close()
    finally:
        browser.close()
        pw.stop()
        server.shutdown()
    for target, size in written:
        print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: {size / 1024:.0f} KB")
    too_big = [str(t) for t, size in written if size > LIMIT]
    if too_big:
        print("over 150 KB: " + ", ".join(too_big), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
