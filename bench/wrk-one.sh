#!/usr/bin/env bash
# bench/wrk-one.sh: a coarse, single-run check of one demo build on one route,
# with one credential, optionally under `perf record`. For comparing two
# commits quickly (build each in its own clone, run this against each in turn);
# bench/http.sh is the measurement that counts.
#
#   bench/wrk-one.sh [--perf OUT] [--store NAME] CLONE ROUTE
#
# CLONE is a checkout whose demo is built in Release
# (dotnet build samples/Tessera.Demo -c Release). ROUTE is /me, /api/me
# (a bearer token from /api/login) or /counter/hits (POST). The demo runs with
# the memory store (--store sqlite for the SQLite store in a scratch
# directory) in Production on a free loopback port; wrk warms up for
# 8 s, then measures -t2 -c50 -d10s. With --perf OUT, perf samples the demo
# during the measured run (perf.data in OUT.perf.data; JIT symbols through
# DOTNET_PerfMapEnabled). Prints wrk's latency and requests/s lines.
set -euo pipefail

perf_out="" store=memory
while [[ ${1:-} == --* ]]; do
  case $1 in
    --perf) perf_out=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    *) break ;;
  esac
done
[[ $store == memory || $store == sqlite ]] || { echo "bench/wrk-one.sh: --store is memory or sqlite" >&2; exit 2; }
[[ $# -eq 2 ]] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
clone=$1 route=$2
dll="$clone/samples/Tessera.Demo/bin/Release/net10.0/Tessera.Demo.dll"
[[ -f $dll ]] || { echo "bench/wrk-one.sh: no $dll (build the demo in Release first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/wrk-one.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
data=$(mktemp -d)
key=$(head -c 32 /dev/urandom | base64)
DOTNET_PerfMapEnabled=1 dotnet "$dll" --urls "http://127.0.0.1:$port" --environment Production \
  --Logging:LogLevel:Default=Warning --Tessera:Store=$store "--Tessera:Keys:0=$key" "--Demo:DataDirectory=$data" --Demo:SessionRateLimit=0 \
  >"$data/demo.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 150); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done

if [[ $route == /api/* ]]; then
  token=$(curl -sf -H 'Content-Type: application/json' -d '{"user":"alice"}' "http://127.0.0.1:$port/api/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
  header="Authorization: Bearer $token"
else
  cookie=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' -d '{"user":"alice"}' "http://127.0.0.1:$port/login" |
    grep -i '^set-cookie' | head -1 | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//' | tr -d '\r')
  header="Cookie: $cookie"
fi
method=GET
[[ $route == /counter* ]] && method=POST
script="$data/method.lua"
echo "wrk.method = \"$method\"" >"$script"

wrk -t2 -c50 -d8s -H "$header" -s "$script" "http://127.0.0.1:$port$route" >/dev/null
perf=""
if [[ -n $perf_out ]]; then
  perf record -F 999 -g -p "$demo" -o "$perf_out.perf.data" -- sleep 10 >/dev/null 2>&1 &
  perf=$!
fi
wrk -t2 -c50 -d10s -H "$header" -s "$script" "http://127.0.0.1:$port$route" | grep -E 'Latency|Requests/sec'
if [[ -n $perf ]]; then wait "$perf"; fi
