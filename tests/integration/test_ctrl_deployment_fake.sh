#!/usr/bin/env bash
# The Deployment controller on 3 nodes with the fake runtime (tag: slow).
#  a) a Deployment of 6 becomes 6/6 ready; scaled to 10, then to 2.
#  b) an image change rolls within maxSurge 1 / maxUnavailable 1 at every
#     observed step; rollout status, history (2 revisions) and undo (back to
#     the old image as revision 3).
#  c) kill -9 of the leader in the middle of a rollout of 20: the new leader
#     finishes it, never more than replicas + maxSurge active pods, no pod
#     bound twice, no orphan ReplicaSet, the old one cleaned up
#     (revisionHistoryLimit 0).
. "$(dirname "$0")/lib.sh"

T_TUNING="--fake-runtime"
NS=default
DEPS=/apis/apps/v1/namespaces/$NS/deployments
RSS=/apis/apps/v1/namespaces/$NS/replicasets
PODS=/api/v1/namespaces/$NS/pods

start_init 1
start_join 2 1
wait_until 30 "node2 API up" api_is 200 2 GET /healthz
start_join 3 1
wait_until 30 "3 voters" role_count_is 1 voter 3
nodes_ready() {
    [ "$(api_body 1 GET /api/v1/nodes | jq '[.items[] | select(any(.status.conditions[]?;
        .type == "Ready" and .status == "True"))] | length')" = 3 ]
}
wait_until 30 "3 nodes Ready" nodes_ready

# deployment_json NAME REPLICAS IMAGE SURGE UNAVAIL [EXTRA_SPEC_JSON]
deployment_json() {
    local extra=${6:-}
    [ -n "$extra" ] || extra='{}'
    jq -cn --arg n "$1" --argjson r "$2" --arg img "$3" --argjson s "$4" --argjson u "$5" \
        --argjson extra "$extra" '{apiVersion: "apps/v1", kind: "Deployment",
        metadata: {name: $n},
        spec: ({replicas: $r, selector: {matchLabels: {app: $n}},
            strategy: {type: "RollingUpdate", rollingUpdate: {maxSurge: $s, maxUnavailable: $u}},
            template: {metadata: {labels: {app: $n}},
                spec: {containers: [{name: "app", image: $img}]}}} + $extra)}'
}

