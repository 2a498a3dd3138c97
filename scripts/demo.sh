#!/usr/bin/env bash
# `make run` (as root, after the build): a 3-node skiff cluster on this
# machine with `skiff up`, a busybox image built from Debian's
# busybox-static, examples/web.yaml (3 httpd pods behind a Service), requests
# to the Service from a client pod answered by different pods, the leader
# node killed with SIGKILL, the new leader, and the Service still answering.
# Every step is printed with the commands it runs; every wait has a
# deadline. The cluster stays up at the end for looking around; the last
# lines say how to remove it (skiff down).
#   SKIFF=path/to/skiff  SKIFF_DEMO_DIR=./skiff-local  SKIFF_DEMO_NAME=skiff
#   SKIFF_DEMO_SUBNET=10.250.0.0/24
set -euo pipefail
cd "$(dirname "$0")/.."
SKIFF=${SKIFF:-$PWD/skiff}
DIR=${SKIFF_DEMO_DIR:-$PWD/skiff-local}
NAME=${SKIFF_DEMO_NAME:-skiff}
SUBNET=${SKIFF_DEMO_SUBNET:-10.250.0.0/24}
W=$(mktemp -d /tmp/skiff-demo.XXXXXX)
trap 'rm -rf "$W"' EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '\033[2m+ %s\033[0m\n' "$*"; "$@"; }
now() { date +%s; }
die() {
    echo "demo: $*" >&2
    [ ! -e "$DIR/up.json" ] || echo "demo: the cluster is still up; remove it with: $SKIFF down --dir $DIR" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, containers): sudo make run"
for t in ip jq umoci skopeo runc; do
    command -v "$t" >/dev/null || die "$t not found (make deps installs it)"
done
[ -x "$SKIFF" ] || die "no skiff binary at $SKIFF (make skiff)"

# sk ARGS...: the skiff client as admin; SERVER (once set) picks a live node
SERVER=
sk() {
    if [ -n "$SERVER" ]; then
        "$SKIFF" "$@" --kubeconfig "$DIR/admin.kubeconfig" --server "$SERVER"
    else
        "$SKIFF" "$@" --kubeconfig "$DIR/admin.kubeconfig"
    fi
}

# wait_for SECONDS WHAT COMMAND...: polls every 0.5 s
wait_for() {
    local deadline=$(( $(now) + $1 )) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$(now)" -lt "$deadline" ] || die "timed out waiting for $what"
        sleep 0.5
    done
}

