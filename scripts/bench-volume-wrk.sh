#!/usr/bin/env bash
# Read throughput of one weed-ts volume server against a bare node:http server, measured by wrk.
#
# 1. starts `weed-ts server` (master + volume) on free loopback ports in a temp dir
# 2. writes N files of SIZE bytes through it with `weed-ts benchmark -writeOnly`, keeping the fids
# 3. runs wrk (GET of random fids from that list) against the volume server directly, and the
#    same wrk against scripts/bare-node-server.mjs (a fixed SIZE-byte body from memory),
#    for each connection count in CONNS
# 4. prints req/s, p50 and p99 for both and the volume/bare ratio (target: >= 60 %)
#
# Everything is on 127.0.0.1, every wait is bounded, only the processes this script started are
# stopped, and the temp dir is removed on exit. The repo must be built (npm run build).
#
# Env: N=10000 SIZE=1024 THREADS=2 CONNS="16 64" DURATION=10s TARGET_RATIO=0.60
set -euo pipefail

N=${N:-10000}
SIZE=${SIZE:-1024}
THREADS=${THREADS:-2}
CONNS=${CONNS:-"16 64"}
DURATION=${DURATION:-10s}
TARGET_RATIO=${TARGET_RATIO:-0.60}
# Bounds on every wait, in seconds.
START_WAIT_S=30      # server up and the volume server registered with the master
WRITE_TIMEOUT_S=300  # writing N files (10,000 take a few seconds)
WRK_GRACE_S=30       # wrk runs DURATION, plus this before it is killed
STOP_WAIT_S=15       # SIGTERM to exit, before SIGKILL (the server drains for a few seconds)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEED=("node" "$ROOT/bin/weed-ts.js")

log() { printf '[bench-volume-wrk] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
  log "warning: wrk is not installed; installing the Debian package 'wrk' with apt-get"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; } \
      || die "could not install wrk"
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get install -y wrk >/dev/null || die "could not install wrk (try: sudo apt-get install wrk)"
  else
    die "wrk is missing and this user cannot apt-get install it"
  fi
fi
command -v curl >/dev/null 2>&1 || die "curl is required"
[ -f "$ROOT/dist/cli/main.js" ] || die "dist/ is missing: run 'npm run build' first"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/weed-bench-wrk.XXXXXX")
SERVER_PID=""
BARE_PID=""

stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((STOP_WAIT_S * 10))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid did not stop in ${STOP_WAIT_S}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$BARE_PID"
  stop_pid "$SERVER_PID"
  wait 2>/dev/null || true
  if [ $rc -ne 0 ] && [ -f "$TMP/server.log" ]; then
    log "server log (last 30 lines):"
    tail -n 30 "$TMP/server.log" >&2 || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A loopback port p with p and p+10000 (the gRPC port) both free right now.
free_port_pair() {
  node -e '
    const net = require("node:net");
    const tryBind = (p) => new Promise((ok) => {
      const s = net.createServer().once("error", () => ok(false)).listen(p, "127.0.0.1", () => s.close(() => ok(true)));
    });
    (async () => {
      for (let i = 0; i < 200; i++) {
        const p = 20000 + Math.floor(Math.random() * 35000);
        if ((await tryBind(p)) && (await tryBind(p + 10000))) { console.log(p); return; }
      }
      process.exit(1);
    })();'
}

# Polls a URL until it answers 2xx, for at most $2 seconds.
wait_http() {
  local url=$1 limit_s=$2 i
  for i in $(seq 1 $((limit_s * 5))); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    [ -z "$SERVER_PID" ] || kill -0 "$SERVER_PID" 2>/dev/null || die "server exited while waiting for $url"
    sleep 0.2
  done
  die "no answer from $url within ${limit_s}s"
}

MASTER_PORT=$(free_port_pair) || die "no free port pair for the master"
VOLUME_PORT=$(free_port_pair) || die "no free port pair for the volume server"
# The four ports (two HTTP, two gRPC at +10000) must differ.
for _ in 1 2 3 4 5; do
  d=$((VOLUME_PORT - MASTER_PORT))
  [ "$d" -ne 0 ] && [ "$d" -ne 10000 ] && [ "$d" -ne -10000 ] && break
  VOLUME_PORT=$(free_port_pair) || die "no free port pair for the volume server"
done
MASTER=127.0.0.1:$MASTER_PORT
VOLUME=127.0.0.1:$VOLUME_PORT

log "starting weed-ts server: master $MASTER, volume $VOLUME, dir $TMP/data"
mkdir -p "$TMP/data"
"${WEED[@]}" server -dir="$TMP/data" -ip=127.0.0.1 -master.port="$MASTER_PORT" -volume.port="$VOLUME_PORT" \
  -volume.max=8 >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

