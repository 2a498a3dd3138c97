#!/usr/bin/env bash
# tags: root, slow
# The pod network through the real daemon on runc, two nodes on loopback
# sharing the host's network namespace (each node has its own bridge, so
# their pods reach each other directly; the routed case with a network
# namespace per node is test_up_network.sh):
#  1. the leader gives each node a pod CIDR from the cluster CIDR (--cluster-cidr
#     10.77.0.0/16 here), the agent makes its bridge, and pods get an IP from
#     it in status.podIP, reachable from the host and from a pod on the
#     other node
#  2. a ClusterIP Service over 2 httpd pods: a client pod's requests to the
#     VIP are answered by both; scaled to 1, within 2 s only that one
#     answers; the Service's name resolves through the cluster DNS
#     (busybox nslookup from a pod), and a pod started after the Service has
#     WEB_SERVICE_HOST / WEB_PORT_80_TCP_ADDR in its environment
#  3. the NodePort is in the node's rules (answering on a node address is
#     test_up_network.sh's: loopback is never DNATed off the host)
#  4. deleting the pods releases their IP leases (host-local files) and
#     veths
#  5. `skiff reset` of a stopped node whose pod still runs removes the
#     container, its masquerade rule, the node's table, bridge, mounts,
#     cgroups and data dir
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (runc, mounts, netns)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci jq curl nft ip; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }
[ -x /usr/lib/cni/bridge ] || { echo "SKIP: containernetworking-plugins missing"; exit 0; }

export T_RUNTIME=runc
export T_TUNING="--cluster-cidr 10.77.0.0/16"
. "$(dirname "$0")/lib.sh"

kc() { "$SKIFF" "$@" --kubeconfig "$(node_dir 1)/admin.kubeconfig"; }

t_cleanup() {
    # the nodes are stopped: skiff reset undoes what each made (containers,
    # CNI attachments and masquerade rules, mounts, cgroups, table, bridge)
    local n
    for n in 1 2; do
        [ -d "$(node_dir "$n")" ] || continue
        "$SKIFF" reset --data-dir "$(node_dir "$n")" --keep-data >/dev/null 2>&1 ||
            echo "t_cleanup: skiff reset of node$n failed"
    done
}

# the node's bridge name: "skb" + FNV-1a of the node name (agent/nodenet.c)
bridge_of() {
    local name=$1 h=2166136261 i c
    for ((i = 0; i < ${#name}; i++)); do
        printf -v c '%d' "'${name:i:1}"
        h=$(( ((h ^ c) * 16777619) & 0xffffffff ))
    done
    printf 'skb%08x' "$h"
}

W=$T_DIR/img
mkdir -p "$W"
log "building the busybox image"
busybox_image "$W"

start_init 1
start_join 2 1
nodes_ready() { [ "$(kc get nodes -o json 2>/dev/null | jq '[.items[] | select(.spec.podCIDR != null)] | length')" = 2 ]; }
wait_until 60 "2 nodes with a pod CIDR" nodes_ready
for n in 1 2; do
    "$SKIFF" image import "$W/busybox.tar" --ref busybox:latest --data-dir "$(node_dir "$n")" \
        >/dev/null || fail "image import into node$n"
done
CIDRS=$(kc get nodes -o json | jq -r '[.items[].spec.podCIDR] | sort | join(" ")')
log "pod CIDRs: $CIDRS"
case "$CIDRS" in "10.77.0.0/24 10.77.1.0/24") ;; *) fail "pod CIDRs $CIDRS" ;; esac

pod_yaml() { # name node cmd
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: ${4:-none}}}
spec:
  nodeName: $2
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: Never
    command: [sh, -c, '$3']
