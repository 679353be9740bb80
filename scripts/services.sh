#!/usr/bin/env bash
# scripts/services.sh: the one way Tessera starts throwaway PostgreSQL and Redis
# servers. test.sh and the bench scripts source it and call its functions; the
# test projects run it as a command (test/Shared/ServicesScript.cs) for the
# servers a test owns, say one it restarts or kills. Run it with --help for the
# command form.
#
# Each server lives in a directory of its own (data, log, port, options),
# listens on 127.0.0.1 only, on a port picked here unless one is given, and is
# stopped by its own pid / data directory, so nothing touches a system-wide
# server or another run's servers. Only bash, coreutils, grep and sed, plus
# apt-get (as root) to install missing packages.
#
# Sourced, the caller may define say MESSAGE, warn MESSAGE and show_log FILE
# [MAX_LINES] and set $tmp to a scratch directory of its own; defaults below.
#
#   start_postgres    starts PostgreSQL in $pg_dir (a new temp dir when empty;
#                     initdb when it has no cluster yet), on $pg_port (else the
#                     port it had, else a free one), passing $postgres_options
#                     (say "-c max_connections=300") to the server. Sets
#                     $postgres_connection (an Npgsql connection string),
#                     $postgres_version, $pg_pid.
#   halt_postgres [fast|immediate]   stops it, keeping its data and port.
#   restart_postgres  pg_ctl restart -m fast (every connection is terminated).
#   stop_postgres     stops it (fast, else immediate) and deletes $pg_dir.
#   start_redis       starts Redis in $redis_dir (a new temp dir when empty) on
#                     $redis_port (else the port it had, else a free one), with
#                     append-only persistence (a restart on the same directory
#                     replays it) and the extra arguments in the array
#                     $redis_args (else the ones it had). Sets $redis_address
#                     (host:port), $redis_version, $redis_pid.
#   halt_redis [TERM|KILL]   stops it (TERM: a clean shutdown that writes the
#                     append-only file; KILL: a crash), keeping its data and port.
#   stop_redis        stops it and deletes $redis_dir.
#   start_redis_tls   start_redis with TLS only (no plain port), with a CA and
#                     a server certificate made by openssl in $redis_dir/tls.
#   start_redis_cluster DIR    three masters in DIR/n1..n3 (redis-cli --cluster
#                     create), returning once every node serves all slots;
#                     sets $redis_cluster_endpoints.
#   start_redis_sentinel DIR   a primary, its replica and one Sentinel that
#                     monitors them as "tessera", returning once the replica is
#                     in sync and the Sentinel knows it (it can fail over); sets
#                     $redis_sentinel_address, $redis_primary_address,
#                     $redis_replica_address.
#   halt_redis_all DIR [TERM|KILL]   every redis-server below DIR.

# ---------------------------------------------------------------------------
# Defaults for callers that define none of their own.
# ---------------------------------------------------------------------------
declare -F say >/dev/null || say() { printf '%s\n' "$*" >&2; }
declare -F warn >/dev/null || warn() { printf 'services.sh: %s\n' "$*" >&2; }
declare -F show_log >/dev/null || show_log() {
  [[ -f "$1" ]] && head -n "${2:-150}" "$1" | sed 's/^/    | /' >&2
  return 0
}

pg_bin="" pg_dir="${pg_dir:-}" pg_port="${pg_port:-}" pg_pid="" postgres_connection="" postgres_version=""
redis_dir="${redis_dir:-}" redis_port="${redis_port:-}" redis_pid="" redis_address="" redis_version=""
declare -p redis_args >/dev/null 2>&1 || redis_args=()

