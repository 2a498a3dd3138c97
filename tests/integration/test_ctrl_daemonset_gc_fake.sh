#!/bin/bash
# DaemonSet controller, garbage collector and namespace finalization on
# nodes with the fake runtime (pods bound to a node turn Running/Ready):
#  a) a DaemonSet runs one pod per node, follows a joining node and a
#     nodeSelector, and rolls a template change within maxUnavailable 1;
#  b) deleting a ReplicaSet (Background) takes its pods; a Deployment deleted
#     in the Foreground goes after its ReplicaSet and pods; Orphan leaves the
#     ReplicaSet without its ownerReference;
#  c) deleting a Namespace empties it and then removes it; creating in it
#     while it is Terminating is refused (403).
source "$(dirname "$0")/lib.sh"
T_TUNING="--fake-runtime"

CT_MERGE=application/merge-patch+json
A=/apis/apps/v1/namespaces/default

# ---- helpers ----

ds_json() { # name [nodeSelector-json] [image]
    local sel=${2:-null} img=${3:-busybox:1}
    cat <<EOF
{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"$1"},
 "spec":{"selector":{"matchLabels":{"app":"$1"}},
  "template":{"metadata":{"labels":{"app":"$1"}},
   "spec":{"nodeSelector":$sel,"containers":[{"name":"c","image":"$img"}]}}}}
EOF
}

rs_json() { # name replicas
    cat <<EOF
{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"$1"},
 "spec":{"replicas":$2,"selector":{"matchLabels":{"app":"$1"}},
  "template":{"metadata":{"labels":{"app":"$1"}},
   "spec":{"containers":[{"name":"c","image":"busybox:1"}]}}}}
EOF
}

deploy_json() { # name replicas
    cat <<EOF
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"$1"},
 "spec":{"replicas":$2,"selector":{"matchLabels":{"app":"$1"}},
  "template":{"metadata":{"labels":{"app":"$1"}},
   "spec":{"containers":[{"name":"c","image":"busybox:1"}]}}}}
EOF
}

# live (not being deleted) pods labelled app=NAME in namespace NS, as JSON lines
live_pods() { # ns name
    api_body 1 GET "/api/v1/namespaces/$1/pods?labelSelector=app%3D$2" |
        jq -c '.items[] | select(.metadata.deletionTimestamp == null)'
}
pod_count_is() { # ns name n
    [ "$(live_pods "$1" "$2" | wc -l)" = "$3" ]
}
# every live pod Running and Ready, one per node, on exactly the given nodes
pods_on_nodes_are() { # name "node1 node2 ..."
    local got want
    got=$(live_pods default "$1" | jq -r 'select(.status.phase == "Running" and
        ([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length) == 1)
        | .spec.nodeName' | sort | tr '\n' ' ')
    want=$(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort | tr '\n' ' ')
    [ "$got" = "$want" ] && [ "$(live_pods default "$1" | wc -l)" = "$(wc -w <<<"$2")" ]
}
node_count_is() {
    [ "$(api_body 1 GET /api/v1/nodes | jq '.items | length')" = "$1" ]
}
ds_status_is() { # name jq-expr
    api_body 1 GET "$A/daemonsets/$1" | jq -e "$2" >/dev/null
}
gone() { # path
    api_is 404 1 GET "$1"
}

# ---- cluster ----

start_init 1
wait_until 30 "api up" api_is 200 1 GET /api/v1/namespaces/default
start_join 2 1
wait_until 30 "two nodes" node_count_is 2

# ---- a) DaemonSet ----

log "a) DaemonSet ds1 on 2 nodes"
api_is 201 1 POST "$A/daemonsets" "$(ds_json ds1)" || fail "create ds1"
wait_until 30 "ds1: one ready pod on each of node1 node2" pods_on_nodes_are ds1 "node1 node2"
wait_until 15 "ds1 status: 2 desired, 2 ready, observed" ds_status_is ds1 \
    '.status.desiredNumberScheduled == 2 and .status.currentNumberScheduled == 2 and
     .status.numberReady == 2 and .status.numberAvailable == 2 and
     .status.updatedNumberScheduled == 2 and .status.numberMisscheduled == 0 and
     .status.observedGeneration == .metadata.generation'
live_pods default ds1 | jq -e 'select((.metadata.labels["controller-revision-hash"] | length) > 0
    and .metadata.ownerReferences[0].kind == "DaemonSet" and .metadata.ownerReferences[0].controller
    and (.metadata.name | startswith("ds1-")))' >/dev/null || fail "ds1 pods: labels/owner/name"

