#!/usr/bin/env bash
# bench/api.sh [--quick] [--skiff PATH]: benchmarks of skiff's Kubernetes API
# on a 3-node cluster on loopback, each next to its peer (etcd 3.4 through its
# v3 JSON gateway, 3 members) in the same run, driven by the same client
# (bench/loadgen.c, libcurl multi, one thread):
#   1. Pod create, 64 clients, closed loop: through the leader vs a follower
#   2. Pod get (one object): linearizable (default) vs ?resourceVersion=0,
#      leader vs follower; etcd: linearizable vs serializable range of a key
#   3. list of LIST_PODS Pods: whole, and ?limit=500 through every page;
#      etcd: a range over as many keys of the same size
#   4. watch fan-out: 100 watch streams on a follower, WATCH_WRITES writes
#      through the leader, once as fast as 8 writers go and once paced at
#      WATCH_RATE/s; delivery latency per event per watcher, and that every
#      watcher saw every write
# Prints the tables and appends the run (commands, machine, tables) to
# bench/RESULTS.md. Loopback only; every loop has a count and a deadline;
# every process started here is stopped by the EXIT trap.
# --quick: a smoke run (< 3 min). --skiff PATH: run that binary instead of
# building ./skiff (the results say so). --no-append: print, leave
# RESULTS.md alone.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
QUICK=0
NO_APPEND=0
SKIFF_SRC=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --skiff) SKIFF_SRC=${2:?--skiff needs a path}; shift ;;
    --no-append) NO_APPEND=1 ;;
    *) echo "usage: bench/api.sh [--quick] [--skiff PATH] [--no-append]" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" -eq 1 ]; then
    TP_SECS=3; GET_SECS=2; LIST_PODS=2000; LIST_REPS=5; WATCH_WRITES=200
else
    TP_SECS=15; GET_SECS=10; LIST_PODS=10000; LIST_REPS=20; WATCH_WRITES=1000
fi
CLIENTS=64
PAGE=500
WATCHERS=100
WATCH_CLIENTS=8   # concurrent writers during the fan-out (closed loop)
WATCH_RATE=200    # the paced fan-out run: writes per second
ELECTION_MS=300   # skiff's default; etcd gets the same
HEARTBEAT_MS=40
POD_PREFIX=/registry/pods/default/

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
if [ -n "$SKIFF_SRC" ]; then
    make -C "$ROOT" -s build/rel/bench/loadgen >&2 || { echo "bench: build failed" >&2; exit 1; }
    [ -x "$SKIFF_SRC" ] || { echo "bench: $SKIFF_SRC: not an executable" >&2; exit 1; }
else
    make -C "$ROOT" -s skiff build/rel/bench/loadgen >&2 ||
        { echo "bench: build failed" >&2; exit 1; }
    SKIFF_SRC=$ROOT/skiff
fi

WORK=$(mktemp -d /tmp/skiff-apibench.XXXXXX)
# private copies: a rebuild during the run must not change what runs
cp "$SKIFF_SRC" "$WORK/skiff"
cp "$ROOT/build/rel/bench/loadgen" "$WORK/loadgen"
SKIFF=$WORK/skiff
LOADGEN=$WORK/loadgen
ETCD=$(command -v etcd)

# ---- ports: a free block of 50 in 35000..38999 (run.sh uses 31000..34999) ----
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
BASE=
for try in $(seq 0 79); do
    b=$(( 35000 + (($$ + try) % 80) * 50 ))
    busy=0
    for off in 1 2 3 11 12 13 21 22 23 41 42 43; do
        port_busy $((b + off)) && { busy=1; break; }
    done
    [ "$busy" -eq 0 ] && { BASE=$b; break; }
done
[ -n "$BASE" ] || { echo "bench: no free port block" >&2; exit 1; }
sk_api() { echo $((BASE + $1)); }
sk_peer() { echo $((BASE + 10 + $1)); }
et_client() { echo $((BASE + 20 + $1)); }
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
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "bench: FAIL: $*" >&2; exit 1; }

# wait_until SECONDS WHAT CMD...: polls every 50 ms until CMD succeeds.
wait_until() {
    local secs=$1 what=$2; shift 2
    local deadline=$(( $(now_ms) + secs * 1000 ))
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -ge "$deadline" ] && fail "timed out after ${secs}s: $what"
        sleep 0.05
    done
}

