#!/usr/bin/env bash
# tags: root, slow
# Resource metrics (issue 9, acceptance 2): a 2-node cluster on runc with
# --metrics-period-ms 1000; a pod burning CPU (requests.cpu 100m, no limit)
# on node1 and a sleeping one on node2. Through the follower's API:
#  - `kubectl top pods` shows the burning pod above 200m within 30 s, and
#    the sleeping one; `kubectl top nodes` lists both nodes;
#  - the raw metrics.k8s.io answers parse (NodeMetricsList, PodMetricsList,
#    one PodMetrics, labelSelector), a missing pod or node gives 404;
#  - a node's raw snapshot (/skiff/v1/node-metrics) has the pod's uid;
#  - a node that is down is left out with a Warning, the rest still answers.
# Everything made is removed at the end.
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (runc, mounts, cgroups)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci jq curl kubectl; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }

. "$(dirname "$0")/lib.sh"

NS=/api/v1/namespaces/default
M=/apis/metrics.k8s.io/v1beta1
t_cleanup() {
    local id root
    for root in "$(node_dir 1)/agent/runc" "$(node_dir 2)/agent/runc"; do
        for id in $(runc --root "$root" list -q 2>/dev/null); do
            runc --root "$root" delete -f "$id" >/dev/null 2>&1
        done
    done
    awk -v d="$T_DIR" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
}

W=$T_DIR/img
mkdir -p "$W"
log "building the busybox image"
busybox_image "$W"

# loopback-only pod sandboxes: the test needs no pod network
export T_TUNING="--metrics-period-ms 1000 --no-pod-network"
T_RUNTIME=runc start_init 1
T_RUNTIME=runc start_join 2 1
wait_until 30 "node2 joined" test -e "$(node_dir 2)/initialized"
for n in 1 2; do
    out=$("$SKIFF" image import "$W/busybox.tar" --ref busybox:1.36 --data-dir "$(node_dir $n)" 2>&1) ||
        fail "skiff image import on node$n: $out"
done
wait_until 20 "api up" api_is 200 1 GET "$NS"
wait_until 20 "node2 api up" api_is 200 2 GET "$NS"

pod() { # name node command
    printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":{"app":"%s"}},"spec":{"terminationGracePeriodSeconds":1,"nodeSelector":{"kubernetes.io/hostname":"%s"},"containers":[{"name":"main","image":"busybox:1.36","imagePullPolicy":"Never","command":["sh","-c","%s"],"resources":{"requests":{"cpu":"100m"}}}]}}' "$1" "$1" "$2" "$3"
}
phase_is() { [ "$(api_body 1 GET "$NS/pods/$1" | jq -r .status.phase)" = "$2" ]; }
api_is 201 1 POST "$NS/pods" "$(pod burn node1 'while :; do :; done')" || fail "create pod burn"
api_is 201 1 POST "$NS/pods" "$(pod idle node2 'exec sleep 1000')" || fail "create pod idle"
wait_until 60 "pod burn Running" phase_is burn Running
wait_until 60 "pod idle Running" phase_is idle Running
UID_BURN=$(api_body 1 GET "$NS/pods/burn" | jq -r .metadata.uid)

# the follower: whichever node does not lead
L=$(leader_num 1) || fail "no leader"
F=$(( L == 1 ? 2 : 1 ))
log "leader node$L, asking node$F"
KCFG=$T_DIR/follower.kubeconfig
sed "s#https://[^ ]*:$(api_port 1)#https://127.0.0.1:$(api_port $F)#" \
    "$(node_dir 1)/admin.kubeconfig" >"$KCFG"
grep -q ":$(api_port $F)" "$KCFG" || fail "could not point the kubeconfig at node$F"
k() { kubectl --kubeconfig "$KCFG" --cache-dir "$T_DIR/kcache" --request-timeout=10s "$@"; }

