#!/usr/bin/env bash
# test.sh: build Tessera, check that the src/ projects pack (and that a .NET
# tool among them installs), and run every test project (test/*/*.Tests.csproj).
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

Builds Tessera.slnx, then packs it (`dotnet pack -c Release`) into a temporary
directory and checks that every src/ project made a .nupkg and a .snupkg, each
with its README, license and XML docs, and that nothing else was packed; a
src/ project that is a .NET tool (PackAsTool) is installed from those packages
with `dotnet tool install` and its `--help` must run. Then it runs each test
project (test/*/*.Tests.csproj) one after the other with `dotnet test
--no-build`, and prints a line per project (and one for the packages).
The last line is always "N passed, N failed, N skipped" (totals).

Any arguments are passed to every project's `dotnet test`, for example:
  ./test.sh --filter FullyQualifiedName~Sqlite
  ./test.sh --filter "Category!=Slow"

Exit status is nonzero if the build failed, packing or the tool install
failed, a test failed, a test project crashed or produced no results, the run
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
  TESSERA_CONFIGURATION     Build configuration (default Release: the tests
                            run against what ships, and the budgets below
                            measure it; with Debug the budgets are skipped).
  TESSERA_TEST_RESULTS      Keep the TRX files, logs and packages (packages/) in
                            this directory (default: a temporary directory,
                            deleted at exit).
  TESSERA_PACK=0            Skip the pack check, for quicker local runs (ignored
                            in CI).
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
  if ((need_redis)) && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
  if ((need_chromium)) && [[ ! -x /usr/bin/chromium ]]; then missing+=(chromium); fi
  if ((${#missing[@]} == 0)); then return 0; fi
  if ! apt_install "${missing[@]}"; then
    warn "(the tests need them; or point TESSERA_TEST_POSTGRES / TESSERA_TEST_REDIS at running servers; the browser tests need /usr/bin/chromium itself)"
    return 1
  fi
}

# ---------------------------------------------------------------------------
# Ending the run: every way out goes through here, so services are stopped,
# temp files removed, and the count line is the very last thing printed.
# ---------------------------------------------------------------------------
cleanup() {
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

# ---------------------------------------------------------------------------
# Packages
#
# `dotnet pack` of the solution in Release (what ships; incremental, so cheap
# when nothing changed) into a fresh directory, then checks that every src/
# project became <Project>.<version>.nupkg plus a .snupkg and nothing else did.
# A .nupkg is a zip, and zip entry names are stored uncompressed, so
# `grep -a` on the file checks which entries it has without unzip (which a
# fresh machine may lack). The nuspec itself is compressed inside the package,
# so its metadata is checked on the copy pack writes to NuspecOutputPath.
# A src/ project with <PackAsTool>true</PackAsTool> (the coming tessera CLI)
# is then installed from these packages with `dotnet tool install` and run.
# A failed pack counts as one failed test, a failed tool install as another;
# the tests still run (their results do not depend on packaging).
# ---------------------------------------------------------------------------
pack_problems=()
pack_problem() { pack_problems+=("$*"); }

# Does the zip have an entry with this exact name? (-F: no regex; LC_ALL=C:
# bytes, not UTF-8 characters.)
zip_has() { LC_ALL=C grep -aqF -- "$2" "$1"; }

pack_all() {
  dotnet pack Tessera.slnx -c Release -o "$pkgdir" -nologo -v:m \
    -p:NuspecOutputPath="$nuspecdir/" >"$tmp/pack.log" 2>&1
}

check_package() {
  local name="$1" nupkg="" snupkg="" f base version nuspec sql
  for f in "$pkgdir/$name".*.nupkg; do
    base="$(basename "$f")"
    # Tessera.0.1.0.nupkg, not Tessera.Sqlite.0.1.0.nupkg.
    if [[ "$base" =~ ^${name//./\\.}\.([0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?)\.nupkg$ ]]; then
      if [[ -n "$nupkg" ]]; then pack_problem "$name: more than one package: $(basename "$nupkg"), $base"; fi
      nupkg="$f" version="${BASH_REMATCH[1]}"
    fi
  done
  if [[ -z "$nupkg" ]]; then
    pack_problem "$name: no $name.<version>.nupkg (is src/$name in Tessera.slnx?)"
    return 0
  fi
  pack_versions["$name"]="$version"
  snupkg="$pkgdir/$name.$version.snupkg"
  if [[ ! -s "$snupkg" ]]; then
    pack_problem "$name: no symbols package $(basename "$snupkg")"
  elif ! zip_has "$snupkg" "/$name.pdb"; then
    pack_problem "$name: $(basename "$snupkg") has no $name.pdb"
  fi

  zip_has "$nupkg" "$name.nuspec" || pack_problem "$name: no $name.nuspec in the package"
  zip_has "$nupkg" "README.md" || pack_problem "$name: no README.md in the package"
  zip_has "$nupkg" "LICENSE" || pack_problem "$name: no LICENSE in the package"
  # The XML docs next to the assembly: lib/<tfm>/ for a library, tools/<tfm>/any/ for a tool.
  if ! zip_has "$nupkg" "/$name.dll" || ! zip_has "$nupkg" "/$name.xml"; then
    pack_problem "$name: no $name.dll with its XML documentation ($name.xml) in the package"
  fi

  nuspec="$nuspecdir/$name.$version.nuspec"
  if [[ ! -s "$nuspec" ]]; then
    pack_problem "$name: pack wrote no $(basename "$nuspec")"
  else
    grep -q "<id>$name</id>" "$nuspec" || pack_problem "$name: package id is not $name"
    grep -q '<description>[^<]' "$nuspec" || pack_problem "$name: no description (set <Description> in the csproj)"
    grep -q '<authors>[^<]' "$nuspec" || pack_problem "$name: no authors"
    grep -q '<tags>[^<]' "$nuspec" || pack_problem "$name: no tags (set <PackageTags> in the csproj)"
    grep -q '<license type="\(expression\|file\)">[^<]' "$nuspec" || pack_problem "$name: no license"
    grep -q '<readme>README.md</readme>' "$nuspec" || pack_problem "$name: README.md is not the package readme"
    grep -q '<repository [^>]*url="[^"]' "$nuspec" || pack_problem "$name: no repository URL"
  fi

  # Project-specific content: the PostgreSQL store's SQL ships as plain files.
  if [[ "$name" == Tessera.PostgreSql ]]; then
    for sql in src/Tessera.PostgreSql/Migrations/*.sql; do
      [[ -f "$sql" ]] || continue
      zip_has "$nupkg" "contentFiles/any/any/Tessera.PostgreSql/Migrations/$(basename "$sql")" \
        || pack_problem "$name: migration $(basename "$sql") is not in the package"
    done
  fi
}

# Install a tool package from $pkgdir alone (a private nuget.config and
# packages folder: no other feed, no stale copy of the same version from the
# machine's cache) into a throwaway tool path, then run its command.
install_tool() {
  local name="$1" version="$2" csproj="$3" cmd toolpath="$tmp/tools/$name" log="$tmp/tool-$name.log"
  cmd="$(sed -n 's:.*<ToolCommandName>\([^<]*\)</ToolCommandName>.*:\1:p' "$csproj" | head -n 1)"
  cmd="${cmd:-$name}"
  cat >"$tmp/tool-nuget.config" <<NUGET
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="tessera-local" value="$pkgdir" />
  </packageSources>
</configuration>
NUGET
  if ! NUGET_PACKAGES="$tmp/tool-nuget-packages" dotnet tool install "$name" --version "$version" \
    --tool-path "$toolpath" --configfile "$tmp/tool-nuget.config" >"$log" 2>&1; then
    say "$(printf "%-4s %-28s %s" FAIL "tool $name" "dotnet tool install failed:")"
    show_log "$log" 40
    return 1
  fi
  if [[ ! -x "$toolpath/$cmd" ]]; then
    say "$(printf "%-4s %-28s %s" FAIL "tool $name" "installed, but there is no command $cmd in $toolpath")"
    return 1
  fi
  if ! "$toolpath/$cmd" --help >"$log" 2>&1; then
    say "$(printf "%-4s %-28s %s" FAIL "tool $name" "installed, but \`$cmd --help\` failed:")"
    show_log "$log" 40
    return 1
  fi
  say "$(printf '%-4s %-28s %s' ok "tool $name" "installed $version with dotnet tool install, \`$cmd --help\` runs")"
}

run_pack=1
case "${TESSERA_PACK:-}" in
  0 | false | no)
    if ((in_ci)); then warn "TESSERA_PACK=0 ignored in CI: packaging is always checked there"; else run_pack=0; fi ;;
esac

if ((run_pack)); then
  pack_start=$SECONDS
  pkgdir="$results/packages" nuspecdir="$tmp/nuspec"
  declare -A pack_versions=()
  shipped=() tools=()
  for p in src/*/*.csproj; do
    [[ -f "$p" ]] || continue
    shipped+=("$(basename "$p" .csproj)")
    if grep -qi '<PackAsTool>true</PackAsTool>' "$p"; then tools+=("$p"); fi
  done

  rm -rf "$pkgdir" "$nuspecdir"
  pack_ok=1
  if ! pack_all; then
    # A NuGet error (NU....) is about the packages themselves and would only
    # fail again; anything else may be another build holding a file in obj/.
    if grep -qE ": error NU[0-9]+" "$tmp/pack.log"; then
      pack_ok=0
    else
      warn "pack failed; retrying once in case it was a transient file lock"
      rm -rf "$pkgdir" "$nuspecdir"
      pack_all || pack_ok=0
    fi
  fi
  if ((pack_ok == 0)); then
    if grep -qE ': (fatal )?error ' "$tmp/pack.log"; then
      while IFS= read -r line; do pack_problem "$line"; done \
        < <(grep -E ': (fatal )?error ' "$tmp/pack.log" | sed 's/ \[[^]]*\]$//' | sort -u | head -n 40)
    else
      pack_problem "dotnet pack failed (exit status nonzero, no error lines; log below)"
    fi
  else
    # Warnings are errors here too, including the ones pack does not promote
    # (for example packing a project that is not packable).
    while IFS= read -r line; do pack_problem "warning: $line"; done \
      < <(grep -E ': warning ' "$tmp/pack.log" | sed 's/ \[[^]]*\]$//' | sort -u | head -n 40)
    for name in "${shipped[@]}"; do check_package "$name"; done
    # Anything else in the directory was packed by a project that must not be.
    for f in "$pkgdir"/*.nupkg "$pkgdir"/*.snupkg; do
      [[ -f "$f" ]] || continue
      base="$(basename "$f")" known=0
      for name in "${shipped[@]}"; do
        if [[ "$base" == "$name.${pack_versions[$name]:-none}.nupkg" || "$base" == "$name.${pack_versions[$name]:-none}.snupkg" ]]; then known=1; fi
      done
      ((known)) || pack_problem "unexpected package $base (only src/ projects are packed)"
    done
  fi

  if ((${#pack_problems[@]} == 0)); then
    say "$(printf '%-4s %-28s %d packages + symbols, each with README, license and XML docs (%ds)' \
      ok pack "${#shipped[@]}" $((SECONDS - pack_start)))"
    for p in "${tools[@]}"; do
      name="$(basename "$p" .csproj)"
      install_tool "$name" "${pack_versions[$name]}" "$p" || failed=$((failed + 1))
    done
  else
    say "$(printf '%-4s %-28s dotnet pack -c Release (%ds):' FAIL pack $((SECONDS - pack_start)))"
    printf '%s\n' "${pack_problems[@]}" | sed 's/^/    /'
    if ((pack_ok == 0)) && ! grep -qE ': (fatal )?error ' "$tmp/pack.log"; then show_log "$tmp/pack.log" 60; fi
    # One failure for packaging, like a failed build; the tools are not tried.
    failed=$((failed + 1))
  fi
else
  say "skipping the pack check (TESSERA_PACK=0)"
fi

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
  if ! start_postgres; then failed=1; finish 1; fi
  export TESSERA_TEST_POSTGRES="$postgres_connection"
fi
if ((need_redis)); then
  if ! start_redis; then failed=1; finish 1; fi
  export TESSERA_TEST_REDIS="$redis_address"
fi

# ---------------------------------------------------------------------------
# Tests
#
# Projects run one after the other (2-core machines; xunit already runs test
# classes in parallel inside a project), each with its own TRX file. We count
# from the TRX files, not from console text: one <UnitTestResult> per test (or
# per theory row) with outcome Passed, NotExecuted (= skipped) or something
# else (= failed). Note the TRX <Counters> element does not count skips.
#
# This is the VSTest `dotnet test`; if global.json ever switches to
# Microsoft.Testing.Platform, the logger/blame arguments must change.
# ---------------------------------------------------------------------------

# Outcomes of all results in a TRX file, one per line.
trx_outcomes() {
  grep -o '<UnitTestResult [^>]*outcome="[A-Za-z]*"' "$1" | sed 's/.*outcome="//; s/"$//' || true
}

# Names of the tests with the given outcome (XML entities decoded).
trx_names() {
  grep -o '<UnitTestResult [^>]*outcome="'"$2"'"' "$1" \
    | sed 's/.* testName="\([^"]*\)".*/\1/; s/&quot;/"/g; s/&apos;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g' || true
}

