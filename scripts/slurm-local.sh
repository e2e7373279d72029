#!/usr/bin/env bash
# A real two-node Slurm cluster on this machine: munge, one slurmctld and two slurmd
# (`nodea`, `nodeb`) on localhost, with accounting (slurmdbd on a MariaDB server of its own,
# so `sacct` answers), for atlasperf's Slurm executor, its tests and `atlasperf import`.
#
#   scripts/slurm-local.sh up [--cpus N] [--memory MB] [--no-accounting]
#                                                        install (apt) if needed and start
#   scripts/slurm-local.sh down                          stop what `up` started (by pid)
#   scripts/slurm-local.sh status                        pids and sinfo
#   scripts/slurm-local.sh env                           the export line for SLURM_CONF
#
# --cpus and --memory are per node (default: 1 CPU and 2048 MB each). State, spool, logs,
# pid files, slurm.conf, slurmdbd.conf and the MariaDB data folder (its server on port 3307
# and a socket of its own, never the system's) live under $ATLASPERF_SLURM_DIR (default
# /var/tmp/atlasperf-slurm);
# Slurm commands find the cluster through SLURM_CONF="$ATLASPERF_SLURM_DIR/slurm.conf"
# (`eval "$(scripts/slurm-local.sh env)"`). Idempotent: `up` on a running cluster with the same
# settings does nothing. Needs root (apt, munge, slurmd).
set -euo pipefail

dir="${ATLASPERF_SLURM_DIR:-/var/tmp/atlasperf-slurm}"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

