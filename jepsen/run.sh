#!/usr/bin/env bash
# jepsen/run.sh: fault-injection runs against a real skiff cluster.
#
#   jepsen/run.sh [--workload register|set|orch] [--nemesis NEMESIS] [--secs S]
#                 [--nodes N] [--workers N] [--seed N] [--stale-reads]
#                 [--expect valid|anomaly]
#
# Nemeses: none kill pause leader-kill (process faults), partition-halves
# partition-leader partition-ring partition-bridge (nftables drop rules),
# member (join a fresh node, replace a voter).
#
# Without --workload/--nemesis: every workload x nemesis, one fresh cluster
# each, then a table (workload, nemesis, ops, ok, fail, info, verdict); exit
# status 1 if any run's verdict differs from the expected one (valid, or
# with --expect anomaly: INVALID), else 0.
# Environment: JEPSEN_SECS (default 60), JEPSEN_NODES (5), JEPSEN_WORKERS
# (10), JEPSEN_SEED (default: the time), JEPSEN_NET (1: the test network
# index k below; two concurrent runs need two), JEPSEN_STORE (where runs
# are kept, default jepsen/store), JEPSEN_HEAL_SECS (60: how long the
# cluster may take to heal after the faults), SKIFF_BIN (default ./skiff).
#
# The network: one network namespace per node (jep<k>n<i>), a veth from
# each to the host bridge jepbr<k>, node i at 10.251.<k>.<i> (API :6443,
# peers :6444), the host (the client) at 10.251.<k>.254. 10.251/16 keeps
# clear of skiff up's 10.250.0.0/24. Partitions are a table "jepsen" in a
# node's namespace dropping input from and output to the peers it is cut
# from: node-to-node traffic only, the client keeps reaching every node.
# Everything named jep<k>* is removed at exit (trap) and, left over from a
# crashed run, at start.
#
# A run: N nodes from clean data dirs, the client (jepsen/client) with its
# workers spread over the nodes for S seconds while the nemesis runs its
# seeded schedule; then every fault is healed, the cluster must agree on a
# leader again, the set workload does its final read, the orch workload
# waits (60 s at most) for the state to converge and reads each
# Deployment's replicas, and jepsen/check judges. Everything is kept under
# jepsen/store/<run>/: history.jsonl, node logs, nemesis.log, check.txt
# (state.json for orch) and cmd, the exact command (with its seed) that
# repeats the run. --stale-reads starts the nodes with
# SKIFF_UNSAFE_STALE_READS=1 (GETs without the read barrier): a broken
# build the register workload must catch.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SKIFF_SRC=${SKIFF_BIN:-$ROOT/skiff}
CLIENT=${JEPSEN_CLIENT:-$ROOT/build/rel/jepsen/client}
CHECK=${JEPSEN_CHECK:-$ROOT/build/rel/jepsen/check}
SECS=${JEPSEN_SECS:-60}
NODES=${JEPSEN_NODES:-5}
WORKERS=${JEPSEN_WORKERS:-10}
SEED=${JEPSEN_SEED:-$(date +%s)}
NET=${JEPSEN_NET:-1}
STORE=${JEPSEN_STORE:-$ROOT/jepsen/store}
HEAL_SECS=${JEPSEN_HEAL_SECS:-60}
WORKLOAD=
NEMESIS=
STALE=0
EXPECT=valid
ALL_WORKLOADS="register set orch"
ALL_NEMESES="none kill pause leader-kill partition-halves partition-leader partition-ring
partition-bridge member"
EXTRA=2 # nodes the member nemesis may add

while [ $# -gt 0 ]; do
    case "$1" in
        --workload) WORKLOAD=$2; shift 2 ;;
        --nemesis) NEMESIS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --nodes) NODES=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --stale-reads) STALE=1; shift ;;
        --expect) EXPECT=$2; shift 2 ;;
        *) echo "usage: $0 [--workload W] [--nemesis N] [--secs S] [--nodes N] [--workers N]" \
                "[--seed N] [--stale-reads] [--expect valid|anomaly]" >&2
           exit 2 ;;
    esac
