#!/usr/bin/env bash
# `make run`: a 3-node skiff cluster on loopback, a write through one node
# read from another, the leader killed with SIGKILL, the time until the next
# write succeeds, and the killed node restarted and caught up. Every step is
# printed; everything started is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIFF=${SKIFF:-$PWD/skiff}
DIR=$(mktemp -d /tmp/skiff-example.XXXXXX)
BASE=${SKIFF_EXAMPLE_PORT:-16440}
declare -A PID=()

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

cleanup() {
    for n in "${!PID[@]}"; do kill -TERM "${PID[$n]}" 2>/dev/null || true; done
    for n in "${!PID[@]}"; do wait "${PID[$n]}" 2>/dev/null || true; done
    rm -rf "$DIR"
    echo
    echo "example: stopped every node and removed $DIR"
}
trap cleanup EXIT

flags() { # n
    echo --data-dir "$DIR/n$1" --name "node$1" --advertise 127.0.0.1 \
        --listen "127.0.0.1:$((BASE + $1))" --peer-listen "127.0.0.1:$((BASE + 100 + $1))"
}
kc() { echo --kubeconfig "$DIR/n1/admin.kubeconfig"; }
on() { echo --server "127.0.0.1:$((BASE + $1))"; }

# wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
    local deadline=$(( $(ms) + $1 * 1000 )) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$(ms)" -ge "$deadline" ]; then
            echo "example: timed out waiting for $what; node logs:" >&2
            tail -n 20 "$DIR"/n*.log >&2
            exit 1
        fi
        sleep 0.05
    done
}
voters_are() { [ "$("$SKIFF" cluster status $(kc) -o json | jq '[.members[]|select(.role=="voter")]|length')" = "$1" ]; }

step "starting node1 with 'skiff init' (logs: $DIR/n1.log)"
"$SKIFF" init $(flags 1) >"$DIR/n1.log" 2>&1 &
PID[1]=$!
wait_for 20 "node1 to initialize" test -s "$DIR/n1/join-token"
echo "cluster CA, admin kubeconfig and join token written to $DIR/n1"

for n in 2 3; do
    step "node$n joins with the token ('skiff join --server 127.0.0.1:$((BASE + 1)) --token SKF1...')"
    "$SKIFF" join $(flags "$n") --server "127.0.0.1:$((BASE + 1))" \
        --token "$(cat "$DIR/n1/join-token")" >"$DIR/n$n.log" 2>&1 &
    PID[$n]=$!
done
wait_for 30 "3 voters" voters_are 3
"$SKIFF" cluster status $(kc)

step "write a ConfigMap through node1, read it from node3"
"$SKIFF" create configmap greeting --from-literal message=hello $(kc) $(on 1)
"$SKIFF" get configmap greeting -o yaml $(kc) $(on 3)

leader=$("$SKIFF" cluster status $(kc) -o json | jq -r .leader)
ln=${leader#node}
step "kill -9 the leader ($leader)"
kill -KILL "${PID[$ln]}"
wait "${PID[$ln]}" 2>/dev/null || true
unset "PID[$ln]"
t0=$(ms)
survivor=1; [ "$ln" = 1 ] && survivor=2
tries=0
until "$SKIFF" create configmap after-failover --from-literal at="$(date +%T)" $(kc) \
    $(on "$survivor") >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $(( $(ms) - t0 )) -lt 10000 ] || { echo "no write within 10 s" >&2; exit 1; }
    sleep 0.02
done
took=$(( $(ms) - t0 ))
newleader=$("$SKIFF" cluster status $(kc) $(on "$survivor") -o json | jq -r .leader)
echo "new leader: $newleader; first successful write ${took} ms after the kill ($tries retries)"
"$SKIFF" cluster status $(kc) $(on "$survivor")

step "restart $leader with 'skiff run' and watch it catch up"
"$SKIFF" run --data-dir "$DIR/n$ln" >>"$DIR/n$ln.log" 2>&1 &
PID[$ln]=$!
has_write() { "$SKIFF" get configmap after-failover $(kc) $(on "$ln"); }
wait_for 30 "$leader to catch up" has_write
"$SKIFF" get configmaps $(kc) $(on "$ln")
wait_for 30 "3 voters again" voters_are 3
"$SKIFF" cluster status $(kc) $(on "$ln")

step "done: the cluster survived losing its leader without losing a write"