log "a) a third node joins"
start_join 3 1
wait_until 30 "three nodes" node_count_is 3
wait_until 30 "ds1: a pod on node3 too" pods_on_nodes_are ds1 "node1 node2 node3"

log "a) ds2 with a nodeSelector matching node2 only"
CT=$CT_MERGE api_is 200 1 PATCH /api/v1/nodes/node2 '{"metadata":{"labels":{"role":"edge"}}}' ||
    fail "label node2"
api_is 201 1 POST "$A/daemonsets" "$(ds_json ds2 '{"role":"edge"}')" || fail "create ds2"
wait_until 30 "ds2: one pod, on node2" pods_on_nodes_are ds2 "node2"
wait_until 15 "ds2 status: 1 desired" ds_status_is ds2 \
    '.status.desiredNumberScheduled == 1 and .status.numberReady == 1'
pods_on_nodes_are ds2 "node2" || fail "ds2: more than the one pod on node2"
log "a) node2 loses the label: ds2's pod goes"
CT=$CT_MERGE api_is 200 1 PATCH /api/v1/nodes/node2 '{"metadata":{"labels":{"role":null}}}' ||
    fail "unlabel node2"
wait_until 30 "ds2: no pod left" pod_count_is default ds2 0
wait_until 15 "ds2 status: 0 desired" ds_status_is ds2 \
    '.status.desiredNumberScheduled == 0 and .status.currentNumberScheduled == 0'

log "a) ds1 template change rolls node by node (maxUnavailable 1)"
gen=$(api_body 1 GET "$A/daemonsets/ds1" | jq '.metadata.generation')
CT=$CT_MERGE api_is 200 1 PATCH "$A/daemonsets/ds1" \
    '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:2"}]}}}}' ||
    fail "patch ds1 template"
MIN_READY=99
rolled() { # tracks the fewest ready pods seen while the rollout runs
    local pods ready new
    pods=$(live_pods default ds1)
    ready=$(jq -s '[.[] | select(([.status.conditions[]? | select(.type == "Ready" and
        .status == "True")] | length) == 1)] | length' <<<"$pods")
    new=$(jq -s '[.[] | select(.spec.containers[0].image == "busybox:2")] | length' <<<"$pods")
    [ "$ready" -lt "$MIN_READY" ] && MIN_READY=$ready
    echo "ready=$ready new=$new min_ready=$MIN_READY" >"$T_DIR/roll"
    [ "$new" = 3 ] && [ "$ready" = 3 ] && pods_on_nodes_are ds1 "node1 node2 node3"
}
deadline=$(( $(date +%s) + 45 ))
until rolled; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "ds1 rollout did not finish: $(cat "$T_DIR/roll")"
    sleep 0.05
done
log "a) rollout done, fewest ready pods seen: $MIN_READY"
[ "$MIN_READY" -ge 2 ] || fail "rollout went below desired-1 ready pods (saw $MIN_READY)"
wait_until 15 "ds1 status: 3 updated, observed the new generation" ds_status_is ds1 \
    ".status.updatedNumberScheduled == 3 and .status.numberReady == 3 and
     .status.observedGeneration == $((gen + 1))"

