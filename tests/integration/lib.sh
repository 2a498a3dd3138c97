# Shared helpers for integration tests: start real skiff nodes on loopback,
# wait on conditions with deadlines (never bare sleeps), clean up on exit.
# Each node N gets DIR/nN, API port BASE+N, peer port BASE+100+N.
set -u
SKIFF=${SKIFF_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/test/skiff}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:handle_abort=1}
T_DIR=$(mktemp -d /tmp/skiff-it.XXXXXX)
# provisional; ports_pick_base (called at the end of this file) moves it to a
# free block below the kernel's ephemeral range
T_BASE=$(( 10000 + ($$ % 100) * 200 ))
declare -A T_PID=()
T_FAILED=0

log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }

cleanup() {
    local rc=$?
    for n in "${!T_PID[@]}"; do
        kill -TERM "${T_PID[$n]}" 2>/dev/null
    done
    for n in "${!T_PID[@]}"; do
        wait_pid_exit "${T_PID[$n]}" 10 || kill -KILL "${T_PID[$n]}" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] || [ "$T_FAILED" -ne 0 ]; then
        for f in "$T_DIR"/n*.log; do
            [ -e "$f" ] || continue
            echo "---- tail of $f"; tail -n 40 "$f"
        done
    fi
    # ASan/LSan reports from nodes that exited count as failures
    if grep -l "ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error:" "$T_DIR"/n*.log \
        >/dev/null 2>&1; then
        echo "sanitizer report in node logs:"
        grep -A30 "ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error:" "$T_DIR"/n*.log | head -80
        rc=1
    fi
    # a test's own leftovers (runc containers, mounts) go before the dir
    if declare -F t_cleanup >/dev/null; then t_cleanup; fi
    # then whatever a node made on this machine (containers, CNI
    # attachments, mounts, cgroups, its nft table, routes and bridge): the
    # nodes are stopped, and skiff reset is idempotent
    local d
    for d in "$T_DIR"/n*/; do
        [ -e "$d/node.json" ] && "$SKIFF" reset --data-dir "$d" --keep-data >/dev/null 2>&1
    done
    rm -rf "$T_DIR"
    exit "$rc"
}
trap cleanup EXIT

fail() { T_FAILED=1; echo "FAIL: $*"; exit 1; }

wait_pid_exit() { # pid seconds
    local pid=$1 deadline=$(( $(date +%s) + $2 ))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
    return 0
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls every 50 ms.
wait_until() {
    local secs=$1 what=$2; shift 2
    local deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while true; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
            echo "timed out after ${secs}s waiting for: $what"
            echo "last attempt output:"; "$@" 2>&1 | tail -n 20
            fail "$what"
        fi
        sleep 0.05
    done
}

api_port() { echo $(( T_BASE + $1 )); }
peer_port() { echo $(( T_BASE + 100 + $1 )); }
node_dir() { echo "$T_DIR/n$1"; }

# Nodes run no containers unless a test asks for a runtime (T_TUNING with
# --fake-runtime, or T_RUNTIME=runc for the real one).
common_flags() { # n
    local rt="--no-runtime"
    case "${T_TUNING:-} ${T_RUNTIME:-}" in *--fake-runtime* | *runc*) rt="" ;; esac
    echo --data-dir "$(node_dir "$1")" --name "node$1" --advertise 127.0.0.1 \
        --listen "127.0.0.1:$(api_port "$1")" --peer-listen "127.0.0.1:$(peer_port "$1")" \
        $rt ${T_TUNING:-}
}

start_init() { # n
    "$SKIFF" init $(common_flags "$1") >>"$T_DIR/n$1.log" 2>&1 &
    T_PID[$1]=$!
    wait_until 30 "node$1 initialized" test -s "$(node_dir "$1")/join-token"
}

start_join() { # n via
    local token; token=$(cat "$(node_dir 1)/join-token")
    "$SKIFF" join $(common_flags "$1") --server "127.0.0.1:$(api_port "$2")" --token "$token" \
        >>"$T_DIR/n$1.log" 2>&1 &
    T_PID[$1]=$!
}

restart_node() { # n
    "$SKIFF" run --data-dir "$(node_dir "$1")" >>"$T_DIR/n$1.log" 2>&1 &
    T_PID[$1]=$!
}

kill9() { # n
    kill -KILL "${T_PID[$1]}" 2>/dev/null; wait "${T_PID[$1]}" 2>/dev/null; unset "T_PID[$1]"
}

stop_node() { # n
    kill -TERM "${T_PID[$1]}" 2>/dev/null
    wait_pid_exit "${T_PID[$1]}" 15 || fail "node$1 did not stop on SIGTERM"
    wait "${T_PID[$1]}"; local rc=$?
    unset "T_PID[$1]"
    return $rc
}

admin_token() {
    awk '/token:/ {print $2; exit}' "$(node_dir 1)/admin.kubeconfig"
}

