#!/bin/bash
# galera-entrypoint: starts one node of the farm's MariaDB Galera cluster so that the cluster
# bootstraps and recovers without hand edits (infra/README.md, "Galera: start, full restart,
# recovery"). Depends only on mariadbd, mariadb, mariadb-install-db, galera, mariabackup and
# socat, so it runs on the official mariadb:10.11 image and on the local Debian base alike.
#
#   galera-entrypoint mariadbd [options]        the stack's command: the same on every deploy
#   galera-entrypoint status                    what a waiting node saw and chose last
#   galera-entrypoint force-bootstrap [--empty] operator (docker exec): make THIS waiting node
#                                               start a new Primary component
#   galera-entrypoint force-join                operator: let this waiting node join a Primary
#                                               cluster whose state uuid differs from its own
#                                               (its data is replaced by SST)
#
# On every start (a restart, a redeploy, a crash: all the same path):
#  1. Reads its peers from wsrep_cluster_address and its name from wsrep_node_name (the effective
#     configuration, `mariadbd --print-defaults`), removes a stale wsrep_sst.pid (container pids
#     are reused, so an old pid file can point at a live process and block the next SST).
#  2. Learns its own position: none (new volume, interrupted SST or first-start init), or
#     grastate.dat's uuid:seqno, or `mariadbd --wsrep-recover` when seqno is -1 (a crash).
#  3. Serves `name state uuid seqno safe_to_bootstrap` on GALERA_POSITION_PORT (4569) with socat,
#     and polls its peers: SQL as the `monitor` user (is it Primary? if it runs non-Primary, its
#     wsrep_last_committed), else the peer's position port.
#  4. A peer is Primary: join it (IST/SST; --wsrep_start_position when recovered; that peer
#     preferred as donor; addresses passed as IPs, since Swarm's DNS knows a task only once it is
#     healthy). A node whose state uuid differs from the cluster's refuses to join (its data would
#     be replaced) until `force-join`.
#     No peer is Primary (full-cluster start): once every node has reported, the node with the
#     highest seqno (ties: the lowest name) sets safe_to_bootstrap: 1 and starts with
#     --wsrep-new-cluster; the others wait until it is Primary, then join. Nodes without data
#     never lead. Different state uuids, or a node whose position could not be recovered, stop
#     the election with a message naming the nodes (an operator decides: force-bootstrap).
#     Every node empty (first deploy): the lowest name initializes its datadir, starts once with
#     wsrep off and no networking, creates root's password, the health-check user and
#     init.sql's users (SST, monitor), stops, and only then bootstraps; joiners never
#     initialize (SST brings them everything).
# Every decision is one line on stderr: what the node saw, what it chose.
set -uo pipefail
umask 0077

STATE_DIR=${GALERA_STATE_DIR:-/tmp/galera} # container-local: nothing here survives a restart
POS_PORT=${GALERA_POSITION_PORT:-4569}
POLL=${GALERA_POLL_SECONDS:-2}
REPEAT=${GALERA_LOG_REPEAT_SECONDS:-30}
MONITOR_USER=${GALERA_MONITOR_USER:-monitor}
MONITOR_PASSWORD_FILE=${GALERA_MONITOR_PASSWORD_FILE:-/run/secrets/proxysql_monitor}
ROOT_PASSWORD_FILE=${GALERA_ROOT_PASSWORD_FILE:-/run/secrets/db_root}
INIT_SQL=${GALERA_INIT_SQL:-/run/secrets/init.sql}
ZERO_UUID=00000000-0000-0000-0000-000000000000
SELF=${GALERA_NODE_NAME:-}

log() { printf '%s galera-entrypoint %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${SELF:-?}" "$*" >&2; }
die() {
  log "FATAL: $*"
  exit 1
}

# ---- operator subcommands (docker exec into the running task) ---------------------------------

waiting_entrypoint() {
  local pid
  pid=$(cat "$STATE_DIR/pid" 2>/dev/null) || return 1
  case $(cat "$STATE_DIR/phase" 2>/dev/null) in waiting | refusing) ;; *) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null
}

