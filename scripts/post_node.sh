#!/usr/bin/env bash
# A post node (Sani Pass, SNP) beside the local headquarters demo: its own SQLite database, the watchlist
# fetched from headquarters, the web app on 127.0.0.1:5001 and its scheduler, which sends the outbox every
# POST_SYNC_SECONDS. Start `make run` first (headquarters on 127.0.0.1:5000). docs/postnode.md has the tour.
set -euo pipefail
cd "$(dirname "$0")/.."
FLASK=".venv/bin/flask --app tip_cases"
CODE="${POST_CODE:-SNP}"
PORT="${POST_PORT:-5001}"
HQ="${HQ_URL:-http://127.0.0.1:5000}"
DIR="instance/post-${CODE,,}"
mkdir -p "$DIR"

# Headquarters (the demo's database in instance/): publish the watchlist, and give this node its own API
# client bound to its post, once. The token is kept in the node's folder (chmod 600).
$FLASK watchlist publish
if [ ! -s "$DIR/hq_token" ]; then
  name="${CODE,,}-node-$(date +%s)"
  $FLASK api-tokens create "$name" --post "$CODE" | tee "$DIR/hq_client.txt"
  tail -1 "$DIR/hq_client.txt" > "$DIR/hq_token"
  chmod 600 "$DIR/hq_token"
fi

export TSELA_ROLE=post TSELA_POST_CODE="$CODE" DATABASE_URL="sqlite:///$PWD/$DIR/post.db" \
  POST_EXTRACT_PATH="$PWD/$DIR/watchlist.bin" HQ_URL="$HQ" HQ_API_TOKEN="$(cat "$DIR/hq_token")" \
  POST_SYNC_SECONDS="${POST_SYNC_SECONDS:-15}" BASE_URL="http://127.0.0.1:$PORT" \
  AUDIT_CHECKPOINT_PATH="$PWD/$DIR/audit-checkpoints.jsonl" EVIDENCE_DIR="$PWD/$DIR/evidence"
# (The node keeps its own audit checkpoints: headquarters' file in instance/ covers headquarters' trail.)

$FLASK db upgrade >/dev/null
# The post's own officer and a capture client for its border system, once.
if [ ! -s "$DIR/officer.txt" ]; then
  printf 'border-post-demo-2026\n' | $FLASK users create officer --role border_officer --post "$CODE" \
    --full-name "Officer at $CODE" --with-totp | tee "$DIR/officer.txt"
  $FLASK api-tokens create "${CODE,,}-counter" --post "$CODE" | tee "$DIR/counter.txt"
fi
$FLASK watchlist fetch || echo "headquarters did not answer: the node starts with the watchlist it holds"

pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
$FLASK scheduler run &
pids+=($!)
echo "Post node $CODE on http://127.0.0.1:$PORT (officer / border-post-demo-2026, TOTP secret in $DIR/officer.txt);"
echo "capture API token in $DIR/counter.txt; flask post outbox / post sync with the same environment. Ctrl-C stops."
.venv/bin/gunicorn --config scripts/gunicorn_conf.py --bind "127.0.0.1:$PORT" --workers 1 --threads 4 \
  --access-logfile - "tip_cases:create_app()"