log "a) ds3 with maxSurge 1, maxUnavailable 0: new pod beside the old one, never fewer ready"
ds3=$(ds_json ds3 | jq -c '.spec.updateStrategy = {"type":"RollingUpdate",
    "rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}')
api_is 201 1 POST "$A/daemonsets" "$ds3" || fail "create ds3"
wait_until 30 "ds3: one ready pod per node" pods_on_nodes_are ds3 "node1 node2 node3"
CT=$CT_MERGE api_is 200 1 PATCH "$A/daemonsets/ds3" \
    '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:2"}]}}}}' ||
    fail "patch ds3 template"
MIN_READY=99
MAX_PODS=0
surged() {
    local pods ready new n
    pods=$(live_pods default ds3)
    n=$(jq -s 'length' <<<"$pods")
    ready=$(jq -s '[.[] | select(([.status.conditions[]? | select(.type == "Ready" and
        .status == "True")] | length) == 1)] | length' <<<"$pods")
    new=$(jq -s '[.[] | select(.spec.containers[0].image == "busybox:2")] | length' <<<"$pods")
    [ "$ready" -lt "$MIN_READY" ] && MIN_READY=$ready
    [ "$n" -gt "$MAX_PODS" ] && MAX_PODS=$n
    echo "pods=$n ready=$ready new=$new" >"$T_DIR/roll"
    [ "$new" = 3 ] && [ "$n" = 3 ] && [ "$ready" = 3 ]
}
deadline=$(( $(date +%s) + 45 ))
until surged; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "ds3 rollout did not finish: $(cat "$T_DIR/roll")"
    sleep 0.05
done
log "a) surge rollout done, fewest ready $MIN_READY, most pods $MAX_PODS"
[ "$MIN_READY" -ge 3 ] || fail "surge rollout went below 3 ready pods (saw $MIN_READY)"
[ "$MAX_PODS" -le 4 ] || fail "surge rollout ran more than 4 pods at once (saw $MAX_PODS)"
api_is 200 1 DELETE "$A/daemonsets/ds3" || fail "delete ds3"

log "a) deleting ds1 takes its pods (garbage collector)"
api_is 200 1 DELETE "$A/daemonsets/ds1" || fail "delete ds1"
wait_until 30 "ds1 pods gone" pod_count_is default ds1 0

# ---- b) garbage collector ----

log "b) ReplicaSet deleted with propagationPolicy Background"
api_is 201 1 POST "$A/replicasets" "$(rs_json rs1 2)" || fail "create rs1"
wait_until 30 "rs1: 2 pods" pod_count_is default rs1 2
api_is 200 1 DELETE "$A/replicasets/rs1" '{"propagationPolicy":"Background"}' ||
    fail "delete rs1"
wait_until 30 "rs1's pods gone" pod_count_is default rs1 0

log "b) Deployment deleted with propagationPolicy Foreground"
api_is 201 1 POST "$A/deployments" "$(deploy_json dep1 2)" || fail "create dep1"
wait_until 30 "dep1: 2 pods" pod_count_is default dep1 2
rs_of() { api_body 1 GET "$A/replicasets?labelSelector=app%3D$1" | jq '.items | length'; }
[ "$(rs_of dep1)" -ge 1 ] || fail "dep1 has no ReplicaSet"
body=$(api_body 1 DELETE "$A/deployments/dep1" '{"propagationPolicy":"Foreground"}')
jq -e '.metadata.deletionTimestamp != null and
       (.metadata.finalizers | index("foregroundDeletion")) != null' <<<"$body" >/dev/null ||
    fail "dep1: no deletionTimestamp/foregroundDeletion after a Foreground delete: $body"
# the Deployment must outlive its ReplicaSets and pods
dep_gone_after_deps() {
    if api_is 200 1 GET "$A/deployments/dep1"; then return 1; fi
    local pods; pods=$(api_body 1 GET "/api/v1/namespaces/default/pods?labelSelector=app%3Ddep1" |
        jq '.items | length')
    if [ "$(rs_of dep1)" != 0 ] || [ "$pods" != 0 ]; then
        echo "dep1 gone before its dependents"
        return 2
    fi
}
deadline=$(( $(date +%s) + 30 ))
while true; do
    dep_gone_after_deps; rc=$?
    [ $rc = 0 ] && break
    [ $rc = 2 ] && fail "dep1 was removed while its ReplicaSet or pods still existed"
    [ "$(date +%s)" -lt "$deadline" ] || fail "dep1 not deleted in the foreground in 30s"
    sleep 0.05
