#!/usr/bin/env bash
# Load on the reference server over 127.0.0.1 with wrk (Debian's `wrk`):
# bare axum, the same route behind the server's full stack, the flag
# evaluation API and the publish API. Bounded runs; results go to stdout as
# a Markdown table for docs/benchmarks.md.
#
#   benches/load/server.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-50}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/palisade/target}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked -q -p palisade-server --bin palisade --example bare_axum
BIN="$CARGO_TARGET_DIR/release"
DATA="$(mktemp -d)"
ADMIN="pal_$(openssl rand -hex 8)_$(openssl rand -hex 32)"
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DATA"; }
PIDS=()
trap cleanup EXIT

"$BIN/examples/bare_axum" 127.0.0.1:18079 & PIDS+=($!)
BARE=$!
# Logs off: the access log would measure the terminal, not the stack.
RUST_LOG=off PALISADE_ADMIN_TOKEN="$ADMIN" DATABASE_URL="sqlite://$DATA/palisade.db" \
    "$BIN/palisade" serve --port 18080 --webhook-allow-net 127.0.0.0/8 --rate-tier load=1000000000 \
    >/dev/null 2>&1 & PIDS+=($!)
SERVER=$!
for _ in $(seq 1 100); do
    curl -sf http://127.0.0.1:18080/health/live >/dev/null && curl -sf http://127.0.0.1:18079/health/live >/dev/null && break
    sleep 0.1
done

api() { curl -sf -X "$1" "http://127.0.0.1:18080$2" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' -d "$3"; }
# A key on a tier no run reaches, so the per-key limit does not cut the load.
TOKEN=$(api POST /api/keys '{"name":"load","scope":"write","tier":"load"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
api PUT /api/flags/load-flag '{"kind":"percentage","strategies":[{"name":"flexibleRollout","rollout":50,"stickiness":"userId"}]}' >/dev/null
api POST /api/webhooks/event-types '{"name":"load.event"}' >/dev/null
api POST /api/webhooks/endpoints '{"url":"http://127.0.0.1:18079/health/live"}' >/dev/null

rss() { ps -o rss= -p "$SERVER" | tr -d ' '; }
echo "RSS idle: $(rss) KiB"
# CPU time (user + system, in clock ticks) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# CPU per request is the steadier figure on a shared machine: requests/s
# moves with whatever else runs, the work each request costs much less.
run() { # name, pid serving, wrk arguments…
    local name="$1" pid="$2"; shift 2
    local before; before=$(ticks "$pid")
    local out; out=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$@")
    local after; after=$(ticks "$pid")
    local rps p50 p99 count
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    count=$(awk '/requests in/ {print $1}' <<<"$out")
    local cpu; cpu=$(awk -v t=$((after - before)) -v n="$count" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
    local non2xx; non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "| $name | $rps | $p50 | $p99 | $cpu | ${non2xx:-0} | $(rss) |"
}

echo "Load (1-minute average) before: $(cut -d' ' -f1 /proc/loadavg)"
echo "| target | requests/s | p50 | p99 | server CPU µs/request | non-2xx | server RSS after (KiB) |"
echo "|---|---|---|---|---|---|---|"
run "bare axum, /health/live" "$BARE" http://127.0.0.1:18079/health/live
run "palisade full stack, /health/live" "$SERVER" http://127.0.0.1:18080/health/live
BODY='{"context":{"userId":"u1"},"keys":["load-flag"]}' TOKEN="$TOKEN" \
    run "POST /api/flags/evaluate" "$SERVER" -s benches/load/post.lua http://127.0.0.1:18080/api/flags/evaluate
BODY='{"event_type":"load.event","payload":{"n":1}}' TOKEN="$TOKEN" \
    run "POST /api/webhooks/messages" "$SERVER" -s benches/load/post.lua http://127.0.0.1:18080/api/webhooks/messages
echo "Load (1-minute average) after: $(cut -d' ' -f1 /proc/loadavg)"