if ((${#projects[@]} == 0)); then warn "no test projects found (test/*/*.Tests.csproj)"; fi

for proj in "${projects[@]}"; do
  name="$(basename "$proj" .csproj)"
  trx="$results/$name.trx"
  log="$results/$name.log"
  rm -f "$trx"
  t0=$SECONDS
  rc=0
  dotnet test "$proj" --no-build -c "$config" \
    --results-directory "$results" --logger "trx;LogFileName=$name.trx" \
    --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none \
    "$@" >"$log" 2>&1 || rc=$?

  p=0 f=0 s=0 problem=""
  if [[ -s "$trx" ]]; then
    outcomes="$(trx_outcomes "$trx")"
    p=$(grep -cx 'Passed' <<<"$outcomes" || true)
    s=$(grep -cx 'NotExecuted' <<<"$outcomes" || true)
    f=$(grep -cvx 'Passed\|NotExecuted\|' <<<"$outcomes" || true)
    run_outcome="$(grep -o '<ResultSummary outcome="[A-Za-z]*"' "$trx" | sed 's/.*="//; s/"$//' || true)"
    # A crashed or hung test host leaves a TRX without a failed result (tests
    # after the crash never ran): count the project as one failure.
    if ((f == 0)) && { ((rc != 0)) || [[ "$run_outcome" != Completed && "$run_outcome" != Passed ]]; }; then
      f=1 problem="test run aborted (exit status $rc, outcome ${run_outcome:-none}): test host crash or hang timeout?"
    fi
  else
    # No TRX at all: dotnet test or the test host died before writing it.
    f=1 problem="no TRX results file (exit status $rc): test host crash or bad arguments?"
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))

  if ((f > 0)); then status=FAIL; elif ((s > 0)); then status=SKIP; else status=ok; fi
  say "$(printf '%-4s %-28s %4d passed, %d failed, %d skipped (%ds)' "$status" "$name" "$p" "$f" "$s" $((SECONDS - t0)))"
  if ((f > 0)); then
    [[ -n "$problem" ]] && say "    $problem"
    [[ -s "$trx" ]] && trx_names "$trx" Failed | sed 's/^/    failed: /'
    show_log "$log" 150
  fi
  if ((s > 0)) && ((in_ci)); then
    trx_names "$trx" NotExecuted | sed 's/^/    skipped: /'
  fi
done

status=0
if ((failed > 0)); then status=1; fi
if ((in_ci)) && ((skipped > 0)); then
  # CI has every service the tests need, so a skip means a test silently did
  # not run. The count line keeps the true numbers; the exit status fails.
  warn "CI: $skipped test(s) skipped; in CI every test must run, so this run fails"
  status=1
fi
finish "$status"
