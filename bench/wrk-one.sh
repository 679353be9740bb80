#!/usr/bin/env bash
# bench/wrk-one.sh: a coarse, single-run check of one demo build on one route,
# with one credential, optionally under `perf record`. For comparing two
# commits quickly (build each in its own clone, run this against each in turn);
# bench/http.sh is the measurement that counts.
#
#   bench/wrk-one.sh [--perf OUT] [--counts] [--store NAME] [--duration S] [--sessions N] CLONE ROUTE
#
# CLONE is a checkout whose demo is built in Release
# (dotnet build samples/Tessera.Demo -c Release). ROUTE is /me, /api/me
# (a bearer token from /api/login), /counter/hits (POST) or /api/refresh (POST,
# 100 refresh-token chains from /api/login rotated by every request, through
# bench/Tessera.HttpBench/pool.lua). The demo runs with
# the memory store (--store sqlite for the SQLite store in a scratch
# directory; --store redis for a throwaway redis-server of its own, without
# persistence, on a free loopback port; --store postgres for a throwaway
# PostgreSQL from scripts/services.sh, fsync off as bench/http.sh runs it) in
# Production on a free loopback port; with --sessions N (not for /api/refresh)
# the requests carry N credentials from N sign-ins in turn through pool.lua, as
# bench/http.sh does with 100, instead of one; wrk warms up for
# 8 s (WRK_ONE_WARMUP=S for longer: the JIT can still be compiling after 8 s), then measures -t2 -c50 for S seconds (default 10). With --perf OUT, perf samples the demo
# (every process, PostgreSQL's included, with --store postgres) during the measured run (perf.data in OUT.perf.data; JIT symbols through
# DOTNET_PerfMapEnabled). With --counts, perf stat counts the demo's system calls and context switches during
# the measured run and prints them per request. Prints wrk's latency and requests/s lines and the
# CPU time per request of the app (and of its redis-server or PostgreSQL; for
# Redis also its script calls, commands and socket reads per 100 requests).
set -euo pipefail

perf_out="" counts="" store=memory seconds=10 sessions=1
while [[ ${1:-} == --* ]]; do
  case $1 in
    --perf) perf_out=$2; shift 2 ;;
    --counts) counts=1; shift ;;
    --store) store=$2; shift 2 ;;
    --duration) seconds=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    *) break ;;
  esac
