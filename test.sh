#!/usr/bin/env bash
# test.sh: install and start what the tests need (PostgreSQL, Redis, Chromium),
# build Tessera, and run every test project (test/*/*.Tests.csproj), the
# packaging checks included (test/Tessera.Packaging.Tests).
#
# The last line of output is always exactly "N passed, N failed, N skipped"
# (totals over all test projects), whatever happened before it, so people and
# CI can read the result from one place. Run ./test.sh --help for the options.
#
# It must work on a fresh Debian 12 machine that has only the .NET SDK, so it
# uses nothing but bash, coreutils, grep, sed and awk (no python, no jq), plus
# apt-get when PostgreSQL/Redis/Chromium have to be installed.
set -euo pipefail

# Everything is relative to the repository, wherever the script is called from.
cd "$(dirname "$0")"

usage() {
  cat <<'EOF'
Usage: ./test.sh [dotnet test arguments...]

Builds Tessera.slnx, then runs the test projects (test/*/*.Tests.csproj) with
`dotnet test --no-build`, two at a time, and prints a line per project from the
runner's own summary as each ends. Tessera.Packaging.Tests packs the solution and
checks the packages (and installs the tessera tool from them).
The last line is always "N passed, N failed, N skipped" (totals).

Any arguments are passed to every project's `dotnet test`, for example:
  ./test.sh --filter FullyQualifiedName~Sqlite
  ./test.sh --filter "Category!=Slow"

Exit status is nonzero if the build failed, a test failed, a test project crashed or produced no results, the run
was interrupted, or (in CI) a test was skipped.

Environment:
  CI=true or TESSERA_CI=1   CI mode: any skipped test makes the run fail.
  TESSERA_SERVICES=1        Start throwaway PostgreSQL and Redis servers even
                            if no test project needs them. =0 never starts
                            them. By default they start when
                            test/Tessera.PostgreSql.Tests or
                            test/Tessera.Redis.Tests exists. Missing Debian
                            packages (postgresql, redis-server) are installed
                            with apt-get when running as root, and so is
                            chromium (/usr/bin/chromium) when a test project
                            references Microsoft.Playwright (browser tests).
  TESSERA_TEST_POSTGRES     Npgsql connection string of a PostgreSQL to use
                            instead of starting one.
  TESSERA_TEST_REDIS        host:port of a Redis to use instead of starting one.
  With the Redis tests, three more Redis set-ups start on 127.0.0.1 (each
  skipped when its variable is given; the test project starts any missing one
  itself through scripts/services.sh):
  TESSERA_TEST_REDIS_TLS    StackExchange.Redis configuration string of a
                            TLS-only Redis with a password, such as
                            "127.0.0.1:PORT,ssl=true,sslHost=localhost,
                            password=..."; the run makes its certificates.
  TESSERA_TEST_REDIS_TLS_CA The CA certificate (PEM file) that issued that
                            server's certificate; the tests trust only it.
  TESSERA_TEST_REDIS_SENTINEL  Configuration string of a Sentinel watching a
                            primary and its replica as service "tessera":
                            "127.0.0.1:PORT,serviceName=tessera".
  TESSERA_TEST_REDIS_CLUSTER   Configuration string of a three-master Redis
                            Cluster: "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3".
  TESSERA_CONFIGURATION     Build configuration (default Release: the tests
                            run against what ships, and the budgets below
                            measure it; with Debug the budgets are skipped).
  TESSERA_TEST_RESULTS      Keep the TRX files and logs in this directory
                            (default: a temporary directory, deleted at exit).
  TESSERA_PACK=0            Leave out Tessera.Packaging.Tests, for quicker local
                            runs (ignored in CI).
  TESSERA_TEST_JOBS         How many test projects run at the same time
                            (default 2; 1 runs them one after the other).
  TESSERA_TEST_HANG_TIMEOUT Abort a test project when a single test runs longer
                            than this (dotnet test --blame-hang-timeout,
                            default 3m), so a hang cannot stall CI.
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac

# Quiet, English, non-interactive dotnet: we grep its output for errors.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_UI_LANGUAGE=en MSBUILDTERMINALLOGGER=off

config="${TESSERA_CONFIGURATION:-Release}"
hang_timeout="${TESSERA_TEST_HANG_TIMEOUT:-3m}"

in_ci=0
case "${CI:-}" in true | True | TRUE | 1) in_ci=1 ;; esac
case "${TESSERA_CI:-}" in 1 | true) in_ci=1 ;; esac

passed=0 failed=0 skipped=0
finished=0
# The test projects running now: process id -> project name, and -> start time.
declare -A job_name=() job_start=()
started_at=$SECONDS

# One temp dir for everything this run writes (results, logs, server data), so
# that cleanup is a single rm and parallel runs never share files.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tessera-test.XXXXXX")"
if [[ -n "${TESSERA_TEST_RESULTS:-}" ]]; then
  mkdir -p "$TESSERA_TEST_RESULTS"
  results="$(cd "$TESSERA_TEST_RESULTS" && pwd)"
else
  results="$tmp/results"
  mkdir -p "$results"
fi

say() { printf '%s\n' "$*"; }
warn() { printf 'test.sh: %s\n' "$*" >&2; }

# Print a file indented, at most $2 lines, so a crash's huge stack trace does
# not bury everything else.
show_log() {
  local file="$1" max="${2:-150}" n
  [[ -f "$file" ]] || return 0
  n=$(wc -l <"$file")
  head -n "$max" "$file" | sed 's/^/    | /'
  if ((n > max)); then say "    | ... ($((n - max)) more lines)"; fi
}

# ---------------------------------------------------------------------------
# Throwaway PostgreSQL and Redis: start_postgres, stop_postgres, start_redis,
# stop_redis and apt_install live in scripts/services.sh (bench/http.sh uses
# them too).
# ---------------------------------------------------------------------------
# shellcheck source=scripts/services.sh
source scripts/services.sh

install_missing_packages() {
  local missing=()
  if ((need_pg)) && ! pg_bindir >/dev/null; then missing+=(postgresql); fi
  if ((need_redis || need_redis_topologies)) && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
  if ((need_redis_topologies)) && ! command -v openssl >/dev/null; then missing+=(openssl); fi
  if ((need_chromium)) && [[ ! -x /usr/bin/chromium ]]; then missing+=(chromium); fi
  if ((${#missing[@]} == 0)); then return 0; fi
  if ! apt_install "${missing[@]}"; then
    warn "(the tests need them; or point TESSERA_TEST_POSTGRES / TESSERA_TEST_REDIS at running servers; the browser tests need /usr/bin/chromium itself)"
    return 1
  fi
}

# ---------------------------------------------------------------------------
# Redis beyond one node, for the TLS, Sentinel and Cluster tests: each in a
# directory of $tmp, exported as a StackExchange.Redis configuration string.
# The services.sh functions set redis_dir, redis_port... as they go; declared
# local here, those stay the single node's for stop_redis.
# ---------------------------------------------------------------------------
redis_topologies_dir=""

start_redis_topologies() {
  local redis_dir="" redis_port="" redis_pid="" redis_address="" redis_version="" redis_args=()
  local redis_cluster_endpoints="" redis_sentinel_address="" redis_primary_address="" redis_replica_address="" password
  redis_topologies_dir="$tmp/redis-topologies"
  mkdir -p "$redis_topologies_dir"
  if [[ -n "${TESSERA_TEST_REDIS_TLS:-}" && -n "${TESSERA_TEST_REDIS_TLS_CA:-}" ]]; then
    say "using the TLS Redis from TESSERA_TEST_REDIS_TLS"
  else
    # A password, so the tests can check it only ever crosses over TLS.
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    redis_dir="$redis_topologies_dir/tls" redis_port="" redis_args=(--requirepass "$password")
    start_redis_tls || return 1
    export TESSERA_TEST_REDIS_TLS="$redis_address,ssl=true,sslHost=localhost,password=$password"
    export TESSERA_TEST_REDIS_TLS_CA="$redis_dir/tls/ca.crt"
  fi
  if [[ -n "${TESSERA_TEST_REDIS_SENTINEL:-}" ]]; then
    say "using the Sentinel from TESSERA_TEST_REDIS_SENTINEL"
  else
    start_redis_sentinel "$redis_topologies_dir/sentinel" || return 1
    export TESSERA_TEST_REDIS_SENTINEL="$redis_sentinel_address,serviceName=tessera"
  fi
  if [[ -n "${TESSERA_TEST_REDIS_CLUSTER:-}" ]]; then
    say "using the Redis Cluster from TESSERA_TEST_REDIS_CLUSTER"
  else
    start_redis_cluster "$redis_topologies_dir/cluster" || return 1
    export TESSERA_TEST_REDIS_CLUSTER="$redis_cluster_endpoints"
  fi
}

# Every server start_redis_topologies started (nothing when it never ran); the
# directories go with $tmp.
stop_redis_topologies() {
  [[ -n "$redis_topologies_dir" && -d "$redis_topologies_dir" ]] || return 0
  local redis_dir="" redis_pid=""
  halt_redis_all "$redis_topologies_dir" KILL
}

# ---------------------------------------------------------------------------
# Ending the run: every way out goes through here, so services are stopped,
# temp files removed, and the count line is the very last thing printed.
# ---------------------------------------------------------------------------
# Test projects still running when the run is cut short: each process group
# (dotnet test, its test host and whatever the tests started) is stopped.
stop_test_projects() {
  local pid
  for pid in "${!job_name[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${!job_name[@]}"; do wait "$pid" 2>/dev/null || true; done
  # A test host can outlive its dotnet test (it finishes the running tests).
  for pid in "${!job_name[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  job_name=() job_start=()
}

cleanup() {
  stop_test_projects || true
  stop_redis_topologies || true
  stop_redis || true
  stop_postgres || true
  rm -rf "$tmp" || true
}

summary() { say "$passed passed, $failed failed, $skipped skipped"; }

finish() {
  local status="$1"
  cleanup
  finished=1
  say "($((SECONDS - started_at))s)"
  summary
  exit "$status"
}

# Unexpected exit (a command failing under set -e, Ctrl-C, kill): still clean
# up and end with the count line. The incomplete run counts as one failure,
# since we cannot say the tests passed.
on_exit() {
  local rc=$?
  ((finished)) && return 0
  trap - EXIT INT TERM
  warn "run aborted (exit status $rc) before it completed"
  cleanup
  failed=$((failed + 1))
  summary
  exit $((rc == 0 ? 1 : rc))
}
trap on_exit EXIT
trap 'warn "interrupted"; exit 130' INT
trap 'warn "terminated"; exit 143' TERM

# ---------------------------------------------------------------------------
# Which test projects, and which services they need
# ---------------------------------------------------------------------------
projects=()
for p in test/*/*.Tests.csproj; do
  [[ -f "$p" ]] && projects+=("$p")
done

need_pg=0 need_redis=0
case "${TESSERA_SERVICES:-}" in
  1 | true | yes) need_pg=1 need_redis=1 ;;
  0 | false | no) ;;
  *)
    if compgen -G 'test/Tessera.PostgreSql.Tests/*.csproj' >/dev/null; then need_pg=1; fi
    if compgen -G 'test/Tessera.Redis.Tests/*.csproj' >/dev/null; then need_redis=1; fi
    ;;
