#!/usr/bin/env bash
# Starts (or stops) the services Gilfoyle needs, all on loopback:
#   PostgreSQL 127.0.0.1:5432 (role gilfoyle/gilfoyle, databases gilfoyle and gilfoyle_test; the tests make more)
#   RabbitMQ   127.0.0.1:5672 (guest/guest)
#   Temporal   127.0.0.1:7233 (dev server, namespace default), UI http://127.0.0.1:8233
#   MinIO      http://127.0.0.1:9000 (S3 API, gilfoyle/gilfoyle-secret), console http://127.0.0.1:9001
# Usage: scripts/services.sh [start|stop|restart|status]   (default: start)
# start runs scripts/install.sh first (npm install skipped unless SKIP_NPM_INSTALL=0),
# starts only what is not running, and waits until each answers. Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/sbin:/sbin"

DATA="$ROOT/.data"
LOG_DIR="$DATA/logs"
TEMPORAL_BIN="$ROOT/.tools/bin/temporal"
TEMPORAL_PID="$DATA/temporal.pid"
TEMPORAL_LOG="$LOG_DIR/temporal.log"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

PG_HOST=127.0.0.1 PG_PORT=5432
AMQP_HOST=127.0.0.1 AMQP_PORT=5672
TEMPORAL_HOST=127.0.0.1 TEMPORAL_PORT=7233 TEMPORAL_UI_PORT=8233
MINIO_HOST=127.0.0.1 MINIO_PORT=9000 MINIO_CONSOLE_PORT=9001
MINIO_BIN="$ROOT/.tools/bin/minio"
MINIO_PID="$DATA/minio.pid"
MINIO_LOG="$LOG_DIR/minio.log"
# Jaeger (traces): with --tracing or GILFOYLE_TRACING=1, and for the tests (INSTALL_TEST_TOOLS=1).
JAEGER_BIN="$ROOT/.tools/bin/jaeger"
JAEGER_PID="$DATA/jaeger.pid"
JAEGER_LOG="$LOG_DIR/jaeger.log"
JAEGER_HOST=127.0.0.1 JAEGER_UI_PORT=16686 JAEGER_OTLP_PORT=4318
for arg in "$@"; do [ "$arg" = --tracing ] && export GILFOYLE_TRACING=1; done
set -- $(for arg in "$@"; do [ "$arg" = --tracing ] || printf '%s ' "$arg"; done)
tracing_wanted() { [ "${GILFOYLE_TRACING:-0}" = 1 ] || [ "${INSTALL_TEST_TOOLS:-0}" = 1 ]; }

# RabbitMQ (and its epmd) on loopback only; su in Debian's wrapper keeps these.
export RABBITMQ_NODE_IP_ADDRESS=$AMQP_HOST RABBITMQ_NODE_PORT=$AMQP_PORT ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-} -kernel inet_dist_use_interface {127,0,0,1}"

say() { echo "services: $*"; }
die() { echo "services: error: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -E "$@"
  else die "need root (or sudo) to run: $*"
  fi
}
as_postgres() {
  # cd / so postgres is not left in a directory it cannot read.
  if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- "$@")
  elif [ "$(id -u)" -eq 0 ]; then
    (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
  else
    (cd / && sudo -u postgres "$@")
  fi
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every second.
wait_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "services: gave up waiting for $what" >&2
      return 1
    fi
    sleep 1
  done
}