done
case "$NET" in [1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]) ;; *)
    echo "jepsen: JEPSEN_NET must be 1..249" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "jepsen: needs root (network namespaces, nftables)" >&2; exit 2; }
for b in "$SKIFF_SRC" "$CLIENT" "$CHECK"; do
    [ -x "$b" ] || { echo "jepsen: $b missing: make skiff build/rel/jepsen/client build/rel/jepsen/check" >&2; exit 2; }
done

log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- the test network ----
PFX=jep$NET
BR=jepbr$NET
HOST_IP=10.251.$NET.254
ns_of() { echo "${PFX}n$1"; }
# node names unique to the test network: an agent treats cgroups and pods
# named after its node as its own, so "node1" would meet other tests' pods
name_of() { echo "${PFX}-node$1"; }
num_of() { sed -n "s/^${PFX}-node//p" | grep .; } # stdin: a name
ip_of() { echo "10.251.$NET.$1"; }

net_down() { # everything named $PFX*, with any process left inside
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PFX}n[0-9]+$"); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
        grep -E "^${PFX}v[0-9]+$" | while read -r l; do ip link del "$l" 2>/dev/null; done
    ip link del "$BR" 2>/dev/null
    return 0
}

net_up() { # count
    local i ns
    ip link add "$BR" type bridge || return 1
    ip addr add "$HOST_IP/24" dev "$BR" && ip link set "$BR" up || return 1
    for (( i = 1; i <= $1; i++ )); do
        ns=$(ns_of "$i")
        ip netns add "$ns" &&
            ip link add "${PFX}v$i" type veth peer name eth0 netns "$ns" &&
            ip link set "${PFX}v$i" master "$BR" up &&
            ip -n "$ns" addr add "$(ip_of "$i")/24" dev eth0 &&
            ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up || return 1
    done
}

