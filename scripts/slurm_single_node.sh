#!/usr/bin/env bash
# A real single-node Slurm on this machine, for development and CI.
#
#   scripts/slurm_single_node.sh start    install (if missing) and start munge, slurmctld, slurmd
#   scripts/slurm_single_node.sh stop     stop exactly the daemons `start` started
#   scripts/slurm_single_node.sh status   say whether they run and show the node
#
# Everything it writes (configuration, munge key, spool, logs, pid files)
# lives under one folder, `ECHOLAB_SLURM_DIR` (default /tmp/echolab-slurm).
# Clients find the configuration through `SLURM_CONF`: after `start`, run
#   export SLURM_CONF=/tmp/echolab-slurm/slurm.conf
# (the tests look there by themselves). Needs root (slurmd runs as root) and
# Debian's packages (slurmctld slurmd slurm-client munge); no systemd.
#
# Daemons are stopped by their pid files, never by name: another Slurm on
# the machine is never touched.
set -euo pipefail

state="${ECHOLAB_SLURM_DIR:-/tmp/echolab-slurm}"
conf="$state/slurm.conf"
# slurmctld and slurmd each check that they run on the host the configuration
# names, so the node is this machine, by its short name.
node_name="$(hostname -s)"
cpus=2

log() { echo "slurm_single_node: $*" >&2; }

# Whether the process in pid file $1 is alive (not gone, not a zombie).
alive() {
    local pid_file="$1" pid state_letter
    [[ -s "$pid_file" ]] || return 1
    pid="$(tr -dc '0-9' < "$pid_file")"
    [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
    # The state is the field after the parenthesised command name.
    state_letter="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ -n "$state_letter" && "$state_letter" != "Z" && "$state_letter" != "X" ]]
}

# Waits until pid file $1 names a live process (daemons fork before writing it).
wait_alive() {
    local pid_file="$1" what="$2" attempt
    for attempt in $(seq 1 100); do
        alive "$pid_file" && return 0
        sleep 0.1
    done
    log "$what did not start; see its log under $state/log"
    return 1
}

install_if_missing() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >"$state/log/apt.log" 2>&1 \
        || { apt-get update >>"$state/log/apt.log" 2>&1 \
            && apt-get install -y --no-install-recommends "${missing[@]}" >>"$state/log/apt.log" 2>&1; }
}

# A memory size (MiB) for the node that fits what this machine has.
real_memory() {
    local total_kib
    total_kib="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
    echo $(( total_kib / 1024 * 3 / 4 ))
}

write_configuration() {
    local memory
    memory="$(real_memory)"
    cat >"$conf" <<EOF
# Written by scripts/slurm_single_node.sh: a single-node development cluster.
ClusterName=echolab
SlurmctldHost=$node_name(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket.2
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
DefMemPerCPU=1024
NodeName=$node_name NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$node_name Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    local munge_dir="$state/munge"
    mkdir -p "$munge_dir"
    if [[ ! -s "$munge_dir/munge.key" ]]; then
        dd if=/dev/urandom of="$munge_dir/munge.key" bs=1 count=1024 status=none
    fi
    chown -R munge:munge "$munge_dir"
    chmod 0700 "$munge_dir"
    chmod 0600 "$munge_dir/munge.key"
    alive "$munge_dir/munged.pid" && return 0
    # munged runs as the munge user and refuses a key not owned by it.
    runuser -u munge -- /usr/sbin/munged \
        --key-file="$munge_dir/munge.key" \
        --socket="$munge_dir/munge.socket.2" \
        --pid-file="$munge_dir/munged.pid" \
        --log-file="$munge_dir/munged.log" \
        --seed-file="$munge_dir/munged.seed" \
        --force
    wait_alive "$munge_dir/munged.pid" munged
}

start() {
    if [[ "$(id -u)" -ne 0 ]]; then
        log "must run as root (slurmd runs as root)"
        exit 1
    fi
    mkdir -p "$state/log" "$state/run" "$state/spool/ctld" "$state/spool/d"
    install_if_missing
    write_configuration
    export SLURM_CONF="$conf"
    start_munge
    if ! alive "$state/run/slurmctld.pid"; then
        /usr/sbin/slurmctld -f "$conf"
        wait_alive "$state/run/slurmctld.pid" slurmctld
    fi
    if ! alive "$state/run/slurmd.pid"; then
        /usr/sbin/slurmd -f "$conf"
        wait_alive "$state/run/slurmd.pid" slurmd
    fi
    local attempt node_state=""
    for attempt in $(seq 1 100); do
        node_state="$(sinfo --noheader --nodes="$node_name" --format=%T 2>/dev/null || true)"
        if [[ "$node_state" == idle* || "$node_state" == mixed* || "$node_state" == allocated* ]]; then
            log "node $node_name is $node_state; export SLURM_CONF=$conf"
            return 0
        fi
        sleep 0.1
    done
    log "node $node_name did not become idle (state: '${node_state:-none}'); see $state/log"
    exit 1
}

# Stops the process of pid file $1: SIGTERM, then SIGKILL if it lingers.
stop_daemon() {
    local pid_file="$1" what="$2" pid attempt
    if ! alive "$pid_file"; then
        rm -f "$pid_file"
        return 0
    fi
    pid="$(tr -dc '0-9' < "$pid_file")"
    kill -TERM "$pid" 2>/dev/null || true
    for attempt in $(seq 1 100); do
        alive "$pid_file" || break
        sleep 0.1
    done
    if alive "$pid_file"; then
        log "$what ($pid) ignored SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
    log "stopped $what"
}

stop() {
    [[ -d "$state" ]] || { log "nothing to stop ($state does not exist)"; return 0; }
    # Jobs first, so that slurmd does not leave job steps behind.
    if alive "$state/run/slurmctld.pid"; then
        SLURM_CONF="$conf" scancel --full --quiet --partition=debug 2>/dev/null || true
    fi
    stop_daemon "$state/run/slurmd.pid" slurmd
    stop_daemon "$state/run/slurmctld.pid" slurmctld
    stop_daemon "$state/munge/munged.pid" munged
}

status() {
    local running=0 name pid_file
    for name in munged slurmctld slurmd; do
        case "$name" in
            munged) pid_file="$state/munge/munged.pid" ;;
            *) pid_file="$state/run/$name.pid" ;;
        esac
        if alive "$pid_file"; then
            echo "$name running (pid $(tr -dc '0-9' < "$pid_file"))"
        else
            echo "$name stopped"
            running=1
        fi
    done
    if [[ $running -eq 0 ]]; then
        SLURM_CONF="$conf" sinfo --nodes="$node_name" || running=1
    fi
    return $running
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