SK_TOKEN=
# rec CMD...: remember a command line for RESULTS.md (token redacted)
rec() {
    local line="$*"
    [ -n "${SK_TOKEN:-}" ] && line=${line//$SK_TOKEN/\$TOKEN}
    CMDS+=("$line")
}
# lg ARGS...: records the command line, then runs the load generator (bounded
# by timeout(1) as well): its output in LG_OUT, its RESULT line in LG_RES;
# FIRST_ERROR goes to stderr too. Not to be called in a subshell, so that
# rec() keeps the command line.
LG_OUT=
LG_RES=
lg() {
    rec build/rel/bench/loadgen "$@"
    local rc
    LG_OUT=$(timeout 300 "$LOADGEN" "$@" 2>&1)
    rc=$?
    printf '%s\n' "$LG_OUT" >>"$WORK/loadgen.log"
    LG_RES=$(grep '^RESULT' <<<"$LG_OUT" | tail -n 1)
    grep -E '^(FIRST_ERROR|loadgen:)' <<<"$LG_OUT" | head -n 2 | sed 's/^/  /' >&2
    return $rc
}
field() { # field NAME "RESULT a=1 b=2" -> value
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# ======================= skiff cluster =======================
sk_dir() { echo "$WORK/sk$1"; }
# The Pods written here are scheduled, but their containers are not run:
# --fake-runtime reports them Running (an image pull would go to docker.io,
# and the benchmarks stay on loopback); no pod network either.
sk_flags() {
    echo --data-dir "$(sk_dir "$1")" --name "node$1" --advertise 127.0.0.1 \
        --listen "127.0.0.1:$(sk_api "$1")" --peer-listen "127.0.0.1:$(sk_peer "$1")" \
        --election-timeout-ms "$ELECTION_MS" --heartbeat-ms "$HEARTBEAT_MS" \
        --fake-runtime --no-pod-network
}
sk_curl() { # n path
    curl -sS --max-time 10 --cacert "$(sk_dir 1)/pki/ca.crt" -H "Authorization: Bearer $SK_TOKEN" \
        "https://127.0.0.1:$(sk_api "$1")$2"
}
sk_status() { sk_curl "$1" /skiff/v1/cluster/status; }
sk_healthy() {
    local n leader= s l
    for n in 1 2 3; do
        s=$(sk_status "$n") || return 1
        l=$(jq -r '.leader // empty' <<<"$s")
        [ -n "$l" ] || return 1
        [ -z "$leader" ] && leader=$l
        [ "$l" = "$leader" ] || return 1
        [ "$(jq '[.members[] | select(.role=="voter" and .reachable==true)] | length' <<<"$s")" = 3 ] ||
            return 1
    done
}
sk_leader() {
    local s; s=$(sk_status "${1:-1}") || return 1
    jq -r '.leader // empty' <<<"$s" | sed -n 's/^node//p' | grep .
}
sk_revisions_equal() {
    local n r prev=
    for n in 1 2 3; do
        r=$(sk_status "$n" | jq '.revision') || return 1
        [ -z "$prev" ] && prev=$r
        [ "$r" = "$prev" ] || return 1
    done
}
sk_serves_pods() { sk_curl "$1" "/api/v1/namespaces/default/pods?limit=1" | jq -e '.kind == "PodList"'; }
sk_start() {
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
    sk_serves_pods 1 >/dev/null || fail "skiff does not serve /api/v1/namespaces/default/pods"
}
sk_url() { echo "https://127.0.0.1:$(sk_api "$1")"; }
sk_auth() { SK_AUTH=(--token "$SK_TOKEN" --cacert "$(sk_dir 1)/pki/ca.crt"); }

# ======================= etcd cluster =======================
et_dir() { echo "$WORK/et$1"; }
ET_CLUSTER="e1=http://127.0.0.1:$((BASE + 41)),e2=http://127.0.0.1:$((BASE + 42)),e3=http://127.0.0.1:$((BASE + 43))"
et_cmd() {
    echo "$ETCD" --name "e$1" --data-dir "$(et_dir "$1")" \
        --listen-client-urls "http://127.0.0.1:$(et_client "$1")" \
        --advertise-client-urls "http://127.0.0.1:$(et_client "$1")" \
        --listen-peer-urls "http://127.0.0.1:$(et_peer "$1")" \
        --initial-advertise-peer-urls "http://127.0.0.1:$(et_peer "$1")" \
        --initial-cluster "$ET_CLUSTER" --initial-cluster-state new --initial-cluster-token skiff-apibench \
        --heartbeat-interval "$HEARTBEAT_MS" --election-timeout "$ELECTION_MS" \
        --pre-vote=true --snapshot-count 100000 --logger zap --log-level warn
}
et_status() {
    curl -sS --max-time 2 -X POST -d '{}' "http://127.0.0.1:$(et_client "$1")/v3/maintenance/status"
}
et_healthy() {
    local n s leader= l
    for n in 1 2 3; do
        s=$(et_status "$n") || return 1
        l=$(jq -r '.leader // empty' <<<"$s")
        [ -n "$l" ] && [ "$l" != 0 ] || return 1
        [ -z "$leader" ] && leader=$l
        [ "$l" = "$leader" ] || return 1
    done
}
et_leader() {
    local n s
    for n in 1 2 3; do
        s=$(et_status "$n") || continue
        if [ "$(jq -r '.leader' <<<"$s")" = "$(jq -r '.header.member_id' <<<"$s")" ]; then
            echo "$n"; return 0
        fi
    done
    return 1
}
et_revisions_equal() {
    local n r prev=
    for n in 1 2 3; do
        r=$(et_status "$n" | jq -r '.header.revision') || return 1
        [ -z "$prev" ] && prev=$r
        [ "$r" = "$prev" ] || return 1
    done
}
et_start() {
    for n in 1 2 3; do
        mkdir -p "$(et_dir "$n")"; chmod 700 "$(et_dir "$n")"
        # shellcheck disable=SC2046
        $(et_cmd "$n") >>"$WORK/et$n.log" 2>&1 &
        PIDS[et$n]=$!
        rec $(et_cmd "$n")
    done
    wait_until 60 "etcd 3 members healthy" et_healthy
}
et_url() { echo "http://127.0.0.1:$(et_client "$1")"; }

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
declare -A R=()  # R[key.field]=value, from RESULT lines

# CPU time of each node during a run (from /proc/PID/stat), to tell where
# the time went: SYS is the system being measured (sk or et)
SYS=
CLK_TCK=$(getconf CLK_TCK)
declare -A CPU0=()
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_begin() {
    local n
    for n in 1 2 3; do CPU0[$n]=$(cpu_ticks "${PIDS[$SYS$n]}"); done
}
cpu_end() { # KEY: R[KEY.cpu_leader / cpu_follower / cpu_other] in seconds
    local n role l=${R[$SYS.leader]} f=${R[$SYS.follower]}
    for n in 1 2 3; do
        if [ "$n" = "$l" ]; then role=leader; elif [ "$n" = "$f" ]; then role=follower; else role=other; fi
        R[$1.cpu_$role]=$(awk -v a="${CPU0[$n]}" -v b="$(cpu_ticks "${PIDS[$SYS$n]}")" -v t="$CLK_TCK" \
            'BEGIN { printf "%.1f", (b - a) / t }')
    done
}

# keep KEY "RESULT ...": stores every field of the line under KEY
keep() {
    local kv
    for kv in ${2#RESULT }; do R[$1.${kv%%=*}]=${kv#*=}; done
    log "  $1: $2"
}
# closed KEY ARGS...: one closed-loop run; zero successes fail the run
closed() {
    local key=$1; shift
    cpu_begin
    lg "$@"
    cpu_end "$key"
    [ -n "$LG_RES" ] || fail "$key: no result from loadgen"
    keep "$key" "$LG_RES"
    [ "${R[$key.ok]:-0}" -gt 0 ] || fail "$key: no request succeeded"
}
# listing KEY ARGS...: one list run; an error is recorded, not fatal
listing() {
    local key=$1 rc=0; shift
    cpu_begin
    lg "$@" || rc=$?
    cpu_end "$key"
    [ "$rc" = 0 ] || NOTES+=("$key: list run had errors: $(grep -m1 '^FIRST_ERROR' <<<"$LG_OUT" | cut -c1-300)")
    [ -n "$LG_RES" ] || fail "$key: no result from loadgen"
    keep "$key" "$LG_RES"
}
watching() {
    local key=$1 rc=0; shift
    cpu_begin
    lg "$@" || rc=$?
    cpu_end "$key"
    [ "$rc" = 0 ] || NOTES+=("$key: watch fan-out incomplete or with errors: $(grep -m1 '^FIRST_ERROR' <<<"$LG_OUT" | cut -c1-300)")
    [ -n "$LG_RES" ] || fail "$key: no result from loadgen"
    keep "$key" "$LG_RES"
}

bench_skiff() {
    log "skiff: starting 3 nodes (ports $BASE+)"
    SYS=sk
    sk_start
    sk_auth
    local L F
    L=$(sk_leader) || fail "skiff: no leader"
    F=$(( L % 3 + 1 ))
    R[sk.leader]=$L; R[sk.follower]=$F

    log "skiff: creating $LIST_PODS Pods"
    lg --mode skiff-pod --url "$(sk_url "$L")" "${SK_AUTH[@]}" --clients "$CLIENTS" \
        --duration-s 120 --max-requests "$LIST_PODS" --run-id list
    [ "$(field ok "$LG_RES")" = "$LIST_PODS" ] || fail "skiff: only $(field ok "$LG_RES") of $LIST_PODS Pods created"
    wait_until 60 "skiff replicas converge" sk_revisions_equal
    POD_BYTES=$(sk_curl "$L" /api/v1/namespaces/default/pods/blist-0 | tr -d '\n' | wc -c)
    [ "$POD_BYTES" -gt 100 ] || fail "skiff: cannot read back Pod blist-0"
    R[pod.bytes]=$POD_BYTES

    log "skiff: list of $LIST_PODS Pods, $LIST_REPS times each"
    local la=(--reps "$LIST_REPS" --expect "$LIST_PODS" --duration-s 240 --timeout-ms 60000)
    listing sk.list.full --mode list --url "$(sk_url "$L")" "${SK_AUTH[@]}" "${la[@]}"
    listing sk.list.page --mode list --url "$(sk_url "$L")" "${SK_AUTH[@]}" "${la[@]}" --limit "$PAGE"
    listing sk.list.ffull --mode list --url "$(sk_url "$F")" "${SK_AUTH[@]}" "${la[@]}"
    listing sk.list.rv0 --mode list --url "$(sk_url "$L")" "${SK_AUTH[@]}" "${la[@]}" \
        --query resourceVersion=0

    log "skiff: watch fan-out, $WATCHERS watchers on node$F, $WATCH_WRITES writes via node$L"
    local rv; rv=$(sk_curl "$F" "/api/v1/namespaces/default/pods?limit=1" | jq -r '.metadata.resourceVersion')
    [ -n "$rv" ] && [ "$rv" != null ] || fail "skiff: no list resourceVersion"
    watching sk.watch --mode watch-fanout --url "$(sk_url "$L")" --watch-url "$(sk_url "$F")" \
        "${SK_AUTH[@]}" --watchers "$WATCHERS" --clients "$WATCH_CLIENTS" \
        --max-requests "$WATCH_WRITES" --duration-s 60 --drain-s 10 --watch-rv "$rv" --run-id watch
    rv=$(sk_curl "$F" "/api/v1/namespaces/default/pods?limit=1" | jq -r '.metadata.resourceVersion')
    watching sk.watchp --mode watch-fanout --url "$(sk_url "$L")" --watch-url "$(sk_url "$F")" \
        "${SK_AUTH[@]}" --watchers "$WATCHERS" --clients "$WATCH_CLIENTS" --rate "$WATCH_RATE" \
        --max-requests "$WATCH_WRITES" --duration-s 60 --drain-s 10 --watch-rv "$rv" --run-id watchp

    log "skiff: Pod create, $CLIENTS clients, ${TP_SECS}s each"
    closed sk.create.leader --mode skiff-pod --url "$(sk_url "$L")" "${SK_AUTH[@]}" \
        --clients "$CLIENTS" --duration-s "$TP_SECS" --max-requests 10000000 --run-id tp-leader
    closed sk.create.follower --mode skiff-pod --url "$(sk_url "$F")" "${SK_AUTH[@]}" \
        --clients "$CLIENTS" --duration-s "$TP_SECS" --max-requests 10000000 --run-id tp-follower

    log "skiff: Pod get, $CLIENTS clients, ${GET_SECS}s each"
    local n q
    for n in leader follower; do
        for q in default rv0; do
            local u; [ "$n" = leader ] && u=$(sk_url "$L") || u=$(sk_url "$F")
            local extra=(); [ "$q" = rv0 ] && extra=(--query resourceVersion=0)
            closed "sk.get.$n.$q" --mode skiff-get --url "$u" "${SK_AUTH[@]}" --clients "$CLIENTS" \
                --duration-s "$GET_SECS" --max-requests 10000000 --run-id list --keys "$LIST_PODS" \
                "${extra[@]}"
        done
    done
    stop_all
    scan_logs sk
}

bench_etcd() {
    log "etcd: starting 3 members"
    SYS=et
    et_start
    local L F
    L=$(et_leader) || fail "etcd: no leader"
    F=$(( L % 3 + 1 ))
    R[et.leader]=$L; R[et.follower]=$F
    local common=(--prefix "$POD_PREFIX" --value-bytes "$POD_BYTES")

    log "etcd: putting $LIST_PODS keys of $POD_BYTES B"
    lg --mode etcd --url "$(et_url "$L")" "${common[@]}" --clients "$CLIENTS" \
        --duration-s 120 --max-requests "$LIST_PODS" --run-id list
    [ "$(field ok "$LG_RES")" = "$LIST_PODS" ] || fail "etcd: only $(field ok "$LG_RES") of $LIST_PODS puts"
    wait_until 60 "etcd replicas converge" et_revisions_equal

    log "etcd: range over $LIST_PODS keys, $LIST_REPS times each"
    local la=(--reps "$LIST_REPS" --expect "$LIST_PODS" --duration-s 240 --timeout-ms 60000)
    listing et.list.full --mode etcd-range --url "$(et_url "$L")" "${common[@]}" "${la[@]}"
    listing et.list.page --mode etcd-range --url "$(et_url "$L")" "${common[@]}" "${la[@]}" --limit "$PAGE"
    listing et.list.ffull --mode etcd-range --url "$(et_url "$F")" "${common[@]}" "${la[@]}"
    listing et.list.rv0 --mode etcd-range --url "$(et_url "$L")" "${common[@]}" "${la[@]}" --serializable

    log "etcd: watch fan-out, $WATCHERS watchers on e$F, $WATCH_WRITES puts via e$L"
    watching et.watch --mode etcd-watch --url "$(et_url "$L")" --watch-url "$(et_url "$F")" \
        "${common[@]}" --watchers "$WATCHERS" --clients "$WATCH_CLIENTS" \
        --max-requests "$WATCH_WRITES" --duration-s 60 --drain-s 10 --run-id watch
    watching et.watchp --mode etcd-watch --url "$(et_url "$L")" --watch-url "$(et_url "$F")" \
        "${common[@]}" --watchers "$WATCHERS" --clients "$WATCH_CLIENTS" --rate "$WATCH_RATE" \
        --max-requests "$WATCH_WRITES" --duration-s 60 --drain-s 10 --run-id watchp

    log "etcd: put of a Pod-sized value, $CLIENTS clients, ${TP_SECS}s each"
    closed et.create.leader --mode etcd --url "$(et_url "$L")" "${common[@]}" --clients "$CLIENTS" \
        --duration-s "$TP_SECS" --max-requests 10000000 --run-id tp-leader
    closed et.create.follower --mode etcd --url "$(et_url "$F")" "${common[@]}" --clients "$CLIENTS" \
        --duration-s "$TP_SECS" --max-requests 10000000 --run-id tp-follower

    log "etcd: get of one key, $CLIENTS clients, ${GET_SECS}s each"
    local n q
    for n in leader follower; do
        for q in default rv0; do
            local u; [ "$n" = leader ] && u=$(et_url "$L") || u=$(et_url "$F")
            local extra=(); [ "$q" = rv0 ] && extra=(--serializable)
            closed "et.get.$n.$q" --mode etcd-get --url "$u" "${common[@]}" --clients "$CLIENTS" \
                --duration-s "$GET_SECS" --max-requests 10000000 --run-id list --keys "$LIST_PODS" \
                "${extra[@]}"
        done
    done
    stop_all
    scan_logs et
}

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
T0=$(now_ms)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
OTHERS=$(pgrep -c -x 'skiff|etcd' 2>/dev/null || true)
POD_BYTES=0
bench_skiff
bench_etcd
ELAPSED_S=$(( ($(now_ms) - T0) / 1000 ))

# ======================= report =======================
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "") print "n/a"; else printf "%.2f", a / b }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
v() { echo "${R[$1]:-}"; }
cpu() { echo "$(v "$1.cpu_leader") / $(v "$1.cpu_follower") / $(v "$1.cpu_other") / $(v "$1.client_cpu_s")"; }
row_closed() { # KEY LABEL
    echo "| $2 | $(v "$1.rps") | $(v "$1.p50_ms") | $(v "$1.p90_ms") | $(v "$1.p99_ms") | $(v "$1.max_ms") | $(v "$1.errors") | $(cpu "$1") |"
}
row_list() { # KEY LABEL
    echo "| $2 | $(v "$1.ok") | $(v "$1.pages") | $(v "$1.items") | $(mib "$(v "$1.bytes")") | $(v "$1.p50_ms") | $(v "$1.p90_ms") | $(v "$1.p99_ms") | $(v "$1.max_ms") | $(v "$1.errors") | $(cpu "$1") |"
}
report() {
    local mode=full; [ "$QUICK" -eq 1 ] && mode=quick
    local skv="skiff $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty') release build"
    [ "$SKIFF_SRC" != "$ROOT/skiff" ] && skv="skiff binary $SKIFF_SRC (not built by this run; tree $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null))"
    local sl=${R[sk.leader]} sf=${R[sk.follower]} el=${R[et.leader]} ef=${R[et.follower]}
    echo "## API run $START ($mode, ${ELAPSED_S}s)"
    echo
    echo "Written by \`bench/api.sh\`: skiff's Kubernetes API next to etcd's v3 JSON gateway, 3 nodes each on loopback, same client."
    echo
    echo "- machine: nproc=$(nproc), memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)," \
        "kernel $(uname -r), cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "- disk under the data dirs: $(df -T "$WORK" | awk 'NR==2 {print $2" on "$1}')"
    echo "- load average at start: $LOAD_BEFORE; other skiff/etcd processes already running: ${OTHERS:-0}"
    echo "- $skv; $("$ETCD" --version | head -n 1); client: bench/loadgen (libcurl $(curl-config --version 2>/dev/null | awk '{print $2}'), one thread, HTTP/1.1 keep-alive)"
    echo "- transport: skiff HTTPS (its API is TLS only); etcd plain HTTP through its gateway. raft: election timeout ${ELECTION_MS} ms, heartbeat ${HEARTBEAT_MS} ms on both"
    echo "- leader / follower used: skiff node$sl / node$sf, etcd e$el / e$ef. A stored Pod (as GET returns it) is ${R[pod.bytes]} B of JSON; etcd's values have that size too."
    echo
    echo "### A1. Pod create: $CLIENTS clients, closed loop, ${TP_SECS} s per run"
    echo
    echo "| run | creates/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU s L / F / O / client |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    row_closed sk.create.leader "skiff via leader (POST pods)"
    row_closed sk.create.follower "skiff via follower (forwarded to the leader)"
    row_closed et.create.leader "etcd via leader (v3 put, ${R[pod.bytes]} B)"
    row_closed et.create.follower "etcd via follower"
    echo
    echo "CPU s L / F / O / client: CPU seconds used during the run by the leader, the follower, the other follower, and the client (getrusage)."
    echo
    echo "| ratio | throughput | p50 | p99 |"
    echo "|---|---:|---:|---:|"
    echo "| skiff follower / leader | $(ratio "$(v sk.create.follower.rps)" "$(v sk.create.leader.rps)") | $(ratio "$(v sk.create.follower.p50_ms)" "$(v sk.create.leader.p50_ms)") | $(ratio "$(v sk.create.follower.p99_ms)" "$(v sk.create.leader.p99_ms)") |"
    echo "| etcd follower / leader | $(ratio "$(v et.create.follower.rps)" "$(v et.create.leader.rps)") | $(ratio "$(v et.create.follower.p50_ms)" "$(v et.create.leader.p50_ms)") | $(ratio "$(v et.create.follower.p99_ms)" "$(v et.create.leader.p99_ms)") |"
    echo "| skiff / etcd via leader | $(ratio "$(v sk.create.leader.rps)" "$(v et.create.leader.rps)") | $(ratio "$(v sk.create.leader.p50_ms)" "$(v et.create.leader.p50_ms)") | $(ratio "$(v sk.create.leader.p99_ms)" "$(v et.create.leader.p99_ms)") |"
    echo
    echo "### A2. Get of one object: $CLIENTS clients, closed loop, ${GET_SECS} s per run, names cycling over $LIST_PODS Pods"
    echo
    echo "skiff default = linearizable (a raft read barrier first; on a follower the barrier asks the leader); ?resourceVersion=0 = this replica's data. etcd: linearizable range vs \`serializable: true\`."
    echo
    echo "| run | gets/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU s L / F / O / client |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    row_closed sk.get.leader.default "skiff via leader, default"
    row_closed sk.get.leader.rv0 "skiff via leader, resourceVersion=0"
    row_closed sk.get.follower.default "skiff via follower, default"
    row_closed sk.get.follower.rv0 "skiff via follower, resourceVersion=0"
    row_closed et.get.leader.default "etcd via leader, linearizable"
    row_closed et.get.leader.rv0 "etcd via leader, serializable"
    row_closed et.get.follower.default "etcd via follower, linearizable"
    row_closed et.get.follower.rv0 "etcd via follower, serializable"
    echo
    echo "| ratio (throughput) | leader default | leader local | follower default | follower local |"
    echo "|---|---:|---:|---:|---:|"
    echo "| skiff / etcd | $(ratio "$(v sk.get.leader.default.rps)" "$(v et.get.leader.default.rps)") | $(ratio "$(v sk.get.leader.rv0.rps)" "$(v et.get.leader.rv0.rps)") | $(ratio "$(v sk.get.follower.default.rps)" "$(v et.get.follower.default.rps)") | $(ratio "$(v sk.get.follower.rv0.rps)" "$(v et.get.follower.rv0.rps)") |"
    echo
    echo "| ratio | skiff | etcd |"
    echo "|---|---:|---:|"
    echo "| follower / leader throughput, default | $(ratio "$(v sk.get.follower.default.rps)" "$(v sk.get.leader.default.rps)") | $(ratio "$(v et.get.follower.default.rps)" "$(v et.get.leader.default.rps)") |"
    echo "| follower / leader throughput, local read | $(ratio "$(v sk.get.follower.rv0.rps)" "$(v sk.get.leader.rv0.rps)") | $(ratio "$(v et.get.follower.rv0.rps)" "$(v et.get.leader.rv0.rps)") |"
    echo "| local / default throughput, via follower | $(ratio "$(v sk.get.follower.rv0.rps)" "$(v sk.get.follower.default.rps)") | $(ratio "$(v et.get.follower.rv0.rps)" "$(v et.get.follower.default.rps)") |"
    echo
    echo "### A3. List of $LIST_PODS Pods, $LIST_REPS repetitions, one request at a time"
    echo
    echo "One sample = the whole list (every page, ?limit=$PAGE&continue=... for skiff, key after the last one + range_end for etcd); its time is the sum of the page transfers (request sent to last byte), the client's JSON parse between pages excluded. Bytes = one whole list, uncompressed; etcd's gateway sends values base64-encoded."
    echo
    echo "| run | samples | pages | items | MiB | p50 ms | p90 ms | p99 ms | max ms | errors | CPU s L / F / O / client |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    row_list sk.list.full "skiff via leader, whole (default: linearizable)"
    row_list sk.list.page "skiff via leader, ?limit=$PAGE"
    row_list sk.list.rv0 "skiff via leader, whole, resourceVersion=0"
    row_list sk.list.ffull "skiff via follower, whole"
    row_list et.list.full "etcd via leader, whole range (linearizable)"
    row_list et.list.page "etcd via leader, limit $PAGE"
    row_list et.list.rv0 "etcd via leader, whole, serializable"
    row_list et.list.ffull "etcd via follower, whole"
    echo
    echo "CPU s L / F / O / client: CPU seconds used during the whole run (all samples) by the leader, the follower, the other follower, and the client (getrusage)."
    echo
    echo "| ratio skiff / etcd (time; lower is better) | p50 | p99 |"
    echo "|---|---:|---:|"
    local k
    for k in "full|whole, via leader" "page|paged by $PAGE, via leader" "rv0|whole, local read" "ffull|whole, via follower"; do
        echo "| ${k#*|} | $(ratio "$(v "sk.list.${k%%|*}.p50_ms")" "$(v "et.list.${k%%|*}.p50_ms")") | $(ratio "$(v "sk.list.${k%%|*}.p99_ms")" "$(v "et.list.${k%%|*}.p99_ms")") |"
    done
    echo "| skiff paged / whole (p50) | $(ratio "$(v sk.list.page.p50_ms)" "$(v sk.list.full.p50_ms)") | |"
    echo "| etcd paged / whole (p50) | $(ratio "$(v et.list.page.p50_ms)" "$(v et.list.full.p50_ms)") | |"
    echo
    echo "### A4. Watch fan-out: $WATCHERS watchers on a follower, $WATCH_WRITES writes via the leader"
    echo
    echo "Two runs per system: *burst* = $WATCH_CLIENTS writers in a closed loop (as fast as writes go), *paced* = $WATCH_RATE writes/s. Latency = when the client read an event from a watcher's socket minus when it read the write's acknowledgement from the writer's socket (both stamped in the libcurl write callbacks of the one client thread); one sample per watcher per write ($WATCHERS x $WATCH_WRITES). Negative: the event arrived before the acknowledgement. skiff watchers start at the list's resourceVersion; readiness is proven by a sentinel Pod every watcher must see before the timed writes start (etcd: its \`created\` message)."
    echo
    echo "| | skiff burst | etcd burst | ratio | skiff paced | etcd paced | ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    local f
    for f in "writes_ok|writes acknowledged" "write_errors|write errors" "write_rps|writes/s during the fan-out" \
             "delivered|events delivered" "expected|events expected" "missing|events missing" \
             "complete_watchers|watchers that saw every write" "dup|duplicate events" "watch_errors|watch errors" \
             "early|events before the ack" "p50_ms|delivery after ack p50 ms" "p90_ms|delivery after ack p90 ms" \
             "p99_ms|delivery after ack p99 ms" "max_ms|delivery after ack max ms" \
             "sent_p50_ms|delivery after the write was sent p50 ms" "sent_p99_ms|delivery after the write was sent p99 ms" \
             "drain_ms|last ack to last event ms" "ready_ms|all watchers established ms" \
             "cpu_leader|CPU s, leader" "cpu_follower|CPU s, the watched follower" "cpu_other|CPU s, other follower" \
             "client_cpu_s|CPU s, client"; do
        local key=${f%%|*} r= rp=
        case $key in p*_ms|max_ms|sent_*|drain_ms|write_rps)
            r=$(ratio "$(v "sk.watch.$key")" "$(v "et.watch.$key")")
            rp=$(ratio "$(v "sk.watchp.$key")" "$(v "et.watchp.$key")") ;;
        esac
        echo "| ${f#*|} | $(v "sk.watch.$key") | $(v "et.watch.$key") | $r | $(v "sk.watchp.$key") | $(v "et.watchp.$key") | $rp |"
    done
    echo
    local ok_sk=FAIL ok_et=FAIL
    [ "$(v sk.watch.missing)" = 0 ] && [ "$(v sk.watch.complete_watchers)" = "$WATCHERS" ] &&
        [ "$(v sk.watchp.missing)" = 0 ] && [ "$(v sk.watchp.complete_watchers)" = "$WATCHERS" ] && ok_sk=PASS
    [ "$(v et.watch.missing)" = 0 ] && [ "$(v et.watch.complete_watchers)" = "$WATCHERS" ] &&
        [ "$(v et.watchp.missing)" = 0 ] && [ "$(v et.watchp.complete_watchers)" = "$WATCHERS" ] && ok_et=PASS
    echo "Every watcher got every event (both runs): skiff **$ok_sk**, etcd **$ok_et**."
    echo
    if [ ${#NOTES[@]} -gt 0 ]; then
        echo "### Notes from this run"
        echo
        local n
        for n in "${NOTES[@]}"; do echo "- $n"; done
        echo
    fi
    echo "### Commands"
    echo
    echo '```'
    echo "bench/api.sh$([ "$QUICK" -eq 1 ] && echo ' --quick')"
    printf '%s\n' "${CMDS[@]}" | sed "s#$WORK#\$WORK#g; s#$ROOT/##g" | awk '!seen[$0]++'
    echo '```'
    echo
}
OUT=$(report)
printf '%s\n' "$OUT"
[ "$NO_APPEND" -eq 1 ] && exit 0
[ -f "$ROOT/bench/RESULTS.md" ] || printf '# skiff benchmark results\n\nAppended by `bench/run.sh` (`make bench`); newest last.\n\n' >"$ROOT/bench/RESULTS.md"
printf '%s\n' "$OUT" >>"$ROOT/bench/RESULTS.md"
log "results appended to bench/RESULTS.md"