# ---- partitions ----
# cut_links "a-b c-d ...": node a drops b and b drops a, for each pair
cut_links() {
    local -A drop=()
    local p a b n set
    for p in $1; do
        a=${p%-*}; b=${p#*-}
        drop[$a]+="${drop[$a]:+, }$(ip_of "$b")"
        drop[$b]+="${drop[$b]:+, }$(ip_of "$a")"
    done
    for n in "${!drop[@]}"; do
        set=${drop[$n]}
        ip netns exec "$(ns_of "$n")" nft -f - <<EOF || log "nft failed in node$n"
table inet jepsen {
    chain input { type filter hook input priority -10; ip saddr { $set } drop; }
    chain output { type filter hook output priority -10; ip daddr { $set } drop; }
}
EOF
    done
    log "cut $1"
}

heal_links() {
    local n
    for n in $(live_nodes); do
        ip netns exec "$(ns_of "$n")" nft delete table inet jepsen 2>/dev/null
    done
    log "heal"
}

# every pair across two groups: "1 2" "3 4 5" -> 1-3 1-4 ...
pairs_across() {
    local a b out=
    for a in $1; do for b in $2; do out+="$a-$b "; done; done
    echo "$out"
}

# the live nodes in a seeded random order
shuffled() {
    local -a s; local i j t
    read -ra s <<<"$(live_nodes)"
    for (( i = ${#s[@]} - 1; i > 0; i-- )); do
        j=$(( RANDOM % (i + 1) )); t=${s[i]}; s[i]=${s[j]}; s[j]=$t
    done
    echo "${s[*]}"
}

# a partition of the given kind as "a-b ..." on stdout ("" when none)
partition_of() {
    local kind=$1 l k d p q dist
    local -a s; read -ra s <<<"$(shuffled)"
    local n=${#s[@]} h=$(( ${#s[@]} / 2 ))
    case "$kind" in
        partition-halves) pairs_across "${s[*]:0:h}" "${s[*]:h}" ;;
        partition-leader)
            l=$(find_leader) || return 0
            pairs_across "$l" "$(live_nodes | tr ' ' '\n' | grep -vx "$l" | tr '\n' ' ')" ;;
        partition-ring)
            # each node keeps its ring neighbours within distance d: a
            # majority each, no two the same view. 3 nodes: one link cut
            local m=$(( n / 2 + 1 )) out=
            d=$(( m / 2 ))
            for (( p = 0; p < n; p++ )); do
                for (( q = p + 1; q < n; q++ )); do
                    dist=$(( q - p )); [ $(( n - dist )) -lt "$dist" ] && dist=$(( n - dist ))
                    if [ "$n" -le 3 ]; then
                        [ "$p" = 0 ] && [ "$q" = $(( n - 1 )) ] && out+="${s[p]}-${s[q]} "
                    elif [ "$dist" -gt "$d" ]; then
                        out+="${s[p]}-${s[q]} "
                    fi
                done
            done
            echo "$out" ;;
        partition-bridge) # two halves sharing the middle node
            k=$(( (n - 1) / 2 ))
            pairs_across "${s[*]:0:k}" "${s[*]:k+1}" ;;
    esac
}

# ---- nodes ----
WORK=
RUN=
NODE_ENV=
TUNING=
node_dir() { echo "$WORK/n$1"; }
node_pid() { cat "$WORK/n$1.pid" 2>/dev/null; }
live_nodes() { cat "$WORK/live" 2>/dev/null; } # started and not removed, "1 2 3"
node_flags() {
    echo --data-dir "$(node_dir "$1")" --name "$(name_of "$1")" --advertise "$(ip_of "$1")" \
        --listen "$(ip_of "$1"):6443" --peer-listen "$(ip_of "$1"):6444"
}

# wait_until SECONDS COMMAND...: polls every 100 ms; 1 on timeout
wait_until() {
    local deadline=$(( $(now_ms) + $1 * 1000 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# A node runs in its namespace (nsenter --net: only the network, so the
# node keeps the host's /sys and cgroups; ip netns exec would remount /sys)
# with the run directory as its working directory: a crash leaves its core
# there (ulimit -c unlimited, core_pattern permitting).
start_node() { # n init|join|run [token [server node]]
    local n=$1 ns args
    ns=$(ns_of "$1")
    case "$2" in
        init) args="init $(node_flags "$n") $TUNING" ;;
        join) args="join $(node_flags "$n") $TUNING --server $(ip_of "${4:-1}"):6443 --token $3" ;;
        run) args="run --data-dir $(node_dir "$n")" ;;
    esac
    (cd "$RUN" && ulimit -c unlimited &&
        exec nsenter --net=/var/run/netns/"$ns" env $NODE_ENV "$WORK/skiff" $args \
            >>"$RUN/n$n.log" 2>&1) &
    echo $! >"$WORK/n$n.pid"
    disown $! # no "Killed" job notices: the nemesis kills on purpose
}

TOKEN=
api() { # n path [curl options]
    curl -sS --max-time 2 --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
        "${@:3}" "https://$(ip_of "$1"):6443$2"
}

# leader's node number as node n sees it
leader_of() { api "$1" /skiff/v1/cluster/status 2>/dev/null | jq -r '.leader // empty' | num_of; }
find_leader() {
    local n l
    for n in $(live_nodes); do l=$(leader_of "$n") && { echo "$l"; return 0; }; done
    return 1
}

# every live node answers and names the same leader, which reaches every live node
healthy() {
    local n l first= reach
    for n in $(live_nodes); do
        l=$(leader_of "$n") || return 1
        [ -z "$first" ] && first=$l
        [ "$l" = "$first" ] || return 1
    done
    reach=$(api "$first" /skiff/v1/cluster/status |
        jq -r '.members[] | select(.reachable == true) | .name' | sort | tr '\n' ' ')
    for n in $(live_nodes); do [[ " $reach" == *" $(name_of "$n") "* ]] || return 1; done
}

new_token() { # a fresh join token through node n's API (as skiff token create)
    api "$1" /skiff/v1/tokens -X POST -H 'Content-Type: application/json' \
        -d '{"ttlSeconds":3600,"description":"jepsen"}' | jq -r '.token // empty' | grep .
}

# ---- nemeses: a seeded schedule, run in the background ----
# Up to a minority of nodes faulted at once; faults last 1-3 s, with 1-3 s
# between them. Every fault is healed when $WORK/stop appears.
nemesis() { # kind seed
    local kind=$1 minority=$(( (NODES - 1) / 2 )) victims n k l cut
    RANDOM=$2
    [ "$kind" = none ] && return 0
    [ "$kind" = member ] && { member_nemesis; return 0; }
    while [ ! -e "$WORK/stop" ]; do
        sleep "$(( 1 + RANDOM % 3 )).$(( RANDOM % 10 ))"
        [ -e "$WORK/stop" ] && break
        victims=()
        case "$kind" in
            partition-*)
                cut=$(partition_of "$kind")
                [ -n "$cut" ] || { log "no partition (no leader?)"; continue; }
                cut_links "$cut"
                sleep "$(( 1 + RANDOM % 3 )).$(( RANDOM % 10 ))"
                heal_links
                continue ;;
            kill|pause)
                k=$(( 1 + RANDOM % minority ))
                while [ "${#victims[@]}" -lt "$k" ]; do
                    n=$(( 1 + RANDOM % NODES ))
                    [[ " ${victims[*]} " == *" $n "* ]] || victims+=("$n")
                done ;;
            leader-kill)
                l=$(find_leader) && victims=("$l") ;;
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
    heal_links
    log "healed"
}

