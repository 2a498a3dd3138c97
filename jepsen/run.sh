#!/usr/bin/env bash
# jepsen/run.sh: fault-injection runs against a real skiff cluster.
#
#   jepsen/run.sh [--workload register|set] [--nemesis none|kill|pause|leader-kill]
#                 [--secs S] [--nodes N] [--workers N] [--seed N]
#
# Without --workload/--nemesis: every workload x nemesis, one fresh cluster
# each, then a table (workload, nemesis, ops, ok, fail, info, verdict); exit
# status 1 if any run found an anomaly (or could not run), else 0.
# Environment: JEPSEN_SECS (default 60), JEPSEN_NODES (5), JEPSEN_WORKERS
# (10), JEPSEN_SEED (default: the time), SKIFF_BIN (default ./skiff).
#
# A run: N nodes on loopback ports (each with its own clean data dir), the
# client (jepsen/client) with its workers spread over the nodes for S
# seconds while the nemesis runs its seeded schedule; then every fault is
# healed, the cluster must agree on a leader again, the set workload does
# its final read, and jepsen/check judges the history. Everything is kept
# under jepsen/store/<run>/: history.jsonl, node logs, nemesis.log,
# check.txt and cmd, the exact command (with its seed) that repeats the run.
#
# Loopback only for now: partitions (network namespaces on a bridge with
# nftables drop rules) are not done yet, so the nemeses are process faults.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SKIFF_SRC=${SKIFF_BIN:-$ROOT/skiff}
CLIENT=${JEPSEN_CLIENT:-$ROOT/build/rel/jepsen/client}
CHECK=${JEPSEN_CHECK:-$ROOT/build/rel/jepsen/check}
SECS=${JEPSEN_SECS:-60}
NODES=${JEPSEN_NODES:-5}
WORKERS=${JEPSEN_WORKERS:-10}
SEED=${JEPSEN_SEED:-$(date +%s)}
WORKLOAD=
NEMESIS=
ALL_WORKLOADS="register set"
ALL_NEMESES="none kill pause leader-kill"

while [ $# -gt 0 ]; do
    case "$1" in
        --workload) WORKLOAD=$2; shift 2 ;;
        --nemesis) NEMESIS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --nodes) NODES=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        *) echo "usage: $0 [--workload W] [--nemesis N] [--secs S] [--nodes N] [--workers N] [--seed N]" >&2
           exit 2 ;;
    esac
done

for b in "$SKIFF_SRC" "$CLIENT" "$CHECK"; do
    [ -x "$b" ] || { echo "jepsen: $b missing: make skiff build/rel/jepsen/client build/rel/jepsen/check" >&2; exit 2; }
done

log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- one run ----
WORK=
RUN=
BASE=

node_dir() { echo "$WORK/n$1"; }
api_port() { echo $(( BASE + $1 )); }
peer_port() { echo $(( BASE + 100 + $1 )); }
node_pid() { cat "$WORK/n$1.pid" 2>/dev/null; }
node_flags() {
    echo --data-dir "$(node_dir "$1")" --name "node$1" --advertise 127.0.0.1 \
        --listen "127.0.0.1:$(api_port "$1")" --peer-listen "127.0.0.1:$(peer_port "$1")"
}

# wait_until SECONDS COMMAND...: polls every 100 ms; 1 on timeout
wait_until() {
    local deadline=$(( $(now_ms) + $1 * 1000 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# a free 200-port block below the ephemeral range (as tests/integration/lib.sh)
pick_base() {
    local lo blocks i cand used
    lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    lo=${lo:-32768}
    blocks=$(( (lo - 10000) / 200 ))
    used=$(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -un)
    for (( i = 0; i < blocks; i++ )); do
        cand=$(( 10000 + (($$ + RANDOM + i) % blocks) * 200 ))
        if ! awk -v lo="$cand" -v hi=$(( cand + 199 )) '$1 >= lo && $1 <= hi {f = 1} END {exit !f}' \
            <<<"$used"; then
            BASE=$cand; return 0
        fi
    done
    return 1
}

start_node() { # n init|join|run
    local n=$1
    case "$2" in
        init) "$WORK/skiff" init $(node_flags "$n") >>"$RUN/n$n.log" 2>&1 & ;;
        join) "$WORK/skiff" join $(node_flags "$n") --server "127.0.0.1:$(api_port 1)" \
                  --token "$(cat "$(node_dir 1)/join-token")" >>"$RUN/n$n.log" 2>&1 & ;;
        run) "$WORK/skiff" run --data-dir "$(node_dir "$n")" >>"$RUN/n$n.log" 2>&1 & ;;
    esac
    echo $! >"$WORK/n$n.pid"
    disown $! # no "Killed" job notices: the nemesis kills on purpose
}

