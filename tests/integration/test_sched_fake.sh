#!/usr/bin/env bash
# Acceptance (issue 6), fake runtime: the scheduler against nodes of
# different sizes (--capacity). 30 pods with requests all get a node, and no
# node holds more than its allocatable; a pod bigger than every node stays
# Pending with PodScheduled=False and kube-scheduler's message, and lands on
# a bigger node once one joins; nodeSelector and taints steer pods.
. "$(dirname "$0")/lib.sh"

# --capacity is validated: the error names the bad part, nothing is created
bad_capacity() { # value expected-substring
    local out rc
    out=$("$SKIFF" init --data-dir "$T_DIR/bad" --capacity "$1" 2>&1); rc=$?
    [ "$rc" = 2 ] || fail "--capacity $1: exit $rc, want 2: $out"
    grep -qF -- "$2" <<<"$out" || fail "--capacity $1: message lacks \"$2\": $out"
    [ ! -e "$T_DIR/bad" ] || fail "--capacity $1: left $T_DIR/bad behind"
}
bad_capacity "gpu=1" '"gpu": unknown resource'
bad_capacity "cpu=2,memory=4Qi" 'memory="4Qi"'
bad_capacity "cpu=two" 'cpu="two"'
bad_capacity "pods=1.5" 'pods="1.5": want a whole number'
bad_capacity "cpu=0" 'must be positive'
bad_capacity "cpu=1,cpu=2" '"cpu": given twice'
bad_capacity "memory" '"memory": want KEY=QUANTITY'

T_BASE_TUNING="--fake-runtime"
T_TUNING="$T_BASE_TUNING --capacity cpu=1,memory=1Gi,pods=110" start_init 1
T_TUNING="$T_BASE_TUNING --capacity cpu=2,memory=2Gi,pods=110" start_join 2 1
T_TUNING="$T_BASE_TUNING --capacity cpu=4,memory=4Gi,pods=110" start_join 3 1
wait_until 60 "3 voters" role_count_is 1 voter 3

PODS=/api/v1/namespaces/default/pods
NODES=/api/v1/nodes

# node_cpu_is N CPU: predicate; nodeN reports that cpu capacity and allocatable
node_cpu_is() {
    local b; b=$(api_body 1 GET "$NODES/node$1") || return 1
    [ "$(jq -r '.status.capacity.cpu + "/" + .status.allocatable.cpu' <<<"$b")" = "$2/$2" ]
}
for n in 1 2 3; do
    wait_until 30 "node$n reports its --capacity" node_cpu_is "$n" "$(( 1 << (n - 1) ))"
done
[ "$(jq -r .capacity "$(node_dir 2)/node.json")" = cpu=2,memory=2Gi,pods=110 ] ||
    fail "node.json capacity: $(cat "$(node_dir 2)/node.json")"
b=$(api_body 1 GET "$NODES/node2")
[ "$(jq -r .status.capacity.memory <<<"$b")" = 2Gi ] || fail "node2 memory: $b"
[ "$(jq -r .status.allocatable.pods <<<"$b")" = 110 ] || fail "node2 pods: $b"

pod_json() { # name cpu memory [extra spec json]
    printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":{"app":"load"}},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"%s","memory":"%s"}}}]%s}}' \
        "$1" "$2" "$3" "${4:+,$4}"
}

log "creating 30 pods of 200m / 128Mi"
for i in $(seq 1 30); do
    api_is 201 1 POST $PODS "$(pod_json "load-$i" 200m 128Mi)" || fail "create load-$i"
done

bound_count() { api_body 1 GET "$PODS?labelSelector=app%3Dload" | jq '[.items[] | select(.spec.nodeName != null)] | length'; }
bound_count_is() { [ "$(bound_count)" = "$1" ]; }
wait_until 60 "30 pods scheduled" bound_count_is 30

