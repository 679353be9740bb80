# scripts/services.sh: throwaway PostgreSQL and Redis servers, sourced by
# test.sh and bench/http.sh (not run on its own).
#
# The caller defines say MESSAGE, warn MESSAGE and show_log FILE [MAX_LINES],
# and sets $tmp to a scratch directory of its own. Only bash, coreutils, grep
# and sed, plus apt-get (as root) to install missing packages.

# ---------------------------------------------------------------------------
# Throwaway PostgreSQL and Redis
#
# Each server lives in its own temp dir, listens on 127.0.0.1 on a port we
# picked, and is stopped by its own pid / data dir (the caller's exit trap
# calls stop_postgres / stop_redis), so we never touch a system-wide server or
# another run's servers. start_postgres sets $postgres_connection (an Npgsql
# connection string) and $postgres_version, and passes $postgres_options (say
# "-c max_connections=300") to the server when set; start_redis sets
# $redis_address (host:port) and $redis_version.
# ---------------------------------------------------------------------------
pg_bin="" pg_dir="" pg_pid="" postgres_connection="" postgres_version=""
redis_dir="" redis_pid="" redis_address="" redis_version=""

pg_bindir() {
  # Debian 12 ships PostgreSQL 15; prefer it, accept another packaged version.
  local d
  for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then printf '%s\n' "$d"; return 0; fi
  done
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(command -v pg_ctl)"; return 0
  fi
  return 1
}

# PostgreSQL refuses to run as root, so as root we run it as "postgres" (the
# Debian package creates that user). cd / because postgres may not be allowed
# into the caller's working directory.
as_postgres() {
  if ((EUID == 0)); then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# bash cannot bind to port 0 and read the port back, so pick a random port
# below Linux's ephemeral range (32768+, where outgoing connections take their
# local ports), check nothing answers on it, and let the callers retry with
# another port if the server still fails to bind (someone took it meanwhile).
# Sets $port (the callers declare it local; bash scoping is dynamic).
random_free_port() {
  local i
  for i in $(seq 1 50); do
    port=$((15000 + RANDOM % 17000))
    # A refused connection means the port is free (for now).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

# Alive and really the program we started (guards against pid reuse).
pid_is() {
  local pid="$1" name="$2"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q "$name" "/proc/$pid/cmdline" 2>/dev/null
}

# Installs Debian packages with apt-get (as root only; otherwise says what to run
# and returns 1). The log goes to $tmp/apt.log.
apt_install() {
  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $*"
  if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
    warn "$* is not installed; as root run: $cmd"
    return 1
  fi
  say "installing $* (apt-get)..."
  if ! (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@") \
    >"$tmp/apt.log" 2>&1; then
    warn "installing $* failed:"
    show_log "$tmp/apt.log" 40
    return 1
  fi
}

start_postgres() {
  pg_bin="$(pg_bindir)"
  pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-pg.XXXXXX")"
  # initdb needs the directory to belong to the user the server runs as.
  if ((EUID == 0)); then chown postgres:postgres "$pg_dir"; fi

  # Trust auth on 127.0.0.1 and no fsync: a disposable test server only.
  if ! as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync \
    -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1; then
    warn "initdb failed:"; show_log "$tmp/initdb.log" 40; return 1
  fi

  local port attempt log="$pg_dir/postgres.log"
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    random_free_port || break
    rm -f "$log"
    if as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k '$pg_dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off ${postgres_options:-}" \
      start >"$tmp/pg_ctl.log" 2>&1; then
      pg_pid="$(head -n 1 "$pg_dir/data/postmaster.pid")"
      postgres_connection="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
      postgres_version="$("$pg_bin/postgres" -V | sed -n 's/.*(PostgreSQL) \([0-9.]*\).*/\1/p')"
      say "PostgreSQL $postgres_version on 127.0.0.1:$port (pid $pg_pid, data in $pg_dir)"
      return 0
    fi
    # Lost the race for the port: try another one. Anything else is fatal.
    grep -q 'could not bind\|already in use' "$log" 2>/dev/null || break
  done
  warn "could not start PostgreSQL:"
  show_log "$tmp/pg_ctl.log" 20
  show_log "$log" 40
  return 1
}

stop_postgres() {
  [[ -n "$pg_dir" ]] || return 0
  if [[ -n "$pg_pid" ]] && pid_is "$pg_pid" postgres; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 \
      || as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 \
      || true
    if pid_is "$pg_pid" postgres; then kill -KILL "$pg_pid" 2>/dev/null || true; fi
    say "stopped PostgreSQL (pid $pg_pid)"
  fi
  rm -rf "$pg_dir"
  pg_dir="" pg_pid=""
}

start_redis() {
  redis_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-redis.XXXXXX")"
  local port attempt i pidfile="$redis_dir/redis.pid" log="$redis_dir/redis.log"
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    random_free_port || break
    rm -f "$pidfile" "$log"
    # No RDB snapshots; AOF on, like the production setup the tests model.
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly yes --daemonize yes \
      --dir "$redis_dir" --pidfile "$pidfile" --logfile "$log" >"$tmp/redis-start.log" 2>&1 || break
    # The pidfile appears only once redis listens; if binding fails it exits.
    for i in $(seq 1 100); do
      if [[ -s "$pidfile" ]]; then break; fi
      if grep -q 'already in use\|Failed listening' "$log" 2>/dev/null; then break; fi
      sleep 0.1
    done
    if [[ -s "$pidfile" ]]; then
      redis_pid="$(cat "$pidfile")"
      # Make sure the server answering on the port is ours, not a stranger.
      if pid_is "$redis_pid" redis-server \
        && [[ "$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" == "$redis_pid" ]]; then
        redis_address="127.0.0.1:$port"
        redis_version="$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
        say "Redis $redis_version on 127.0.0.1:$port (pid $redis_pid, data in $redis_dir)"
        return 0
      fi
      break
    fi
    grep -q 'already in use' "$log" 2>/dev/null || break
  done
  warn "could not start Redis:"
  show_log "$tmp/redis-start.log" 20
  show_log "$log" 40
  return 1
}

stop_redis() {
  [[ -n "$redis_dir" ]] || return 0
  local i
  if [[ -n "$redis_pid" ]] && pid_is "$redis_pid" redis-server; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    for i in $(seq 1 100); do pid_is "$redis_pid" redis-server || break; sleep 0.1; done
    if pid_is "$redis_pid" redis-server; then kill -KILL "$redis_pid" 2>/dev/null || true; fi
    say "stopped Redis (pid $redis_pid)"
  fi
  rm -rf "$redis_dir"
  redis_dir="" redis_pid=""
}

# ---------------------------------------------------------------------------
# Release build of the programs a bench script runs (bench/soak.sh), the log in
# $tmp/build.log. Another build in the same tree can hold a file in obj/ for a
# moment, so a failure is retried once; a second failure prints the errors and
# returns 1.
# ---------------------------------------------------------------------------
build_release() {
  local attempt p ok
  say "building in Release..."
  for attempt in 1 2; do
    ok=1
    : >"$tmp/build.log"
    for p in "$@"; do
      dotnet build "$p" -c Release -nologo -v:q >>"$tmp/build.log" 2>&1 || { ok=0; break; }
    done
    if ((ok)); then return 0; fi
    if ((attempt == 1)); then
      warn "build failed; retrying once in case another build held a file"
      sleep 5
    fi
  done
  grep -E ': (fatal )?error ' "$tmp/build.log" | sort -u | head -n 40 >&2 || show_log "$tmp/build.log" 60 >&2
  return 1
}
