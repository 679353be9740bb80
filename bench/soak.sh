#!/usr/bin/env bash
# bench/soak.sh: the soak test and the real-outage runs (issue 7). Builds the demo
# and the load driver (bench/Tessera.Soak) in Release, starts a throwaway
# PostgreSQL and Redis (scripts/services.sh, as test.sh does), starts one demo
# process per store with a short idle timeout and a short cleanup interval, and
# drives mixed traffic at all of them at once:
#   soak (default): 10 minutes; checks zero 5xx, zero lost writes, and memory and
#     store size flat once expired sessions are collected.
#   --outage (bench/outage.sh): kill -9 redis-server and stop PostgreSQL in
#     immediate mode in the middle of the run, restart each on the same port and
#     data directory; checks errors stay inside the outage windows, nothing
#     acknowledged before (or during) the outage is lost, and each demo recovers
#     without a restart.
# Results (summary, JSON with the per-second timeline and the samples, the demos'
# logs) go to artifacts/soak/ or artifacts/outage/. Run bench/soak.sh --help.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: bench/soak.sh [options]        the soak test
       bench/outage.sh [options]      the real-outage runs (same as bench/soak.sh --outage)

  --duration S          seconds of traffic (default 600; with --outage 150)
  --rate R              requests/s per demo (default 100)
  --concurrency C       requests in flight per demo (default 8)
  --only LIST           comma-separated stores: sqlite, postgres, redis (default
                        all three; with --outage postgres,redis)
  --idle-timeout S      the demos' idle timeout; token sessions idle out after the
                        same time without a refresh (default 60; with --outage 90)
  --cleanup-interval S  the demos' cleanup interval (default 15)
  --flat-tolerance P    flat: last third's mean at most P % above the middle
                        third's (default 10)
  --out DIR             where results go (default artifacts/soak or artifacts/outage)
  --near-cache          run the PostgreSQL and Redis demos with the near cache
                        (Tessera:NearCache:Enabled=true; its invalidation
                        subscription must then survive the outages too)

  --outage              the real-outage runs instead of the soak
  --outage-at S         seconds into the traffic when Redis is killed (default 30)
  --down S              seconds each server stays down (default 10)
  --gap S               seconds between Redis coming back and PostgreSQL going
                        down (default 30)
  --appendfsync MODE    Redis's appendfsync for the outage run: always (default)
                        or everysec
  --reconnect-margin S  errors up to S seconds after a server is back still count
                        as the outage's (default 7)
  -h, --help            this text

The soak takes about 12 minutes (build, set-up, 10 minutes of traffic, read-back);
the outage run about 4. postgresql and redis-server are installed with apt-get when
missing (as root).
USAGE
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_UI_LANGUAGE=en MSBUILDTERMINALLOGGER=off

outage=0 duration="" rate=100 concurrency=8 only="" idle="" cleanup=15 tolerance=10 out=""
outage_at=30 down=10 gap=30 appendfsync=always margin=7 near_cache=0
need_value() { [[ $# -ge 2 ]] || { echo "bench/soak.sh: $1 needs a value" >&2; exit 2; }; }
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --outage) outage=1; shift ;;
    --near-cache) near_cache=1; shift ;;
    --duration) need_value "$@"; duration="$2"; shift 2 ;;
    --rate) need_value "$@"; rate="$2"; shift 2 ;;
    --concurrency) need_value "$@"; concurrency="$2"; shift 2 ;;
    --only) need_value "$@"; only="$2"; shift 2 ;;
    --idle-timeout) need_value "$@"; idle="$2"; shift 2 ;;
    --cleanup-interval) need_value "$@"; cleanup="$2"; shift 2 ;;
    --flat-tolerance) need_value "$@"; tolerance="$2"; shift 2 ;;
    --out) need_value "$@"; out="$2"; shift 2 ;;
    --outage-at) need_value "$@"; outage_at="$2"; shift 2 ;;
    --down) need_value "$@"; down="$2"; shift 2 ;;
    --gap) need_value "$@"; gap="$2"; shift 2 ;;
    --appendfsync) need_value "$@"; appendfsync="$2"; shift 2 ;;
    --reconnect-margin) need_value "$@"; margin="$2"; shift 2 ;;
    *) echo "bench/soak.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "${duration:-1}" "$rate" "$concurrency" "${idle:-1}" "$cleanup" "$outage_at" "$down" "$gap"; do
  [[ "$value" =~ ^[0-9]+$ && "$value" -gt 0 ]] || { echo "bench/soak.sh: '$value' is not a positive whole number" >&2; exit 2; }
