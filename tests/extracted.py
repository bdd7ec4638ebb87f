"""What `pybabel extract` finds in the Python sources, run fresh into a temporary folder.

Tests use it to prove a string goes through gettext (it is extracted as a msgid) without depending on
the translators' progress in the committed catalogs.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
# The Makefile's keywords (i18n-extract); Python sources only: templates are not what these tests check.
KEYWORDS = ("lazy_gettext", "_l", "say")


@functools.cache
def python_msgids() -> frozenset[str]:
    with tempfile.TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "babel.cfg"
        mapping.write_text("[python: tip_cases/**.py]\n[python: screening/**.py]\n[python: notifications/**.py]\n")
        out = Path(tmp) / "messages.pot"
        pybabel = Path(sys.executable).parent / "pybabel"
        args = [str(pybabel), "-q", "extract", "-F", str(mapping), "--no-location", "-o", str(out)]
        for k in KEYWORDS:
            args += ["-k", k]
        subprocess.run([*args, "."], cwd=ROOT, check=True, capture_output=True, timeout=120)  # noqa: S603
        with out.open("rb") as f:
            return frozenset(m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id)
