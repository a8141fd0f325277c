#!/bin/sh
# galera-healthcheck: the farm Galera image's health check. Exit 0 healthy, 1 not (the reason on
# stdout, for `docker inspect`). Cheap: at most one query over the local socket, as the container's
# OS user (mysql@localhost, unix_socket, USAGE only: created on the first start by
# galera-entrypoint, replicated to every node).
#
# Healthy when mariadbd answers with wsrep_ready ON and wsrep_local_state 4 (Synced) or 2 (Donor:
# mariabackup SST keeps a donor serving). Everything else is unhealthy, with two exceptions that
# exist because Swarm publishes a task's name in DNS only once its health check has passed:
#  - while galera-entrypoint holds a full-cluster election (phases waiting, recovering,
#    initializing) it is healthy, or its peers could never resolve its name to ask its position;
#  - a task that was healthy for that reason stays healthy while the mariadbd it then started is
#    not yet answering or still catching up (Joining/Joined in a Primary component, SST or IST),
#    until its first Synced, so that Swarm does not kill a joiner mid-SST.
# A task that never went through an election (a plain restart or a rolling update, with a Primary
# cluster to join) gets no such leeway: it stays "starting" until Synced, so an update waits for it.
state_dir=${GALERA_STATE_DIR:-/tmp/galera}
socket=${GALERA_HEALTHCHECK_SOCKET:-/run/mysqld/mysqld.sock}
phase=$(cat "$state_dir/phase" 2>/dev/null)

healthy() {
  : >"$state_dir/healthy-once" 2>/dev/null
  echo "healthy: $*"
  exit 0
}
unhealthy() {
  echo "unhealthy: $*"
  exit 1
}
# Leeway after an election: healthy before, not yet Synced since.
after_election() { [ -e "$state_dir/healthy-once" ] && [ ! -e "$state_dir/synced-once" ]; }

case "$phase" in
waiting | recovering | initializing | starting)
  pid=$(cat "$state_dir/pid" 2>/dev/null)
  comm=$(cat "/proc/${pid:-0}/comm" 2>/dev/null)
  [ -n "$comm" ] && [ "$comm" != mariadbd ] && healthy "galera-entrypoint: $phase (full-cluster election; mariadbd not started yet)"
  unhealthy "galera-entrypoint is gone in phase $phase"
  ;;
esac

if ! out=$(mariadb --no-defaults --protocol=socket -S "$socket" --connect-timeout=3 -N -B \
  -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state','wsrep_ready','wsrep_cluster_status')" 2>&1); then
  if after_election && [ "$(cat /proc/1/comm 2>/dev/null)" = mariadbd ]; then
    healthy "mariadbd starting after the election ($phase; SST or recovery), not answering yet"
  fi
  unhealthy "query failed: $out"
fi
state=
ready=
status=
tab=$(printf '\t')
while IFS="$tab" read -r name value; do
  case "$name" in
  wsrep_local_state | WSREP_LOCAL_STATE) state=$value ;;
  wsrep_ready | WSREP_READY) ready=$value ;;
  wsrep_cluster_status | WSREP_CLUSTER_STATUS) status=$value ;;
  esac
done <<END
$out
END
case "$state:$ready" in
4:ON | 2:ON)
  : >"$state_dir/synced-once" 2>/dev/null
  [ "$state" = 4 ] && healthy "Synced"
  healthy "Donor"
  ;;
esac
if after_election && [ "$status" = Primary ] && { [ "$state" = 1 ] || [ "$state" = 3 ]; }; then
  healthy "catching up after the election (wsrep_local_state=$state)"
fi
unhealthy "wsrep_local_state=${state:-none} wsrep_ready=${ready:-none} wsrep_cluster_status=${status:-none}"