# ---- PostgreSQL -----------------------------------------------------------
PG_VER="" PG_CLUSTER="" PG_LOG=""
pg_pick_cluster() {
  # Highest-version cluster named main, else the highest-version cluster.
  # (awk reads all its input: an early exit would SIGPIPE the pipe under pipefail.)
  local all line
  all="$(pg_lsclusters -h 2>/dev/null | sort -k1,1nr || true)"
  line="$(awk '$2 == "main" && !found { print; found = 1 }' <<<"$all")"
  [ -n "$line" ] || line="$(awk 'NR == 1' <<<"$all")"
  if [ -n "$line" ]; then
    PG_VER="$(awk '{print $1}' <<<"$line")"
    PG_CLUSTER="$(awk '{print $2}' <<<"$line")"
    PG_LOG="$(awk '{print $7}' <<<"$line")"
    return 0
  fi
  return 1
}
pg_running() { as_root pg_ctlcluster "$PG_VER" "$PG_CLUSTER" status >/dev/null 2>&1; }
pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }
pg_psql() { as_postgres psql -X -q -At -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"; }

pg_write_conf() {
  # Loopback and the standard port, in a conf.d file of ours: postgresql.conf stays untouched.
  local dir="/etc/postgresql/$PG_VER/$PG_CLUSTER" want
  want="# Written by gilfoyle's scripts/services.sh: loopback only, standard port.
listen_addresses = '$PG_HOST'
port = $PG_PORT"
  if ! grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf\.d'" "$dir/postgresql.conf"; then
    say "PostgreSQL $PG_VER/$PG_CLUSTER: adding include_dir = 'conf.d' to postgresql.conf"
    echo "include_dir = 'conf.d'" | as_root tee -a "$dir/postgresql.conf" >/dev/null
    PG_CONF_CHANGED=1
  fi
  if [ "$(cat "$dir/conf.d/gilfoyle.conf" 2>/dev/null || true)" != "$want" ]; then
    say "PostgreSQL $PG_VER/$PG_CLUSTER: writing conf.d/gilfoyle.conf (listen $PG_HOST:$PG_PORT)"
    as_root install -d -o postgres -g postgres "$dir/conf.d"
    printf '%s\n' "$want" | as_root tee "$dir/conf.d/gilfoyle.conf" >/dev/null
    PG_CONF_CHANGED=1
  fi
}

pg_start() {
  if ! pg_pick_cluster; then
    local ver
    ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -nr | awk 'NR == 1')"
    [ -n "$ver" ] || die "PostgreSQL server not installed (run scripts/install.sh)"
    say "creating PostgreSQL cluster $ver/main"
    mkdir -p "$LOG_DIR"
    as_root pg_createcluster --port "$PG_PORT" "$ver" main >"$LOG_DIR/pg_createcluster.log" 2>&1 \
      || { tail -n 20 "$LOG_DIR/pg_createcluster.log" >&2; die "pg_createcluster failed (log: $LOG_DIR/pg_createcluster.log)"; }
    pg_pick_cluster || die "cluster $ver/main not listed by pg_lsclusters after creating it"
  fi

  PG_CONF_CHANGED=0
  pg_write_conf

  if pg_running; then
    if [ "$PG_CONF_CHANGED" -eq 1 ]; then
      say "restarting PostgreSQL $PG_VER/$PG_CLUSTER for the new settings"
      as_root pg_ctlcluster "$PG_VER" "$PG_CLUSTER" restart
    fi
  else
    say "starting PostgreSQL $PG_VER/$PG_CLUSTER"
    # The socket directory lives in /run, which may be fresh after a reboot.
    as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    as_root pg_ctlcluster "$PG_VER" "$PG_CLUSTER" start \
      || die "PostgreSQL $PG_VER/$PG_CLUSTER failed to start; log: $PG_LOG"
  fi
  wait_until "$WAIT_SECONDS" PostgreSQL pg_ready \
    || die "PostgreSQL not answering on $PG_HOST:$PG_PORT after ${WAIT_SECONDS}s; log: $PG_LOG"

  # Role and databases, created only when missing; the password is (re)set quietly.
  if [ "$(pg_psql -c "SELECT 1 FROM pg_roles WHERE rolname = 'gilfoyle'")" != 1 ]; then
    say "creating PostgreSQL role gilfoyle"
    pg_psql -c "CREATE ROLE gilfoyle LOGIN CREATEDB PASSWORD 'gilfoyle'"
  else
    # CREATEDB: the tests give each Gilfoyle they start a database of its own.
    pg_psql -c "ALTER ROLE gilfoyle LOGIN CREATEDB PASSWORD 'gilfoyle'"
  fi
  local db
  for db in gilfoyle gilfoyle_test; do
    if [ "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
      say "creating PostgreSQL database $db"
      pg_psql -c "CREATE DATABASE $db OWNER gilfoyle"
    fi
  done
}

pg_stop() {
  pg_pick_cluster || return 0
  if pg_running; then
    say "stopping PostgreSQL $PG_VER/$PG_CLUSTER"
    as_root pg_ctlcluster "$PG_VER" "$PG_CLUSTER" stop
  fi
}

# ---- RabbitMQ -------------------------------------------------------------
rabbit_log() { echo "/var/log/rabbitmq/rabbit@$(hostname -s).log (and $LOG_DIR/rabbitmq-start.log)"; }
rabbit_ready() { port_open "$AMQP_HOST" "$AMQP_PORT"; }
rabbit_pid() {
  # The broker's pid, from the pid file it keeps beside its database, if that process is alive.
  local file="${RABBITMQ_PID_FILE:-/var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid}" pid
  pid="$(cat "$file" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

rabbit_start() {
  command -v rabbitmq-server >/dev/null 2>&1 || die "rabbitmq-server not installed (run scripts/install.sh)"
  if rabbit_ready; then return 0; fi
  mkdir -p "$LOG_DIR"
  if rabbit_pid >/dev/null; then
    say "RabbitMQ (pid $(rabbit_pid)) is still booting; waiting for it"
  else
    say "starting RabbitMQ on $AMQP_HOST:$AMQP_PORT"
    # Room for a file handle per queue (the default soft limit, 1024, stalls recovery at ~1000 queues).
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    as_root rabbitmq-server -detached >"$LOG_DIR/rabbitmq-start.log" 2>&1 \
      || die "rabbitmq-server -detached failed; logs: $(rabbit_log)"
  fi
  wait_until "$WAIT_SECONDS" RabbitMQ rabbit_ready \
    || die "RabbitMQ not answering on $AMQP_HOST:$AMQP_PORT after ${WAIT_SECONDS}s; logs: $(rabbit_log)"
  timeout "$WAIT_SECONDS" rabbitmqctl -q await_startup >>"$LOG_DIR/rabbitmq-start.log" 2>&1 \
    || die "RabbitMQ did not finish booting; logs: $(rabbit_log)"
}

rabbit_stop() {
  command -v rabbitmqctl >/dev/null 2>&1 || return 0
  local pid
  pid="$(rabbit_pid || true)"
  if [ -n "$pid" ] || rabbit_ready; then
    say "stopping RabbitMQ${pid:+ (pid $pid)}"
    timeout 60 rabbitmqctl -q stop >/dev/null || die "rabbitmqctl stop failed; logs: $(rabbit_log)"
    # rabbitmqctl returns before the Erlang VM has exited: wait for it, so a start right after works.
    if [ -n "$pid" ]; then
      wait_until 30 "RabbitMQ (pid $pid) to exit" bash -c "! kill -0 $pid 2>/dev/null" \
        || die "RabbitMQ (pid $pid) still running 30s after rabbitmqctl stop; logs: $(rabbit_log)"
    fi
  fi
}

# await_ready NAME PID LOG CHECK...: polls CHECK until it succeeds; fails early, with the log's
# tail, if the process PID (when given) died, and after WAIT_SECONDS.
await_ready() {
  local name="$1" pid="$2" log="$3"; shift 3
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "$name exited; log: $log"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name not answering after ${WAIT_SECONDS}s; log: $log"
    sleep 0.5
  done
}

# ---- Temporal dev server --------------------------------------------------

temporal_pid() {
  # Prints the pid from the pid file (or of the listener on the port) if that process is alive and is a temporal dev server.
  local pid cmdline
  [ -f "$TEMPORAL_PID" ] || return 1
  pid="$(cat "$TEMPORAL_PID")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"server start-dev"* ]] || return 1
  echo "$pid"
}
temporal_ready() {
  timeout 10 "$TEMPORAL_BIN" operator namespace describe -n default \
    --address "$TEMPORAL_HOST:$TEMPORAL_PORT" >/dev/null 2>&1
}

temporal_start() {
  [ -x "$TEMPORAL_BIN" ] || die "$TEMPORAL_BIN missing (run scripts/install.sh)"
  local pid
  if ! pid="$(temporal_pid)"; then
    if port_open "$TEMPORAL_HOST" "$TEMPORAL_PORT"; then
      # Something else serves 7233: use it if it is a Temporal server, never start a second one.
      temporal_ready || die "port $TEMPORAL_PORT is taken by something that is not a Temporal server"
    else
      say "starting Temporal dev server on $TEMPORAL_HOST:$TEMPORAL_PORT (log: .data/logs/temporal.log)"
      mkdir -p "$DATA/temporal" "$LOG_DIR"
      rm -f "$TEMPORAL_PID"
      # setsid + nohup: its own session, so it outlives this script and its terminal.
      # The priority matcher (default from Temporal 1.31, off in this 1.29) dispatches waiting tasks
      # by the priority the workflow gives them: a media's playable rung first, then the short
      # jobs, then the ladder largest rung first. One partition per task queue keeps that order
      # across the whole queue, which a single machine's dev server can afford.
      setsid nohup "$TEMPORAL_BIN" server start-dev \
        --ip "$TEMPORAL_HOST" --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
        --db-filename "$DATA/temporal/temporal.db" --log-level warn \
        --dynamic-config-value matching.useNewMatcher=true \
        --dynamic-config-value matching.numTaskqueueReadPartitions=1 \
        --dynamic-config-value matching.numTaskqueueWritePartitions=1 \
        >>"$TEMPORAL_LOG" 2>&1 </dev/null &
      pid=$!
      echo "$pid" >"$TEMPORAL_PID"
    fi
  fi
  await_ready Temporal "${pid:-}" "$TEMPORAL_LOG" temporal_ready
}

temporal_stop() {
  local pid
  if pid="$(temporal_pid)"; then
    say "stopping Temporal dev server (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "Temporal dev server did not stop in 15s, killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  elif port_open "$TEMPORAL_HOST" "$TEMPORAL_PORT"; then
    say "a Temporal server not started by this script holds $TEMPORAL_HOST:$TEMPORAL_PORT; leaving it"
  fi
  rm -f "$TEMPORAL_PID"
}

# ---- MinIO -----------------------------------------------------------------
minio_ready() { curl -sf -o /dev/null --max-time 2 "http://$MINIO_HOST:$MINIO_PORT/minio/health/live"; }
minio_pid() {
  local pid
  [ -f "$MINIO_PID" ] || return 1
  pid="$(cat "$MINIO_PID")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)" == *"minio server"* ]] || return 1
  echo "$pid"
}
minio_start() {
  local pid=""
  if ! minio_pid >/dev/null; then
    if port_open "$MINIO_HOST" "$MINIO_PORT"; then
      minio_ready || die "port $MINIO_PORT is taken by something that is not MinIO"
    else
      say "starting MinIO on $MINIO_HOST:$MINIO_PORT (log: .data/logs/minio.log)"
      mkdir -p "$DATA/minio" "$LOG_DIR"
      MINIO_ROOT_USER=gilfoyle MINIO_ROOT_PASSWORD=gilfoyle-secret MINIO_BROWSER_REDIRECT=off \
        setsid nohup "$MINIO_BIN" server "$DATA/minio" --quiet \
        --address "$MINIO_HOST:$MINIO_PORT" --console-address "$MINIO_HOST:$MINIO_CONSOLE_PORT" \
        >>"$MINIO_LOG" 2>&1 </dev/null &
      pid=$!
      echo "$pid" >"$MINIO_PID"
    fi
  fi
  await_ready MinIO "$pid" "$MINIO_LOG" minio_ready
}
minio_stop() {
  local pid
  if pid="$(minio_pid)"; then
    say "stopping MinIO (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$MINIO_PID"
}