ready_web() { # number of Ready pods of app=web
    sk get pods -l app=web -o json |
        jq '[.items[] | select(.metadata.deletionTimestamp == null) |
             select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
web_ready_is() { [ "$(ready_web)" = "$1" ]; }
pod_ready() {
    sk get pod "$1" -o json | jq -e 'any(.status.conditions[]?; .type == "Ready" and .status == "True")'
}

client_pod() { # NAME [NODE]: a busybox pod that sleeps, pinned to NODE when given
    local pin=""
    [ -z "${2:-}" ] || pin="nodeName: $2"
    cat <<EOF | run sk apply -f -
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  $pin
  terminationGracePeriodSeconds: 1
  containers:
    - name: sh
      image: busybox:latest
      imagePullPolicy: Never
      command: ["sleep", "3600"]
EOF
    wait_for 60 "pod $1 Ready" pod_ready "$1"
}

# fetch POD URL TIMES: one request per line, with who answered; busybox
# wget -T misbehaves in some versions, so timeout(1) bounds each request
fetch() {
    local pod=$1 url=$2 i out
    echo "+ $SKIFF exec $pod -- timeout 2 wget -qO- $url   (x$3)"
    for i in $(seq 1 "$3"); do
        if out=$(timeout 10 "$SKIFF" exec "$pod" --kubeconfig "$DIR/admin.kubeconfig" \
            ${SERVER:+--server "$SERVER"} -- timeout 2 wget -qO- "$url" 2>&1); then
            printf '  %d: %s\n' "$i" "$out"
        else
            printf '  %d: (no answer: %s)\n' "$i" "$(tr '\n' ' ' <<<"$out" | cut -c1-80)"
        fi
    done
}

step "building a busybox image from Debian's busybox-static (scripts/busybox-image.sh)"
run scripts/busybox-image.sh "$W"

step "removing the cluster of a previous run, if any"
run "$SKIFF" down --dir "$DIR"

step "starting 3 nodes, each in its own network namespace"
run "$SKIFF" up --nodes 3 --dir "$DIR" --name "$NAME" --subnet "$SUBNET" --image "$W/busybox.tar"

step "the nodes and the Raft members"
run sk get nodes -o wide
run sk cluster status

step "deploying examples/web.yaml: 3 httpd replicas and a Service"
run sk apply -f examples/web.yaml
echo "waiting (up to 120 s) for 3 ready pods..."
deadline=$(( $(now) + 120 )) last=-1
until web_ready_is 3; do
    n=$(ready_web 2>/dev/null || echo 0)
    [ "$n" = "$last" ] || { echo "  $n of 3 ready"; last=$n; }
    [ "$(now)" -lt "$deadline" ] || { sk get pods -o wide; die "the web pods did not become ready"; }
    sleep 1
done
run sk get pods -o wide
run sk get service web
VIP=$(sk get service web -o json | jq -r .spec.clusterIP)

step "a client pod, and requests to the Service by name and by its ClusterIP $VIP"
client_pod client
run sk get pod client -o wide
fetch client http://web/ 6
fetch client "http://$VIP/" 6

step "killing the leader node's process with SIGKILL"
leader=$(sk cluster status -o json | jq -r .leader)
[ -n "$leader" ] && [ "$leader" != null ] || die "no leader"
pid=$(jq -r --arg n "$leader" '.nodes[] | select(.name == $n) | .pid' "$DIR/up.json")
[ -n "$pid" ] && [ "$pid" -gt 0 ] || die "no pid for $leader in $DIR/up.json"
run kill -KILL "$pid"
# from now on, talk to a surviving node
SERVER=$(jq -r --arg n "$leader" '[.nodes[] | select(.name != $n)][0].ip' "$DIR/up.json"):6443
echo "the admin kubeconfig points at node 1; using --server $SERVER from here on"

step "the new leader (the survivors elect one within a few seconds)"
new_leader() {
    local l
    l=$(sk cluster status -o json | jq -r '.leader // empty') || return 1
    [ -n "$l" ] && [ "$l" != "$leader" ]
}
t0=$(date +%s%N)
wait_for 30 "a new leader" new_leader
echo "new leader after $(( ($(date +%s%N) - t0) / 1000000 )) ms:"
run sk cluster status

step "the Service still answers from the surviving nodes' pods"
client=client
if [ "$(sk get pod client -o json | jq -r .spec.nodeName)" = "$leader" ]; then
    survivor=$(jq -r --arg n "$leader" '[.nodes[] | select(.name != $n)][0].name' "$DIR/up.json")
    echo "the client pod was on $leader: starting client2 on $survivor"
    client_pod client2 "$survivor"
    client=client2
fi
fetch "$client" http://web/ 6
echo "(a pod on the dead node stops getting requests once the node is marked"
echo " NotReady; the Deployment then replaces it on a live node)"
run sk get pods -o wide

step "done: the cluster stays up (the killed node stays down)"
cat <<EOF
Look around:
  export KUBECONFIG=$DIR/admin.kubeconfig
  $SKIFF get pods -o wide --server $SERVER
  $SKIFF cluster status --server $SERVER
  $SKIFF exec $client --server $SERVER -- wget -qO- http://web/
  kubectl get all --kubeconfig $DIR/admin.kubeconfig --server https://$SERVER
  node logs: $DIR/n1/skiff.log ... ; a node's network: ip netns exec $NAME-n2 ip addr
Remove everything:
  $SKIFF down --dir $DIR
EOF