running_count_is() {
    [ "$(api_body 1 GET "$PODS?labelSelector=app%3Dload" | jq '[.items[] | select(.status.phase == "Running")] | length')" = "$1" ]
}
wait_until 60 "30 pods Running (fake runtime)" running_count_is 30

# per node: requests summed (in m and Mi) against what the node reports
pods=$(api_body 1 GET "$PODS?labelSelector=app%3Dload")
for n in 1 2 3; do
    cnt=$(jq --arg n "node$n" '[.items[] | select(.spec.nodeName == $n)] | length' <<<"$pods")
    cpu_m=$(( cnt * 200 )); mem_mi=$(( cnt * 128 ))
    cap_m=$(( (1 << (n - 1)) * 1000 )); cap_mi=$(( (1 << (n - 1)) * 1024 ))
    log "node$n: $cnt pods, ${cpu_m}m of ${cap_m}m cpu, ${mem_mi}Mi of ${cap_mi}Mi memory"
    [ "$cpu_m" -le "$cap_m" ] || fail "node$n overcommitted on cpu: ${cpu_m}m > ${cap_m}m"
    [ "$mem_mi" -le "$cap_mi" ] || fail "node$n overcommitted on memory: ${mem_mi}Mi > ${cap_mi}Mi"
done

# ---- too big for every node ----
api_is 201 1 POST $PODS "$(pod_json big 8 128Mi)" || fail "create big"
unsched_msg() {
    api_body 1 GET "$PODS/$1" |
        jq -r '.status.conditions[]? | select(.type == "PodScheduled" and .status == "False") | .reason + ": " + .message'
}
unsched_has() { local m; m=$(unsched_msg "$1"); echo "seen: $m"; grep -qF -- "$2" <<<"$m"; }
wait_until 30 "big: PodScheduled False, 3 Insufficient cpu" unsched_has big \
    "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."
[ "$(api_body 1 GET "$PODS/big" | jq -r '.spec.nodeName // "none"')" = none ] || fail "big got a node"
[ "$(api_body 1 GET "$PODS/big" | jq -r .status.phase)" = Pending ] || fail "big not Pending"
log "big: $(unsched_msg big)"

# ---- nodeSelector: a label no node has, then one node's hostname ----
api_is 201 1 POST $PODS "$(pod_json picky 100m 64Mi '"nodeSelector":{"disk":"ssd"}')" ||
    fail "create picky"
wait_until 30 "picky: node affinity/selector message" unsched_has picky \
    "didn't match Pod's node affinity/selector"
api_is 201 1 POST $PODS "$(pod_json pinned 100m 64Mi '"nodeSelector":{"kubernetes.io/hostname":"node2"}')" ||
    fail "create pinned"
node_of_is() { [ "$(api_body 1 GET "$PODS/$1" | jq -r '.spec.nodeName // empty')" = "$2" ]; }
wait_until 30 "pinned on node2" node_of_is pinned node2

# ---- a 4th, bigger node joins: big lands there; a taint keeps others off ----
T_TUNING="$T_BASE_TUNING --capacity cpu=16,memory=32Gi,pods=110" start_join 4 1
wait_until 60 "big scheduled on node4" node_of_is big node4
phase_is() { [ "$(api_body 1 GET "$PODS/$1" | jq -r .status.phase)" = "$2" ]; }
wait_until 30 "big Running on node4" phase_is big Running

CT=application/merge-patch+json api_is 200 1 PATCH "$NODES/node4" \
    '{"spec":{"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]}}' ||
    fail "taint node4"
api_is 201 1 POST $PODS "$(pod_json big2 8 128Mi)" || fail "create big2"
wait_until 30 "big2: untolerated taint message" unsched_has big2 \
    "1 node(s) had untolerated taint {dedicated: gpu}"
api_is 201 1 POST $PODS "$(pod_json big3 6 128Mi \
    '"tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}]')" ||
    fail "create big3"
wait_until 30 "big3 (tolerates the taint) on node4" node_of_is big3 node4
log "PASS"