TOKEN=
api() { # n path
    curl -sS --max-time 2 --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
        "https://127.0.0.1:$(api_port "$1")$2"
}

# leader's node number as node n sees it
leader_of() { api "$1" /skiff/v1/cluster/status | jq -r '.leader // empty' | sed -n 's/^node//p' | grep .; }

# every node answers and names the same leader, which sees every member reachable
healthy() {
    local n l first=
    for (( n = 1; n <= NODES; n++ )); do
        l=$(leader_of "$n") || return 1
        [ -z "$first" ] && first=$l
        [ "$l" = "$first" ] || return 1
    done
    [ "$(api "$first" /skiff/v1/cluster/status |
        jq '[.members[] | select(.reachable == true)] | length')" = "$NODES" ]
}

# ---- nemeses: a seeded schedule, run in the background ----
# Up to a minority of nodes faulted at once; faults last 1-3 s, with 1-3 s
# between them. Every fault is healed when $WORK/stop appears.
nemesis() { # kind seed
    local kind=$1 minority=$(( (NODES - 1) / 2 )) victims n k l
    RANDOM=$2
    [ "$kind" = none ] && return 0
    while [ ! -e "$WORK/stop" ]; do
        sleep "$(( 1 + RANDOM % 3 )).$(( RANDOM % 10 ))"
        [ -e "$WORK/stop" ] && break
        victims=()
        case "$kind" in
            kill|pause)
                k=$(( 1 + RANDOM % minority ))
                while [ "${#victims[@]}" -lt "$k" ]; do
                    n=$(( 1 + RANDOM % NODES ))
                    [[ " ${victims[*]} " == *" $n "* ]] || victims+=("$n")
                done ;;
            leader-kill)
                for (( n = 1; n <= NODES; n++ )); do
                    l=$(leader_of "$n") && break
                done
                [ -n "${l:-}" ] && victims=("$l") ;;
        esac
        [ "${#victims[@]}" -eq 0 ] && { log "no leader found"; continue; }
        for n in "${victims[@]}"; do
            if [ "$kind" = pause ]; then
                kill -STOP "$(node_pid "$n")" 2>/dev/null; log "pause node$n"
            else
                kill -KILL "$(node_pid "$n")" 2>/dev/null; log "kill -9 node$n"
            fi
        done
        sleep "$(( 1 + RANDOM % 3 )).$(( RANDOM % 10 ))"
        for n in "${victims[@]}"; do
            if [ "$kind" = pause ]; then
                kill -CONT "$(node_pid "$n")" 2>/dev/null; log "resume node$n"
            else
                wait_gone "$n"; start_node "$n" run; log "restart node$n"
            fi
        done
    done
    log "healed"
}

wait_gone() { # n: the killed process has exited (its ports are free again)
    local pid; pid=$(node_pid "$1")
    wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
}

# what each node process is doing and what each node says, for a run that
# did not heal
diagnose() {
    local n pid
    for (( n = 1; n <= NODES; n++ )); do
        pid=$(node_pid "$n")
        echo "== node$n pid $pid: $(ps -o stat=,wchan:32= -p "$pid" 2>&1)"
        grep -E '^(State|Threads)' "/proc/$pid/status" 2>/dev/null
        api "$n" /skiff/v1/cluster/status 2>&1 | head -c 2000; echo
    done
}

teardown() {
    local n pid
    [ -n "$WORK" ] || return 0
    touch "$WORK/stop"
    for (( n = 1; n <= NODES; n++ )); do
        pid=$(node_pid "$n") || continue
        kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
    done
    for (( n = 1; n <= NODES; n++ )); do
        pid=$(node_pid "$n") || continue
        wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
    WORK=
}