done

log "b) Deployment deleted with propagationPolicy Orphan"
api_is 201 1 POST "$A/deployments" "$(deploy_json dep2 1)" || fail "create dep2"
wait_until 30 "dep2: 1 pod" pod_count_is default dep2 1
rs2=$(api_body 1 GET "$A/replicasets?labelSelector=app%3Ddep2" | jq -r '.items[0].metadata.name')
api_is 200 1 DELETE "$A/deployments/dep2" '{"propagationPolicy":"Orphan"}' || fail "delete dep2"
wait_until 30 "dep2 gone" gone "$A/deployments/dep2"
no_owner() { api_body 1 GET "$A/replicasets/$1" | jq -e '(.metadata.ownerReferences // []) == []'; }
wait_until 15 "orphaned $rs2 has no ownerReferences" no_owner "$rs2"
# it stays: its pods too
pod_count_is default dep2 1 || fail "the orphaned ReplicaSet's pod went away"
api_is 200 1 GET "$A/replicasets/$rs2" || fail "orphaned ReplicaSet $rs2 was deleted"

log "b) a ConfigMap owned by a Deployment, orphaned: keeps its data, labels and annotations"
# (the leader caches ConfigMaps without data; its update must start from the stored object)
api_is 201 1 POST "$A/deployments" "$(deploy_json dep3 0)" || fail "create dep3"
dep3_uid=$(api_body 1 GET "$A/deployments/dep3" | jq -r '.metadata.uid')
api_is 201 1 POST /api/v1/namespaces/default/configmaps "$(printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owned","labels":{"l":"1"},"annotations":{"a":"2"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"dep3","uid":"%s"}]},"data":{"k":"precious"}}' "$dep3_uid")" ||
    fail "create the owned ConfigMap"
api_is 200 1 DELETE "$A/deployments/dep3" '{"propagationPolicy":"Orphan"}' || fail "delete dep3"
cm_orphaned() {
    api_body 1 GET /api/v1/namespaces/default/configmaps/owned |
        jq -e '(.metadata.ownerReferences // []) == []'
}
wait_until 15 "the ConfigMap is orphaned" cm_orphaned
api_body 1 GET /api/v1/namespaces/default/configmaps/owned |
    jq -e '.data.k == "precious" and .metadata.labels.l == "1" and .metadata.annotations.a == "2"' \
        >/dev/null || fail "the orphaned ConfigMap lost data, labels or annotations"

log "b) a Secret owned by a plain ConfigMap lives while it does and goes with it"
# (the leader does not cache plain ConfigMaps: the owner is found in the store)
api_is 201 1 POST /api/v1/namespaces/default/configmaps "$(cm_json owner-cm k v)" ||
    fail "create owner-cm"
owner_uid=$(api_body 1 GET /api/v1/namespaces/default/configmaps/owner-cm | jq -r '.metadata.uid')
secret_json() { # name owner-uid
    printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner-cm","uid":"%s"}]},"stringData":{"k":"v"}}' "$1" "$2"
}
api_is 201 1 POST /api/v1/namespaces/default/secrets "$(secret_json owned-secret "$owner_uid")" ||
    fail "create owned-secret"
# a dependent of an owner that does not exist goes: once it has, the GC has
# looked at the Secret created before it too
api_is 201 1 POST /api/v1/namespaces/default/secrets "$(secret_json dangling-secret 00000000-dead)" ||
    fail "create dangling-secret"
wait_until 15 "the dangling Secret is collected" gone /api/v1/namespaces/default/secrets/dangling-secret
api_is 200 1 GET /api/v1/namespaces/default/secrets/owned-secret ||
    fail "the Secret owned by an existing ConfigMap was collected"
api_is 200 1 DELETE /api/v1/namespaces/default/configmaps/owner-cm || fail "delete owner-cm"
wait_until 15 "the owned Secret goes with its ConfigMap" gone /api/v1/namespaces/default/secrets/owned-secret

# ---- c) namespace finalization ----

