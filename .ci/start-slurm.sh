#!/usr/bin/env bash
# A real 3-node Slurm cluster on this one machine (Slurm's multiple-slurmd mode), for the gather/README tests.
# Idempotent and fast: a second call finds the daemons up and returns at once. Needs root and Debian's
# slurmctld slurmd slurm-client munge (.ci/apt-packages.txt). No systemd and no cgroups needed.
#
# Clients find the cluster with SLURM_CONF=$ENVCAPTURE_SLURM_DIR/slurm.conf; the script also links
# /etc/slurm/slurm.conf to it (when that file does not exist yet), so that a plain `srun` works, as a user types it.
#
# Per-node differences for the tests: slurmd on one host shares its file system and Python, so a TaskProlog
# gives a task the environment in $ENVCAPTURE_NODE_ENV/<node name> (lines `export NAME=VALUE`), when the job
# sets ENVCAPTURE_NODE_ENV. A test points one node at another virtualenv that way.
set -euo pipefail

DIR="${ENVCAPTURE_SLURM_DIR:-/var/tmp/envcapture-slurm}"
NODES="${ENVCAPTURE_SLURM_NODES:-3}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

for tool in slurmctld slurmd srun sinfo munged; do
    command -v "$tool" >/dev/null || { echo "start-slurm: $tool is not installed (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 3; }
done

cluster_up() {
    [ -f "$CONF" ] && [ "$(timeout 5 sinfo -h -t idle,mixed,alloc -o %D 2>/dev/null | awk '{s+=$1} END {print s+0}')" = "$NODES" ]
}

# --- munge: the authentication every Slurm daemon and client needs
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

if cluster_up; then
    echo "start-slurm: $NODES nodes already up (SLURM_CONF=$CONF)"
    exit 0
fi

# --- configuration: state, spool, pid and log files in $DIR
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
cat > "$DIR/task-prolog.sh" <<'PROLOG'
#!/bin/sh
# Runs before each task with the job's environment; what it prints as `export NAME=VALUE` the task gets.
if [ -n "${ENVCAPTURE_NODE_ENV:-}" ] && [ -f "$ENVCAPTURE_NODE_ENV/$SLURMD_NODENAME" ]; then
    cat "$ENVCAPTURE_NODE_ENV/$SLURMD_NODENAME"
fi
PROLOG
chmod 755 "$DIR/task-prolog.sh"
CPUS="$(nproc)"
{
    echo "ClusterName=envcapture-ci"
    echo "SlurmctldHost=localhost"
    echo "SlurmctldPort=6917"
    echo "SlurmdPort=6918"
    echo "AuthType=auth/munge"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "StateSaveLocation=$DIR/state"
    echo "SlurmdSpoolDir=$DIR/spool/%n"
    echo "SlurmctldPidFile=$DIR/slurmctld.pid"
    echo "SlurmdPidFile=$DIR/slurmd-%n.pid"
    echo "SlurmctldLogFile=$DIR/log/slurmctld.log"
    echo "SlurmdLogFile=$DIR/log/slurmd-%n.log"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "TaskProlog=$DIR/task-prolog.sh"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "AccountingStorageType=accounting_storage/none"
    echo "MpiDefault=none"
    echo "ReturnToService=2"
    echo "SlurmctldTimeout=30"
    echo "SlurmdTimeout=30"
    echo "InactiveLimit=0"
    echo "KillWait=5"
    for i in $(seq 1 "$NODES"); do
        echo "NodeName=n$i NodeHostname=localhost Port=$((6930 + i)) CPUs=$CPUS State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=n[1-$NODES] Default=YES MaxTime=INFINITE State=UP"
} > "$CONF.new"
mv "$CONF.new" "$CONF"
mkdir -p /etc/slurm
[ -e /etc/slurm/slurm.conf ] || ln -s "$CONF" /etc/slurm/slurm.conf

# --- daemons: stop ours if some are up from an older configuration, then start them
for pidfile in "$DIR"/slurmd-*.pid "$DIR/slurmctld.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
done
sleep 0.2
slurmctld -f "$CONF"
for i in $(seq 1 "$NODES"); do
    mkdir -p "$DIR/spool/n$i"
    slurmd -f "$CONF" -N "n$i"
done
for _ in $(seq 100); do
    cluster_up && { echo "start-slurm: $NODES nodes up (SLURM_CONF=$CONF)"; exit 0; }
    sleep 0.1
done
echo "start-slurm: the nodes did not come up within 10 s; see $DIR/log" >&2
sinfo >&2 || true
exit 3