done
[[ $store == memory || $store == sqlite || $store == redis || $store == postgres ]] || { echo "bench/wrk-one.sh: --store is memory, sqlite, redis or postgres" >&2; exit 2; }
[[ $sessions =~ ^[1-9][0-9]*$ ]] || { echo "bench/wrk-one.sh: --sessions is a positive number" >&2; exit 2; }
warmup=${WRK_ONE_WARMUP:-8}
[[ $warmup =~ ^[1-9][0-9]*$ ]] || { echo "bench/wrk-one.sh: WRK_ONE_WARMUP is a positive number of seconds" >&2; exit 2; }
[[ $# -eq 2 ]] || { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
clone=$1 route=$2
dll="$clone/samples/Tessera.Demo/bin/Release/net10.0/Tessera.Demo.dll"
[[ -f $dll ]] || { echo "bench/wrk-one.sh: no $dll (build the demo in Release first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/wrk-one.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port)
data=$(mktemp -d)
key=$(head -c 32 /dev/urandom | base64)
store_args=()
redis="" pg_pid=""
if [[ $store == postgres ]]; then
  # shellcheck source=../scripts/services.sh
  source "$(dirname "$0")/../scripts/services.sh"
  # WRK_ONE_PG_OPTIONS adds server options (say, auto_explain's) to the throwaway server.
  pg_dir="" postgres_options="-c max_connections=300 ${WRK_ONE_PG_OPTIONS:-}"
  start_postgres >/dev/null || exit 1
  store_args=("--ConnectionStrings:Postgres=$postgres_connection")
fi
if [[ $store == redis ]]; then
  command -v redis-server >/dev/null || { echo "bench/wrk-one.sh: redis-server is not installed" >&2; exit 2; }
  redis_port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$data" >"$data/redis.log" 2>&1 &
  redis=$!
  store_args=("--ConnectionStrings:Redis=127.0.0.1:$redis_port")
fi
# W^X off: perf resolves JIT symbols through /tmp/perf-PID.map only for code in anonymous memory, not in the
# double-mapped memfd that W^X puts it in.
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet "$dll" --urls "http://127.0.0.1:$port" --environment Production \
  --Logging:LogLevel:Default=Warning --Tessera:Store=$store "--Tessera:Keys:0=$key" "--Demo:DataDirectory=$data" --Demo:SessionRateLimit=0 \
  "${store_args[@]}" >"$data/demo.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null; if [[ -n $redis ]]; then kill $redis 2>/dev/null; wait $redis 2>/dev/null; fi; if [[ -n $pg_pid ]]; then stop_postgres >/dev/null 2>&1; fi; rm -rf "$data"' EXIT
for _ in $(seq 1 150); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done

login() {
  curl -sf -H 'Content-Type: application/json' -d "{\"user\":\"$1\"}" "http://127.0.0.1:$port/api/login"
}
lua="$(dirname "$0")/Tessera.HttpBench/pool.lua"
if [[ $route == /api/refresh ]]; then
  # Two pools of chains: the warm-up's rotate theirs, and a rotated token used again would revoke its session.
  for pool in warm measured; do
    for i in $(seq 1 100); do
      login "$pool$i" | python3 -c 'import json,sys; print(json.load(sys.stdin)["refreshToken"])'
    done >"$data/$pool.tokens"
  done
  warm_args=(-s "$lua" "http://127.0.0.1:$port$route" -- refresh "$data/warm.tokens" 2 POST)
  measured_args=(-s "$lua" "http://127.0.0.1:$port$route" -- refresh "$data/measured.tokens" 2 POST)
else
  # One request header per sign-in: a bearer token from /api/login for /api/*, the cookie from /login otherwise.
  for i in $(seq 1 "$sessions"); do
    if [[ $route == /api/* ]]; then
      echo "Authorization: Bearer $(login "user$i" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')"
    else
      cookie=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' -d "{\"user\":\"user$i\"}" "http://127.0.0.1:$port/login" |
        grep -i '^set-cookie' | head -1 | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//' | tr -d '\r')
      echo "Cookie: $cookie"
    fi
  done >"$data/headers"
  method=GET
  [[ $route == /counter* ]] && method=POST
  if ((sessions == 1)); then
    script="$data/method.lua"
    echo "wrk.method = \"$method\"" >"$script"
    warm_args=(-H "$(cat "$data/headers")" -s "$script" "http://127.0.0.1:$port$route")
  else
    warm_args=(-s "$lua" "http://127.0.0.1:$port$route" -- header "$data/headers" 2 "$method")
  fi
  measured_args=("${warm_args[@]}")
fi

wrk -t2 -c50 "-d${warmup}s" "${warm_args[@]}" >/dev/null
perf=""
if [[ -n $perf_out ]]; then
  # With PostgreSQL, every process (its backends come and go with the pool): perf report --comm postgres splits them.
  target=(-p "$demo")
  [[ -n $pg_pid ]] && target=(-a)
  perf record -F 999 -g "${target[@]}" -o "$perf_out.perf.data" -- sleep "$seconds" >/dev/null 2>&1 &
  perf=$!
fi
stat_out=""
if [[ -n $counts ]]; then
  stat_out="$data/perf-stat"
  perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$demo" -o "$stat_out" -- sleep "$seconds" >/dev/null 2>&1 &
  stat_pid=$!
fi
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
app_before=$(cpu_ticks "$demo")
# PostgreSQL's CPU: the postmaster and its live children (the pooled backends, the writers), plus what the children
# that ended (autovacuum workers) left in the postmaster's children's times.
pg_ticks() {
  local t p
  t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pg_pid/stat")
  for p in $(pgrep -P "$pg_pid"); do t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
  echo "$t"
}
# Redis's script calls (EVAL and EVALSHA) and all its commands, from INFO commandstats.
redis_calls() {
  redis-cli -p "$redis_port" info commandstats | tr -d '\r' |
    awk -F'[:=,]' -v want="$1" '/^cmdstat_/ { if (want == "all" || $1 == "cmdstat_eval" || $1 == "cmdstat_evalsha") n += $3 } END { print n + 0 }'
}
# How many times redis-server read a client's socket (INFO stats): under load, one read per batch the app sent.
redis_reads() { redis-cli -p "$redis_port" info stats | tr -d '\r' | awk -F: '$1 == "total_reads_processed" { print $2 }'; }
if [[ -n $redis ]]; then
  redis_before=$(cpu_ticks "$redis") scripts_before=$(redis_calls scripts) commands_before=$(redis_calls all) reads_before=$(redis_reads)
fi
[[ -n $pg_pid ]] && pg_before=$(pg_ticks)
out=$(wrk -t2 -c50 "-d${seconds}s" "${measured_args[@]}")
app_after=$(cpu_ticks "$demo")
[[ -n $pg_pid ]] && pg_after=$(pg_ticks)
grep -E 'Latency|Requests/sec' <<<"$out"
if [[ -n $perf ]]; then wait "$perf"; fi
# CPU per request (app, and redis-server when this script started one), steadier between runs than requests/s.
requests=$(awk '/requests in/ { print $1 }' <<<"$out")
hz=$(getconf CLK_TCK)
echo "app CPU per request: $(( (app_after - app_before) * 1000000 / hz / requests )) µs"
if [[ -n $pg_pid ]]; then
  echo "PostgreSQL CPU per request: $(( (pg_after - pg_before) * 1000000 / hz / requests )) µs"
fi
if [[ -n $counts ]]; then
  wait "$stat_pid"
  awk -F, -v n="$requests" '$3 ~ /sys_enter|context-switches/ { printf "%s per request: %.2f\n", $3, $1 / n }' "$stat_out"
fi
grep -E 'Non-2xx' <<<"$out" || true
if [[ -n $redis ]]; then
  echo "redis-server CPU per request: $(( ($(cpu_ticks "$redis") - redis_before) * 1000000 / hz / requests )) µs"
  echo "redis scripts / commands per 100 requests: $(( ($(redis_calls scripts) - scripts_before) * 100 / requests )) / $(( ($(redis_calls all) - commands_before) * 100 / requests ))"
  echo "redis socket reads (batches) per 100 requests: $(( ($(redis_reads) - reads_before) * 100 / requests ))"
fi
