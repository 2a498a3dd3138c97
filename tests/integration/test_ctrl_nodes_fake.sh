#!/usr/bin/env bash
# Acceptance (issue 6), fake runtime: node lifecycle and Endpoints.
# A ReplicaSet of 6 pods spread over 3 nodes, and a Service selecting them
# (named targetPort): its Endpoints lists 6 ready addresses. A non-leader
# node is killed: after --node-grace-ms its Ready condition is Unknown with
# the unreachable taints; after --pod-eviction-ms its pods get a
# deletionTimestamp and the ReplicaSet's replacements run on the other two
# nodes (Endpoints follow). Restarted, the node is Ready again, untainted,
# and its agent removes the stale pods. Scaling changes the Endpoints; a
# Service without selector keeps the user's Endpoints; deleting a Service
# deletes its Endpoints.
. "$(dirname "$0")/lib.sh"

T_TUNING="--fake-runtime --node-grace-ms 2000 --pod-eviction-ms 2000 --dead-voter-timeout-ms 60000"
start_init 1
start_join 2 1
start_join 3 1
wait_until 60 "3 voters" role_count_is 1 voter 3

NS=/api/v1/namespaces/default
RS=/apis/apps/v1/namespaces/default/replicasets
NODES=/api/v1/nodes

api_is 201 1 POST $RS '{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web"},"spec":{"replicas":6,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"name":"http","containerPort":8080}]}]}}}}' ||
    fail "create replicaset"
api_is 201 1 POST $NS/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":{"tier":"front"}},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http"}]}}' ||
    fail "create service"

pods() { api_body 1 GET "$NS/pods?labelSelector=app%3Dweb"; }
# active (not being deleted) Running pods, optionally excluding a node
running_count() {
    pods | jq --arg n "${1:-}" '[.items[] | select(.metadata.deletionTimestamp == null and
        .status.phase == "Running" and .spec.nodeName != $n)] | length'
}
running_count_is() { local c; c=$(running_count "${2:-}"); echo "running: $c"; [ "$c" = "$1" ]; }
wait_until 60 "6 pods Running" running_count_is 6

ep_ready() { # ready addresses of Endpoints web, optionally those on node $1
    api_body 1 GET "$NS/endpoints/web" |
        jq --arg n "${1:-}" '[.subsets[]?.addresses[]? | select($n == "" or .nodeName == $n)] | length'
}
ep_ready_is() { local c; c=$(ep_ready); echo "endpoints ready: $c"; [ "$c" = "$1" ]; }
wait_until 30 "Endpoints web: 6 ready addresses" ep_ready_is 6
ep=$(api_body 1 GET "$NS/endpoints/web")
[ "$(jq -r '.subsets[0].ports[0] | "\(.name) \(.port) \(.protocol)"' <<<"$ep")" = "http 8080 TCP" ] ||
    fail "endpoints port (named targetPort http -> 8080): $ep"
[ "$(jq -r '.subsets[0].addresses[0].targetRef.kind' <<<"$ep")" = Pod ] || fail "targetRef: $ep"
[ "$(jq -r '.metadata.labels.tier' <<<"$ep")" = front ] || fail "endpoints labels: $ep"
[ "$(jq '[.subsets[].addresses[] | select(.ip == null or .nodeName == null)] | length' <<<"$ep")" = 0 ] ||
    fail "address without ip/nodeName: $ep"
rv=$(jq -r .metadata.resourceVersion <<<"$ep")

# the victim: a non-leader node holding pods
L=$(leader_num 1) || fail "no leader"
V=""
for n in 1 2 3; do
    [ "$n" = "$L" ] && continue
    c=$(pods | jq --arg n "node$n" '[.items[] | select(.spec.nodeName == $n)] | length')
    if [ "$c" -gt 0 ]; then V=$n; break; fi
done
[ -n "$V" ] || fail "no non-leader node holds pods: $(pods | jq -c '[.items[].spec.nodeName]')"
on_victim=$(pods | jq --arg n "node$V" '[.items[] | select(.spec.nodeName == $n)] | length')
# a pod that tolerates unreachable:NoExecute without tolerationSeconds stays
api_is 201 1 POST $NS/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"stay","labels":{"app":"stay"}},"spec":{"nodeName":"node'"$V"'","tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"}],"containers":[{"name":"c","image":"busybox"}]}}' ||
    fail "create stay"
phase_is() { [ "$(api_body 1 GET "$NS/pods/$1" | jq -r .status.phase)" = "$2" ]; }
wait_until 20 "stay Running" phase_is stay Running
log "leader node$L; killing node$V, which runs $on_victim pods"
# unchanged pods: the Endpoints is not rewritten
[ "$(api_body 1 GET "$NS/endpoints/web" | jq -r .metadata.resourceVersion)" = "$rv" ] ||
    fail "endpoints rewritten without a change"
kill9 "$V"

ready_of() { api_body "$L" GET "$NODES/node$1" | jq -r '.status.conditions[] | select(.type == "Ready") | "\(.status) \(.reason)"'; }
ready_is() { local r; r=$(ready_of "$1"); echo "ready: $r"; [ "$r" = "$2" ]; }
wait_until 20 "node$V Ready Unknown" ready_is "$V" "Unknown NodeStatusUnknown"
node=$(api_body "$L" GET "$NODES/node$V")
[ "$(jq -r '.status.conditions[] | select(.type == "Ready") | .message' <<<"$node")" = \
    "Kubelet stopped posting node status." ] || fail "Ready message: $node"