# Member changes. skiff has no remove verb (cluster status only; a member
# record stays), so removal is the leader's own: a voter unreachable for
# --dead-voter-timeout-ms (3 s in these runs) is demoted to spare and a
# live standby promoted. A cycle: join a fresh node (token through the API,
# skiff join, up to EXTRA of them), kill -9 one voter for long enough to be
# replaced (one node down at a time: never below a majority), wait for the
# demotion, then restart it (it comes back as a spare or standby).
member_nemesis() {
    local next=$(( NODES + 1 )) tok victim l st deadline
    while [ ! -e "$WORK/stop" ]; do
        sleep "$(( 1 + RANDOM % 2 )).$(( RANDOM % 10 ))"
        [ -e "$WORK/stop" ] && break
        if [ "$next" -le $(( NODES + EXTRA )) ]; then
            l=$(find_leader) || { log "no leader found"; continue; }
            if tok=$(new_token "$l"); then
                start_node "$next" join "$tok" "$l"
                echo "$(live_nodes) $next" >"$WORK/live"
                log "join node$next"
                wait_until 20 healthy || log "node$next not healthy after 20 s"
                next=$(( next + 1 ))
            else
                log "token create failed"
            fi
        fi
        [ -e "$WORK/stop" ] && break
        l=$(find_leader) || continue
        st=$(api "$l" /skiff/v1/cluster/status) || continue
        victim=$(jq -r '.members[] | select(.role == "voter" and .leader == false) | .name' \
            <<<"$st" | num_of | shuf -n1 --random-source=<(yes "$RANDOM"))
        [ -n "$victim" ] || continue
        kill -KILL "$(node_pid "$victim")" 2>/dev/null
        log "kill -9 node$victim until it is replaced"
        deadline=$(( $(now_ms) + 15000 ))
        while [ "$(now_ms)" -lt "$deadline" ]; do
            l=$(find_leader) &&
                api "$l" /skiff/v1/cluster/status | jq -e --arg n "$(name_of "$victim")" \
                    '.members[] | select(.name == $n and .role != "voter")' >/dev/null 2>&1 &&
                { log "node$victim demoted"; break; }
            sleep 0.5
        done
        wait_gone "$victim"; start_node "$victim" run; log "restart node$victim"
        wait_until 20 healthy || log "not healthy 20 s after the restart"
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
    for n in $(live_nodes); do
        pid=$(node_pid "$n")
        echo "== node$n pid $pid: $(ps -o stat=,wchan:32= -p "$pid" 2>&1)"
        grep -E '^(State|Threads)' "/proc/$pid/status" 2>/dev/null
        ip netns exec "$(ns_of "$n")" nft list ruleset 2>&1 | head -20
        api "$n" /skiff/v1/cluster/status 2>&1 | head -c 2000; echo
    done
}

