#!/usr/bin/env bash
# Serve the app on 127.0.0.1:5000, with the scheduler beside it when the notifications package has one.
set -euo pipefail
cd "$(dirname "$0")/.."
FLASK=".venv/bin/flask --app tip_cases"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if $FLASK scheduler --help >/dev/null 2>&1; then
  $FLASK scheduler run &
  pids+=($!)
fi
echo "Tsela on http://127.0.0.1:5000  (demo accounts: see README.md; Ctrl-C stops)"
.venv/bin/gunicorn --config scripts/gunicorn_conf.py --bind 127.0.0.1:5000 --workers 2 --threads 4 \
  --access-logfile - "tip_cases:create_app()"