case "${1:-}" in
status)
  if waiting_entrypoint; then
    cat "$STATE_DIR/status"
  else
    echo "no waiting galera-entrypoint here (mariadbd runs, or it is starting): $(cat "$STATE_DIR/phase" 2>/dev/null || echo unknown)"
  fi
  exit 0
  ;;
force-bootstrap | force-join)
  if ! waiting_entrypoint; then
    echo "$1: refused: this task is not waiting in galera-entrypoint (phase: $(cat "$STATE_DIR/phase" 2>/dev/null || echo unknown))." >&2
    echo "Only a node that waits for the election can be forced; a running mariadbd is never touched." >&2
    exit 1
  fi
  what=${1#force-}
  [ "${2:-}" = --empty ] && what=bootstrap-empty
  echo "$what" >"$STATE_DIR/force"
  echo "$1: handed to the waiting entrypoint (pid $(cat "$STATE_DIR/pid")); it acts within ${POLL}s. Last view:"
  cat "$STATE_DIR/status"
  exit 0
  ;;
mariadbd | mysqld | */mariadbd | */mysqld) ;;
-*) set -- mariadbd "$@" ;;
*) exec "$@" ;;
esac

# ---- configuration ----------------------------------------------------------------------------

MYSQLD=$1
shift
DEFARGS=() # --defaults-* options: they must come first on every mariadbd command line
while [ $# -gt 0 ]; do
  case $1 in
  --no-defaults | --defaults-file=* | --defaults-extra-file=* | --defaults-group-suffix=*)
    DEFARGS+=("$1")
    shift
    ;;
  *) break ;;
  esac
done
CLIARGS=("$@")
for a in "${CLIARGS[@]}"; do
  case $a in
  --wsrep-new-cluster | --wsrep_new_cluster)
    die "the command carries $a: remove it. This entrypoint decides which node bootstraps; a fixed --wsrep-new-cluster splits the cluster on the next restart."
    ;;
  esac
done

printed=$("$MYSQLD" "${DEFARGS[@]}" --print-defaults 2>&1) || die "cannot read the configuration: $printed"
read -r -a CONFARGS <<<"$(printf '%s\n' "$printed" | tail -n 1)"
ALLARGS=("${CONFARGS[@]}" "${CLIARGS[@]}")