# ---- Jaeger ----------------------------------------------------------------
jaeger_ready() { curl -sf -o /dev/null --max-time 2 "http://$JAEGER_HOST:$JAEGER_UI_PORT/api/services"; }
jaeger_pid() {
  local pid
  [ -f "$JAEGER_PID" ] || return 1
  pid="$(cat "$JAEGER_PID")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)" == *jaeger* ]] || return 1
  echo "$pid"
}
jaeger_start() {
  local pid=""
  if ! jaeger_pid >/dev/null; then
    if port_open "$JAEGER_HOST" "$JAEGER_UI_PORT"; then
      jaeger_ready || die "port $JAEGER_UI_PORT is taken by something that is not Jaeger"
    else
      say "starting Jaeger: OTLP http://$JAEGER_HOST:$JAEGER_OTLP_PORT, UI http://$JAEGER_HOST:$JAEGER_UI_PORT (log: .data/logs/jaeger.log)"
      mkdir -p "$LOG_DIR"
      setsid nohup "$JAEGER_BIN" --config "$ROOT/scripts/jaeger.yml" >>"$JAEGER_LOG" 2>&1 </dev/null &
      pid=$!
      echo "$pid" >"$JAEGER_PID"
    fi
  fi
  await_ready Jaeger "$pid" "$JAEGER_LOG" jaeger_ready
}
jaeger_stop() {
  local pid
  if pid="$(jaeger_pid)"; then
    say "stopping Jaeger (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$JAEGER_PID"
}