# api N METHOD PATH [BODY]: prints the body, then the HTTP code on the last line.
# CT=type overrides the body's Content-Type (patches).
api() {
    local n=$1 method=$2 path=$3 body=${4:-}
    local args=(-sS --max-time 10 --cacert "$(node_dir 1)/pki/ca.crt"
        -H "Authorization: Bearer $(admin_token)" -X "$method" -w '\n%{http_code}')
    if [ -n "$body" ]; then
        # the body goes through stdin: large objects exceed the argv limit
        args+=(-H "Content-Type: ${CT:-application/json}" --data-binary @-)
        printf '%s' "$body" | curl "${args[@]}" "https://127.0.0.1:$(api_port "$n")$path"
    else
        curl "${args[@]}" "https://127.0.0.1:$(api_port "$n")$path"
    fi
}

api_code() { api "$@" | tail -n 1; }
# api_is CODE N METHOD PATH [BODY]: succeeds when the answer has that HTTP code
api_is() { local want=$1; shift; [ "$(api_code "$@")" = "$want" ]; }
api_body() { api "$@" | sed '$d'; }

status_json() { # n
    api_body "$1" GET /skiff/v1/cluster/status
}

# leader name as node N sees it
leader_of() { status_json "$1" | jq -r '.leader // empty'; }

count_role() { # n role
    status_json "$1" | jq "[.members[] | select(.role==\"$2\")] | length"
}

# role_count_is N ROLE COUNT: predicate for wait_until (evaluated on every poll)
role_count_is() { [ "$(count_role "$1" "$2")" = "$3" ]; }

cm_json() { # name key value
    printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"data":{"%s":"%s"}}' "$1" "$2" "$3"
}

# ---- helpers for the membership, token and snapshot tests ----

# start_join_with N VIA TOKEN: like start_join, with an explicit token
start_join_with() {
    "$SKIFF" join $(common_flags "$1") --server "127.0.0.1:$(api_port "$2")" --token "$3" \
        >>"$T_DIR/n$1.log" 2>&1 &
    T_PID[$1]=$!
}

# skiff_cli ARGS...: the skiff client as admin, with node 1's kubeconfig
skiff_cli() { "$SKIFF" "$@" --kubeconfig "$(node_dir 1)/admin.kubeconfig"; }

# leader_num N: the leader's node number as node N sees it (fails if none)
leader_num() { local l; l=$(leader_of "$1"); [ -n "$l" ] || return 1; echo "${l#node}"; }

# members_sig N: "name=role" of every member in node N's status, sorted
members_sig() { status_json "$1" | jq -r '[.members[] | "\(.name)=\(.role)"] | sort | join(",")'; }

# status_matches N JQ_EXPR [jq args...]: predicate; jq -e on node N's status
status_matches() {
    local n=$1 expr=$2 s; shift 2
    s=$(status_json "$n") || return 1
    jq -e "$@" "$expr" <<<"$s" >/dev/null
}

# log_has N REGEX: predicate; node N's log matches
log_has() { grep -q -- "$2" "$T_DIR/n$1.log"; }

# cm_count N: ConfigMaps in the default namespace as node N lists them
cm_count() { api_body "$1" GET /api/v1/namespaces/default/configmaps | jq '.items | length'; }
cm_count_is() { [ "$(cm_count "$1")" = "$2" ]; }

# cm_value_is N NAME KEY VALUE: predicate; node N serves ConfigMap NAME with data.KEY = VALUE
cm_value_is() {
    local b; b=$(api_body "$1" GET "/api/v1/namespaces/default/configmaps/$2") || return 1
    [ "$(jq -r --arg k "$3" '.data[$k] // empty' <<<"$b")" = "$4" ]
}

# ports_pick_base: moves T_BASE below the kernel's ephemeral port range and
# onto a 200-port block where nothing is bound right now. lib.sh's default
# block (20000..59999) overlaps the ephemeral range (32768..60999 here): an
# outgoing connection of any process may hold a node's port, and that node
# then fails to listen. Call right after sourcing lib.sh, before any node.
ports_pick_base() {
    local lo blocks i cand used
    lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    lo=${lo:-32768}
    blocks=$(( (lo - 10000) / 200 ))
    used=$(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -un)
    for (( i = 0; i < blocks; i++ )); do
        cand=$(( 10000 + (($$ + i) % blocks) * 200 ))
        if ! awk -v lo="$cand" -v hi=$(( cand + 199 )) '$1 >= lo && $1 <= hi {f = 1} END {exit !f}' \
            <<<"$used"; then
            T_BASE=$cand
            return 0
        fi
    done
    fail "no free 200-port block below $lo"
}

ports_pick_base

# busybox_image DIR: a busybox image (every applet linked to the static
# /bin/busybox, root in /etc/passwd, CMD /bin/sh) as the OCI layout
# DIR/oci:busybox and the OCI archive DIR/busybox.tar. Needs umoci, skopeo
# and busybox-static.
busybox_image() {
    # one recipe for the tests and `make run` (the archive is tagged busybox:latest)
    "$(dirname "${BASH_SOURCE[0]}")/../../scripts/busybox-image.sh" "$1" >/dev/null ||
        fail "could not build the busybox image"
}