# ---- kubectl top ----
millicores() { # kubectl top pods output, pod -> CPU in m
    awk -v p="$1" '$1 == p {v = $2; if (v ~ /m$/) {sub(/m$/, "", v); print v} else print v * 1000}'
}
burning() {
    local out v
    out=$(k top pods 2>&1) || return 1
    v=$(millicores burn <<<"$out")
    [ -n "$v" ] && [ "$v" -gt 200 ] && grep -q '^idle ' <<<"$out"
}
wait_until 30 "kubectl top pods shows burn > 200m and idle" burning
log "kubectl top pods:"; k top pods
both_nodes() {
    local out
    out=$(k top nodes 2>&1) || return 1
    grep -q '^node1 ' <<<"$out" && grep -q '^node2 ' <<<"$out"
}
wait_until 30 "kubectl top nodes lists node1 and node2" both_nodes
log "kubectl top nodes:"; k top nodes
out=$(k top pods -l app=burn 2>&1) || fail "top pods -l: $out"
grep -q '^burn ' <<<"$out" && ! grep -q '^idle ' <<<"$out" || fail "top pods -l app=burn: $out"
out=$(k top pod burn --containers 2>&1) || fail "top pod burn --containers: $out"
grep -q '^burn  *main ' <<<"$out" || fail "top pod burn --containers: $out"
out=$(k top pod nosuchpod 2>&1) && fail "top pod nosuchpod succeeded: $out"
grep -qi 'not found' <<<"$out" || fail "top pod nosuchpod: $out"

# ---- raw metrics.k8s.io ----
body=$(api_body $F GET "$M/nodes") || fail "GET nodes"
[ "$(jq -r .kind <<<"$body")" = NodeMetricsList ] || fail "nodes: $body"
[ "$(jq -r '[.items[].metadata.name] | sort | join(",")' <<<"$body")" = node1,node2 ] ||
    fail "nodes: $(jq -c . <<<"$body")"
jq -e '.items[0].usage.cpu | test("^[0-9]+[num]?$")' <<<"$body" >/dev/null || fail "cpu: $body"
jq -e '.items[0].usage.memory | test("^[0-9]+(Ki|Mi|Gi)?$")' <<<"$body" >/dev/null || fail "memory: $body"
body=$(api_body $F GET "$M/namespaces/default/pods/burn") || fail "GET pod burn"
[ "$(jq -r .kind <<<"$body")" = PodMetrics ] || fail "pod: $body"
[ "$(jq -r '.containers[0].name' <<<"$body")" = main ] || fail "pod: $body"
jq -e '.window | test("s$")' <<<"$body" >/dev/null || fail "window: $body"
jq -e '.timestamp | test("Z$")' <<<"$body" >/dev/null || fail "timestamp: $body"
body=$(api_body $F GET "$M/pods?labelSelector=app%3Didle") || fail "GET pods selector"
[ "$(jq -r '[.items[].metadata.name] | join(",")' <<<"$body")" = idle ] || fail "selector: $body"
[ "$(jq -r '.items[0].metadata.namespace' <<<"$body")" = default ] || fail "selector: $body"
api_is 404 $F GET "$M/namespaces/default/pods/nosuchpod" || fail "missing pod: not 404"
api_is 404 $F GET "$M/nodes/nosuchnode" || fail "missing node: not 404"
api_is 200 $F GET "$M" || fail "group version discovery"
k api-resources --api-group=metrics.k8s.io 2>&1 | grep -q '^pods ' || fail "discovery: no pods"
body=$(api_body 1 GET /skiff/v1/node-metrics)
jq -e --arg u "$UID_BURN" '.pods[$u].containers.main.cpu > 0' <<<"$body" >/dev/null ||
    fail "node1 snapshot has no burn: $body"

# ---- clean up the pods while both nodes are up (deletes need a quorum) ----
for p in burn idle; do api_is 200 1 DELETE "$NS/pods/$p" || fail "delete $p"; done
gone() { api_is 404 1 GET "$NS/pods/$1"; }
for p in burn idle; do wait_until 30 "pod $p gone" gone $p; done

# ---- a node down: left out with a Warning, the other still answers ----
stop_node 2
hdrs=$T_DIR/hdrs
curl -sS --max-time 10 --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    -D "$hdrs" -o "$T_DIR/nodes.json" "https://127.0.0.1:$(api_port 1)$M/nodes" || fail "nodes, node2 down"
grep -qi '^warning: 299 - "metrics: node node2 left out' "$hdrs" || fail "no warning: $(cat "$hdrs")"
[ "$(jq -r '[.items[].metadata.name] | join(",")' "$T_DIR/nodes.json")" = node1 ] ||
    fail "nodes with node2 down: $(cat "$T_DIR/nodes.json")"
log "metrics: kubectl top pods/nodes through node$F, raw API, 404s, a node down left out"
