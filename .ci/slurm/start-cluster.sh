#!/usr/bin/env bash
# Start a throw-away single-node SLURM (munge + slurmctld + slurmd) on 127.0.0.1 for the
# cluster test. Root only. Installs Debian's packages when missing, writes
# /etc/slurm/slurm.conf (the jobstep plugin strips SLURM_CONF, so the compiled-in path is
# the only one jobs see), starts the daemons and waits until the node is idle.
# Every pid it starts is recorded in $STATE/pids, which stop-cluster.sh reads.
set -euo pipefail
STATE=${BRAINATTR_SLURM_DIR:-/tmp/brainattr-slurm}
CONF=/etc/slurm/slurm.conf
say() { echo "[slurm-ci] $*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "needs root"; exit 2; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurmctld slurmd slurm-client munge"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi
mkdir -p "$STATE"/{state,spool,log}
: > "$STATE/pids"

# munge: the daemons authenticate each other with it
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  head -c 1024 /dev/urandom > /etc/munge/munge.key
fi
for d in /etc/munge /run/munge /var/lib/munge /var/log/munge; do
  mkdir -p "$d"; chown munge:munge "$d"
done
chmod 0400 /etc/munge/munge.key; chown munge:munge /etc/munge/munge.key
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  # the pid file must be writable by user munge
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  for _ in $(seq 50); do (munge -n | unmunge) >/dev/null 2>&1 && [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  echo "munged $(cat /run/munge/munged.pid)" >> "$STATE/pids"
fi

node=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p /etc/slurm
[ -e "$CONF" ] && [ ! -e "$STATE/slurm.conf.orig" ] && cp "$CONF" "$STATE/slurm.conf.orig"
cat > "$CONF" <<CONF
ClusterName=brainattr-ci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
GresTypes=gpu
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
DefMemPerCPU=500
MinJobAge=7200
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
# one GPU GRES with /dev/null as its device file (slurmd 22.05 reports a gpu GRES without File
# as 0 and drains the node): jobs that ask for --gpus are scheduled and the request shows in
# scontrol; torch still runs on the CPU (the test config sets device: cpu)
[ -e /etc/slurm/gres.conf ] && [ ! -e "$STATE/gres.conf.orig" ] && cp /etc/slurm/gres.conf "$STATE/gres.conf.orig"
echo "NodeName=$node Name=gpu Count=1 File=/dev/null" > /etc/slurm/gres.conf

slurmctld -c -f "$CONF"
slurmd -f "$CONF"
for _ in $(seq 50); do [ -s "$STATE/slurmctld.pid" ] && [ -s "$STATE/slurmd.pid" ] && break; sleep 0.1; done
echo "slurmctld $(cat "$STATE/slurmctld.pid")" >> "$STATE/pids"
echo "slurmd $(cat "$STATE/slurmd.pid")" >> "$STATE/pids"
for _ in $(seq 120); do
  [ "$(sinfo -h -o %T 2>/dev/null | head -n1)" = "idle" ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %T | head -n1)" = "idle" ] || { say "node never became idle"; exit 1; }
say "cluster up: $(tr '\n' ' ' < "$STATE/pids")"