EOF
}
HTTPD='mkdir -p /www; echo "hello from $(hostname)" > /www/index.html; exec httpd -f -p 80 -h /www'
{
    pod_yaml web1 node1 "$HTTPD" web
    echo ---
    pod_yaml web2 node2 "$HTTPD" web
    echo ---
    pod_yaml client node2 'exec sleep 3600'
} >"$T_DIR/pods.yaml"
kc apply -f "$T_DIR/pods.yaml" >/dev/null || fail "apply pods"
pod_ip() { kc get pod "$1" -o json | jq -r '.status.podIP // empty'; }
running_with_ip() { [ "$(kc get pod "$1" -o json | jq -r '.status.phase')" = Running ] && [ -n "$(pod_ip "$1")" ]; }
for p in web1 web2 client; do wait_until 60 "$p running with an IP" running_with_ip "$p"; done
IP1=$(pod_ip web1) IP2=$(pod_ip web2) IPC=$(pod_ip client)
log "pod IPs: web1=$IP1 web2=$IP2 client=$IPC"
case "$IP1" in 10.77.0.*) ;; *) fail "web1 ($IP1) not from node1's CIDR" ;; esac
case "$IP2" in 10.77.1.*) ;; *) fail "web2 ($IP2) not from node2's CIDR" ;; esac