# opt NAME DEFAULT: the last --NAME=value of the effective configuration (- and _ alike).
opt() {
  local want=${1//-/_} v=$2 a k
  for a in "${ALLARGS[@]}"; do
    case $a in
    --*=*)
      k=${a%%=*}
      k=${k#--}
      k=${k//-/_}
      [ "$k" = "$want" ] && v=${a#*=}
      ;;
    esac
  done
  printf '%s' "$v"
}

wsrep_on=$(opt wsrep_on OFF)
cluster_address=${GALERA_PEERS:-$(opt wsrep_cluster_address '')}
case ${wsrep_on^^} in ON | 1 | TRUE) ;; *)
  log "wsrep_on is ${wsrep_on}: not a Galera node, starting mariadbd as given"
  exec "$MYSQLD" "${DEFARGS[@]}" "${CLIARGS[@]}"
  ;;
esac

addr=${cluster_address#gcomm://}
addr=${addr%%\?*}
PEERS=()
IFS=, read -r -a raw <<<"$addr"
for p in "${raw[@]}"; do
  p=${p%%:*}
  p=${p// /}
  [ -n "$p" ] && PEERS+=("$p")
done
[ ${#PEERS[@]} -ge 2 ] || die "wsrep_cluster_address '$cluster_address' names fewer than 2 nodes: nothing to elect"

SELF=${SELF:-$(opt wsrep_node_name "$(hostname)")}
found=
for p in "${PEERS[@]}"; do [ "$p" = "$SELF" ] && found=1; done
[ -n "$found" ] || die "my node name '$SELF' (wsrep_node_name or GALERA_NODE_NAME) is not in wsrep_cluster_address '$cluster_address'"
mapfile -t PEERS < <(printf '%s\n' "${PEERS[@]}" | LC_ALL=C sort -u)

DATADIR=$(opt datadir /var/lib/mysql)
DATADIR=${DATADIR%/}
MYSQL_PORT=$(opt port 3306)

mkdir -p "$STATE_DIR" || die "cannot create $STATE_DIR"
rm -f "$STATE_DIR"/*
echo $$ >"$STATE_DIR/pid"
echo starting >"$STATE_DIR/phase"

[ -r "$MONITOR_PASSWORD_FILE" ] || die "cannot read $MONITOR_PASSWORD_FILE: without the monitor password this node cannot tell whether a peer is Primary"
pw=$(cat "$MONITOR_PASSWORD_FILE")
pw=${pw//\\/\\\\}
pw=${pw//\"/\\\"}
printf '[client]\nuser=%s\npassword="%s"\nport=%s\n' "$MONITOR_USER" "$pw" "$MYSQL_PORT" >"$STATE_DIR/monitor.cnf"
unset pw

SOCAT_PID=
TEMP_PID=
cleanup() {
  [ -n "$SOCAT_PID" ] && kill "$SOCAT_PID" 2>/dev/null
  [ -n "$TEMP_PID" ] && kill "$TEMP_PID" 2>/dev/null && wait "$TEMP_PID" 2>/dev/null
  SOCAT_PID=
  TEMP_PID=
}
on_signal() {
  log "stopped by a signal while $(cat "$STATE_DIR/phase" 2>/dev/null): exiting before mariadbd started"
  cleanup
  exit 0
}
trap on_signal TERM INT

# ---- own position -------------------------------------------------------------------------------

if [ -e "$DATADIR/wsrep_sst.pid" ]; then
  log "removed stale $DATADIR/wsrep_sst.pid (pid $(cat "$DATADIR/wsrep_sst.pid" 2>/dev/null)): no SST can be running before mariadbd starts"
  rm -f "$DATADIR/wsrep_sst.pid"
fi
if [ -e "$DATADIR/galera-init-in-progress" ]; then
  log "found an interrupted first-start initialization: emptying $DATADIR (it never served anything)"
  find "$DATADIR" -mindepth 1 -delete || die "cannot empty $DATADIR"
fi

MY_STATE=empty # empty | nopos | data | unknown
MY_UUID=-
MY_SEQNO=-1
MY_SAFE=0
START_POS=
grastate_field() { sed -n "s/^$1:[[:space:]]*//p" "$DATADIR/grastate.dat" 2>/dev/null | head -n 1 | tr -d '[:space:]'; }

if [ -e "$DATADIR/sst_in_progress" ]; then
  log "own state: interrupted SST ($DATADIR/sst_in_progress): no usable data; this node only joins, and SST replaces the datadir"
elif [ ! -d "$DATADIR/mysql" ] && [ ! -e "$DATADIR/grastate.dat" ]; then
  log "own state: empty datadir $DATADIR"
else
  MY_UUID=$(grastate_field uuid)
  MY_SEQNO=$(grastate_field seqno)
  MY_SAFE=$(grastate_field safe_to_bootstrap)
  MY_SAFE=${MY_SAFE:-0}
  if [ ! -d "$DATADIR/mysql" ]; then
    MY_STATE=empty
    log "own state: $DATADIR has grastate.dat but no system tables: treated as empty (a joiner, SST refills it)"
  elif [ -z "$MY_UUID" ] || [ "$MY_UUID" = "$ZERO_UUID" ]; then
    MY_STATE=nopos
    log "own state: data without a cluster position (grastate uuid '${MY_UUID:-none}'): this node cannot lead an election, it joins"
  elif [ "${MY_SEQNO:--1}" -ge 0 ] 2>/dev/null; then
    MY_STATE=data
    log "own state: grastate.dat $MY_UUID:$MY_SEQNO safe_to_bootstrap=$MY_SAFE (clean stop)"
  else
    log "own state: grastate.dat $MY_UUID seqno ${MY_SEQNO:-?} (not a clean stop): running mariadbd --wsrep-recover"
    echo recovering >"$STATE_DIR/phase"
    rc=0
    timeout 900 "$MYSQLD" "${DEFARGS[@]}" "${CLIARGS[@]}" --wsrep-recover --skip-networking \
      --log-error="$STATE_DIR/recover.log" --socket="$STATE_DIR/recover.sock" \
      --pid-file="$STATE_DIR/recover.pid" >/dev/null 2>&1 || rc=$?
    pos=$(sed -n 's/.*WSREP: Recovered position: *\([0-9a-f-]*:-\{0,1\}[0-9]*\).*/\1/p' "$STATE_DIR/recover.log" 2>/dev/null | tail -n 1)
    if [ -n "$pos" ] && [ "${pos%%:*}" != "$ZERO_UUID" ] && [ "${pos##*:}" -ge 0 ] 2>/dev/null; then
      MY_STATE=data
      MY_UUID=${pos%%:*}
      MY_SEQNO=${pos##*:}
      START_POS=$pos
      log "own state: recovered position $pos (--wsrep-recover, exit $rc)"
    else
      MY_STATE=unknown
      log "own state: --wsrep-recover found no position (exit $rc, '${pos:-nothing}'); last lines: $(tail -n 3 "$STATE_DIR/recover.log" 2>/dev/null | tr '\n' '|')"
    fi
  fi
fi
MY_LINE="$SELF $MY_STATE $MY_UUID $MY_SEQNO $MY_SAFE"
echo "$MY_LINE" >"$STATE_DIR/position"

# ---- peers --------------------------------------------------------------------------------------

socat -T5 "TCP-LISTEN:$POS_PORT,reuseaddr,fork" SYSTEM:"cat $STATE_DIR/position" 2>/dev/null &
SOCAT_PID=$!

# peer_sql HOST: the peer's wsrep status over SQL as `status uuid last_committed cluster_uuid`.
# Returns 1 when nothing answers, 2 when mariadbd answers but refuses the monitor login.
peer_sql() {
  local out rc=0 st=- uu=- lc=- cu=-
  out=$(timeout 8 mariadb --defaults-file="$STATE_DIR/monitor.cnf" -h "$1" --connect-timeout=2 -N -B \
    -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status','wsrep_local_state_uuid','wsrep_last_committed','wsrep_cluster_state_uuid')" 2>&1) || rc=$?
  if [ $rc -ne 0 ]; then
    case $out in *"Access denied"*) return 2 ;; esac
    return 1
  fi
  while IFS=$'\t' read -r k v; do
    case ${k,,} in
    wsrep_cluster_status) st=$v ;;
    wsrep_local_state_uuid) uu=$v ;;
    wsrep_last_committed) lc=$v ;;
    wsrep_cluster_state_uuid) cu=$v ;;
    esac
  done <<<"$out"
  printf '%s %s %s %s\n' "$st" "$uu" "$lc" "$cu"
}

# peer_position HOST: the line a waiting peer serves on its position port.
peer_position() {
  timeout 6 socat -u -T3 "TCP:$1:$POS_PORT,connect-timeout=2" - 2>/dev/null | head -n 1
}

# survey: fills REC[name] ("state uuid seqno safe"), PRIMARY / PRIMARY_UUID, NOTES.
declare -A REC
survey() {
  local p out rc st uu lc cu line
  REC=()
  PRIMARY=
  PRIMARY_UUID=
  NOTES=
  for p in "${PEERS[@]}"; do
    if [ "$p" = "$SELF" ]; then
      REC[$p]="$MY_STATE $MY_UUID $MY_SEQNO $MY_SAFE"
      continue
    fi
    rc=0
    out=$(peer_sql "$p") || rc=$?
    if [ $rc -eq 0 ]; then
      read -r st uu lc cu <<<"$out"
      if [ "$st" = Primary ]; then
        PRIMARY=$p
        PRIMARY_UUID=$cu
        REC[$p]="primary $cu $lc 0"
        continue
      fi
      if [ "$uu" = "$ZERO_UUID" ] || [ "$uu" = - ] || ! [ "$lc" -ge 0 ] 2>/dev/null; then
        REC[$p]="nopos $uu $lc 0"
      else
        REC[$p]="running $uu $lc 0"
      fi
      continue
    fi
    [ $rc -eq 2 ] && NOTES="$NOTES; $p refuses the $MONITOR_USER login (check the proxysql_monitor secret)"
    line=$(peer_position "$p")
    # shellcheck disable=SC2086
    set -- $line
    if [ $# -eq 5 ]; then REC[$p]="$2 $3 $4 $5"; fi
  done
}

describe() { # the view in one line: name=state(uuid:seqno[,safe]) for every node
  local p s uu sq sf out=
  for p in "${PEERS[@]}"; do
    if [ -z "${REC[$p]:-}" ]; then
      out="$out $p=no-answer"
      continue
    fi
    read -r s uu sq sf <<<"${REC[$p]}"
    case $s in
    empty) out="$out $p=empty" ;;
    primary) out="$out $p=Primary($uu:$sq)" ;;
    *)
      if [ "$sf" = 1 ]; then out="$out $p=$s($uu:$sq,safe_to_bootstrap)"; else out="$out $p=$s($uu:$sq)"; fi
      ;;
    esac
  done
  printf '%s' "$out"
}