# ---- main -----------------------------------------------------------------
summary() {
  echo "PostgreSQL   postgres://gilfoyle:gilfoyle@$PG_HOST:$PG_PORT/gilfoyle (tests: gilfoyle_test)"
  echo "RabbitMQ     amqp://guest:guest@$AMQP_HOST:$AMQP_PORT"
  echo "Temporal     $TEMPORAL_HOST:$TEMPORAL_PORT (namespace default)"
  echo "Temporal UI  http://$TEMPORAL_HOST:$TEMPORAL_UI_PORT"
  echo "MinIO        http://$MINIO_HOST:$MINIO_PORT (gilfoyle / gilfoyle-secret), console http://$MINIO_HOST:$MINIO_CONSOLE_PORT"
}

start() {
  SKIP_NPM_INSTALL="${SKIP_NPM_INSTALL:-1}" bash "$ROOT/scripts/install.sh"
  pg_start
  rabbit_start
  temporal_start
  minio_start
  if tracing_wanted; then jaeger_start; fi
  summary
  if tracing_wanted; then
    echo "Jaeger       OTLP http://$JAEGER_HOST:$JAEGER_OTLP_PORT (GILFOYLE_TRACING_OTLP_ENDPOINT), UI http://$JAEGER_HOST:$JAEGER_UI_PORT"
  fi
}