done
[[ "$appendfsync" == always || "$appendfsync" == everysec ]] || { echo "bench/soak.sh: --appendfsync is always or everysec" >&2; exit 2; }

if ((outage)); then
  mode=outage only="${only:-postgres,redis}" idle="${idle:-90}" out="${out:-artifacts/outage}"
  # Both outages, then enough traffic afterwards to see the recovery.
  minimum=$((outage_at + 2 * down + gap + 40))
  duration="${duration:-$((minimum > 150 ? minimum : 150))}"
  if ((duration < minimum)); then
    echo "bench/soak.sh: --duration must be at least $minimum s for these outage settings" >&2; exit 2
  fi
else
  mode=soak only="${only:-sqlite,postgres,redis}" idle="${idle:-60}" out="${out:-artifacts/soak}" duration="${duration:-600}"
fi
stores=()
IFS=',' read -r -a stores <<<"$only"
for store in "${stores[@]}"; do
  case "$store" in sqlite | postgres | redis) ;; *) echo "bench/soak.sh: unknown store '$store' in --only" >&2; exit 2 ;; esac
done
wants() { [[ ",$only," == *",$1,"* ]]; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tessera-soak.XXXXXX")"
say() { printf '%s\n' "$*"; }
warn() { printf 'bench/soak.sh: %s\n' "$*" >&2; }
show_log() {
  local file="$1" max="${2:-60}"
  [[ -f "$file" ]] || return 0
  tail -n "$max" "$file" | sed 's/^/    | /'
}
# shellcheck source=../scripts/services.sh
source scripts/services.sh

demo_pids=() demo_names=() driver_pid=""
stop_pid() {
  local pid="$1" name="$2" i
  pid_is "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do pid_is "$pid" "$name" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  if [[ -n "$driver_pid" ]]; then stop_pid "$driver_pid" Tessera.Soak; fi
  for i in "${!demo_pids[@]}"; do
    stop_pid "${demo_pids[$i]}" Tessera.Demo
    # Keep the demos' logs (warnings and errors only) with the results.
    if [[ -d "$out" ]]; then cp "$tmp/demo-${demo_names[$i]}/demo.log" "$out/demo-${demo_names[$i]}.log" 2>/dev/null || true; fi
  done
  stop_redis || true
  stop_postgres || true
  rm -rf "$tmp" || true
}
trap cleanup EXIT
trap 'warn "interrupted"; exit 130' INT
trap 'warn "terminated"; exit 143' TERM

missing=()
if wants postgres && ! pg_bindir >/dev/null; then missing+=(postgresql); fi
if wants redis && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if ((${#missing[@]})); then apt_install "${missing[@]}" || exit 1; fi

# One Release build; the demos then run from the built dll.
build_release samples/Tessera.Demo/Tessera.Demo.csproj bench/Tessera.Soak/Tessera.Soak.csproj || exit 1
demo_dir="samples/Tessera.Demo/bin/Release/net10.0"
driver_dll="bench/Tessera.Soak/bin/Release/net10.0/Tessera.Soak.dll"

if wants postgres; then
  # The outage run models a production server: a crash (immediate stop) must not
  # lose a commit the demo acknowledged, so commits wait for the WAL flush
  # (services.sh's throwaway defaults turn that off for speed; later -c wins).
  if ((outage)); then postgres_options="-c synchronous_commit=on -c fsync=on -c full_page_writes=on"; fi
  start_postgres || exit 1
  if ((outage)); then
    port="${postgres_connection#*Port=}" port="${port%%;*}"
    say "PostgreSQL $(psql "postgresql://postgres@127.0.0.1:$port/postgres" -Atc \
      "select string_agg(name || '=' || setting, ', ' order by name) from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes')" 2>/dev/null || echo '(settings not readable)')"
  fi
fi
if wants redis; then
  # services.sh starts Redis with appendonly yes (and the default everysec);
  # the outage run chooses the fsync policy, kept for the restart after the kill.
  if ((outage)); then redis_args=(--appendfsync "$appendfsync"); fi
  start_redis || exit 1
  if ((outage)); then
    say "Redis appendonly $(redis-cli -h 127.0.0.1 -p "${redis_address##*:}" config get appendonly | tail -n 1), appendfsync $(redis-cli -h 127.0.0.1 -p "${redis_address##*:}" config get appendfsync | tail -n 1)"
  fi
fi

hms() { printf '%02d:%02d:%02d' $(($1 / 3600)) $(($1 % 3600 / 60)) $(($1 % 60)); }
# Short lifetimes so that sessions expire, and are collected, many times during the
# run: cookie sessions idle out after --idle-timeout, token sessions when not
# refreshed for as long (the driver refreshes at half the access token's life).
touch_interval=$((idle / 6 > 0 ? idle / 6 : 1))
demo_settings=(
  --Tessera:IdleTimeout="$(hms "$idle")"
  --Tessera:TouchInterval="$(hms "$touch_interval")"
  --Tessera:CleanupInterval="$(hms "$cleanup")"
  --Tessera:Tokens:AccessTokenLifetime="$(hms $((idle / 2)))"
  --Tessera:Tokens:RefreshTokenLifetime="$(hms "$idle")"
  # Every client of the driver comes from 127.0.0.1: the demo's per-address limit on session routes is off.
  --Demo:SessionRateLimit=0
)

shared_store_settings=()
if ((near_cache)); then shared_store_settings=(--Tessera:NearCache:Enabled=true); fi

driver_args=()
# start_demo NAME ARGS...: the built demo on a port the kernel picks (read back from
# its "Now listening on" line), in Development (the development signing key, the
# plain "tessera" cookie over http), logging warnings and errors only.
start_demo() {
  local name="$1" dir="$tmp/demo-$1" url="" pid i
  shift
  mkdir -p "$dir/data"
  local unset_env=(-u ASPNETCORE_ENVIRONMENT -u DOTNET_ENVIRONMENT -u ASPNETCORE_URLS)
  local variable
  for variable in $(compgen -e | grep -E '^(Tessera__|ConnectionStrings__|Demo__|Logging__)' || true); do unset_env+=(-u "$variable"); done
  (cd "$demo_dir" && exec env "${unset_env[@]}" dotnet Tessera.Demo.dll --environment Development --urls http://127.0.0.1:0 \
    --Demo:DataDirectory="$dir/data" --Logging:LogLevel:Default=Warning --Logging:LogLevel:Microsoft.Hosting.Lifetime=Information \
    "${demo_settings[@]}" "$@") >"$dir/demo.log" 2>&1 &
  pid=$!
  demo_pids+=("$pid") demo_names+=("$name")
  for i in $(seq 1 600); do
    url="$(sed -n 's/.*Now listening on: \(http:\/\/[0-9.:]*\).*/\1/p' "$dir/demo.log" 2>/dev/null | head -n 1)"
    if [[ -n "$url" ]]; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [[ -z "$url" ]]; then
    warn "the $name demo did not start:"
    show_log "$dir/demo.log" 40
    return 1
  fi
  say "demo $name on $url (pid $pid)"
  driver_args+=(--target "$name=$url" --pid "$name=$pid")
}

if wants sqlite; then
  start_demo sqlite --Tessera:Store=sqlite || exit 1
  driver_args+=(--sqlite "sqlite=$tmp/demo-sqlite/data/sessions.db")
fi
if wants postgres; then
  start_demo postgres --Tessera:Store=postgres --ConnectionStrings:Postgres="$postgres_connection" "${shared_store_settings[@]}" || exit 1
  driver_args+=(--postgres "postgres=$postgres_connection")
fi
if wants redis; then
  start_demo redis --Tessera:Store=redis --ConnectionStrings:Redis="$redis_address" "${shared_store_settings[@]}" || exit 1
  driver_args+=(--redis "redis=$redis_address")
fi

mkdir -p "$out"
rm -f "$out/results.json" "$out/summary.txt" "$out"/demo-*.log
driver_args+=(--mode "$mode" --duration "$duration" --rate "$rate" --concurrency "$concurrency"
  --idle-timeout "$idle" --cleanup-interval "$cleanup" --flat-tolerance "$tolerance" --out "$out/results.json")
revision="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain -- src samples bench 2>/dev/null)" ]]; then
  revision+=" with uncommitted changes in src/, samples/ or bench/"
fi
say "$mode run of $revision$( ((near_cache)) && echo ', near cache on'): $duration s, $rate requests/s and $concurrency in flight per demo, idle timeout $idle s, cleanup every $cleanup s"

if ((!outage)); then
  status=0
  dotnet "$driver_dll" "${driver_args[@]}" 2>&1 | tee "$out/summary.txt" || status=$?
  exit "$status"
fi

# ---------------------------------------------------------------------------
# The outage run: the driver runs in the background; once every session has been
# signed in and written (its ready file), Redis is killed and later PostgreSQL is
# stopped, each restarted after --down seconds. Each "down" / "up" is written to
# the events file the driver reads at the end to place the errors.
# ---------------------------------------------------------------------------
events="$tmp/events" ready="$tmp/ready"
: >"$events"
now_ms() { date +%s%3N; }
event() { printf '%s %s %s\n' "$(now_ms)" "$1" "$2" >>"$events"; say "$(date +%T) $2 $1"; }

dotnet "$driver_dll" "${driver_args[@]}" --events "$events" --ready "$ready" --reconnect-margin "$margin" >"$out/summary.txt" 2>&1 &
driver_pid=$!
for i in $(seq 1 1200); do
  if [[ -s "$ready" ]]; then break; fi
  if ! kill -0 "$driver_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ ! -s "$ready" ]]; then
  warn "the driver did not get ready:"; show_log "$out/summary.txt" 40; exit 1
fi
say "$(date +%T) traffic started; sessions signed in and written"

sleep "$outage_at"
if wants redis; then
  event down redis
  killed="$redis_pid"
  halt_redis KILL
  say "$(date +%T) killed redis-server (pid $killed) with SIGKILL; restarting it in $down s"
  sleep "$down"
  # Same port, same directory (so the append-only file is replayed), same arguments.
  start_redis || exit 1
  event up redis
  say "$(date +%T) redis-server is back (pid $redis_pid), AOF replayed: $(redis-cli -h 127.0.0.1 -p "${redis_address##*:}" dbsize) keys"
  sleep "$gap"
fi
if wants postgres; then
  event down postgres
  halt_postgres immediate
  say "$(date +%T) stopped PostgreSQL in immediate mode (no shutdown checkpoint: crash recovery at the next start); restarting it in $down s"
  sleep "$down"
  # Same port, same data directory, same server options.
  start_postgres || exit 1
  event up postgres
  say "$(date +%T) PostgreSQL is back (pid $pg_pid)"
fi

status=0
wait "$driver_pid" || status=$?
driver_pid=""
cat "$out/summary.txt"
exit "$status"
