#!/usr/bin/env bash
# bench/http.sh: the HTTP benchmark. Builds the demo, the AddSession baseline
# and the orchestrator (bench/Tessera.HttpBench) in Release, starts a throwaway
# PostgreSQL and Redis (scripts/services.sh, as test.sh does), and runs wrk
# against each store (the shared ones with and without the near cache) and
# against AddSession.
# Prints a table of requests/s, p99 latency and the ratio to /healthz measured
# in the same round; writes it with an SVG and PNG chart to artifacts/http-bench/
# (and, with --publish, into docs/benchmarks.md and docs/images/).
# Run bench/http.sh --help for the options.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: bench/http.sh [options]

  --duration S       seconds per wrk run (default 10)
  --connections N    wrk connections (default 50)
  --threads N        wrk threads (default 2)
  --rounds N         rounds; each runs every variant's routes once, the
                     variants taking turns; the table shows medians (default 3)
  --warmup S         unmeasured seconds per route before the first round (default 8)
  --quiet-wait S     before each run, wait up to S seconds for other programs
                     to leave the machine nearly idle (default 10; 0: never)
  --quick            smoke run: 2 s per route, 1 round, 1 s warm-up, 5 s
                     quiet wait
  --only LIST        comma-separated variants (default all): memory, sqlite,
                     postgres, postgres-mx, postgres-nc, redis, redis-nc,
                     compas, addsession ("-mx": Npgsql's multiplexing mode;
                     "-nc": with the near cache, which is for the
                     shared stores only; compas: Compas 0.5.5's token refresh
                     called in process on the same PostgreSQL, each round)
  --out DIR          where results go (default artifacts/http-bench)
  --durable          run PostgreSQL with fsync, synchronous_commit and
                     full_page_writes on (the default turns them off, as
                     test.sh does): the figure for writes and refreshes on a
                     server that keeps what it acknowledged; labelled so
  --publish          also write the results into docs/benchmarks.md (between
                     its http-throughput markers) and the chart into docs/images/
  -h, --help         this text

The full run (the defaults: wrk -t2 -c50 -d10s, 3 rounds) takes 20 to 35
minutes. wrk is installed with apt-get when missing (as root), and so are
postgresql and redis-server when a variant needs them; the PNG chart needs
/usr/bin/chromium and is skipped without it. The compas variant installs
@compas/store 0.5.5 with npm (Node 20) into a scratch folder; without npm or
the registry it is skipped with a warning.
USAGE
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_UI_LANGUAGE=en MSBUILDTERMINALLOGGER=off

tool_args=() only="" publish=0 durable=0 out="artifacts/http-bench" command="bench/http.sh"
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --duration | --connections | --threads | --rounds | --warmup | --quiet-wait)
      [[ $# -ge 2 ]] || { echo "bench/http.sh: $1 needs a value" >&2; exit 2; }
      tool_args+=("$1" "$2"); command+=" $1 $2"; shift 2 ;;
    --only)
      [[ $# -ge 2 ]] || { echo "bench/http.sh: --only needs a list" >&2; exit 2; }
      only="$2"; tool_args+=(--only "$2"); command+=" --only $2"; shift 2 ;;
    --out)
      [[ $# -ge 2 ]] || { echo "bench/http.sh: --out needs a directory" >&2; exit 2; }
      out="$2"; shift 2 ;;
    --quick) tool_args+=(--duration 2 --rounds 1 --warmup 1 --quiet-wait 5); command+=" --quick"; shift ;;
    --publish) publish=1; command+=" --publish"; shift ;;
    --durable) durable=1; command+=" --durable"; shift ;;
    *) echo "bench/http.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tessera-http-bench.XXXXXX")"
say() { printf '%s\n' "$*"; }
warn() { printf 'bench/http.sh: %s\n' "$*" >&2; }
show_log() {
  local file="$1" max="${2:-60}"
  [[ -f "$file" ]] || return 0
  head -n "$max" "$file" | sed 's/^/    | /'
}
# shellcheck source=../scripts/services.sh
source scripts/services.sh

cleanup() {
  stop_redis || true
  stop_postgres || true
  rm -rf "$tmp" || true
}
trap cleanup EXIT
trap 'warn "interrupted"; exit 130' INT
trap 'warn "terminated"; exit 143' TERM

# Which servers the chosen variants need.
need_pg=1 need_redis=1
if [[ -n "$only" ]]; then
  [[ ",$only," == *,postgres* || ",$only," == *,compas,* ]] || need_pg=0
  [[ ",$only," == *,redis* ]] || need_redis=0
