#!/usr/bin/env bash
# tags: root, slow, netns
# The networking issue's acceptance on a real 3-node cluster made by
# `skiff up` (one network namespace per node on a bridge, real runc pods):
#  1. a pod on node 1 reaches a pod on node 2 by pod IP (routed through the
#     nodes' addresses: host-gateway routes the agents keep)
#  2. a Deployment of 3 httpd replicas + a NodePort Service: 60 requests
#     from a pod on another node to the VIP are answered by all 3; a pod
#     with the Service's label whose readiness fails gets none; scaled to 1,
#     within 2 s only that pod answers
#  3. the NodePort answers on every node's address (from the host); a
#     pod's hostPort answers on its node's address
#  4. a pod started after the Service has its variables; nslookup of the
#     Service's name from a pod gives the ClusterIP
#  5. the leader node's process killed with SIGKILL: the VIP keeps answering
#     from a surviving node's pod with no gap longer than 2 s, and the pods
#     of the dead node are replaced on live nodes
#  6. `skiff down` leaves no namespace, veth, bridge, route, nft table,
#     mount, cgroup or process behind
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (netns, runc)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci jq curl nft ip; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }
[ -x /usr/lib/cni/bridge ] || { echo "SKIP: containernetworking-plugins missing"; exit 0; }
. "$(dirname "$0")/lib.sh"

NAME=tun$(( $$ % 10000 ))
C=$T_DIR/cluster
SUB=10.$(( 200 + $$ % 40 )).$(( $$ % 250 )).0
KC=$C/admin.kubeconfig
SERVER=

t_cleanup() {
    # node logs are checked for sanitizer reports by lib.sh
    local k
    for k in 1 2 3; do cp "$C/n$k/skiff.log" "$T_DIR/n$k.log" 2>/dev/null; done
    "$SKIFF" down --dir "$C" >/dev/null 2>&1
}

sk() { "$SKIFF" "$@" --kubeconfig "$KC" ${SERVER:+--server "$SERVER"}; }
ex() { # POD CMD...
    local p=$1; shift
    timeout 30 "$SKIFF" exec "$p" --kubeconfig "$KC" ${SERVER:+--server "$SERVER"} -- "$@"
}
node_ip() { jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .ip' "$C/up.json"; }

W=$T_DIR/img
mkdir -p "$W"
log "building the busybox image"
busybox_image "$W"
log "skiff up: 3 nodes named $NAME-nK on $SUB/24"
"$SKIFF" up --nodes 3 --dir "$C" --name "$NAME" --subnet "$SUB/24" --image "$W/busybox.tar" \
    -- --node-grace-ms 2000 --pod-eviction-ms 2000 >"$T_DIR/up.log" 2>&1 ||
    { cat "$T_DIR/up.log"; fail "skiff up"; }
N1=$NAME-n1 N2=$NAME-n2 N3=$NAME-n3

pod() { # name node labels-app cmd [readiness-port]
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $3}}
spec:
  nodeName: $2
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: Never
    command: [sh, -c, '$4']
EOF
    [ -z "${5:-}" ] || cat <<EOF
    readinessProbe: {httpGet: {path: /, port: $5}, periodSeconds: 1}
EOF
}
HTTPD='mkdir -p /www; echo "hello from $(hostname)" > /www/index.html; exec httpd -f -p 80 -h /www'
ready() { sk get pod "$1" -o json | jq -e 'any(.status.conditions[]?; .type == "Ready" and .status == "True")'; }
pod_ip() { sk get pod "$1" -o json | jq -r '.status.podIP // empty'; }

# ---- 1. pod to pod across nodes ----
{ pod a "$N1" x "$HTTPD"; echo ---; pod b "$N2" x 'exec sleep 3600'; } | sk apply -f - >/dev/null ||
    fail "apply a, b"