stop() {
  jaeger_stop
  minio_stop
  temporal_stop
  rabbit_stop
  pg_stop
}

status() {
  local rc=0
  if pg_ready; then echo "PostgreSQL   up   $PG_HOST:$PG_PORT"; else echo "PostgreSQL   down"; rc=1; fi
  if rabbit_ready; then echo "RabbitMQ     up   $AMQP_HOST:$AMQP_PORT"; else echo "RabbitMQ     down"; rc=1; fi
  if [ -x "$TEMPORAL_BIN" ] && temporal_ready; then
    echo "Temporal     up   $TEMPORAL_HOST:$TEMPORAL_PORT, UI http://$TEMPORAL_HOST:$TEMPORAL_UI_PORT"
  else echo "Temporal     down"; rc=1; fi
  if minio_ready; then echo "MinIO        up   $MINIO_HOST:$MINIO_PORT"; else echo "MinIO        down"; rc=1; fi
  return "$rc"
}

# One service alone (the fault-injection tests stop and start them): postgres, rabbitmq, temporal, minio.
one() {
  local action="$1" svc="$2"
  # Temporal and MinIO keep their data under this checkout's .data/: one started by another
  # checkout cannot be restarted from here without losing it, so say so rather than try.
  if [ "$action" = stop ]; then
    case "$svc" in
      temporal) if ! temporal_pid >/dev/null && port_open "$TEMPORAL_HOST" "$TEMPORAL_PORT"; then
          die "Temporal on $TEMPORAL_HOST:$TEMPORAL_PORT was started by another checkout (its data is not under $DATA): stop it there first"; fi ;;
      minio) if ! minio_pid >/dev/null && minio_ready; then
          die "MinIO on $MINIO_HOST:$MINIO_PORT was started by another checkout (its data is not under $DATA): stop it there first"; fi ;;
    esac
  fi
  case "$svc" in
    postgres) "pg_$action" ;;
    rabbitmq) "rabbit_$action" ;;
    temporal) "temporal_$action" ;;
    minio) "minio_$action" ;;
    *) echo "unknown service: $svc (postgres, rabbitmq, temporal, minio)" >&2; exit 2 ;;
  esac
}

case "${1:-start}" in
  start) if [ -n "${2:-}" ]; then one start "$2"; else start; fi ;;
  stop) if [ -n "${2:-}" ]; then one stop "$2"; else stop; fi ;;
  restart) stop; start ;;
  status) status ;;
  *) echo "usage: $0 [start|stop|restart|status] [postgres|rabbitmq|temporal|minio]" >&2; exit 2 ;;
esac