esac
# TLS, Sentinel and Cluster go with the single node (before TESSERA_TEST_REDIS
# may stand in for that one): each is started unless its own variable is given.
need_redis_topologies=$need_redis
# The browser tests (a test project referencing Microsoft.Playwright) drive
# Debian's /usr/bin/chromium; Playwright's own browser download is not used.
need_chromium=0
if grep -qs 'Include="Microsoft.Playwright"' test/*/*.Tests.csproj; then need_chromium=1; fi
# Servers given by the caller win over starting our own.
if ((need_pg)) && [[ -n "${TESSERA_TEST_POSTGRES:-}" ]]; then
  say "using PostgreSQL from TESSERA_TEST_POSTGRES"; need_pg=0
fi
if ((need_redis)) && [[ -n "${TESSERA_TEST_REDIS:-}" ]]; then
  say "using Redis from TESSERA_TEST_REDIS"; need_redis=0
fi

# Install before building: it is the slowest thing that can fail, fail early.
# A setup failure counts as one failed test (no test could run meaningfully).
if ! install_missing_packages; then failed=1; finish 1; fi

# ---------------------------------------------------------------------------
# Build
#
# One build of the whole solution, then the tests run with --no-build: faster
# than letting each `dotnet test` build, and a compile error is reported once.
# A test project missing from the solution is built on its own (with a
# warning), otherwise --no-build would find no assembly to run.
# ---------------------------------------------------------------------------
build_targets=(Tessera.slnx)
for p in "${projects[@]}"; do
  if ! grep -qF "\"$p\"" Tessera.slnx; then
    warn "$p is not in Tessera.slnx; building it separately (add it to the solution)"
    build_targets+=("$p")
  fi
done

build_all() {
  local target
  : >"$tmp/build.log"
  for target in "${build_targets[@]}"; do
    dotnet build "$target" -c "$config" -nologo -v:q >>"$tmp/build.log" 2>&1 || return 1
  done
}

say "building Tessera.slnx ($config)..."
build_start=$SECONDS
if ! build_all; then
  # Other builds in the same tree can hold files in obj/ for a moment; a real
  # compile error simply fails again.
  warn "build failed; retrying once in case it was a transient file lock"
  if ! build_all; then
    say ""
    say "BUILD FAILED: no tests were run. Errors:"
    if grep -qE ': (fatal )?error ' "$tmp/build.log"; then
      grep -E ': (fatal )?error ' "$tmp/build.log" | sed 's/ \[[^]]*\]$//' | sort -u | head -n 60 | sed 's/^/    /'
    else
      show_log "$tmp/build.log" 60
    fi
    # Honest count for a failed build: nothing passed, nothing was skipped, and
    # the build itself is the one failure (the tests' own results are unknown).
    passed=0 failed=1 skipped=0
    finish 1
  fi
fi
say "build ok ($((SECONDS - build_start))s)"

# Quick local runs may leave out the packaging tests (a pack of the solution
# and a tool install); CI never does.
case "${TESSERA_PACK:-}" in
  0 | false | no)
    if ((in_ci)); then
      warn "TESSERA_PACK=0 ignored in CI: packaging is always checked there"
    else
      say "leaving out Tessera.Packaging.Tests (TESSERA_PACK=0)"
      kept=()
      for p in "${projects[@]}"; do [[ "$p" == */Tessera.Packaging.Tests.csproj ]] || kept+=("$p"); done
      projects=("${kept[@]}")
    fi ;;