# pod_summary N APP: "ACTIVE READY ACTIVE_WITH_IMAGE_COUNTS" as JSON
# {active, ready, images: {image: active count}, bound: [[name, node]]}
pod_summary() {
    local b
    b=$(api_body "$1" GET "$PODS?labelSelector=app%3D$2") || return 1
    jq -ce '[.items[] | select(.metadata.deletionTimestamp == null and
            .status.phase != "Succeeded" and .status.phase != "Failed")] as $a |
        {active: ($a | length),
         ready: ([$a[] | select(any(.status.conditions[]?; .type == "Ready" and
            .status == "True"))] | length),
         images: ([$a[] | .spec.containers[0].image] | group_by(.) |
            map({key: .[0], value: length}) | from_entries),
         bound: [.items[] | select((.spec.nodeName // "") != "") |
            [.metadata.name, .spec.nodeName]]}' <<<"$b"
}

deploy_get() { api_body "$1" GET "$DEPS/$2"; }

# deploy_status_is N NAME REPLICAS: status fully rolled out at REPLICAS
deploy_status_is() {
    deploy_get "$1" "$2" | jq -e --argjson r "$3" '.status.observedGeneration ==
        .metadata.generation and (.status.replicas // 0) == $r and
        (.status.updatedReplicas // 0) == $r and (.status.readyReplicas // 0) == $r and
        (.status.availableReplicas // 0) == $r and
        any(.status.conditions[]?; .type == "Available" and .status == "True")'
}

# pods_are N APP COUNT IMAGE: exactly COUNT active pods, all ready, all on IMAGE
pods_are() {
    pod_summary "$1" "$2" | jq -e --argjson c "$3" --arg img "$4" \
        '.active == $c and .ready == $c and (.images[$img] // 0) == $c'
}

# ---- a) create, scale up, scale down ----
# minReadySeconds 1 spreads the rollout over several seconds: the fake
# runtime makes pods ready at once, too fast to observe the steps otherwise
api_is 201 1 POST "$DEPS" "$(deployment_json web 6 nginx:1.0 1 1 '{"minReadySeconds":1}')" ||
    fail "create web"
wait_until 30 "web: 6 pods ready" pods_are 1 web 6 nginx:1.0
wait_until 15 "web: status 6/6" deploy_status_is 1 web 6
rs=$(api_body 1 GET "$RSS?labelSelector=app%3Dweb")
uid=$(deploy_get 1 web | jq -r .metadata.uid)
jq -e --arg uid "$uid" '.items | length == 1 and (.[0] |
    (.metadata.labels["pod-template-hash"] // "") as $h | $h != "" and
    .metadata.name == "web-\($h)" and .spec.selector.matchLabels["pod-template-hash"] == $h and
    .spec.template.metadata.labels["pod-template-hash"] == $h and
    .metadata.annotations["deployment.kubernetes.io/revision"] == "1" and
    .metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "6" and
    .metadata.annotations["deployment.kubernetes.io/max-replicas"] == "7" and
    any(.metadata.ownerReferences[]; .uid == $uid and .controller == true))' <<<"$rs" \
    >/dev/null || fail "web's ReplicaSet is not as kube writes it: $rs"
log "a) web: 6/6 ready, ReplicaSet $(jq -r '.items[0].metadata.name' <<<"$rs")"

skiff_cli scale deployment/web --replicas=10 >/dev/null || fail "scale to 10"
wait_until 30 "web: 10 pods ready" pods_are 1 web 10 nginx:1.0
wait_until 15 "web: status 10/10" deploy_status_is 1 web 10
log "a) web scaled to 10"
skiff_cli scale deployment/web --replicas=2 >/dev/null || fail "scale to 2"
wait_until 30 "web: 2 pods" pods_are 1 web 2 nginx:1.0
wait_until 15 "web: status 2/2" deploy_status_is 1 web 2
log "a) web scaled to 2"
skiff_cli scale deployment/web --replicas=6 >/dev/null || fail "scale to 6"
wait_until 30 "web: 6 pods ready again" pods_are 1 web 6 nginx:1.0
wait_until 15 "web: status 6/6 again" deploy_status_is 1 web 6

# ---- b) rolling update within the fenceposts ----
# watch_rollout N APP REPLICAS MAX_ACTIVE MIN_READY IMAGE SECONDS: polls every
# 100 ms until REPLICAS ready pods run IMAGE and the status agrees; fails at
# the first observation beyond the bounds. Also remembers each pod's first
# node (FIRST_NODE) and fails when one changes.
declare -A FIRST_NODE=()
OBS=0 MAX_SEEN=0 MIN_SEEN=999999
watch_rollout() {
    local n=$1 app=$2 r=$3 max_active=$4 min_ready=$5 img=$6 secs=$7 s a rd
    local deadline=$(( $(date +%s) + secs ))
    while :; do
        if s=$(pod_summary "$n" "$app" 2>/dev/null); then
            OBS=$((OBS + 1))
            a=$(jq .active <<<"$s"); rd=$(jq .ready <<<"$s")
            [ "$a" -le "$MAX_SEEN" ] || MAX_SEEN=$a
            [ "$rd" -ge "$MIN_SEEN" ] || MIN_SEEN=$rd
            [ "$a" -le "$max_active" ] || fail "$app: $a active pods > $max_active: $s"
            [ "$rd" -ge "$min_ready" ] || fail "$app: $rd ready pods < $min_ready: $s"
            while read -r pod node; do
                [ -n "$pod" ] || continue
                if [ -z "${FIRST_NODE[$pod]:-}" ]; then
                    FIRST_NODE[$pod]=$node
                elif [ "${FIRST_NODE[$pod]}" != "$node" ]; then
                    fail "pod $pod bound twice: ${FIRST_NODE[$pod]} then $node"
                fi
            done < <(jq -r '.bound[] | "\(.[0]) \(.[1])"' <<<"$s")
            if jq -e --argjson c "$r" --arg img "$img" \
                '.active == $c and .ready == $c and (.images[$img] // 0) == $c' <<<"$s" \
                >/dev/null && deploy_status_is "$n" "$app" "$r" >/dev/null 2>&1; then
                return 0
            fi
            [ -n "${ON_OBSERVE:-}" ] && "$ON_OBSERVE" "$s"
        fi
        [ "$(date +%s)" -lt "$deadline" ] || fail "$app: rollout to $img not done in ${secs}s: $s"
        sleep 0.1
    done
}

CT=application/strategic-merge-patch+json api_is 200 1 PATCH "$DEPS/web" \
    '{"metadata":{"annotations":{"kubernetes.io/change-cause":"image 2.0"}},
      "spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:2.0"}]}}}}' ||
    fail "patch web's image"
OBS=0 MAX_SEEN=0 MIN_SEEN=999999
watch_rollout 1 web 6 7 5 nginx:2.0 30
log "b) web rolled to nginx:2.0 within surge 1 / unavailable 1 ($OBS observations, active <= $MAX_SEEN, ready >= $MIN_SEEN)"
out=$(skiff_cli rollout status deployment/web --timeout 20s) || fail "rollout status: $out"
grep -q 'deployment "web" successfully rolled out' <<<"$out" || fail "rollout status said: $out"
hist=$(skiff_cli rollout history deployment/web) || fail "rollout history: $hist"
[ "$(grep -cE '^[0-9]+ ' <<<"$hist")" = 2 ] || fail "history lacks 2 revisions: $hist"
grep -qE '^REVISION +CHANGE-CAUSE$' <<<"$hist" || fail "history header: $hist"
grep -qE '^1 +<none>$' <<<"$hist" || fail "history revision 1: $hist"
grep -qE '^2 +image 2.0$' <<<"$hist" || fail "history revision 2: $hist"
log "b) rollout status and history (2 revisions) as kubectl prints them"