teardown() {
    local n pid
    [ -n "$WORK" ] || return 0
    touch "$WORK/stop"
    for (( n = 1; n <= NODES + EXTRA; n++ )); do
        pid=$(node_pid "$n") || continue
        kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
    done
    for (( n = 1; n <= NODES + EXTRA; n++ )); do
        pid=$(node_pid "$n") || continue
        wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
    done
    net_down
    rm -rf "$WORK"
    WORK=
}

# orch: wait (deadline) for a converged, agreeing state; the last
# check's output is kept in check.txt
orch_converge() { # urls
    local deadline=$(( $(now_ms) + 60000 )) crc=1
    while :; do
        rm -f "$RUN/state.json"
        "$CLIENT" --workload orch --dump-state "$RUN/state.json" --urls "$1" --token "$TOKEN" \
            --cacert "$(node_dir 1)/pki/ca.crt" --out /dev/null >>"$RUN/client.log" 2>&1
        "$CHECK" "$RUN/history.jsonl" orch --state "$RUN/state.json" >"$RUN/check.txt" 2>&1
        crc=$?
        [ "$crc" = 0 ] && return 0
        [ "$(now_ms)" -ge "$deadline" ] && return "$crc"
        sleep 2
    done
}

# run_one WORKLOAD NEMESIS SEED: sets RUN, WORK (for teardown) and RES,
# "ops ok fail info verdict". Runs in this shell: teardown must see WORK.
RES=
run_one() {
    local wl=$1 nem=$2 seed=$3 n urls= nem_pid crc verdict counts tok
    RUN=$STORE/$(date +%Y%m%d-%H%M%S)-$wl-$nem-$seed
    [ "$STALE" = 1 ] && RUN+=-stale
    mkdir -p "$RUN"
    WORK=$(mktemp -d /tmp/skiff-jepsen.XXXXXX)
    RES="0 0 0 0 error"
    echo "jepsen/run.sh --workload $wl --nemesis $nem --secs $SECS --nodes $NODES" \
        "--workers $WORKERS --seed $seed$([ "$STALE" = 1 ] && echo " --stale-reads")" \
        "--expect $EXPECT" >"$RUN/cmd"
    log "run $(basename "$RUN"): $(cat "$RUN/cmd")" >&2
    cp "$SKIFF_SRC" "$WORK/skiff"
    NODE_ENV=
    [ "$STALE" = 1 ] && NODE_ENV=SKIFF_UNSAFE_STALE_READS=1
    # no real containers: register/set need no runtime, orch a fake one
    TUNING=" --no-runtime"
    [ "$wl" = orch ] && TUNING=" --fake-runtime"
    [ "$nem" = member ] && TUNING+=" --dead-voter-timeout-ms 3000"
    net_down
    net_up $(( NODES + EXTRA )) || { RES="0 0 0 0 no-net"; return; }
    seq -s ' ' 1 "$NODES" >"$WORK/live"
    start_node 1 init
    if ! wait_until 30 test -s "$(node_dir 1)/join-token" ||
        ! wait_until 30 test -s "$(node_dir 1)/admin.kubeconfig"; then
        RES="0 0 0 0 no-cluster"; return
    fi
    TOKEN=$(awk '/token:/ {print $2; exit}' "$(node_dir 1)/admin.kubeconfig")
    tok=$(cat "$(node_dir 1)/join-token")
    for (( n = 2; n <= NODES; n++ )); do start_node "$n" join "$tok"; done
    wait_until 60 healthy || { diagnose >"$RUN/unhealthy.txt" 2>&1; RES="0 0 0 0 no-cluster"; return; }
    for (( n = 1; n <= NODES; n++ )); do urls+=${urls:+,}https://$(ip_of "$n"):6443; done

    nemesis "$nem" "$seed" >"$RUN/nemesis.log" 2>&1 &
    nem_pid=$!
    "$CLIENT" --workload "$wl" --urls "$urls" --token "$TOKEN" --cacert "$(node_dir 1)/pki/ca.crt" \
        --out "$RUN/history.jsonl" --workers "$WORKERS" --secs "$SECS" --seed "$seed" \
        >"$RUN/client.log" 2>&1
    touch "$WORK/stop"
    wait "$nem_pid"
    heal_links >>"$RUN/nemesis.log" 2>&1
    if ! wait_until "$HEAL_SECS" healthy; then
        diagnose >"$RUN/unhealed.txt" 2>&1
        # judge what was recorded anyway (counts; a register anomaly), but
        # the verdict is the failure to heal, or the crash behind it
        verdict=no-heal
        ls "$RUN"/core* >/dev/null 2>&1 && verdict=crash
        [ "$wl" = orch ] && wl=register # no converged state to judge
        "$CHECK" "$RUN/history.jsonl" "$wl" >"$RUN/check.txt" 2>&1
        echo "cluster did not heal ($verdict): see unhealed.txt" >>"$RUN/check.txt"
        counts=$(sed -n 's/^ops=\([0-9]*\) ok=\([0-9]*\) fail=\([0-9]*\) info=\([0-9]*\)$/\1 \2 \3 \4/p' \
            "$RUN/check.txt" | head -1)
        RES="${counts:-0 0 0 0} $verdict"
        return
    fi
    case "$wl" in
        set|orch)
            if [ "$wl" = orch ]; then orch_converge "$urls"; fi
            "$CLIENT" --workload "$wl" --final-read --urls "$urls" --token "$TOKEN" \
                --cacert "$(node_dir 1)/pki/ca.crt" --out "$RUN/history.jsonl" --seed "$seed" \
                >>"$RUN/client.log" 2>&1 ;;
    esac
    if [ "$wl" = orch ]; then
        "$CHECK" "$RUN/history.jsonl" orch --state "$RUN/state.json" >"$RUN/check.txt" 2>&1
    else
        "$CHECK" "$RUN/history.jsonl" "$wl" >"$RUN/check.txt" 2>&1
    fi
    crc=$?
    case $crc in 0) verdict=valid ;; 1) verdict=INVALID ;; 3) verdict=unknown ;; *) verdict=error ;; esac
    counts=$(sed -n 's/^ops=\([0-9]*\) ok=\([0-9]*\) fail=\([0-9]*\) info=\([0-9]*\)$/\1 \2 \3 \4/p' \
        "$RUN/check.txt" | head -1)
    if grep -l "ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error:\|Assertion" \
        "$RUN"/n*.log >/dev/null 2>&1 || ls "$RUN"/core* >/dev/null 2>&1; then
        verdict=crash
    fi
    [ "$verdict" = valid ] || sed 's/^/    /' "$RUN/check.txt" | head -40 >&2
    RES="${counts:-0 0 0 0} $verdict"
}

trap 'teardown' EXIT
trap 'exit 130' INT TERM

workloads=${WORKLOAD:-$ALL_WORKLOADS}
nemeses=${NEMESIS:-$ALL_NEMESES}
want=valid
[ "$EXPECT" = anomaly ] && want=INVALID
rows=()
bad=0
i=0
for wl in $workloads; do
    for nem in $nemeses; do
        seed=$(( SEED + i )); i=$((i + 1))
        run_one "$wl" "$nem" "$seed"
        teardown
        read -r ops ok fail info verdict <<<"$RES"
        [ "$verdict" = "$want" ] || bad=1
        rows+=("$(printf '%-9s %-17s %7s %7s %7s %7s  %-8s %s' "$wl" "$nem" "$ops" "$ok" "$fail" \
            "$info" "$verdict" "$(basename "$RUN")")")
        log "$wl/$nem: $verdict (ops=$ops ok=$ok fail=$fail info=$info; expected $want)"
        [ "$verdict" = "$want" ] || log "repeat with: $(cat "$RUN/cmd")"
    done
done
echo
printf '%-9s %-17s %7s %7s %7s %7s  %-8s %s\n' workload nemesis ops ok fail info verdict run
for r in "${rows[@]}"; do echo "$r"; done
exit "$bad"