fi

missing=()
command -v wrk >/dev/null || missing+=(wrk)
if ((need_pg)) && ! pg_bindir >/dev/null; then missing+=(postgresql); fi
if ((need_redis)) && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if ((${#missing[@]})); then apt_install "${missing[@]}" || exit 1; fi

# One Release build of the three programs; the servers then run from the
# built dlls (never `dotnet run` per variant). Another build in the same tree
# can hold a file in obj/ for a moment, so a failure is retried once.
projects=(samples/Tessera.Demo/Tessera.Demo.csproj bench/Tessera.Bench.AddSession/Tessera.Bench.AddSession.csproj
  bench/Tessera.HttpBench/Tessera.HttpBench.csproj)
build() {
  local p
  : >"$tmp/build.log"
  for p in "${projects[@]}"; do dotnet build "$p" -c Release -nologo -v:q >>"$tmp/build.log" 2>&1 || return 1; done
}
say "building in Release..."
if ! build; then
  warn "build failed; retrying once in case another build held a file"
  sleep 5
  if ! build; then
    grep -E ': (fatal )?error ' "$tmp/build.log" | sort -u | head -n 40 >&2 || show_log "$tmp/build.log" 60 >&2
    exit 1
  fi
fi

# The demo turns the near cache on with Tessera:NearCache:Enabled only once it
# calls UseNearCache(); until then the "-nc" variants are labelled as such.
near_cache_built=false
if grep -qs 'UseNearCache' samples/Tessera.Demo/*.cs; then near_cache_built=true; fi

server_args=()
if ((need_pg)); then
  # Two demo processes (with and without the near cache) keep up to 50 pooled
  # connections each, plus their listeners: more than the default 100.
  # pg_stat_statements: the bench prints the statements each request cost.
  postgres_options="-c max_connections=300 -c shared_preload_libraries=pg_stat_statements"
  # Later settings win: --durable turns back on what scripts/services.sh turns off.
  if ((durable)); then postgres_options+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on"; fi
  start_postgres || exit 1
  durable_flag=false
  if ((durable)); then
    durable_flag=true
    fsync="$("$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SHOW fsync" postgres 2>/dev/null || true)"
    [[ "$fsync" == on ]] || { warn "PostgreSQL did not take fsync=on (SHOW fsync: ${fsync:-no answer})"; exit 1; }
  fi
  server_args+=(--postgres "$postgres_connection" --postgres-pid "$pg_pid" --postgres-version "$postgres_version" --postgres-durable "$durable_flag")
fi
# Compas's refresh, in process on the same PostgreSQL (bench/compas/refresh.mjs).
if ((need_pg)) && [[ -z "$only" || ",$only," == *,compas,* ]]; then
  if command -v npm >/dev/null; then
    mkdir -p "$tmp/compas" && cp bench/compas/package.json bench/compas/refresh.mjs "$tmp/compas/"
    say "installing @compas/store 0.5.5 for the compas variant..."
    if (cd "$tmp/compas" && npm install --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1; then
      server_args+=(--compas "$tmp/compas" --compas-migration test/Tessera.PostgreSql.Tests/compas-interop/seed-migration.sql)
    else
      warn "npm install of @compas/store failed; Compas's refresh is not measured"
      show_log "$tmp/npm.log" 20 >&2
    fi
  else
    warn "npm not found: Compas's refresh is not measured (it needs Node.js 20)"
  fi
fi
if ((need_redis)); then
  start_redis || exit 1
  server_args+=(--redis "$redis_address" --redis-pid "$redis_pid" --redis-version "$redis_version")
fi

# What is measured: the commit, and whether the code under test differs from it.
revision="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain -- src samples bench 2>/dev/null)" ]]; then
  revision+=" with uncommitted changes in src/, samples/ or bench/"
fi

publish_args=()
if ((publish)); then publish_args=(--publish docs/benchmarks.md); fi

status=0
dotnet bench/Tessera.HttpBench/bin/Release/net10.0/Tessera.HttpBench.dll \
  --demo samples/Tessera.Demo/bin/Release/net10.0/Tessera.Demo.dll \
  --addsession bench/Tessera.Bench.AddSession/bin/Release/net10.0/Tessera.Bench.AddSession.dll \
  --near-cache-built "$near_cache_built" --out "$out" --command "$command" --revision "$revision" \
  "${server_args[@]}" "${publish_args[@]}" "${tool_args[@]}" || status=$?
exit "$status"