die() { echo "slurm-local: $*" >&2; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() { # ACCOUNTING(0|1)
  local want=(slurm-wlm munge) have=1
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null || have=0
  if [ "$1" = 1 ]; then
    want+=(slurmdbd mariadb-server)
    command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null || have=0
  fi
  [ "$have" = 1 ] && return
  [ "$(id -u)" -eq 0 ] || die "${want[*]} are not all installed and this is not root"
  echo "slurm-local: installing ${want[*]} (apt)"
  apt-get update -qq
  # The packages' own services are not wanted: this script starts what it needs itself.
  local policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
  [ "$policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
}

db_pass="atlasperf-local"

# MariaDB on its own data folder, socket and port; the slurm user and database for slurmdbd.
start_mariadb() {
  # Everything the server writes lives in its data folder, which belongs to the mysql user.
  local data="$dir/mysql" sock="$dir/mysql/mysqld.sock"
  alive "$data/mariadbd.pid" && return
  if [ ! -d "$data/mysql" ]; then
    mkdir -p "$data"
    chown mysql:mysql "$data" 2>/dev/null || true
    mariadb-install-db --user=mysql --datadir="$data" --auth-root-authentication-method=socket \
      > "$dir/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed; see $dir/log/mariadb-install.log"
  fi
  setsid mariadbd --user=mysql --datadir="$data" --socket="$sock" --port=3307 --bind-address=127.0.0.1 \
    --pid-file="$data/mariadbd.pid" --log-error="$data/mariadbd.err" --innodb-buffer-pool-size=64M \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 100); do
    mariadb --socket="$sock" -e 'select 1' >/dev/null 2>&1 && break
    sleep 0.2
  done
  mariadb --socket="$sock" -e 'select 1' >/dev/null 2>&1 || die "MariaDB did not start; see $data/mariadbd.err"
  mariadb --socket="$sock" <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_pass';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$db_pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL
}

start_slurmdbd() {
  alive "$dir/slurmdbd.pid" && return
  umask 077
  cat > "$dir/slurmdbd.conf" <<EOF
# Written by scripts/slurm-local.sh.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$dir/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageUser=slurm
StoragePass=$db_pass
StorageLoc=slurm_acct_db
EOF
  umask 022
  # slurmdbd reads slurmdbd.conf from the folder of SLURM_CONF.
  SLURM_CONF="$conf" slurmdbd
  for _ in $(seq 100); do
    sacctmgr -n list cluster >/dev/null 2>&1 && break
    sleep 0.2
  done
  sacctmgr -n list cluster >/dev/null 2>&1 || die "slurmdbd did not answer; see $dir/log/slurmdbd.log"
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx atlasperf; then
    sacctmgr -i add cluster atlasperf >/dev/null
  fi
  # An association for root, so its jobs are accounted under an account of their own.
  if ! sacctmgr -n -P list user root format=user 2>/dev/null | grep -qx root; then
    sacctmgr -i add account atlasperf cluster=atlasperf >/dev/null 2>&1 || true
    sacctmgr -i add user root account=atlasperf cluster=atlasperf >/dev/null 2>&1 || true
  fi
}

start_munge() {
  if munge -n >/dev/null 2>&1 </dev/null; then
    return # a munged is already answering; not ours to manage
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if id munge >/dev/null 2>&1; then
    runuser -u munge -- munged --force
  else
    munged --force
  fi
  for _ in $(seq 50); do
    munge -n >/dev/null 2>&1 </dev/null && break
    sleep 0.1
  done
  munge -n >/dev/null 2>&1 </dev/null || die "munged did not start; see /var/log/munge/munged.log"
  cp /run/munge/munged.pid "$dir/munged.pid"
}

write_conf() { # CPUS MEMORY ACCOUNTING
  local cpus="$1" memory="$2" accounting host
  accounting="AccountingStorageType=accounting_storage/none"
  if [ "$3" = 1 ]; then
    accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819"
  fi
  host="$(hostname -s)"
  mkdir -p "$dir/state" "$dir/log" "$dir/spool/nodea" "$dir/spool/nodeb"
  cat > "$conf.new" <<EOF
# Written by scripts/slurm-local.sh: two slurmd on localhost emulate nodea and nodeb.
ClusterName=atlasperf
SlurmctldHost=$host
SlurmctldPort=6817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
$accounting
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=3600
MpiDefault=none
NodeName=nodea NodeHostname=$host NodeAddr=127.0.0.1 Port=17001 CPUs=$cpus RealMemory=$memory State=UNKNOWN
NodeName=nodeb NodeHostname=$host NodeAddr=127.0.0.1 Port=17002 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=atlasperf Nodes=nodea,nodeb Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.new" "$conf"
}

wait_idle() {
  for _ in $(seq 100); do
    local states
    states="$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u || true)"
    if [ "$(grep -cE '^node[ab] (idle|mix|alloc)' <<<"$states")" -eq 2 ]; then
      echo "slurm-local: up — $(tr '\n' ' ' <<<"$states")(SLURM_CONF=$conf)"
      return
    fi
    if grep -qE '(down|drain|drng|unk)' <<<"$states"; then
      scontrol update nodename=nodea,nodeb state=resume >/dev/null 2>&1 || true
    fi
    sleep 0.3
  done
  die "nodes did not become idle: $(sinfo -h -N -o '%N %t %E' 2>&1 | tr '\n' ';'); logs in $dir/log"
}

up() {
  local cpus=1 memory=2048 accounting=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --cpus) cpus="${2:?--cpus needs a value}"; shift 2 ;;
      --memory) memory="${2:?--memory needs a value (MB)}"; shift 2 ;;
      --no-accounting) accounting=0; shift ;;
      *) die "unknown argument to up: $1" ;;
    esac
  done
  [[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer, got $cpus"
  [[ "$memory" =~ ^[1-9][0-9]*$ ]] || die "--memory must be a positive integer (MB), got $memory"
  install "$accounting"
  mkdir -p "$dir/log"
  local want="cpus=$cpus memory=$memory accounting=$accounting"
  if alive "$dir/slurmctld.pid" && alive "$dir/slurmd-nodea.pid" && alive "$dir/slurmd-nodeb.pid"; then
    if [ "$(cat "$dir/settings" 2>/dev/null)" = "$want" ]; then
      wait_idle
      return
    fi
    echo "slurm-local: restarting with $want"
    down
  fi
  start_munge
  write_conf "$cpus" "$memory" "$accounting"
  if [ "$accounting" = 1 ]; then
    start_mariadb
    start_slurmdbd
  fi
  echo "$want" > "$dir/settings"
  alive "$dir/slurmctld.pid" || slurmctld -f "$conf"
  for n in nodea nodeb; do
    alive "$dir/slurmd-$n.pid" || slurmd -f "$conf" -N "$n"
  done
  wait_idle
}

down() {
  local stopped=0
  for f in "$dir"/slurmd-nodea.pid "$dir"/slurmd-nodeb.pid "$dir"/slurmctld.pid "$dir"/slurmdbd.pid \
    "$dir"/mysql/mariadbd.pid "$dir"/munged.pid; do
    if alive "$f"; then
      kill "$(cat "$f")" && stopped=$((stopped + 1))
      for _ in $(seq 50); do alive "$f" || break; sleep 0.1; done
    fi
    rm -f "$f"
  done
  echo "slurm-local: stopped $stopped process(es)"
}

status() {
  for f in slurmctld slurmd-nodea slurmd-nodeb slurmdbd mysql/mariadbd munged; do
    if alive "$dir/$f.pid"; then echo "$f: running (pid $(cat "$dir/$f.pid"))"; else echo "$f: not running"; fi
  done
  [ -f "$conf" ] && sinfo -N -o '%N %t %c %m' 2>&1 || true
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  status) status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) echo "usage: $0 up [--cpus N] [--memory MB] [--no-accounting] | down | status | env" >&2; exit 2 ;;
esac
