#!/usr/bin/env bash
# bench/run.sh [--quick]: benchmarks of skiff's replicated core, each next to
# its peer in the same run, driven by the same client (bench/loadgen.c):
#   1. write throughput + latency, 3 nodes on loopback, 64 clients, 1 KiB
#      (skiff ConfigMap create vs etcd v3 put through its JSON gateway)
#   2. failover: kill -9 of the leader -> first successful write via a survivor
#   3. idle RSS of every node after 10,000 objects
#   4. the store/ module alone vs raw LMDB (bench/store_bench.c)
# Prints a table per benchmark and appends the run (commands, machine, tables)
# to bench/RESULTS.md. Loopback only; every loop has a count and a deadline;
# every process started here is stopped by the EXIT trap.
# --quick: short durations for a smoke run (< 2 min). --core: stop after these four.
# BENCH_KEEP_LOGS=DIR copies the nodes' logs there at the end (to look into an
# outlier); loadgen --trace FILE gives per-request timings (bench/loadgen.c).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
QUICK=0
CORE_ONLY=0 # --core: only the four benchmarks above, not api.sh, sched_bench and the data path
for a in "$@"; do
    case "$a" in
    --quick) QUICK=1 ;;
    --core) CORE_ONLY=1 ;;
    *) echo "usage: bench/run.sh [--quick] [--core]" >&2; exit 2 ;;
    esac
done

if [ "$QUICK" -eq 1 ]; then
    TP_SECS=3; FO_TRIALS=3; RSS_OBJECTS=2000; IDLE_SECS=2
    STORE_ARGS=(--keys 5000 --reads 20000 --ranges 1000); STORE_SYNC_ARGS=(--keys 300 --reads 1000 --ranges 100)
else
    TP_SECS=15; FO_TRIALS=20; RSS_OBJECTS=10000; IDLE_SECS=5
    STORE_ARGS=(--keys 50000 --reads 200000 --ranges 5000); STORE_SYNC_ARGS=(--keys 2000 --reads 20000 --ranges 1000)
fi
CLIENTS=64
VALUE_BYTES=1024
ELECTION_MS=300   # skiff's default; etcd gets the same
HEARTBEAT_MS=40
FO_TIMEOUT_MS=2000 # per attempt during failover; a new attempt starts every 20 ms per survivor

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- prerequisites (Debian packages, our two programs) ----
need_pkgs=()
command -v etcd >/dev/null || need_pkgs+=(etcd-server)
command -v jq >/dev/null || need_pkgs+=(jq)
command -v curl >/dev/null || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
        { echo "bench: cannot install ${need_pkgs[*]}" >&2; exit 1; }