wait_until 60 "pod a ready" ready a
wait_until 60 "pod b ready" ready b
IPA=$(pod_ip a)
out=$(ex b timeout 3 wget -qO- "http://$IPA/" 2>&1)
[ "$out" = "hello from a" ] || fail "b on $N2 -> a on $N1 ($IPA): $out"
log "1. pod b on $N2 reached pod a on $N1 at $IPA"

# ---- 2. Service over a Deployment ----
cat >"$T_DIR/web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web, role: server}}
  template:
    metadata: {labels: {app: web, role: server}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:latest
        imagePullPolicy: Never
        command: [sh, -c, 'mkdir -p /www; echo "hello from $(hostname)" > /www/index.html; exec httpd -f -p 80 -h /www']
        ports: [{name: http, containerPort: 80}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}  # a named port
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
EOF
sk apply -f "$T_DIR/web.yaml" >/dev/null || fail "apply web"
# a pod with the Service's label (not the Deployment's) that never gets ready
pod unready "$N3" web "$HTTPD" 81 | sk apply -f - >/dev/null || fail "apply unready"
web_ready() {
    [ "$(sk get pods -l app=web -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null) |
        select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')" = 3 ]
}
wait_until 120 "3 web pods ready" web_ready
sk get pods -o wide >"$T_DIR/pods.txt"
VIP=$(sk get svc web -o json | jq -r .spec.clusterIP)
NP=$(sk get svc web -o json | jq -r '.spec.ports[0].nodePort')
# the client: b on node 2 (another node for two of the three replicas at least)
answers() { # N: who answered N requests, sorted and counted, from inside b
    ex b sh -c "for i in \$(seq $1); do timeout 2 wget -qO- http://$VIP/ || echo FAIL; done" 2>/dev/null |
        sort | uniq -c | sort -rn
}
three() { [ "$(answers 30 | grep -c 'hello from web-')" = 3 ]; }
wait_until 20 "the VIP answered by 3 pods" three
res=$(answers 60)
echo "$res" | sed 's/^/    /'
[ "$(echo "$res" | grep -c 'hello from web-')" = 3 ] || fail "60 requests not answered by all 3 web pods"
! echo "$res" | grep -q 'unready\|FAIL' || fail "the unready pod or a failure answered: $res"
log "2. 60 requests to $VIP answered by all 3 replicas, none by the unready pod"

# ---- 3. NodePort on every node's address, from the host ----
for n in "$N1" "$N2" "$N3"; do
    ip=$(node_ip "$n")
    np_ok() { curl -s -m 2 "http://$1:$NP/" | grep -q 'hello from web-'; }
    wait_until 10 "NodePort $NP on $n ($ip)" np_ok "$ip"
done
log "3. NodePort $NP answers on the 3 node addresses"
cat <<EOF | sk apply -f - >/dev/null || fail "apply hp"
apiVersion: v1
kind: Pod
metadata: {name: hp}
spec:
  nodeName: $N3
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: Never
    command: [sh, -c, '$HTTPD']
    ports: [{containerPort: 80, hostPort: 8088}]
EOF
wait_until 60 "pod hp ready" ready hp
hp_ok() { [ "$(curl -s -m 2 "http://$(node_ip "$N3"):8088/")" = "hello from hp" ]; }
wait_until 10 "hostPort 8088 on $N3" hp_ok
log "   hostPort 8088 of pod hp answers on $N3's address"

# ---- 4. env and DNS ----
pod envp "$N1" x 'exec sleep 3600' | sk apply -f - >/dev/null
wait_until 60 "envp ready" ready envp
ex envp env | grep -qx "WEB_SERVICE_HOST=$VIP" || fail "WEB_SERVICE_HOST missing: $(ex envp env)"
ex envp env | grep -qx "WEB_PORT_80_TCP=tcp://$VIP:80" || fail "WEB_PORT_80_TCP missing"
out=$(ex envp nslookup web 2>&1)
echo "$out" | grep -q "$VIP" || fail "nslookup web: $out"
log "4. service variables and DNS ($VIP) in a pod"

# ---- 5. leader killed: the VIP keeps answering ----
leader=$(sk cluster status -o json | jq -r .leader)
[ -n "$leader" ] && [ "$leader" != null ] || fail "no leader"
client=b cnode=$N2
if [ "$leader" = "$N2" ]; then client=envp cnode=$N1; fi
# talk to the client's own node: the exec stream must not go through the
# node about to die
SERVER=$(node_ip "$cnode"):6443
log "5. leader is $leader; client $client keeps asking the VIP every 100 ms"
# one request per line with the time (from /proc/uptime, in ms)
ex "$client" sh -c "for i in \$(seq 120); do t=\$(cut -d' ' -f1 /proc/uptime); \
    r=\$(timeout 1 wget -qO- http://$VIP/ || echo FAIL); echo \"\$t \$r\"; sleep 0.1; done" \
    >"$T_DIR/during.txt" 2>&1 &
LOOP=$!
sleep_until() { [ "$(wc -l <"$T_DIR/during.txt")" -ge "$1" ]; }
wait_until 20 "the request loop running" sleep_until 10
pid=$(jq -r --arg n "$leader" '.nodes[] | select(.name == $n) | .pid' "$C/up.json")
kill -KILL "$pid"
wait "$LOOP"
gap=$(awk '$2 == "FAIL" {if (!s) s = $1; e = $1; next} {if (s && (e - s) > m) m = e - s; s = 0}
    END {if (s && (e - s) > m) m = e - s; printf "%d", (m + 1) * 1000}' "$T_DIR/during.txt")
fails=$(grep -c FAIL "$T_DIR/during.txt")
log "   $(wc -l <"$T_DIR/during.txt") requests, $fails failed, longest gap < $gap ms"
[ "$gap" -le 2000 ] || { cat "$T_DIR/during.txt"; fail "the VIP stopped answering for $gap ms"; }
replaced() {
    [ "$(sk get pods -l app=web -o json | jq --arg d "$leader" '[.items[] |
        select(.metadata.deletionTimestamp == null and .spec.nodeName != $d) |
        select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')" = 3 ]
}
wait_until 90 "3 ready web pods on live nodes" replaced
log "   the dead node's web pod was replaced on a live node"

# ---- 2b. scale to 1: within 2 s only that pod answers ----
sk scale deployment web --replicas 1 >/dev/null || fail "scale"
t0=$(date +%s%N)
one() {
    local r; r=$(ex "$client" sh -c "for i in 1 2 3 4 5 6; do timeout 1 wget -qO- http://$VIP/; done" 2>/dev/null |
        sort -u | grep -c hello)
    [ "$r" = 1 ]
}
wait_until 20 "only one pod answers" one
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
log "   scaled to 1: one pod answers after $dt ms"
[ "$dt" -le 4000 ] || fail "scale to 1 took $dt ms to show in the rules (want 2 s plus the probe loop)"

# ---- 6. skiff down leaves nothing ----
SERVER=
for k in 1 2 3; do cp "$C/n$k/skiff.log" "$T_DIR/n$k.log" 2>/dev/null; done
! grep -h svc_rules_diff_refused "$T_DIR"/n*.log || fail "nft refused an incremental rules update"
"$SKIFF" down --dir "$C" >"$T_DIR/down.log" 2>&1 || { cat "$T_DIR/down.log"; fail "skiff down"; }
left=$(
    ip netns list | grep "^$NAME-"
    ip -o link | grep "$NAME-"
    nft list tables | grep -E "skiff-$NAME|$NAME-up"
    grep "$C" /proc/self/mountinfo
    find /sys/fs/cgroup -maxdepth 2 -name "skiff-$NAME-*" 2>/dev/null
    pgrep -f "$C/n" 2>/dev/null
)
[ -z "$left" ] || fail "skiff down left: $left"
log "6. skiff down left nothing"
log "PASS"