# run_one WORKLOAD NEMESIS SEED: sets RUN, WORK (for teardown) and RES,
# "ops ok fail info verdict". Runs in this shell: teardown must see WORK.
RES=
run_one() {
    local wl=$1 nem=$2 seed=$3 n urls= nem_pid crc verdict counts
    RUN=$ROOT/jepsen/store/$(date +%Y%m%d-%H%M%S)-$wl-$nem-$seed
    mkdir -p "$RUN"
    WORK=$(mktemp -d /tmp/skiff-jepsen.XXXXXX)
    RES="0 0 0 0 error"
    echo "jepsen/run.sh --workload $wl --nemesis $nem --secs $SECS --nodes $NODES" \
        "--workers $WORKERS --seed $seed" >"$RUN/cmd"
    log "run $(basename "$RUN"): $(cat "$RUN/cmd")" >&2
    cp "$SKIFF_SRC" "$WORK/skiff"
    pick_base || { RES="0 0 0 0 no-ports"; return; }
    start_node 1 init
    if ! wait_until 30 test -s "$(node_dir 1)/join-token" ||
        ! wait_until 30 test -s "$(node_dir 1)/admin.kubeconfig"; then
        RES="0 0 0 0 no-cluster"; return
    fi
    TOKEN=$(awk '/token:/ {print $2; exit}' "$(node_dir 1)/admin.kubeconfig")
    for (( n = 2; n <= NODES; n++ )); do start_node "$n" join; done
    wait_until 60 healthy || { RES="0 0 0 0 no-cluster"; return; }
    for (( n = 1; n <= NODES; n++ )); do urls+=${urls:+,}https://127.0.0.1:$(api_port "$n"); done

    nemesis "$nem" "$seed" >"$RUN/nemesis.log" 2>&1 &
    nem_pid=$!
    "$CLIENT" --workload "$wl" --urls "$urls" --token "$TOKEN" --cacert "$(node_dir 1)/pki/ca.crt" \
        --out "$RUN/history.jsonl" --workers "$WORKERS" --secs "$SECS" --seed "$seed" \
        >"$RUN/client.log" 2>&1
    touch "$WORK/stop"
    wait "$nem_pid"
    if ! wait_until 60 healthy; then
        echo "cluster did not heal" >>"$RUN/check.txt"
        diagnose >"$RUN/unhealed.txt" 2>&1
        RES="0 0 0 0 no-heal"; return
    fi
    if [ "$wl" = set ]; then
        "$CLIENT" --workload set --final-read --urls "$urls" --token "$TOKEN" \
            --cacert "$(node_dir 1)/pki/ca.crt" --out "$RUN/history.jsonl" --seed "$seed" \
            >>"$RUN/client.log" 2>&1
    fi
    "$CHECK" "$RUN/history.jsonl" "$wl" >"$RUN/check.txt" 2>&1
    crc=$?
    case $crc in 0) verdict=valid ;; 1) verdict=INVALID ;; 3) verdict=unknown ;; *) verdict=error ;; esac
    counts=$(sed -n 's/^ops=\([0-9]*\) ok=\([0-9]*\) fail=\([0-9]*\) info=\([0-9]*\)$/\1 \2 \3 \4/p' \
        "$RUN/check.txt")
    if grep -l "ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error:\|Assertion" \
        "$RUN"/n*.log >/dev/null 2>&1; then
        verdict=crash
    fi
    [ "$verdict" = valid ] || sed 's/^/    /' "$RUN/check.txt" | head -40 >&2
    RES="${counts:-0 0 0 0} $verdict"
}

trap 'teardown' EXIT
trap 'exit 130' INT TERM

workloads=${WORKLOAD:-$ALL_WORKLOADS}
nemeses=${NEMESIS:-$ALL_NEMESES}
rows=()
bad=0
i=0
for wl in $workloads; do
    for nem in $nemeses; do
        seed=$(( SEED + i )); i=$((i + 1))
        run_one "$wl" "$nem" "$seed"
        teardown
        read -r ops ok fail info verdict <<<"$RES"
        [ "$verdict" = valid ] || bad=1
        rows+=("$(printf '%-9s %-12s %7s %7s %7s %7s  %-8s %s' "$wl" "$nem" "$ops" "$ok" "$fail" \
            "$info" "$verdict" "$(basename "$RUN")")")
        log "$wl/$nem: $verdict (ops=$ops ok=$ok fail=$fail info=$info)"
        [ "$verdict" = valid ] || log "repeat with: $(cat "$RUN/cmd")"
    done
done
echo
printf '%-9s %-12s %7s %7s %7s %7s  %-8s %s\n' workload nemesis ops ok fail info verdict run
for r in "${rows[@]}"; do echo "$r"; done
exit "$bad"
