#!/usr/bin/env bash
# Score 100,000 predictions end to end through a real Celery worker on PostgreSQL (see bench_scoring_pg.py).
#
#   bench/bench_scoring_pg.sh                 # n=100000, 3 timed runs
#   bench/bench_scoring_pg.sh --profile       # also cProfile question_score in-process
#
# Uses the PostgreSQL and Redis on 127.0.0.1 (database fa_bench, created and migrated by the script; Redis db 13,
# wiped first). Override with BENCH_DATABASE_URL / BENCH_BROKER_URL. Starts one worker (prefork, concurrency 1: one
# job is one process; the scoring inside it uses up to 2 threads), runs the benchmark, stops the worker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
export BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fa_bench}
export BENCH_BROKER_URL=${BENCH_BROKER_URL:-redis://127.0.0.1:6379/13}
export DJANGO_SETTINGS_MODULE=config.settings

# The benchmark creates and migrates the database; the worker opens no connection before its first task.
"$PY" -c "import redis, os; redis.Redis.from_url(os.environ['BENCH_BROKER_URL']).flushdb()"

LOG=$(mktemp "${TMPDIR:-/tmp}/bench-worker.XXXXXX.log")
DATABASE_URL=$BENCH_DATABASE_URL CELERY_BROKER_URL=$BENCH_BROKER_URL \
    "$PY" -m celery -A config worker -l warning -c 1 --pool prefork --without-gossip --without-mingle \
    -n "bench-$$@%h" >"$LOG" 2>&1 &
WORKER=$!
stop_worker() {
    kill -TERM "$WORKER" 2>/dev/null || true
    wait "$WORKER" 2>/dev/null || true
}
trap stop_worker EXIT

status=0
"$PY" bench/bench_scoring_pg.py "$@" || status=$?
if ((status)); then
    echo "--- worker log ($LOG):" >&2
    tail -n 40 "$LOG" >&2
fi
exit "$status"