fi
make -C "$ROOT" -s skiff build/rel/bench/loadgen build/rel/bench/store_bench >&2 ||
    { echo "bench: build failed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/skiff-bench.XXXXXX)
# A private copy: a rebuild of ./skiff during the run must not change what runs.
cp "$ROOT/skiff" "$WORK/skiff"
SKIFF=$WORK/skiff
LOADGEN=$ROOT/build/rel/bench/loadgen
STORE_BENCH=$ROOT/build/rel/bench/store_bench
ETCD=$(command -v etcd)

# ---- ports: a free block of 50 in 31000..34999 ----
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
BASE=
for try in $(seq 0 79); do
    b=$(( 31000 + (($$ + try) % 80) * 50 ))
    busy=0
    for off in 1 2 3 11 12 13 21 22 23 31 32 33 41 42 43; do
        port_busy $((b + off)) && { busy=1; break; }
    done
    [ "$busy" -eq 0 ] && { BASE=$b; break; }
done
[ -n "$BASE" ] || { echo "bench: no free port block" >&2; exit 1; }
sk_api() { echo $((BASE + $1)); }
sk_peer() { echo $((BASE + 10 + $1)); }
et_client() { echo $((BASE + 20 + $1)); }
et_tls() { echo $((BASE + 30 + $1)); }
et_peer() { echo $((BASE + 40 + $1)); }

declare -A PIDS=()   # "sk1" / "et2" -> pid
NOTES=()             # observations made during the run, printed with the results
CMDS=()              # exact command lines, for RESULTS.md

stop_all() {
    local k
    for k in "${!PIDS[@]}"; do kill -TERM "${PIDS[$k]}" 2>/dev/null; done
    for k in "${!PIDS[@]}"; do
        local pid=${PIDS[$k]} deadline=$(( $(now_ms) + 10000 ))
        while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
            # state Z = exited but not yet reaped (not a hang); otherwise show
            # where it is and what its log said last
            local st; st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
            NOTES+=("$k (pid $pid, state ${st:-?}) did not exit within 10 s of SIGTERM; sent SIGKILL; last log: $(tail -n 2 "$WORK/$k.log" 2>/dev/null | tr '\n' ' ')")
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
        unset "PIDS[$k]"
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    local d
    for d in $(bench_reset_nodes "$WORK" "$SKIFF"); do NOTES+=("skiff reset of $d failed"); done
    if [ "$rc" -ne 0 ]; then
        for f in "$WORK"/*.log; do
            [ -e "$f" ] || continue
            echo "---- tail of $f" >&2; tail -n 30 "$f" >&2
        done
    fi
    for n in "${NOTES[@]}"; do echo "note: $n" >&2; done
    # BENCH_KEEP_LOGS=DIR: keep the nodes' logs (to look into an outlier)
    if [ -n "${BENCH_KEEP_LOGS:-}" ]; then
        mkdir -p "$BENCH_KEEP_LOGS" && cp "$WORK"/*.log "$BENCH_KEEP_LOGS"/ 2>/dev/null
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAIL_HOOK= # a function that prints what helps explain a failure
fail() {
    echo "bench: FAIL: $*" >&2
    [ -n "$FAIL_HOOK" ] && "$FAIL_HOOK" >&2
    exit 1
}

# wait_until SECONDS WHAT CMD...: polls every 50 ms until CMD succeeds.
wait_until() {
    local secs=$1 what=$2; shift 2
    local deadline=$(( $(now_ms) + secs * 1000 ))
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -ge "$deadline" ] && fail "timed out after ${secs}s: $what"
        sleep 0.05
    done
}

# loadgen ARGS...: runs the load generator, bounded by timeout(1) as well.
loadgen() {
    local out
    out=$(timeout 120 "$LOADGEN" "$@" 2>&1)
    local rc=$?
    printf '%s\n' "$out" >>"$WORK/loadgen.log"
    printf '%s\n' "$out" | grep '^RESULT' | tail -n 1
    printf '%s\n' "$out" | grep '^FIRST_ERROR' | head -n 1 | sed 's/^/  /' >&2
    return $rc
}
field() { # field NAME "RESULT a=1 b=2" -> value
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}
# rec CMD...: remember a command line for RESULTS.md (token redacted)
rec() {
    local line="$*"
    [ -n "${SK_TOKEN:-}" ] && line=${line//$SK_TOKEN/\$TOKEN}
    CMDS+=("$line")
}

# ======================= skiff cluster =======================
sk_dir() { echo "$WORK/sk$1"; }
sk_flags() {
    echo --data-dir "$(sk_dir "$1")" --name "node$1" --advertise 127.0.0.1 \
        --listen "127.0.0.1:$(sk_api "$1")" --peer-listen "127.0.0.1:$(sk_peer "$1")" \
        --election-timeout-ms "$ELECTION_MS" --heartbeat-ms "$HEARTBEAT_MS"
}
SK_TOKEN=
sk_curl() { # n path
    curl -sS --max-time 2 --cacert "$(sk_dir 1)/pki/ca.crt" -H "Authorization: Bearer $SK_TOKEN" \
        "https://127.0.0.1:$(sk_api "$1")$2"
}
sk_status() { sk_curl "$1" /skiff/v1/cluster/status; }

# every node answers, all name the same leader, 3 reachable voters;
# optional $1: every node has applied at least that index
sk_healthy() {
    local min_applied=${1:-0} n leader= s l
    for n in 1 2 3; do
        s=$(sk_status "$n") || return 1
        l=$(jq -r '.leader // empty' <<<"$s")
        [ -n "$l" ] || return 1
        [ -z "$leader" ] && leader=$l
        [ "$l" = "$leader" ] || return 1
        [ "$(jq '[.members[] | select(.role=="voter" and .reachable==true)] | length' <<<"$s")" = 3 ] ||
            return 1
        [ "$(jq '.appliedIndex' <<<"$s")" -ge "$min_applied" ] || return 1
    done
}
sk_dump_status() { # every node's status, one line each
    local n
    for n in 1 2 3; do echo "node$n status: $(sk_status "$n" 2>&1 | head -c 2000)"; done
}
sk_leader() { # prints the leader's node number
    local s; s=$(sk_status "${1:-1}") || return 1
    jq -r '.leader // empty' <<<"$s" | sed -n 's/^node//p' | grep .
}
sk_start() {
    mkdir -p "$WORK"
    "$SKIFF" init $(sk_flags 1) >>"$WORK/sk1.log" 2>&1 &
    PIDS[sk1]=$!
    rec ./skiff init $(sk_flags 1)
    wait_until 30 "skiff node1 initialized" test -s "$(sk_dir 1)/join-token"
    wait_until 30 "skiff admin kubeconfig" test -s "$(sk_dir 1)/admin.kubeconfig"
    SK_TOKEN=$(awk '/token:/ {print $2; exit}' "$(sk_dir 1)/admin.kubeconfig")
    local jt; jt=$(cat "$(sk_dir 1)/join-token")
    for n in 2 3; do
        "$SKIFF" join $(sk_flags "$n") --server "127.0.0.1:$(sk_api 1)" --token "$jt" \
            >>"$WORK/sk$n.log" 2>&1 &
        PIDS[sk$n]=$!
        rec ./skiff join $(sk_flags "$n") --server "127.0.0.1:$(sk_api 1)" --token '$JOIN_TOKEN'
    done
    wait_until 60 "skiff 3 voters healthy" sk_healthy
}
sk_restart() { # n
    "$SKIFF" run --data-dir "$(sk_dir "$1")" >>"$WORK/sk$1.log" 2>&1 &
    PIDS[sk$1]=$!
}
sk_url() { echo "https://127.0.0.1:$(sk_api "$1")"; }
# sk_args / et_args URL CLIENTS DURATION_S MAX_REQUESTS RUN_ID [extra]: set LG_ARGS
# (not run in a subshell, so that rec() keeps the command line)
LG_ARGS=()
sk_args() {
    LG_ARGS=(--mode skiff --url "$1" --token "$SK_TOKEN" --cacert "$(sk_dir 1)/pki/ca.crt"
        --clients "$2" --duration-s "$3" --max-requests "$4" --value-bytes "$VALUE_BYTES"
        --run-id "$5")
    rec build/rel/bench/loadgen "${LG_ARGS[@]}"
}
sk_revisions_equal() {
    local n r prev=
    for n in 1 2 3; do
        r=$(sk_status "$n" | jq '.revision') || return 1
        [ -z "$prev" ] && prev=$r
        [ "$r" = "$prev" ] || return 1
    done
}

# ======================= etcd cluster =======================
et_dir() { echo "$WORK/et$1"; }
ET_CLUSTER="e1=http://127.0.0.1:$((BASE + 41)),e2=http://127.0.0.1:$((BASE + 42)),e3=http://127.0.0.1:$((BASE + 43))"
et_cmd() { # n -> the member's command line (also used to restart it)
    echo "$ETCD" --name "e$1" --data-dir "$(et_dir "$1")" \
        --listen-client-urls "http://127.0.0.1:$(et_client "$1"),https://127.0.0.1:$(et_tls "$1")" \
        --advertise-client-urls "http://127.0.0.1:$(et_client "$1")" \
        --listen-peer-urls "http://127.0.0.1:$(et_peer "$1")" \
        --initial-advertise-peer-urls "http://127.0.0.1:$(et_peer "$1")" \
        --initial-cluster "$ET_CLUSTER" --initial-cluster-state new --initial-cluster-token skiff-bench \
        --auto-tls --heartbeat-interval "$HEARTBEAT_MS" --election-timeout "$ELECTION_MS" \
        --pre-vote=true --snapshot-count 100000 --logger zap --log-level warn
}
et_start_one() {
    # shellcheck disable=SC2046
    $(et_cmd "$1") >>"$WORK/et$1.log" 2>&1 &
    PIDS[et$1]=$!
}
et_status() { # n -> /v3/maintenance/status JSON
    curl -sS --max-time 2 -X POST -d '{}' "http://127.0.0.1:$(et_client "$1")/v3/maintenance/status"
}
et_healthy() { # optional $1: every member applied at least that raft index
    local min_applied=${1:-0} n s leader= l
    for n in 1 2 3; do
        s=$(et_status "$n") || return 1
        l=$(jq -r '.leader // empty' <<<"$s")
        [ -n "$l" ] && [ "$l" != 0 ] || return 1
        [ -z "$leader" ] && leader=$l
        [ "$l" = "$leader" ] || return 1
        [ "$(jq -r '.raftAppliedIndex // 0' <<<"$s")" -ge "$min_applied" ] || return 1
    done
}
et_leader() { # prints the leader's member number
    local n s
    for n in 1 2 3; do
        s=$(et_status "$n") || continue
        if [ "$(jq -r '.leader' <<<"$s")" = "$(jq -r '.header.member_id' <<<"$s")" ]; then
            echo "$n"; return 0
        fi
    done
    return 1
}
et_start() {
    for n in 1 2 3; do
        mkdir -p "$(et_dir "$n")"; chmod 700 "$(et_dir "$n")"
        et_start_one "$n"
        rec $(et_cmd "$n")
    done
    wait_until 60 "etcd 3 members healthy" et_healthy
}
et_url() { echo "http://127.0.0.1:$(et_client "$1")"; }
et_args() {
    LG_ARGS=(--mode etcd --url "$1" --clients "$2" --duration-s "$3" --max-requests "$4"
        --value-bytes "$VALUE_BYTES" --run-id "$5" "${@:6}")
    rec build/rel/bench/loadgen "${LG_ARGS[@]}"
}
et_revisions_equal() {
    local n r prev=
    for n in 1 2 3; do
        r=$(et_status "$n" | jq -r '.header.revision') || return 1
        [ -z "$prev" ] && prev=$r
        [ "$r" = "$prev" ] || return 1
    done
}
et_applied() { et_status "$1" | jq -r '.raftAppliedIndex'; }
sk_applied() { sk_status "$1" | jq '.appliedIndex'; }

# scan_logs SYS: WARN/ERROR lines in the node logs become notes in the results
# (etcd's warn level is routine under leader kills: only its errors count)
LOG_BAD=' (WARN|ERROR|FATAL) |"level":"(error|fatal|panic|dpanic)"|^panic:|Assertion|AddressSanitizer'
scan_logs() {
    local f c
    for f in "$WORK/$1"[0-9].log; do
        [ -e "$f" ] || continue
        c=$(grep -c -E "$LOG_BAD" "$f")
        [ "$c" -gt 0 ] || continue
        NOTES+=("$(basename "$f" .log): $c warning/error log lines, e.g.: \`$(grep -m1 -E "$LOG_BAD" "$f" | cut -c1-300)\`")
    done
}

# ======================= measurements =======================
declare -A R=()  # results: R[key]=value

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
file_kb() { awk '/^RssFile:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
du_mb() { du -sm "$1" | awk '{print $1}'; }

# bench_rss SYS(sk|et): RSS_OBJECTS writes, replicas converge, idle, read VmRSS.
bench_rss() {
    local sys=$1 res n
    for n in 1 2 3; do R[$sys.rss0.$n]=$(rss_kb "${PIDS[$sys$n]}"); done
    log "$sys: writing $RSS_OBJECTS objects for the RSS measurement"
    if [ "$sys" = sk ]; then
        sk_args "$(sk_url "$(sk_leader)")" "$CLIENTS" 120 "$RSS_OBJECTS" rss
        res=$(loadgen "${LG_ARGS[@]}") || fail "skiff rss load: $res"
        wait_until 60 "skiff replicas converge" sk_revisions_equal
    else
        et_args "$(et_url "$(et_leader)")" "$CLIENTS" 120 "$RSS_OBJECTS" rss
        res=$(loadgen "${LG_ARGS[@]}") || fail "etcd rss load: $res"
        wait_until 60 "etcd replicas converge" et_revisions_equal
    fi
    if [ "$sys" = sk ]; then R[$sys.rss.leader]=$(sk_leader); else R[$sys.rss.leader]=$(et_leader); fi
    [ "$(field ok "$res")" = "$RSS_OBJECTS" ] || fail "$sys: only $(field ok "$res") of $RSS_OBJECTS writes succeeded"
    # Deliberate idle period: the measurement is of an idle node, not a condition wait.
    sleep "$IDLE_SECS"
    for n in 1 2 3; do
        R[$sys.rss.$n]=$(rss_kb "${PIDS[$sys$n]}")
        R[$sys.hwm.$n]=$(hwm_kb "${PIDS[$sys$n]}")
        R[$sys.anon.$n]=$(anon_kb "${PIDS[$sys$n]}")
        R[$sys.file.$n]=$(file_kb "${PIDS[$sys$n]}")
        R[$sys.du.$n]=$(du_mb "$WORK/$sys$n")
    done
}

# bench_tp SYS NAME URL [extra etcd flags]: one throughput run.
bench_tp() {
    local sys=$1 name=$2 url=$3 res
    log "$sys: throughput $name ($url), $CLIENTS clients, ${TP_SECS}s"
    if [ "$sys" = sk ]; then
        sk_args "$url" "$CLIENTS" "$TP_SECS" 10000000 "tp-$name"
    else
        et_args "$url" "$CLIENTS" "$TP_SECS" 10000000 "tp-$name" "${@:4}"
    fi
    res=$(loadgen "${LG_ARGS[@]}")
    [ -n "$res" ] || fail "$sys $name: no result from loadgen"
    local k
    for k in rps p50_ms p90_ms p99_ms max_ms ok errors; do R[$sys.tp.$name.$k]=$(field "$k" "$res"); done
    log "  $res"
}

# bench_failover SYS: FO_TRIALS x (kill -9 leader, time first write via a survivor, restart, heal)
bench_failover() {
    local sys=$1 t leader pid urls res ms n idx
    R[$sys.fo.list]=
    R[$sys.fo.failed]=0
    for t in $(seq 1 "$FO_TRIALS"); do
        if [ "$sys" = sk ]; then leader=$(sk_leader 1) || leader=$(sk_leader 2); else leader=$(et_leader); fi
        [ -n "$leader" ] || fail "$sys: no leader before trial $t"
        pid=${PIDS[$sys$leader]}
        urls=()
        local survivor=
        for n in 1 2 3; do
            [ "$n" = "$leader" ] && continue
            [ -z "$survivor" ] && survivor=$n
            if [ "$sys" = sk ]; then urls+=(--url "$(sk_url "$n")"); else urls+=(--url "$(et_url "$n")"); fi
        done
        local args=(--failover-kill "$pid" "${urls[@]}" --duration-s 20 --timeout-ms "$FO_TIMEOUT_MS"
            --max-requests 100000 --run-id "fo$t" --value-bytes "$VALUE_BYTES")
        if [ "$sys" = sk ]; then
            args=(--mode skiff --token "$SK_TOKEN" --cacert "$(sk_dir 1)/pki/ca.crt" "${args[@]}")
        else
            args=(--mode etcd "${args[@]}")
        fi
        if [ "$t" = 1 ]; then
            local shown=() a
            for a in "${args[@]}"; do [ "$a" = "$pid" ] && shown+=('$LEADER_PID') || shown+=("$a"); done
            rec build/rel/bench/loadgen "${shown[@]}"
        fi
        res=$(loadgen "${args[@]}")
        wait "$pid" 2>/dev/null
        unset "PIDS[$sys$leader]"
        ms=$(field failover_ms "$res")
        log "$sys: failover trial $t: leader $leader killed -> $res"
        if [ -z "$ms" ] || [ "$ms" = -1 ]; then
            R[$sys.fo.failed]=$(( R[$sys.fo.failed] + 1 ))
        else
            R[$sys.fo.list]+="$ms "
        fi
        # restart the killed node and wait until it has caught up
        if [ "$sys" = sk ]; then
            idx=$(sk_applied "$survivor" 2>/dev/null)
            sk_restart "$leader"
            [ "$t" = 1 ] && rec ./skiff run --data-dir "$(sk_dir "$leader")"
            FAIL_HOOK=sk_dump_status
            wait_until 60 "skiff healthy after restarting node$leader" sk_healthy "${idx:-0}"
            FAIL_HOOK=
        else
            idx=$(et_applied "$survivor" 2>/dev/null)
            et_start_one "$leader"
            wait_until 60 "etcd healthy after restarting e$leader" et_healthy "${idx:-0}"
        fi
    done
}

# p VALUES... PCT: nearest-rank percentile
pctl() {
    local p=$1; shift
    printf '%s\n' "$@" | grep . | sort -g | awk -v p="$p" '{v[NR]=$1} END {
        if (NR == 0) { print "n/a"; exit }
        i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print v[i] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ======================= run =======================
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
T0=$(now_ms)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
OTHERS=$(pgrep -c -x 'skiff|etcd' 2>/dev/null || true)

log "skiff: starting 3 nodes (ports $BASE+)"
sk_start
bench_rss sk
SK_LEADER=$(sk_leader) || fail "skiff: no leader"
SK_FOLLOWER=$(( SK_LEADER % 3 + 1 ))
bench_tp sk leader "$(sk_url "$SK_LEADER")"
bench_tp sk follower "$(sk_url "$SK_FOLLOWER")"
log "skiff: failover, $FO_TRIALS trials"
bench_failover sk
stop_all
scan_logs sk

log "etcd: starting 3 members"
et_start
bench_rss et
ET_LEADER=$(et_leader) || fail "etcd: no leader"
ET_FOLLOWER=$(( ET_LEADER % 3 + 1 ))
bench_tp et leader "$(et_url "$ET_LEADER")"
bench_tp et follower "$(et_url "$ET_FOLLOWER")"
bench_tp et leader-tls "https://127.0.0.1:$(et_tls "$ET_LEADER")" --insecure
bench_tp et leader-tls-noreuse "https://127.0.0.1:$(et_tls "$ET_LEADER")" --insecure --no-reuse
log "etcd: failover, $FO_TRIALS trials"
bench_failover et
stop_all
scan_logs et

log "store alone vs raw LMDB"
STORE_OUT=
for sync in 0 1; do
    d=$(mktemp -d "$WORK/store.XXXX")
    if [ "$sync" = 0 ]; then a=("${STORE_ARGS[@]}"); else a=("${STORE_SYNC_ARGS[@]}"); fi
    rec build/rel/bench/store_bench --dir DIR "${a[@]}" --value-bytes "$VALUE_BYTES" --sync "$sync"
    STORE_OUT+=$(timeout 300 "$STORE_BENCH" --dir "$d" "${a[@]}" --value-bytes "$VALUE_BYTES" --sync "$sync") ||
        fail "store_bench --sync $sync"
    STORE_OUT+=$'\n'
    rm -rf "$d"
done
st() { # side op sync -> ops/s
    printf '%s\n' "$STORE_OUT" | awk -v s="side=$1" -v o="op=$2" -v y="sync=$3" \
        '$2==s && $3==o && $4==y { sub("ops_s=", "", $7); print $7 }'
}
ELAPSED_S=$(( ($(now_ms) - T0) / 1000 ))

# ======================= report =======================
verdict() { [ "$1" = 1 ] && echo PASS || echo FAIL; }
report() {
    local mode=full; [ "$QUICK" -eq 1 ] && mode=quick
    echo "## Run $START ($mode, ${ELAPSED_S}s)"
    echo
    echo "- machine: nproc=$(nproc), memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)," \
        "kernel $(uname -r), cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "- disk under the data dirs: $(df -T "$WORK" | awk 'NR==2 {print $2" on "$1}')"
    echo "- load average at start: $LOAD_BEFORE; other skiff/etcd processes already running: ${OTHERS:-0}"
    echo "- skiff $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty') release build; $("$ETCD" --version | head -n 1); client: bench/loadgen (libcurl $(curl-config --version 2>/dev/null | awk '{print $2}'), one thread, HTTP/1.1)"
    echo "- raft: election timeout ${ELECTION_MS} ms, heartbeat ${HEARTBEAT_MS} ms on both (both randomise the election timeout up to 2x), pre-vote on both"
    echo "- durability: skiff acknowledges a write after its raft log entry is on disk on a majority (canonical/raft libuv log, synced); its LMDB store is opened with MDB_NOSYNC (the log is the durable record). etcd: default WAL fsync before acknowledging (no --unsafe-no-fsync), bbolt backend default."
    echo
    local sl=R
    echo "### 1. Write throughput: 3 nodes on loopback, $CLIENTS concurrent clients, ${VALUE_BYTES} B values, ${TP_SECS} s per run"
    echo
    echo "Every write carries its own value of random letters and digits (loadgen --value-kind random, the default): skiff's lz4 raft snapshots gain nothing from it, as they would from a repeated byte."
    echo
    echo "| run | transport | writes/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    local k
    for k in "sk leader|skiff via leader (ConfigMap create)|HTTPS keep-alive" \
             "sk follower|skiff via follower (forwarded)|HTTPS keep-alive" \
             "et leader|etcd via leader (v3 put)|HTTP keep-alive (gateway)" \
             "et follower|etcd via follower|HTTP keep-alive" \
             "et leader-tls|etcd via leader|HTTPS keep-alive (--auto-tls)" \
             "et leader-tls-noreuse|etcd via leader|HTTPS, new connection per put"; do
        IFS='|' read -r key label tr <<<"$k"
        local s=${key% *} n=${key#* }
        echo "| $label | $tr | ${R[$s.tp.$n.rps]:-} | ${R[$s.tp.$n.p50_ms]:-} | ${R[$s.tp.$n.p90_ms]:-} | ${R[$s.tp.$n.p99_ms]:-} | ${R[$s.tp.$n.max_ms]:-} | ${R[$s.tp.$n.errors]:-} |"
    done
    echo
    local r_tp r_p99 r_tp_f r_tp_tls r_tp_nr
    r_tp=$(ratio "${R[sk.tp.leader.rps]}" "${R[et.tp.leader.rps]}")
    r_p99=$(ratio "${R[sk.tp.leader.p99_ms]}" "${R[et.tp.leader.p99_ms]}")
    r_tp_f=$(ratio "${R[sk.tp.follower.rps]}" "${R[et.tp.follower.rps]}")
    r_tp_tls=$(ratio "${R[sk.tp.leader.rps]}" "${R[et.tp.leader-tls.rps]}")
    r_tp_nr=$(ratio "${R[sk.tp.leader.rps]}" "${R[et.tp.leader-tls-noreuse.rps]}")
    local pass_tp; pass_tp=$(awk -v a="$r_tp" -v b="$r_p99" 'BEGIN { print (a >= 1 && b <= 1) ? 1 : 0 }')
    echo "| ratio skiff/etcd | value |"
    echo "|---|---:|"
    echo "| throughput via leader (etcd plain HTTP) | $r_tp |"
    echo "| p99 via leader (lower is better) | $r_p99 |"
    echo "| throughput via follower | $r_tp_f |"
    echo "| throughput via leader vs etcd HTTPS keep-alive | $r_tp_tls |"
    echo "| throughput via leader vs etcd HTTPS new connection per put | $r_tp_nr |"
    echo
    echo "Target (throughput >= etcd and p99 <= etcd, via leader): **$(verdict "$pass_tp")**; goal 2x: $(awk -v a="$r_tp" 'BEGIN { print (a >= 2) ? "met" : "not met" }')."
    echo
    # shellcheck disable=SC2086
    local sk_p50 sk_p99 et_p50 et_p99
    sk_p50=$(pctl 50 ${R[sk.fo.list]}); sk_p99=$(pctl 99 ${R[sk.fo.list]})
    et_p50=$(pctl 50 ${R[et.fo.list]}); et_p99=$(pctl 99 ${R[et.fo.list]})
    echo "### 2. Failover: kill -9 of the leader -> first successful write through a survivor ($FO_TRIALS trials)"
    echo
    echo "The clock starts at kill(2); from then a new write starts to each survivor every 20 ms (overlapping; ${FO_TIMEOUT_MS} ms timeout each), so the resolution is 20 ms. Leader and survivors are found with each system's status endpoint; the killed node is restarted and the cluster healthy and caught up before the next trial. With $FO_TRIALS trials, p99 is the worst trial."
    echo
    echo "| | skiff | etcd | ratio skiff/etcd |"
    echo "|---|---:|---:|---:|"
    echo "| p50 ms | $sk_p50 | $et_p50 | $(ratio "$sk_p50" "$et_p50") |"
    echo "| p99 ms | $sk_p99 | $et_p99 | $(ratio "$sk_p99" "$et_p99") |"
    echo "| min / max ms | $(pctl 0 ${R[sk.fo.list]}) / $(pctl 100 ${R[sk.fo.list]}) | $(pctl 0 ${R[et.fo.list]}) / $(pctl 100 ${R[et.fo.list]}) | |"
    echo "| trials with no write within 20 s | ${R[sk.fo.failed]} | ${R[et.fo.failed]} | |"
    echo
    echo "skiff trials (ms): ${R[sk.fo.list]}"
    echo
    echo "etcd trials (ms): ${R[et.fo.list]}"
    echo
    echo "Target (skiff p99 < 1000 ms): **$(verdict "$(awk -v a="$sk_p99" 'BEGIN { print (a != "n/a" && a + 0 < 1000 && '"${R[sk.fo.failed]}"' == 0) ? 1 : 0 }')")**."
    echo
    echo "### 3. Idle RSS after $RSS_OBJECTS objects (${VALUE_BYTES} B value each), ${IDLE_SECS} s idle"
    echo
    echo "| member | skiff VmRSS MB | skiff anon / file MB | skiff VmHWM MB | skiff RSS empty MB | skiff data dir MB | etcd VmRSS MB | etcd anon / file MB | etcd VmHWM MB | etcd RSS empty MB | etcd data dir MB | VmRSS ratio skiff/etcd |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local n maxsk=0
    for n in 1 2 3; do
        echo "| $n | $(mb "${R[sk.rss.$n]}") | $(mb "${R[sk.anon.$n]}") / $(mb "${R[sk.file.$n]}") | $(mb "${R[sk.hwm.$n]}") | $(mb "${R[sk.rss0.$n]}") | ${R[sk.du.$n]} | $(mb "${R[et.rss.$n]}") | $(mb "${R[et.anon.$n]}") / $(mb "${R[et.file.$n]}") | $(mb "${R[et.hwm.$n]}") | $(mb "${R[et.rss0.$n]}") | ${R[et.du.$n]} | $(ratio "${R[sk.rss.$n]}" "${R[et.rss.$n]}") |"
        [ "${R[sk.rss.$n]}" -gt "$maxsk" ] && maxsk=${R[sk.rss.$n]}
    done
    echo
    echo "(members in start order; leader during the load: skiff node${R[sk.rss.leader]:-?}, etcd e${R[et.rss.leader]:-?}; the writes went through the leader)"
    echo
    echo "\"RSS empty\": sampled right after the cluster became healthy, before any object was written. anon / file: RssAnon / RssFile from /proc/PID/status (file = mapped pages, e.g. LMDB's or bbolt's mmap)."
    echo
    echo "Target (every skiff node < 20 MB): **$(verdict "$([ "$maxsk" -lt 20480 ] && echo 1 || echo 0)")** (max $(mb "$maxsk") MB)."
    echo
    echo "### 4. store/ alone vs raw LMDB, one process, ${VALUE_BYTES} B values, one key per write txn"
    echo
    echo "sync=0: MDB_NOSYNC on both (skiff's setting); sync=1: LMDB default, fsync per commit. get = random point read; range100 = a page of 100 keys from a random start under /registry/configmaps/default/."
    echo
    echo "| op | sync | store/ ops/s | raw LMDB ops/s | ratio store/LMDB |"
    echo "|---|---:|---:|---:|---:|"
    local op y
    for y in 0 1; do for op in put get range100; do
        echo "| $op | $y | $(st store "$op" "$y") | $(st lmdb "$op" "$y") | $(ratio "$(st store "$op" "$y")" "$(st lmdb "$op" "$y")") |"
    done; done
    echo
    echo "Key counts: sync=0 ${STORE_ARGS[*]}; sync=1 ${STORE_SYNC_ARGS[*]}."
    echo
    if [ ${#NOTES[@]} -gt 0 ]; then
        echo "### Notes from this run"
        echo
        for n in "${NOTES[@]}"; do echo "- $n"; done
        echo
    fi
    echo "### Commands"
    echo
    echo '```'
    printf '%s\n' "${CMDS[@]}" | sed "s#$WORK#\$WORK#g; s#$ROOT/##g; s#$LOADGEN#build/rel/bench/loadgen#g" | awk '!seen[$0]++'
    echo '```'
    echo
}
OUT=$(report)
printf '%s\n' "$OUT"
[ -f "$ROOT/bench/RESULTS.md" ] || printf '# skiff benchmark results\n\nAppended by `bench/run.sh` (`make bench`); newest last.\n\n' >"$ROOT/bench/RESULTS.md"
printf '%s\n' "$OUT" >>"$ROOT/bench/RESULTS.md"
log "results appended to bench/RESULTS.md"
[ "$CORE_ONLY" -eq 1 ] && exit 0
"$ROOT/bench/api.sh" $([ "$QUICK" -eq 1 ] && echo --quick) || exit 1 # the API benchmarks (bench/api.sh)
# the scheduler alone against the real store (bench/sched_bench.c); no peer can
# run here (kube-scheduler is not packaged): its published figure is the reference
echo "## scheduler: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores" >>"$ROOT/bench/RESULTS.md"
echo '```' >>"$ROOT/bench/RESULTS.md"
echo "build/rel/bench/sched_bench $([ "$QUICK" -eq 1 ] && echo --quick)" >>"$ROOT/bench/RESULTS.md"
"$ROOT/build/rel/bench/sched_bench" $([ "$QUICK" -eq 1 ] && echo --quick) | tee -a "$ROOT/bench/RESULTS.md" || exit 1
echo '```' >>"$ROOT/bench/RESULTS.md"
# the data path (root: network namespaces, runc): pod start next to plain
# runc, the Service VIP next to the pod's own address, and the nftables
# rule update for 1,000 Services x 10 endpoints; each appended as it printed
if [ "$(id -u)" = 0 ]; then
    for b in "bench/podstart.sh $([ "$QUICK" -eq 1 ] && echo --quick) --skiff $ROOT/skiff" \
        "bench/podstart.sh $([ "$QUICK" -eq 1 ] && echo --quick) --pod-network --skiff $ROOT/skiff" \
        "bench/net.sh $([ "$QUICK" -eq 1 ] && echo '--secs 3 --services 200')"; do
        {
            echo "## $(echo "$b" | cut -d' ' -f1): $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
            echo '```'
            echo "$b" | sed "s#$ROOT/##g"
            (cd "$ROOT" && $b 2>&1)
            echo '```'
        } | tee -a "$ROOT/bench/RESULTS.md"
    done
else
    log "not root: skipping bench/podstart.sh and bench/net.sh"
fi