wait_http "http://$MASTER/cluster/status" "$START_WAIT_S"
wait_http "http://$VOLUME/status" "$START_WAIT_S"
# Growing succeeds once the volume server's heartbeat has reached the master.
wait_http "http://$MASTER/vol/grow?collection=benchmark&count=4" "$START_WAIT_S"

log "writing $N files of $SIZE bytes"
LIST=$TMP/fids.txt
timeout "$WRITE_TIMEOUT_S" "${WEED[@]}" benchmark -master="$MASTER" -writeOnly -n="$N" -c=16 -size="$SIZE" \
  -list="$LIST" >"$TMP/write.log" 2>&1 || { cat "$TMP/write.log" >&2; die "writing files failed"; }
grep -E '^(Completed|Failed) requests|^Requests per second' "$TMP/write.log" >&2 || true
WRITTEN=$(grep -c . "$LIST" || true)
[ "$WRITTEN" -gt 0 ] || die "no fids were written"
# Only files on this one volume server are in the list, so every GET goes to it directly.
curl -fsS -o /dev/null "http://$VOLUME/$(head -n 1 "$LIST")" || die "volume server does not serve a written fid"

log "starting bare node server"
node "$ROOT/scripts/bare-node-server.mjs" -port=0 -size="$SIZE" >"$TMP/bare.log" 2>&1 &
BARE_PID=$!
for _ in $(seq 1 50); do grep -q '^listening on' "$TMP/bare.log" && break; sleep 0.1; done
BARE=$(sed -n 's/^listening on //p' "$TMP/bare.log")
[ -n "$BARE" ] || die "bare node server did not start"

cat >"$TMP/random-fid.lua" <<'LUA'
-- GET /<fid> of a random fid from $FID_LIST; done() prints one machine-readable line.
local fids = {}
for line in io.lines(os.getenv("FID_LIST")) do
  if line ~= "" and line:sub(1, 1) ~= "#" then fids[#fids + 1] = "/" .. line end
end
local n = #fids
math.randomseed(os.time())
request = function()
  return wrk.format("GET", fids[math.random(n)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.2f %.1f %.1f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
LUA

DURATION_S=${DURATION%s}
# Prints "req/s p50_us p99_us socket_errors non2xx" for wrk against $1 with $2 connections.
run_wrk() {
  local target=$1 conns=$2 out
  out=$(FID_LIST=$LIST timeout $((DURATION_S + WRK_GRACE_S)) \
    wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout 5s -s "$TMP/random-fid.lua" "http://$target") \
    || die "wrk against $target failed"
  out=$(printf '%s\n' "$out" | sed -n 's/^RESULT //p')
  [ -n "$out" ] || die "wrk against $target printed no result"
  printf '%s\n' "$out"
}

declare -A RESULT
for c in $CONNS; do
  log "wrk -t$THREADS -c$c -d$DURATION against the volume server"
  RESULT[vol,$c]=$(run_wrk "$VOLUME" "$c")
  log "wrk -t$THREADS -c$c -d$DURATION against the bare node server"
  RESULT[bare,$c]=$(run_wrk "$BARE" "$c")
done

echo
echo "Volume server GET of random $SIZE-byte files ($WRITTEN written) vs bare node:http, wrk -t$THREADS -d$DURATION"
printf '%-6s %-15s %12s %10s %10s %8s %8s\n' "conns" "server" "req/s" "p50 ms" "p99 ms" "errors" "non2xx"
status=0
for c in $CONNS; do
  for who in vol bare; do
    read -r rps p50 p99 errs non2xx <<<"${RESULT[$who,$c]}"
    name=$([ "$who" = vol ] && echo "weed-ts volume" || echo "bare node")
    printf '%-6s %-15s %12.0f %10.3f %10.3f %8d %8d\n' "$c" "$name" "$rps" \
      "$(awk -v x="$p50" 'BEGIN{print x/1000}')" "$(awk -v x="$p99" 'BEGIN{print x/1000}')" "$errs" "$non2xx"
    if [ "$who" = vol ] && [ "$non2xx" -gt 0 ]; then
      log "warning: $non2xx volume server answers were not 2xx: its req/s is not a read rate"
      status=1
    fi
  done
  read -r vrps _ <<<"${RESULT[vol,$c]}"
  read -r brps _ <<<"${RESULT[bare,$c]}"
  verdict=$(awk -v v="$vrps" -v b="$brps" -v t="$TARGET_RATIO" \
    'BEGIN {
      r = (b > 0) ? v / b : 0
      printf "%.1f%% of bare node (target >= %.0f%%): %s", r * 100, t * 100, (r >= t) ? "OK" : "BELOW TARGET"
    }')
  printf '%-6s ratio           %s\n' "$c" "$verdict"
done
exit $status
