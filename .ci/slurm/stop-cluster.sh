#!/usr/bin/env bash
# Stop what start-cluster.sh started, by the pids it recorded (never by process name), and
# put back any slurm.conf it replaced. Safe to run twice or after a failed start.
set -uo pipefail
STATE=${BRAINATTR_SLURM_DIR:-/tmp/brainattr-slurm}
[ -f "$STATE/pids" ] || exit 0
command -v scancel >/dev/null && scancel --quiet --user=root 2>/dev/null
# reverse start order: slurmd, slurmctld, munged
tac "$STATE/pids" | while read -r name pid; do
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || continue
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
  echo "[slurm-ci] stopped $name $pid" >&2
done
rm -f "$STATE/pids"
if [ -e "$STATE/slurm.conf.orig" ]; then
  mv "$STATE/slurm.conf.orig" /etc/slurm/slurm.conf
else
  rm -f /etc/slurm/slurm.conf
fi
if [ -e "$STATE/gres.conf.orig" ]; then
  mv "$STATE/gres.conf.orig" /etc/slurm/gres.conf
else
  rm -f /etc/slurm/gres.conf
fi