# 1. reachability: host -> pods, pod on node2 -> pod on node1
[ "$(curl -s -m 3 "http://$IP1/")" = "hello from web1" ] || fail "host cannot reach web1"
[ "$(curl -s -m 3 "http://$IP2/")" = "hello from web2" ] || fail "host cannot reach web2"
cexec() { # pod cmd...: runc exec in the pod's container (skiff exec may not exist yet)
    local uid n; uid=$(kc get pod "$1" -o json | jq -r .metadata.uid)
    n=$(kc get pod "$1" -o json | jq -r .spec.nodeName); n=${n#node}
    shift
    runc --root "$(node_dir "$n")/agent/runc" exec "${uid}_c" "$@"
}
out=$(cexec client timeout 3 wget -q -O - "http://$IP1/" 2>&1)
[ "$out" = "hello from web1" ] || fail "client on node2 -> web1 on node1: $out"
log "1. pod IPs from the node CIDRs, reachable across nodes"

# 2. ClusterIP service
cat >"$T_DIR/svc.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  type: NodePort
  ports: [{port: 80, targetPort: 80, name: http}]
EOF
kc apply -f "$T_DIR/svc.yaml" >/dev/null || fail "apply service"
VIP=$(kc get svc web -o json | jq -r .spec.clusterIP)
NP=$(kc get svc web -o json | jq -r '.spec.ports[0].nodePort')
answers() { # n: distinct answers of n requests from the client pod to the VIP
    local i
    for ((i = 0; i < $1; i++)); do cexec client timeout 2 wget -q -O - "http://$VIP/" 2>/dev/null; echo; done |
        grep hello | sort -u | tr '\n' ' '
}
both() { [ "$(answers 20)" = "hello from web1 hello from web2 " ]; }
wait_until 20 "VIP $VIP answered by both pods" both
log "2. ClusterIP $VIP answered by web1 and web2"
kc delete pod web2 >/dev/null
t0=$(date +%s%N)
only1() { [ "$(answers 10)" = "hello from web1 " ]; }
wait_until 10 "only web1 answers" only1
log "   after web2's delete only web1 answers ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
out=$(cexec client nslookup web.default.svc.cluster.local 2>&1)
echo "$out" | grep -q "$VIP" || fail "nslookup of the service: $out"
out=$(cexec client nslookup web 2>&1)
echo "$out" | grep -q "$VIP" || fail "nslookup web (search path): $out"
log "   DNS: web and web.default.svc.cluster.local resolve to $VIP"
pod_yaml envpod node1 'env; exec sleep 3600' >"$T_DIR/env.yaml"
kc apply -f "$T_DIR/env.yaml" >/dev/null
wait_until 60 "envpod running" running_with_ip envpod
env_has() { cexec envpod env | grep -qx "$1"; }
env_has "WEB_SERVICE_HOST=$VIP" || fail "WEB_SERVICE_HOST missing: $(cexec envpod env)"
env_has "WEB_SERVICE_PORT=80" || fail "WEB_SERVICE_PORT missing"
env_has "WEB_SERVICE_PORT_HTTP=80" || fail "WEB_SERVICE_PORT_HTTP missing"
env_has "WEB_PORT_80_TCP_ADDR=$VIP" || fail "WEB_PORT_80_TCP_ADDR missing"
env_has "WEB_PORT=tcp://$VIP:80" || fail "WEB_PORT missing"
log "   a pod started after the Service has its environment variables"

# 3. NodePort: in the nft table on the node's address (127.0.0.1 here, which
# the kernel does not DNAT off the host: test_up_network.sh asks a real one)
nft list table ip skiff-node1 | grep -q "$NP" || fail "NodePort $NP not in node1's rules"
log "3. NodePort $NP in the rules"

# 3b. a ConfigMap volume follows the object (the agent re-projects it)
cat <<EOF | kc apply -f - >/dev/null || fail "apply cm pod"
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {color: blue, size: large}
---
apiVersion: v1
kind: Pod
metadata: {name: cmpod}
spec:
  nodeName: node1
  terminationGracePeriodSeconds: 1
  volumes: [{name: conf, configMap: {name: conf}}]
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: Never
    command: [sleep, "3600"]
    volumeMounts: [{name: conf, mountPath: /etc/conf}]
EOF
wait_until 60 "cmpod running" running_with_ip cmpod
[ "$(cexec cmpod cat /etc/conf/color)" = blue ] || fail "configmap volume: $(cexec cmpod cat /etc/conf/color)"
kc apply -f - >/dev/null <<'EOF' || fail "update cm"
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {color: green}
EOF
t0=$(date +%s%N)
green() { [ "$(cexec cmpod cat /etc/conf/color)" = green ] && ! cexec cmpod test -e /etc/conf/size; }
wait_until 10 "the volume shows the new ConfigMap" green
log "3b. ConfigMap volume updated in the running pod after $(( ($(date +%s%N) - t0) / 1000000 )) ms (changed key, removed key)"
kc delete pod cmpod >/dev/null

# 4. leases and veths go with the pods
leases() { find "$(node_dir "$1")/agent/cni/ipam" -type f -name '10.77.*' 2>/dev/null | wc -l; }
kc delete pod web1 client envpod >/dev/null
gone() { [ "$(kc get pods -o json | jq '.items | length')" = 0 ]; }
wait_until 60 "pods gone" gone
[ "$(leases 1)" = 0 ] || fail "node1 kept IP leases: $(find "$(node_dir 1)/agent/cni/ipam" -type f)"
[ "$(leases 2)" = 0 ] || fail "node2 kept IP leases"
for n in 1 2; do
    br=$(bridge_of "node$n")
    [ -z "$(ip -o link show master "$br" 2>/dev/null)" ] || fail "veths left on $br"
done
log "4. no lease or veth left after the pods' deletion"

# 5. skiff reset of a stopped node with a running pod undoes its network too
pod_yaml last node2 'exec sleep 3600' | kc apply -f - >/dev/null
wait_until 60 "pod last running" running_with_ip last
IPL=$(pod_ip last)
stop_node 2
"$SKIFF" reset --data-dir "$(node_dir 2)" >"$T_DIR/reset.log" 2>&1 || { cat "$T_DIR/reset.log"; fail "skiff reset"; }
left=$(
    find "$(node_dir 2)" 2>/dev/null # first: runc list would make its root dir
    runc --root "$(node_dir 2)/agent/runc" list -q 2>/dev/null
    iptables -t nat -S 2>/dev/null | grep -- "-s $IPL/32"
    nft list tables | grep -w "skiff-node2"
    ip -o link show "$(bridge_of node2)" 2>/dev/null
    grep " $(node_dir 2)" /proc/self/mountinfo
    find /sys/fs/cgroup -maxdepth 2 -name skiff-node2 2>/dev/null
)
rm -rf "$(node_dir 2)"
[ -z "$left" ] || { cat "$T_DIR/reset.log"; fail "skiff reset left: $left"; }
log "5. skiff reset of node2 (a pod running) left no container, masquerade rule, table, bridge, mount, cgroup or dir"
# every rules update went in as an incremental script (nft never refused one)
! grep -h svc_rules_diff_refused "$T_DIR"/n*.log || fail "nft refused an incremental rules update"
log "PASS"