# Scratch files (logs of the tools we run): the caller's $tmp, else the
# server's own directory.
services_scratch() { printf '%s\n' "${tmp:-$1}"; }

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
# A caller may narrow the range with $port_max and ask that port+$port_also
# be free too (a cluster node's bus port is its port + 10000: both must be free
# and below the ephemeral range).
random_free_port() {
  local i max="${port_max:-32000}"
  for i in $(seq 1 50); do
    port=$((15000 + RANDOM % (max - 15000)))
    # A refused connection means the port is free (for now).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
      && { [[ -z "${port_also:-}" ]] || ! (exec 3<>"/dev/tcp/127.0.0.1/$((port + port_also))") 2>/dev/null; }; then
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
# and returns 1). The log goes to the scratch directory.
apt_install() {
  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $*"
  local log
  log="$(services_scratch /tmp)/apt.log"
  if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
    warn "$* is not installed; as root run: $cmd"
    return 1
  fi
  say "installing $* (apt-get)..."
  if ! (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@") \
    >"$log" 2>&1; then
    warn "installing $* failed:"
    show_log "$log" 40
    return 1
  fi
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
start_postgres() {
  pg_bin="$(pg_bindir)" || { warn "no PostgreSQL server binaries (install the postgresql package)"; return 1; }
  if [[ -z "$pg_dir" ]]; then pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-pg.XXXXXX")"; fi
  mkdir -p "$pg_dir"
  local scratch log="$pg_dir/postgres.log" port attempt
  scratch="$(services_scratch "$pg_dir")"
  # initdb needs the directory to belong to the user the server runs as.
  if ((EUID == 0)); then chown postgres:postgres "$pg_dir"; fi

  if [[ ! -f "$pg_dir/data/PG_VERSION" ]]; then
    # Trust auth on 127.0.0.1 and no fsync: a disposable test server only.
    if ! as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync \
      -E UTF8 --no-locale >"$scratch/initdb.log" 2>&1; then
      warn "initdb failed:"; show_log "$scratch/initdb.log" 40; return 1
    fi
    printf '%s\n' "${postgres_options:-}" >"$pg_dir/options"
  fi
  [[ -n "$pg_port" ]] || pg_port="$(cat "$pg_dir/port" 2>/dev/null || true)"
  local options
  options="$(cat "$pg_dir/options" 2>/dev/null || true)"

  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if [[ -n "$pg_port" ]]; then port="$pg_port"; else random_free_port || break; fi
    rm -f "$log"
    if as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k '$pg_dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off $options" \
      start >"$scratch/pg_ctl.log" 2>&1; then
      pg_port="$port"
      printf '%s\n' "$port" >"$pg_dir/port"
      pg_pid="$(head -n 1 "$pg_dir/data/postmaster.pid")"
      postgres_connection="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
      postgres_version="$("$pg_bin/postgres" -V | sed -n 's/.*(PostgreSQL) \([0-9.]*\).*/\1/p')"
      say "PostgreSQL $postgres_version on 127.0.0.1:$port (pid $pg_pid, data in $pg_dir)"
      return 0
    fi
    # Lost the race for a port we picked: try another one. Anything else
    # (a port the caller chose included) is fatal.
    [[ -z "$pg_port" ]] && grep -q 'could not bind\|already in use' "$log" 2>/dev/null || break
  done
  warn "could not start PostgreSQL:"
  show_log "$scratch/pg_ctl.log" 20
  show_log "$log" 40
  return 1
}

postgres_running() {
  pg_pid="$(head -n 1 "$pg_dir/data/postmaster.pid" 2>/dev/null || true)"
  pid_is "$pg_pid" postgres
}

halt_postgres() {
  local mode="${1:-fast}" scratch
  [[ -n "$pg_dir" ]] || return 0
  pg_bin="${pg_bin:-$(pg_bindir)}"
  scratch="$(services_scratch "$pg_dir")"
  postgres_running || return 0
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m "$mode" -w -t 20 stop >"$scratch/pg_stop.log" 2>&1 \
    || as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w -t 10 stop >>"$scratch/pg_stop.log" 2>&1 \
    || true
  if pid_is "$pg_pid" postgres; then kill -KILL "$pg_pid" 2>/dev/null || true; fi
  say "stopped PostgreSQL (pid $pg_pid, $mode)"
}

restart_postgres() {
  local scratch options
  pg_bin="${pg_bin:-$(pg_bindir)}"
  scratch="$(services_scratch "$pg_dir")"
  options="$(cat "$pg_dir/options" 2>/dev/null || true)"
  if ! as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 -m fast \
    -o "-c listen_addresses=127.0.0.1 -p $(cat "$pg_dir/port") -k '$pg_dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off $options" \
    restart >"$scratch/pg_ctl.log" 2>&1; then
    warn "could not restart PostgreSQL:"; show_log "$scratch/pg_ctl.log" 20; show_log "$pg_dir/postgres.log" 40
    return 1
  fi
  pg_pid="$(head -n 1 "$pg_dir/data/postmaster.pid")"
}

stop_postgres() {
  [[ -n "$pg_dir" ]] || return 0
  halt_postgres fast
  rm -rf "$pg_dir"
  pg_dir="" pg_pid="" pg_port=""
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------
start_redis() {
  if [[ -z "$redis_dir" ]]; then redis_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-redis.XXXXXX")"; fi
  mkdir -p "$redis_dir"
  local scratch port attempt i pidfile="$redis_dir/redis.pid" log="$redis_dir/redis.log"
  scratch="$(services_scratch "$redis_dir")"
  [[ -n "$redis_port" ]] || redis_port="$(cat "$redis_dir/port" 2>/dev/null || true)"
  # The extra arguments, one per line, kept for a later start on the same directory.
  if ((${#redis_args[@]} > 0)); then
    printf '%s\n' "${redis_args[@]}" >"$redis_dir/args"
  elif [[ -f "$redis_dir/args" ]]; then
    mapfile -t redis_args <"$redis_dir/args"
  fi
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if [[ -n "$redis_port" ]]; then port="$redis_port"; else random_free_port || break; fi
    rm -f "$pidfile" "$log"
    # No RDB snapshots; AOF on, like the production setup the tests model.
    # With certificates in $redis_dir/tls (start_redis_tls makes them), TLS only: no plain port.
    local listen=(--port "$port")
    if [[ -f "$redis_dir/tls/server.crt" ]]; then
      listen=(--port 0 --tls-port "$port" --tls-cert-file "$redis_dir/tls/server.crt" --tls-key-file "$redis_dir/tls/server.key"
        --tls-ca-cert-file "$redis_dir/tls/ca.crt" --tls-auth-clients no)
    fi
    redis-server --bind 127.0.0.1 "${listen[@]}" --save '' --appendonly yes --daemonize yes \
      --dir "$redis_dir" --pidfile "$pidfile" --logfile "$log" "${redis_args[@]}" >"$scratch/redis-start.log" 2>&1 || break
    # The pidfile appears only once redis listens; if binding fails it exits.
    for i in $(seq 1 150); do
      if [[ -s "$pidfile" ]]; then break; fi
      if grep -q 'already in use\|Failed listening' "$log" 2>/dev/null; then break; fi
      sleep 0.1
    done
    if [[ -s "$pidfile" ]]; then
      redis_pid="$(cat "$pidfile")"
      # Make sure the process is ours and answers (a replayed append-only file
      # can take a moment: until then redis answers -LOADING).
      for i in $(seq 1 150); do
        pid_is "$redis_pid" redis-server || break
        if redis_answers "$port" "$redis_dir"; then
          redis_port="$port"
          printf '%s\n' "$port" >"$redis_dir/port"
          redis_address="127.0.0.1:$port"
          redis_version="$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
          say "Redis $redis_version on 127.0.0.1:$port (pid $redis_pid, data in $redis_dir)"
          return 0
        fi
        sleep 0.1
      done
      break
    fi
    [[ -z "$redis_port" ]] && grep -q 'already in use' "$log" 2>/dev/null || break
  done
  warn "could not start Redis:"
  show_log "$scratch/redis-start.log" 20
  show_log "$log" 40
  return 1
}

# PONG, or NOAUTH from a server started with --requirepass: either way it is up.
redis_answers() {
  local reply tls=()
  if [[ -n "${2:-}" && -f "$2/tls/ca.crt" ]]; then tls=(--tls --cacert "$2/tls/ca.crt"); fi
  reply="$(redis-cli -h 127.0.0.1 -p "$1" "${tls[@]}" ping 2>&1 | tr -d '\r')"
  [[ "$reply" == PONG || "$reply" == *NOAUTH* ]]
}

halt_redis() {
  local signal="${1:-TERM}" i
  [[ -n "$redis_dir" ]] || return 0
  redis_pid="${redis_pid:-$(cat "$redis_dir/redis.pid" 2>/dev/null || true)}"
  pid_is "$redis_pid" redis-server || return 0
  kill "-$signal" "$redis_pid" 2>/dev/null || true
  for i in $(seq 1 150); do pid_is "$redis_pid" redis-server || break; sleep 0.1; done
  if pid_is "$redis_pid" redis-server; then kill -KILL "$redis_pid" 2>/dev/null || true; fi
  say "stopped Redis (pid $redis_pid, $signal)"
  redis_pid=""
}

stop_redis() {
  [[ -n "$redis_dir" ]] || return 0
  halt_redis TERM
  rm -rf "$redis_dir"
  redis_dir="" redis_pid="" redis_port=""
}

# ---------------------------------------------------------------------------
# Redis beyond one node: TLS only, a three-master cluster, a primary and a
# replica behind Sentinel. Each keeps its nodes in subdirectories of one
# directory, so halt_redis_all / remove work on all of them at once.
# ---------------------------------------------------------------------------

# TLS only: a CA and a server certificate for 127.0.0.1 and localhost, made
# with openssl in $redis_dir/tls (valid two days), then start_redis, which
# sees them and opens only the TLS port. Clients trust $redis_dir/tls/ca.crt.
start_redis_tls() {
  if [[ -z "$redis_dir" ]]; then redis_dir="$(mktemp -d "${TMPDIR:-/tmp}/tessera-redis-tls.XXXXXX")"; fi
  local t="$redis_dir/tls"
  if [[ ! -f "$t/server.crt" ]]; then
    mkdir -p "$t"
    if ! (cd "$t" \
      && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tessera-test-ca -keyout ca.key -out ca.crt \
      && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr \
      && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext \
      && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out server.crt \
      ) >"$redis_dir/openssl.log" 2>&1; then
      warn "making the test certificates failed:"; show_log "$redis_dir/openssl.log" 20; return 1
    fi
  fi
  start_redis
}

# Three masters, no replicas: each node in $1/nN on a port of its own, then
# redis-cli --cluster create. Ready only when every node says cluster_state:ok,
# knows all three nodes and has all 16384 slots served: a client that connects
# earlier can see a half-made cluster (MOVED to a node not yet met, CLUSTERDOWN).
# Sets $redis_cluster_endpoints (host:port,host:port,host:port). A second call
# on the same directory restarts the nodes (the cluster config is kept).
start_redis_cluster() {
  local dir="$1" n i nodes=() fresh=0 info ok
  # A node's bus port is its port + 10000: keep both below the ephemeral range.
  local port_max=22700 port_also=10000
  [[ -f "$dir/n1/nodes.conf" ]] || fresh=1
  for n in 1 2 3; do
    redis_dir="$dir/n$n" redis_port="" redis_args=(--cluster-enabled yes --cluster-config-file "$dir/n$n/nodes.conf" --cluster-node-timeout 2000)
    start_redis || return 1
    nodes+=("$redis_address")
  done
  if ((fresh)); then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 || {
      warn "redis-cli --cluster create failed:"; show_log "$dir/create.log" 30; return 1
    }
  fi
  for i in $(seq 1 300); do
    ok=0
    for n in "${nodes[@]}"; do
      info="$(redis-cli -h 127.0.0.1 -p "${n##*:}" cluster info 2>/dev/null | tr -d '\r')"
      if grep -qx 'cluster_state:ok' <<<"$info" && grep -qx 'cluster_known_nodes:3' <<<"$info" \
        && grep -qx 'cluster_slots_ok:16384' <<<"$info"; then
        ok=$((ok + 1))
      fi
    done
    if ((ok == 3)); then
      redis_cluster_endpoints="$(IFS=,; printf '%s' "${nodes[*]}")"
      say "Redis Cluster of three masters: $redis_cluster_endpoints"
      return 0
    fi
    sleep 0.1
  done
  warn "the Redis Cluster did not reach cluster_state:ok on every node:"
  for n in "${nodes[@]}"; do redis-cli -h 127.0.0.1 -p "${n##*:}" cluster info 2>&1 | head -n 8 | sed "s/^/    $n | /" >&2; done
  return 1
}

# A primary ($1/primary), a replica of it ($1/replica) and one Sentinel
# ($1/sentinel, quorum 1, down after 1 s) that monitors it as "tessera".
# Ready only when the replica's link to the primary is up and the Sentinel
# knows the replica as a connected "slave": a Sentinel learns replicas from
# the primary's INFO every 10 s, and one that does not know the replica cannot
# promote it. Sets $redis_sentinel_address, $redis_primary_address,
# $redis_replica_address.
start_redis_sentinel() {
  local dir="$1" port i primary_port
  # No 5 s wait before the full sync a new replica asks for (the default delay
  # lets more replicas share one transfer; there is one).
  redis_dir="$dir/primary" redis_port="" redis_args=(--repl-diskless-sync-delay 0)
  start_redis || return 1
  redis_primary_address="$redis_address"
  primary_port="${redis_primary_address##*:}"
  redis_dir="$dir/replica" redis_port="" redis_args=(--replicaof 127.0.0.1 "$primary_port" --repl-diskless-sync-delay 0)
  start_redis || return 1
  redis_replica_address="$redis_address"
  for i in $(seq 1 300); do
    redis-cli -h 127.0.0.1 -p "${redis_replica_address##*:}" info replication 2>/dev/null | tr -d '\r' \
      | grep -qx 'master_link_status:up' && break
    sleep 0.1
  done
  mkdir -p "$dir/sentinel"
  port="$(cat "$dir/sentinel/port" 2>/dev/null || true)"
  if [[ -z "$port" ]]; then random_free_port || return 1; printf '%s\n' "$port" >"$dir/sentinel/port"; fi
  if [[ ! -f "$dir/sentinel/sentinel.conf" ]]; then
    # Sentinel rewrites its own config file as it learns the topology; it must be writable.
    # known-replica spares it the wait for the primary's next INFO to learn the replica.
    printf 'port %s\nbind 127.0.0.1\ndaemonize yes\ndir %s\npidfile %s\nlogfile %s\nsentinel monitor tessera 127.0.0.1 %s 1\nsentinel down-after-milliseconds tessera 1000\nsentinel failover-timeout tessera 3000\nsentinel known-replica tessera 127.0.0.1 %s\n' \
      "$port" "$dir/sentinel" "$dir/sentinel/redis.pid" "$dir/sentinel/redis.log" "$primary_port" "${redis_replica_address##*:}" >"$dir/sentinel/sentinel.conf"
  fi
  redis-server "$dir/sentinel/sentinel.conf" --sentinel >"$dir/sentinel/start.log" 2>&1 || {
    warn "the Sentinel did not start:"; show_log "$dir/sentinel/start.log" 20; return 1
  }
  for i in $(seq 1 300); do
    if redis-cli -h 127.0.0.1 -p "$port" sentinel get-master-addr-by-name tessera 2>/dev/null | grep -q . \
      && [[ "$(redis-cli -h 127.0.0.1 -p "$port" sentinel replicas tessera 2>/dev/null | tr -d '\r' | grep -A1 -x flags | tail -n 1)" == slave ]] \
      && redis-cli -h 127.0.0.1 -p "$port" sentinel ckquorum tessera 2>/dev/null | grep -q '^OK'; then
      redis_sentinel_address="127.0.0.1:$port"
      say "Redis Sentinel on $redis_sentinel_address (service tessera: primary $redis_primary_address, replica $redis_replica_address)"
      return 0
    fi
    sleep 0.1
  done
  warn "the Sentinel does not know its primary and a connected replica:"; show_log "$dir/sentinel/redis.log" 20
  return 1
}

# Every redis-server below $1 (the nodes of a cluster, a Sentinel set), by
# its pidfile: TERM (clean) or KILL (a crash).
halt_redis_all() {
  local dir="$1" signal="${2:-TERM}" pidfile
  while IFS= read -r pidfile; do
    redis_dir="$(dirname "$pidfile")" redis_pid=""
    halt_redis "$signal"
  done < <(find "$dir" -name redis.pid 2>/dev/null)
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

# ---------------------------------------------------------------------------
# Command form (when run, not sourced)
# ---------------------------------------------------------------------------
services_usage() {
  cat <<'EOF'
Usage: scripts/services.sh COMMAND SERVICE DIR [--port PORT] [-- SERVER ARGS...]

Throwaway servers on 127.0.0.1, each in a directory of its own (DIR, created
if missing). Messages go to stderr; what a caller needs goes to stdout as
KEY=VALUE lines.

  start postgres DIR [--port P] [-- OPTIONS]
        initdb when DIR has no cluster, then start it; OPTIONS are passed to
        the server (-c name=value ...) and kept for later starts. Prints
        connection=<Npgsql connection string>, pid=, version=.
  start redis DIR [--port P] [-- ARGS]
        start redis-server with append-only persistence; ARGS (for example
        --requirepass secret) are kept for later starts. Prints
        address=<host:port>, pid=, version=.
  halt postgres DIR [fast|immediate]   stop, keep the data and the port
  halt redis DIR [TERM|KILL]           TERM: clean shutdown; KILL: a crash
  start redis-tls DIR [--port P] [-- ARGS]
        TLS only (no plain port), certificates made in DIR/tls; prints
        address=, ca=<the CA certificate clients must trust>
  start redis-cluster DIR              three masters; prints endpoints=
  start redis-sentinel DIR             a primary, a replica and a Sentinel
        monitoring it as "tessera"; prints sentinel=, primary=, replica=,
        service=
  halt redis-cluster|redis-sentinel DIR [TERM|KILL]   every node of the set
  restart postgres DIR                 pg_ctl restart -m fast
  remove postgres|redis|redis-tls|redis-cluster|redis-sentinel DIR
                                       stop and delete DIR

A later start on the same DIR reuses its data, port and arguments.
EOF
}

services_main() {
  set -euo pipefail
  local command="${1:-}" service="${2:-}" dir="${3:-}"
  case "$command" in -h | --help | "") services_usage; return 0 ;; esac
  if [[ -z "$service" || -z "$dir" ]]; then services_usage >&2; return 2; fi
  shift 3
  local port="" extra=()
  while (($# > 0)); do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --) shift; extra=("$@"); break ;;
      *) extra+=("$1"); shift ;;
    esac
  done
  case "$service" in
    postgres)
      pg_dir="$dir" pg_port="$port"
      case "$command" in
        start)
          postgres_options="${extra[*]:-}"
          start_postgres
          printf 'connection=%s\npid=%s\nversion=%s\n' "$postgres_connection" "$pg_pid" "$postgres_version" ;;
        halt) halt_postgres "${extra[0]:-fast}" ;;
        restart) restart_postgres ;;
        remove) halt_postgres immediate; rm -rf "$pg_dir" ;;
        *) services_usage >&2; return 2 ;;
      esac ;;
    redis)
      redis_dir="$dir" redis_port="$port" redis_args=("${extra[@]}")
      case "$command" in
        start)
          start_redis
          printf 'address=%s\npid=%s\nversion=%s\n' "$redis_address" "$redis_pid" "$redis_version" ;;
        halt) redis_args=(); halt_redis "${extra[0]:-TERM}" ;;
        remove) halt_redis KILL; rm -rf "$redis_dir" ;;
        *) services_usage >&2; return 2 ;;
      esac ;;
    redis-tls)
      redis_dir="$dir" redis_port="$port" redis_args=("${extra[@]}")
      case "$command" in
        start)
          start_redis_tls
          printf 'address=%s\npid=%s\nca=%s\n' "$redis_address" "$redis_pid" "$redis_dir/tls/ca.crt" ;;
        halt) redis_args=(); halt_redis "${extra[0]:-TERM}" ;;
        remove) halt_redis KILL; rm -rf "$redis_dir" ;;
        *) services_usage >&2; return 2 ;;
      esac ;;
    redis-cluster | redis-sentinel)
      case "$command" in
        start)
          mkdir -p "$dir"
          if [[ "$service" == redis-cluster ]]; then
            start_redis_cluster "$dir"
            printf 'endpoints=%s\n' "$redis_cluster_endpoints"
          else
            start_redis_sentinel "$dir"
            printf 'sentinel=%s\nprimary=%s\nreplica=%s\nservice=tessera\n' \
              "$redis_sentinel_address" "$redis_primary_address" "$redis_replica_address"
          fi ;;
        halt) halt_redis_all "$dir" "${extra[0]:-TERM}" ;;
        remove) halt_redis_all "$dir" KILL; rm -rf "$dir" ;;
        *) services_usage >&2; return 2 ;;
      esac ;;
    *) services_usage >&2; return 2 ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  services_main "$@"
fi