esac

# ---------------------------------------------------------------------------
# Budgets: issue 6's performance targets that are counts, not times, checked on
# the built Release code by bench/Tessera.Benchmarks (each mode exits 1 when
# over): at most 1 KB allocated by Tessera per read-only request, and at most
# 500 bytes of memory-store overhead per session at a million sessions. Each
# counts as one test. They measure optimized code, so a Debug build skips them
# (and CI fails on skips).
# ---------------------------------------------------------------------------
bench_dll="bench/Tessera.Benchmarks/bin/$config/net10.0/Tessera.Benchmarks.dll"
run_budget() {
  local mode="$1" what="$2" start=$SECONDS log="$tmp/budget-$1.log"
  if dotnet "$bench_dll" "$mode" >"$log" 2>&1; then
    say "$(printf '%-4s %-28s %s (%ds)' ok "budget $mode" "$what: $(grep -E 'WITHIN TARGET' "$log" | tail -n 1)" $((SECONDS - start)))"
    passed=$((passed + 1))
  else
    say "$(printf '%-4s %-28s %s (%ds):' FAIL "budget $mode" "$what" $((SECONDS - start)))"
    show_log "$log" 40
    failed=$((failed + 1))
  fi
}
if [[ "$config" == Release && -f "$bench_dll" ]]; then
  run_budget request-allocations "bytes Tessera allocates per read-only request"
  run_budget memory-overhead "memory store bytes per session beyond its data"