taints=$(jq -c '[.spec.taints[]? | select(.key == "node.kubernetes.io/unreachable") | .effect] | sort' <<<"$node")
[ "$taints" = '["NoExecute","NoSchedule"]' ] || fail "unreachable taints: $node"
[ "$(jq -r '.spec.taints[] | select(.effect == "NoExecute") | .timeAdded' <<<"$node")" != null ] ||
    fail "NoExecute taint without timeAdded: $node"

victim_marked() { # every pod on the victim has a deletionTimestamp
    local p; p=$(api_body "$L" GET "$NS/pods?labelSelector=app%3Dweb")
    jq -e --arg n "node$V" '[.items[] | select(.spec.nodeName == $n and
        .metadata.deletionTimestamp == null)] | length == 0' <<<"$p"
}
wait_until 20 "pods on node$V marked for deletion" victim_marked
running_on_others() { # 6 active Running pods, none on the victim
    local p c; p=$(api_body "$L" GET "$NS/pods?labelSelector=app%3Dweb")
    c=$(jq --arg n "node$V" '[.items[] | select(.metadata.deletionTimestamp == null and
        .status.phase == "Running" and .spec.nodeName != $n)] | length' <<<"$p")
    echo "active on others: $c"
    [ "$c" = 6 ] && jq -e --arg n "node$V" '[.items[] | select(.metadata.deletionTimestamp == null and
        .spec.nodeName == $n)] | length == 0' <<<"$p"
}
wait_until 30 "6 replacements Running on the other nodes" running_on_others
[ "$(api_body "$L" GET "$NS/pods/stay" | jq -r '.metadata.deletionTimestamp // "none"')" = none ] ||
    fail "a pod tolerating unreachable:NoExecute forever was evicted"
[ "$(grep -c "node_not_ready node=node$V" "$T_DIR/n$L.log")" = 1 ] ||
    fail "NotReady not logged exactly once: $(grep "node_not_ready" "$T_DIR/n$L.log")"
ep_ready_on_victim_is_0() { [ "$(api_body "$L" GET "$NS/endpoints/web" |
    jq --arg n "node$V" '[.subsets[]?.addresses[]? | select(.nodeName == $n)] | length')" = 0 ]; }
wait_until 20 "Endpoints: no address on node$V" ep_ready_on_victim_is_0
ep_ready_at_is() { [ "$(api_body "$L" GET "$NS/endpoints/web" | jq '[.subsets[]?.addresses[]?] | length')" = "$1" ]; }
wait_until 20 "Endpoints: 6 ready addresses again" ep_ready_at_is 6

log "restarting node$V"
restart_node "$V"
wait_until 30 "node$V Ready again" ready_is "$V" "True KubeletReady"
untainted() { [ "$(api_body "$L" GET "$NODES/node$V" |
    jq '[.spec.taints[]? | select(.key == "node.kubernetes.io/unreachable")] | length')" = 0 ]; }
wait_until 10 "node$V untainted" untainted
stale_gone() { [ "$(api_body "$L" GET "$NS/pods?labelSelector=app%3Dweb" |
    jq --arg n "node$V" '[.items[] | select(.spec.nodeName == $n)] | length')" = 0 ]; }
wait_until 30 "stale pods on node$V removed by its agent" stale_gone
wait_until 10 "still 6 pods Running" running_count_is 6
[ "$(api_body "$L" GET "$NS/pods/stay" | jq -r '.spec.nodeName + " " + .status.phase')" = \
    "node$V Running" ] || fail "stay: $(api_body "$L" GET "$NS/pods/stay")"

# ---- Endpoints follow the pods ----
CT=application/merge-patch+json api_is 200 "$L" PATCH $RS/web '{"spec":{"replicas":4}}' ||
    fail "scale to 4"
ep_ready_is_at() { local c; c=$(api_body "$L" GET "$NS/endpoints/web" | jq '[.subsets[]?.addresses[]?] | length'); echo "ready: $c"; [ "$c" = "$1" ]; }
wait_until 30 "Endpoints: 4 ready addresses" ep_ready_is_at 4
CT=application/merge-patch+json api_is 200 "$L" PATCH $RS/web '{"spec":{"replicas":7}}' ||
    fail "scale to 7"
wait_until 30 "Endpoints: 7 ready addresses" ep_ready_is_at 7

# a Service without selector: the user's Endpoints stay as written
api_is 201 "$L" POST $NS/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"ext"},"spec":{"ports":[{"port":5432}]}}' ||
    fail "create selectorless service"
api_is 201 "$L" POST $NS/endpoints '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"ext"},"subsets":[{"addresses":[{"ip":"192.0.2.10"}],"ports":[{"port":5432}]}]}' ||
    fail "create user endpoints"

# deleting the Service deletes its Endpoints
api_is 200 "$L" DELETE $NS/services/web || fail "delete service"
wait_until 20 "Endpoints web deleted" api_is 404 "$L" GET "$NS/endpoints/web"
ext=$(api_body "$L" GET "$NS/endpoints/ext")
[ "$(jq -r '.subsets[0].addresses[0].ip' <<<"$ext")" = 192.0.2.10 ] ||
    fail "selectorless Service's Endpoints changed: $ext"
log "PASS"