# ---- actions ------------------------------------------------------------------------------------

LAST_LOG=
LAST_LOG_AT=0
decision() { # decision SAW CHOSE: one line when the decision changes, else every REPEAT s
  local line="saw:$1 -> $2" now
  now=$(date +%s)
  echo "$line" >"$STATE_DIR/status"
  if [ "$line" != "$LAST_LOG" ] || [ $((now - LAST_LOG_AT)) -ge "$REPEAT" ]; then
    log "$line"
    LAST_LOG=$line
    LAST_LOG_AT=$now
  fi
}

start_args=()
[ -n "$START_POS" ] && start_args=(--wsrep_start_position="$START_POS")

# Swarm publishes a task's name in DNS only once its health check passes, so mariadbd must not
# need names that may not resolve yet: its own (a joiner is not healthy until Synced) or a peer's
# that is down. net_args: --wsrep_node_address = my IP on the route to the peers, and
# --wsrep_cluster_address = the IPs of the peers that resolve now (gcomm learns the others from
# the membership as they come).
resolve() { getent hosts "$1" 2>/dev/null | head -n 1 | cut -d' ' -f1; }
net_args=()
network_args() {
  local p peer_ip my_ip= ips=
  for p in "${PEERS[@]}"; do
    [ "$p" = "$SELF" ] && continue
    peer_ip=$(resolve "$p")
    [ -n "$peer_ip" ] || continue
    ips="$ips${ips:+,}$peer_ip"
    [ -n "$my_ip" ] || my_ip=$(ip route get "$peer_ip" 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1)
  done
  [ -n "$my_ip" ] || my_ip=$(resolve "$SELF")
  net_args=()
  # Never an empty gcomm:// (that alone would bootstrap): keep the configured names instead.
  [ -n "$ips" ] && net_args+=(--wsrep_cluster_address="gcomm://$ips")
  [ -n "$my_ip" ] && net_args+=(--wsrep_node_address="$my_ip")
  log "network: node address ${my_ip:-(the configured name)}, peers $([ -n "$ips" ] && echo "gcomm://$ips" || echo "(none resolves: the configured names)")"
}

