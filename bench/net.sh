#!/usr/bin/env bash
# bench/net.sh (root): the Service data path against the pod's own address,
# in one run, on a 2-node `skiff up` cluster (a network namespace per node):
# one busybox httpd pod on node 1, a ClusterIP Service over it, and the
# load generator (bench/loadgen.c, http-get mode: libcurl, closed loop; busybox
# httpd closes every connection) in the network namespace of a pod on node 2,
# asking first the pod IP, then the VIP (DNAT by node 2's nftables table,
# then routed to node 1), then the pod IP again. Then the rule-update cost for 1,000 Services x 10 endpoints
# (bench/svcrules_bench.c) in a namespace of its own.
#
#   bench/net.sh [--clients N] [--secs S] [--services N] [--endpoints M]
#
# Prints RESULT lines and a summary with the VIP/pod-IP ratios.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIENTS=8 SECS=10 NSVC=1000 NEP=10 MAXREQ=20000
while [ $# -gt 0 ]; do
    case "$1" in
    --clients) CLIENTS=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --services) NSVC=$2; shift 2 ;;
    --endpoints) NEP=$2; shift 2 ;;
    *) echo "usage: $0 [--clients N] [--secs S] [--services N] [--endpoints M]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "bench/net.sh: needs root" >&2; exit 2; }
SKIFF=${SKIFF:-$ROOT/skiff}
LOADGEN=${LOADGEN:-$ROOT/build/rel/bench/loadgen}
SVCB=${SVCRULES_BENCH:-$ROOT/build/rel/bench/svcrules_bench}
for b in "$SKIFF" "$LOADGEN" "$SVCB"; do
    [ -x "$b" ] || { echo "bench/net.sh: $b missing (make skiff build/rel/bench/loadgen build/rel/bench/svcrules_bench)" >&2; exit 2; }
done
W=$(mktemp -d /tmp/skiff-netbench.XXXXXX)
NAME=bn$(( $$ % 1000 ))
C=$W/c
cleanup() {
    "$SKIFF" down --dir "$C" >/dev/null 2>&1 || true
    ip netns del "$NAME-rules" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
sk() { "$SKIFF" "$@" --kubeconfig "$C/admin.kubeconfig"; }
until_ok() { # secs what cmd...
    local d=$(( $(date +%s) + $1 )) w=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$d" ] || { echo "bench/net.sh: timed out: $w" >&2; exit 1; }
        sleep 0.5
    done
}

echo "== building the image and a 2-node cluster" >&2
"$ROOT/scripts/busybox-image.sh" "$W/img" >/dev/null
"$SKIFF" up --nodes 2 --dir "$C" --name "$NAME" --subnet "10.249.$(( $$ % 250 )).0/24" \
    --image "$W/img/busybox.tar" >"$W/up.log" 2>&1 || { cat "$W/up.log" >&2; exit 1; }
server() { # name app-label: a busybox httpd pod on node 1
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $2}}
spec:
  nodeName: $NAME-n1
  containers:
  - name: httpd
    image: busybox:latest
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /www; echo hello > /www/index.html; exec httpd -f -p 80 -h /www']
    readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}
---
EOF
}
# one fresh server per run: the server side keeps every closed connection
# in TIME_WAIT, and a run against a server another run has just used
# stalls (1 s SYN retransmits) whichever path it takes
{ server direct1 direct; server web web; server direct2 direct; cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: $NAME-n2
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: Never
    command: [sleep, "3600"]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
EOF
} | sk apply -f - >/dev/null
ready() { sk get endpoints web -o json | jq -e '.subsets[0].addresses | length == 1'; }
until_ok 120 "the pod ready behind the Service" ready
running() { sk get pod "$1" -o json | jq -e '.status.phase == "Running" and .status.podIP != null'; }
for p in client direct1 direct2; do until_ok 120 "pod $p running" running "$p"; done
# the load generator runs in the client pod's own network namespace (the
# sandbox's bind-mounted netns file), so its traffic is pod traffic
CUID=$(sk get pod client -o json | jq -r .metadata.uid)
CNS=$C/n2/agent/sandboxes/$CUID/net
[ -e "$CNS" ] || { echo "bench/net.sh: no netns $CNS" >&2; exit 1; }
POD=$(sk get pod direct1 -o json | jq -r .status.podIP)
POD2=$(sk get pod direct2 -o json | jq -r .status.podIP)
VIP=$(sk get svc web -o json | jq -r .spec.clusterIP)
# busybox httpd closes every connection (no keep-alive), so each request is
# a new TCP connection. A source port used again while conntrack still
# holds the old connection in TIME_WAIT (120 s) costs a 1 s SYN
# retransmit: each run gets its own third of the port range and fewer
# requests than that third has ports.
RUNS=0
run() { # label url
    local r lo=$((1024 + RUNS * 21000))
    RUNS=$((RUNS + 1))
    nsenter --net="$CNS" sysctl -qw net.ipv4.ip_local_port_range="$lo $((lo + 20999))"
    r=$(nsenter --net="$CNS" "$LOADGEN" --mode http-get --url "$2" --clients "$CLIENTS" \
        --duration-s "$SECS" --max-requests "$MAXREQ" --timeout-ms 2000 | grep '^RESULT')
    echo "$1 $r"
}
echo "== $CLIENTS clients for ${SECS}s each, from a pod on node 2: pod $POD, VIP $VIP" >&2
A=$(run pod-ip "http://$POD/")
B=$(run vip "http://$VIP/")
C2=$(run pod-ip-again "http://$POD2/")
printf '%s\n%s\n%s\n' "$A" "$B" "$C2"
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
awk -v a="$(field "$A" rps)" -v b="$(field "$B" rps)" -v c="$(field "$C2" rps)" \
    -v pa="$(field "$A" p99_ms)" -v pb="$(field "$B" p99_ms)" -v pc="$(field "$C2" p99_ms)" \
    'BEGIN {printf "SUMMARY vip_rps/pod_rps=%.2f vip_p99/pod_p99=%.2f (pod-ip runs: %.0f and %.0f rps)\n",
            b / ((a + c) / 2), pb / ((pa + pc) / 2), a, c}'

echo "== rule update: $NSVC services x $NEP endpoints" >&2
ip netns add "$NAME-rules"
ip netns exec "$NAME-rules" "$SVCB" --services "$NSVC" --endpoints "$NEP" --updates 10