else
  say "skipping the budgets: they measure a Release build of bench/Tessera.Benchmarks ($bench_dll)"
  skipped=$((skipped + 2))
fi

# ---------------------------------------------------------------------------
# Services (after the build, so a compile error does not wait for servers)
# ---------------------------------------------------------------------------
if ((need_pg)); then
  # Test classes run in parallel, each with a database and a pool of its own, and the store kits share one database
  # with a pool of 60: under PostgreSQL's default of 100 connections a run hit "too many clients" (a request answered 503).
  # 500, not 300: the demo's tests (fleets of three processes with pools of their own) run beside the PostgreSQL tests.
  # pg_stat_statements lets the PostgreSQL tests count what the server ran (no connection-reset statements per request).
  postgres_options="-c max_connections=500 -c shared_preload_libraries=pg_stat_statements"
  if ! start_postgres; then failed=1; finish 1; fi
  export TESSERA_TEST_POSTGRES="$postgres_connection"
fi
if ((need_redis)); then
  if ! start_redis; then failed=1; finish 1; fi
  export TESSERA_TEST_REDIS="$redis_address"
fi
if ((need_redis_topologies)); then
  topologies_start=$SECONDS
  if ! start_redis_topologies; then failed=1; finish 1; fi
  say "Redis TLS, Sentinel and Cluster ready ($((SECONDS - topologies_start))s)"
fi

# ---------------------------------------------------------------------------
# Tests
#
# Projects run $test_jobs at a time (TESSERA_TEST_JOBS, default 2), the
# longest first: much of a project's time is waiting (browsers, demo processes,
# Redis and PostgreSQL round trips, real-time windows), and another project's
# work fills it. xunit runs test classes in parallel inside each project too.
# Each project writes its own log and TRX file to the results directory; its
# line is printed when it ends, so the lines come in the order projects finish.
# The counts are the runner's own summary line ("Passed!  - Failed: 0,
# Passed: 12, Skipped: 0, Total: 12, ...").
#
# This is the VSTest `dotnet test`; if global.json ever switches to
# Microsoft.Testing.Platform, the logger/blame arguments and the summary line
# change.
# ---------------------------------------------------------------------------