ns_content() { # ns: number of objects of every namespaced kind in it
    local n=0 p c
    for p in /api/v1/namespaces/$1/{pods,configmaps,secrets,services,endpoints} \
        /apis/apps/v1/namespaces/$1/{deployments,replicasets,daemonsets} \
        /apis/batch/v1/namespaces/$1/{jobs,cronjobs} \
        /apis/coordination.k8s.io/v1/namespaces/$1/leases; do
        c=$(api_body 1 GET "$p" | jq '.items | length') || return 1
        n=$((n + c))
    done
    echo "$n"
}
ns_empty() { [ "$(ns_content "$1")" = 0 ]; }

log "c) namespace team with a Deployment and a ConfigMap"
ns_json() { # name [metadata.finalizers-json]
    printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s","finalizers":%s}}' \
        "$1" "${2:-null}"
}
api_is 201 1 POST /api/v1/namespaces "$(ns_json team)" ||
    fail "create ns team"
api_is 201 1 POST /apis/apps/v1/namespaces/team/deployments "$(deploy_json web 2)" ||
    fail "create team/web"
api_is 201 1 POST /api/v1/namespaces/team/configmaps "$(cm_json cfg k v)" || fail "create team/cfg"
wait_until 30 "team/web: 2 pods" pod_count_is team web 2
body=$(api_body 1 DELETE /api/v1/namespaces/team)
if jq -e '.metadata.deletionTimestamp != null' <<<"$body" >/dev/null; then
    jq -e '.status.phase == "Terminating"' <<<"$body" >/dev/null || fail "team not Terminating"
    code=$(api_code 1 POST /api/v1/namespaces/team/configmaps "$(cm_json late k v)")
    # the namespace may already be gone (404); while it exists a create is refused
    [ "$code" = 403 ] || [ "$code" = 404 ] || fail "create in Terminating namespace: $code"
else
    # the API removed the Namespace at once (it ignores spec.finalizers):
    # the collector still removes what was left in it
    log "c) note: the API deleted namespace team without Terminating"
fi
wait_until 30 "namespace team emptied" ns_empty team
wait_until 15 "namespace team gone" gone /api/v1/namespaces/team

log "c) namespace team2 held by a finalizer of its own: Terminating, 403, emptied, then gone"
api_is 201 1 POST /api/v1/namespaces "$(ns_json team2 '["example.com/hold"]')" ||
    fail "create ns team2"
api_is 201 1 POST /apis/apps/v1/namespaces/team2/deployments "$(deploy_json web 1)" ||
    fail "create team2/web"
api_is 201 1 POST /api/v1/namespaces/team2/configmaps "$(cm_json cfg k v)" ||
    fail "create team2/cfg"
wait_until 30 "team2/web: 1 pod" pod_count_is team2 web 1
body=$(api_body 1 DELETE /api/v1/namespaces/team2)
jq -e '.metadata.deletionTimestamp != null and .status.phase == "Terminating"' <<<"$body" \
    >/dev/null || fail "team2 not Terminating: $body"
code=$(api_code 1 POST /api/v1/namespaces/team2/configmaps "$(cm_json late k v)")
[ "$code" = 403 ] || fail "create in Terminating namespace team2: want 403, got $code"
wait_until 30 "namespace team2 emptied" ns_empty team2
spec_fin_clear() {
    api_body 1 GET "/api/v1/namespaces/$1" |
        jq -e '(.spec.finalizers // []) | index("kubernetes") == null'
}
wait_until 15 "team2: spec.finalizers no longer holds kubernetes" spec_fin_clear team2
api_body 1 GET /api/v1/namespaces/team2 | jq -e '.status.phase == "Terminating"' >/dev/null ||
    fail "team2 should stay Terminating while example.com/hold is there"
CT=$CT_MERGE api_is 200 1 PATCH /api/v1/namespaces/team2 '{"metadata":{"finalizers":null}}' ||
    fail "remove team2's finalizer"
wait_until 15 "namespace team2 gone" gone /api/v1/namespaces/team2

log "PASS"