join_cluster() {
  echo joining >"$STATE_DIR/phase"
  cleanup
  network_args
  # Prefer the node seen Primary as the donor (trailing comma: any other if it cannot serve). After
  # a full-cluster start the bootstrap node has the whole gcache; a node that has only just joined
  # may not (seen here: "IST didn't contain all write sets", and the joiner stays Disconnected).
  local donor=()
  [ -z "$(opt wsrep_sst_donor '')" ] && donor=(--wsrep_sst_donor="$1,")
  log "starting mariadbd to join the Primary component through $1 (${2})${START_POS:+; start position $START_POS for IST}"
  exec "$MYSQLD" "${DEFARGS[@]}" "${CLIARGS[@]}" "${net_args[@]}" "${donor[@]}" "${start_args[@]}"
}

sql_string() { # a value as a single-quoted SQL string literal
  local v=$1
  v=${v//\\/\\\\}
  v=${v//\'/\\\'}
  printf "'%s'" "$v"
}

initialize() {
  echo initializing >"$STATE_DIR/phase"
  [ -r "$INIT_SQL" ] || die "cannot read $INIT_SQL: the first start must create the SST and monitor users before any joiner starts"
  log "first start: initializing $DATADIR, then applying users with wsrep off and no networking, before any joiner can connect"
  : >"$DATADIR/galera-init-in-progress" || die "cannot write to $DATADIR"
  mariadb-install-db "${DEFARGS[@]}" --user="$(id -un)" --datadir="$DATADIR" --skip-test-db \
    --skip-name-resolve --auth-root-authentication-method=socket >"$STATE_DIR/install.log" 2>&1 ||
    die "mariadb-install-db failed: $(tail -n 5 "$STATE_DIR/install.log" | tr '\n' '|')"
  "$MYSQLD" "${DEFARGS[@]}" "${CLIARGS[@]}" --wsrep-on=OFF --wsrep-provider=none --skip-networking \
    --socket="$STATE_DIR/init.sock" --pid-file="$STATE_DIR/init.pid" --skip-log-bin \
    --log-error="$STATE_DIR/init.err" &
  TEMP_PID=$!
  local i
  for i in $(seq 1 120); do
    mariadb --no-defaults -S "$STATE_DIR/init.sock" -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$TEMP_PID" 2>/dev/null || die "the initializing mariadbd exited: $(tail -n 5 "$STATE_DIR/init.err" | tr '\n' '|')"
    sleep 0.5
  done
  local root_sql="-- no $ROOT_PASSWORD_FILE: root@localhost keeps socket authentication only"
  if [ -r "$ROOT_PASSWORD_FILE" ]; then
    root_sql="ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD($(sql_string "$(cat "$ROOT_PASSWORD_FILE")")) OR unix_socket;"
  else
    log "no $ROOT_PASSWORD_FILE: root@localhost keeps socket authentication only"
  fi
  local out
  # The OS user of this container (mysql) is left with the health check's needs only: USAGE
  # over the socket. Its session keeps the install-time privileges until it disconnects.
  if ! out=$({
    echo "SET SESSION sql_log_bin=0;"
    echo "DELETE FROM mysql.global_priv WHERE User='';"
    echo "$root_sql"
    cat "$INIT_SQL"
    echo
    echo "CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket;"
    echo "ALTER USER 'mysql'@'localhost' IDENTIFIED VIA unix_socket;"
    echo "DELETE FROM mysql.proxies_priv WHERE User='mysql';"
    echo "FLUSH PRIVILEGES;"
    echo "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'mysql'@'localhost';"
  } | mariadb --no-defaults -S "$STATE_DIR/init.sock" -N -B 2>&1); then
    die "applying the first-start SQL (root, $INIT_SQL, health-check user) failed: $out"
  fi
  kill "$TEMP_PID"
  wait "$TEMP_PID" 2>/dev/null
  TEMP_PID=
  rm -f "$DATADIR/galera-init-in-progress"
  MY_STATE=data
  log "first start: users created (root password, mysql@localhost for the health check, $(grep -ciE '^[[:space:]]*CREATE USER' "$INIT_SQL") from init.sql: SST and monitor) with no joiner able to connect"
}

bootstrap() { # bootstrap WHY
  echo bootstrapping >"$STATE_DIR/phase"
  survey
  if [ -n "$PRIMARY" ]; then
    log "bootstrap cancelled: $PRIMARY turned Primary meanwhile; back to the election"
    echo waiting >"$STATE_DIR/phase"
    return
  fi
  [ "$MY_STATE" = empty ] && initialize
  if [ -e "$DATADIR/grastate.dat" ]; then
    sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$DATADIR/grastate.dat" || die "cannot edit $DATADIR/grastate.dat"
  fi
  cleanup
  network_args
  echo bootstrapping >"$STATE_DIR/phase"
  log "starting mariadbd with --wsrep-new-cluster ($1)${START_POS:+; start position $START_POS}"
  exec "$MYSQLD" "${DEFARGS[@]}" "${CLIARGS[@]}" "${net_args[@]}" --wsrep-new-cluster "${start_args[@]}"
}

# ---- the election loop --------------------------------------------------------------------------

FORCE_JOIN=
echo waiting >"$STATE_DIR/phase"
while :; do
  echo waiting >"$STATE_DIR/phase"
  survey
  saw=" $(describe)${NOTES}"

  force=$(cat "$STATE_DIR/force" 2>/dev/null)
  rm -f "$STATE_DIR/force"
  case $force in
  bootstrap | bootstrap-empty)
    if [ -n "$PRIMARY" ]; then
      decision "$saw" "force-bootstrap refused: $PRIMARY is Primary (a second component would split the cluster)"
    elif [ "$MY_STATE" = empty ] && [ "$force" != bootstrap-empty ]; then
      decision "$saw" "force-bootstrap refused: this node has no data; 'force-bootstrap --empty' starts a NEW EMPTY cluster"
    else
      log "saw:$saw -> operator forced a bootstrap here (force-bootstrap): my position $MY_STATE $MY_UUID:$MY_SEQNO"
      bootstrap "forced by the operator"
      continue
    fi
    ;;
  join) FORCE_JOIN=1 ;;
  esac

  if [ -n "$PRIMARY" ]; then
    if [ "$MY_STATE" = data ] && [ -n "$PRIMARY_UUID" ] && [ "$PRIMARY_UUID" != "$MY_UUID" ] && [ -z "$FORCE_JOIN" ]; then
      # Not an election: nobody needs this node's name, so its health check fails (phase refusing).
      echo refusing >"$STATE_DIR/phase"
      decision "$saw" "refuse to join: the Primary cluster's state uuid $PRIMARY_UUID differs from mine ($MY_UUID:$MY_SEQNO); SST would replace this node's data. If that is intended: docker exec <this task> galera-entrypoint force-join"
    else
      decision "$saw" "join: $PRIMARY is Primary"
      join_cluster "$PRIMARY" "${FORCE_JOIN:+forced join, }cluster uuid ${PRIMARY_UUID:-?}"
    fi
  else
    missing=
    unknown=
    uuids=
    best=
    best_seq=-2
    all_empty=1
    runner=
    for p in "${PEERS[@]}"; do
      if [ -z "${REC[$p]:-}" ]; then
        missing="$missing $p"
        all_empty=
        continue
      fi
      read -r s uu sq _ <<<"${REC[$p]}"
      [ "$s" = empty ] || all_empty=
      case $s in
      unknown) unknown="$unknown $p" ;;
      data | running)
        case " $uuids " in *" $uu "*) ;; *) uuids="$uuids $uu" ;; esac
        # highest seqno; ties: the first in name order (PEERS is sorted)
        if [ "$sq" -gt "$best_seq" ]; then
          best=$p
          best_seq=$sq
          [ "$s" = running ] && runner=$p || runner=
        fi
        ;;
      esac
    done
    set -- $uuids
    if [ $# -gt 1 ]; then
      decision "$saw" "no election: nodes have different state uuids (${uuids# }): never a silent new cluster. Choose the node whose data is right and run there: docker exec <task> galera-entrypoint force-bootstrap"
    elif [ -n "$missing" ]; then
      decision "$saw" "wait: no Primary peer, and no position yet from${missing} (every node must report before the highest seqno is known; if a node is lost for good: force-bootstrap on the best of the others)"
    elif [ -n "$unknown" ]; then
      decision "$saw" "no election: the position of${unknown} could not be recovered (it may hold the latest transactions). Decide, then: docker exec <task> galera-entrypoint force-bootstrap"
    elif [ -n "$all_empty" ]; then
      first=${PEERS[0]}
      if [ "$first" = "$SELF" ]; then
        decision "$saw" "first start: every node is empty; I am the lowest name: initialize, create users, bootstrap"
        bootstrap "first start, every datadir empty"
      else
        decision "$saw" "first start: every node is empty; wait for $first (lowest name) to initialize and be Primary, then join by SST"
      fi
    elif [ -z "$best" ]; then
      decision "$saw" "no election: no node has a usable Galera position (data without grastate uuid). Decide, then: docker exec <task> galera-entrypoint force-bootstrap"
    elif [ "$best" = "$SELF" ]; then
      decision "$saw" "full-cluster start: I have the highest seqno ($MY_UUID:$MY_SEQNO; ties go to the lowest name): bootstrap"
      bootstrap "elected: highest seqno $MY_SEQNO of every node"
    elif [ -n "$runner" ]; then
      decision "$saw" "wait: $runner runs non-Primary with the highest seqno $best_seq; its health check fails and Swarm restarts it, then it bootstraps (or force-bootstrap here to drop its last transactions)"
    else
      decision "$saw" "full-cluster start: wait for $best (highest seqno $best_seq) to bootstrap and be Primary, then join"
    fi
  fi
  sleep "$POLL" &
  wait $! 2>/dev/null
done
