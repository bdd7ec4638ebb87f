"""The standing attack suite, against a real gunicorn in the production configuration: Schemathesis
generates valid and hostile requests from /api/v1/openapi.json and every answer must be a non-5xx.

It prints how many requests were sent and what failed, so a CI log shows the suite really ran.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.factories import make_api_client
from tests.screening.builders import make_person
from tests.security.test_production_server import _production_env, gunicorn
from tip_cases.extensions import db

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_schemathesis_over_the_openapi_document_finds_no_server_error(app, database_url, tmp_path):
    make_person()
    _, token = make_api_client(post_code=None)
    db.session.commit()
    env = _production_env(database_url, RATELIMIT_API="100000 per minute")
    with gunicorn(env, tmp_path) as (base, _access, error):
        result = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{base}/api/v1/openapi.json", "--url", f"{base}/api/v1",
             "--checks", "not_a_server_error", "--max-examples", "15", "--phases", "examples,coverage,fuzzing",
             "--header", f"Authorization: Bearer {token}", "--seed", "1", "--no-color"],
            capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)  # its cache stays in tmp
        server_errors = error.read_text()
    summary = result.stdout[-3000:]
    print(summary)  # requests sent, failures found
    assert result.returncode == 0, summary + server_errors[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counts and int(counts[1]) >= 100 and counts[1] == counts[2], summary
    assert "Traceback" not in server_errors