out=$(skiff_cli rollout undo deployment/web) || fail "rollout undo: $out"
grep -q 'deployment.apps/web rolled back' <<<"$out" || fail "undo said: $out"
OBS=0 MAX_SEEN=0 MIN_SEEN=999999
watch_rollout 1 web 6 7 5 nginx:1.0 30
log "b) undo: web back on nginx:1.0 ($OBS observations, active <= $MAX_SEEN, ready >= $MIN_SEEN)"
rev_is_3() {
    deploy_get 1 web | jq -e '.metadata.annotations["deployment.kubernetes.io/revision"] == "3"'
}
wait_until 10 "web at revision 3" rev_is_3
rs=$(api_body 1 GET "$RSS?labelSelector=app%3Dweb")
jq -e '[.items[] | select(.spec.template.spec.containers[0].image == "nginx:1.0")] |
    length == 1 and (.[0].metadata.annotations["deployment.kubernetes.io/revision"] == "3") and
    (.[0].metadata.annotations["deployment.kubernetes.io/revision-history"] == "1") and
    (.[0].spec.replicas == 6)' <<<"$rs" >/dev/null || fail "old ReplicaSet not revision 3: $rs"
hist=$(skiff_cli rollout history deployment/web) || fail "rollout history: $hist"
grep -qE '^2 +image 2.0$' <<<"$hist" && grep -qE '^3 +' <<<"$hist" &&
    ! grep -qE '^1 ' <<<"$hist" || fail "history after undo: $hist"
out=$(skiff_cli rollout undo deployment/web --to-revision 7 2>&1) &&
    fail "undo to a missing revision succeeded: $out"
grep -q 'unable to find specified revision 7' <<<"$out" || fail "undo --to-revision 7: $out"
log "b) undo made the old template revision 3"

# ---- c) kill -9 of the leader mid-rollout ----
api_is 201 1 POST "$DEPS" \
    "$(deployment_json big 20 app:v1 1 0 '{"minReadySeconds":1,"revisionHistoryLimit":0}')" ||
    fail "create big"
wait_until 60 "big: 20 pods ready" pods_are 1 big 20 app:v1
wait_until 20 "big: status 20/20" deploy_status_is 1 big 20
big_uid=$(deploy_get 1 big | jq -r .metadata.uid)
log "c) big: 20/20 ready"

leader=$(leader_num 1) || fail "no leader"
survivor=$(( leader % 3 + 1 ))
KILLED=0
# kill the leader once the rollout is well under way (called by watch_rollout)
kill_midway() {
    local upd l
    if [ "$KILLED" = 1 ]; then
        # once the survivors have a new leader, the killed node comes back
        # (pods the scheduler put there before it noticed need its agent)
        l=$(leader_of "$survivor" 2>/dev/null)
        if [ -n "$l" ] && [ "$l" != "node$leader" ]; then
            log "c) new leader $l: restarting node$leader"
            restart_node "$leader"
            KILLED=2
        fi
        return 0
    fi
    [ "$KILLED" = 0 ] || return 0
    upd=$(jq '.images["app:v2"] // 0' <<<"$1")
    [ "$upd" -ge 4 ] || return 0
    [ "$upd" -le 16 ] || fail "big: rollout too far ($upd of 20) before the kill"
    log "c) $upd of 20 updated: kill -9 of leader node$leader"
    kill9 "$leader"
    KILLED=1
}
CT=application/strategic-merge-patch+json api_is 200 1 PATCH "$DEPS/big" \
    '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:v2"}]}}}}' ||
    fail "patch big's image"
OBS=0 MAX_SEEN=0 MIN_SEEN=999999
ON_OBSERVE=kill_midway watch_rollout "$survivor" big 20 21 0 app:v2 40
[ "$KILLED" != 0 ] || fail "big: the rollout finished before the leader could be killed"
log "c) big finished after the kill ($OBS observations, active <= $MAX_SEEN); new leader: $(leader_of "$survivor")"
if [ "$KILLED" = 1 ]; then
    restart_node "$leader"
fi
wait_until 30 "node$leader back" api_is 200 "$leader" GET /healthz

# no orphan ReplicaSet: all of big's are controlled by it; only the new one
# is left (revisionHistoryLimit 0)
rs_clean() {
    api_body "$survivor" GET "$RSS?labelSelector=app%3Dbig" | jq -e --arg uid "$big_uid" \
        '(.items | length) == 1 and all(.items[]; any(.metadata.ownerReferences[]?;
            .uid == $uid and .controller == true)) and
         .items[0].spec.template.spec.containers[0].image == "app:v2"'
}
wait_until 20 "big: one ReplicaSet left, owned by big" rs_clean
orphans=$(api_body "$survivor" GET "$RSS" | jq '[.items[] |
    select(all(.metadata.ownerReferences[]?; .controller != true))] | length')
[ "$orphans" = 0 ] || fail "$orphans ReplicaSets without a controller"
log "c) PASS: surge bound held, no pod bound twice (${#FIRST_NODE[@]} pods), no orphans"
log "PASS test_ctrl_deployment_fake"