# "Failed: N, Passed: N, Skipped: N" of the runner's summary, as "N N N".
summary_counts() {
  sed -n 's/.*\(Passed\|Failed\)! *- *Failed: *\([0-9]*\), *Passed: *\([0-9]*\), *Skipped: *\([0-9]*\),.*/\3 \2 \4/p' "$1" | tail -n 1
}

if ((${#projects[@]} == 0)); then warn "no test projects found (test/*/*.Tests.csproj)"; fi

test_jobs="${TESSERA_TEST_JOBS:-2}"
if [[ ! "$test_jobs" =~ ^[1-9][0-9]*$ ]]; then
  warn "TESSERA_TEST_JOBS=$test_jobs is not a positive number; running one project at a time"
  test_jobs=1
fi

# The slowest projects first (in that order on a 2-core CI machine), then the
# rest in test/*/ order, so the run does not end waiting for a long project
# started last.
slowest_first=(Tessera.Demo.Tests Tessera.Redis.Tests Tessera.PostgreSql.Tests Tessera.AspNetCore.Tests)
ordered=()
for slow in "${slowest_first[@]}"; do
  for p in "${projects[@]}"; do [[ "$(basename "$p" .csproj)" == "$slow" ]] && ordered+=("$p"); done
done
for p in "${projects[@]}"; do
  case " ${slowest_first[*]} " in *" $(basename "$p" .csproj) "*) ;; *) ordered+=("$p") ;; esac
done

test_args=("$@")

# Starts one project's `dotnet test` in the background, in a process group of its
# own (setsid), so an aborted run can stop it with everything it started.
start_project() {
  local proj="$1" name
  name="$(basename "$proj" .csproj)"
  rm -f "$results/$name.trx"
  setsid dotnet test "$proj" --no-build -c "$config" \
    --results-directory "$results" --logger "trx;LogFileName=$name.trx" \
    --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none \
    "${test_args[@]}" >"$results/$name.log" 2>&1 &
  job_name[$!]="$name" job_start[$!]=$SECONDS
}

# Waits for the next project to end, adds its counts and prints its line.
finish_project() {
  local pid="" rc=0 name log p=0 f=0 s=0 problem="" counts status
  wait -n -p pid "${!job_name[@]}" || rc=$?
  [[ -n "$pid" ]] || return 0
  name="${job_name[$pid]}" log="$results/${job_name[$pid]}.log"
  counts="$(summary_counts "$log")"
  if [[ -n "$counts" ]]; then
    read -r p f s <<<"$counts"
    # A crashed or hung test host stops the run without a failed test (tests
    # after the crash never ran): count the project as one failure.
    if ((f == 0)) && { ((rc != 0)) || grep -q 'Test Run Aborted' "$log"; }; then
      f=1 problem="test run aborted (exit status $rc): test host crash or hang timeout?"
    fi
  elif ((rc == 0)) && grep -q 'No test matches the given testcase filter' "$log"; then
    : # a --filter that selects nothing in this project: no summary, nothing ran
  else
    # No summary at all: dotnet test or the test host died before the end.
    f=1 problem="no test summary (exit status $rc): test host crash or bad arguments?"
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))

  if ((f > 0)); then status=FAIL; elif ((s > 0)); then status=SKIP; else status=ok; fi
  say "$(printf '%-4s %-28s %4d passed, %d failed, %d skipped (%ds)' "$status" "$name" "$p" "$f" "$s" $((SECONDS - job_start[$pid])))"
  unset "job_name[$pid]" "job_start[$pid]"
  if ((f > 0)); then
    [[ -n "$problem" ]] && say "    $problem"
    show_log "$log" 150
  fi
  if ((s > 0)) && ((in_ci)); then
    grep -E '^ +Skipped ' "$log" | sed 's/^ */    skipped: /' || true
  fi
}

tests_start=$SECONDS
for proj in "${ordered[@]}"; do
  while ((${#job_name[@]} >= test_jobs)); do finish_project; done
  start_project "$proj"
done
while ((${#job_name[@]} > 0)); do finish_project; done
if ((${#ordered[@]} > 0)); then say "tests ran in $((SECONDS - tests_start))s, $test_jobs project(s) at a time"; fi

status=0
if ((failed > 0)); then status=1; fi
if ((in_ci)) && ((skipped > 0)); then
  # CI has every service the tests need, so a skip means a test silently did
  # not run. The count line keeps the true numbers; the exit status fails.
  warn "CI: $skipped test(s) skipped; in CI every test must run, so this run fails"
  status=1
fi
finish "$status"
