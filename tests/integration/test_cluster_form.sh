#!/usr/bin/env bash
# Acceptance 1: skiff init + two skiff join on loopback form a 3-voter
# cluster; a ConfigMap created through node 2 is read back from node 3 at once.
. "$(dirname "$0")/lib.sh"

start_init 1
start_join 2 1
wait_until 30 "node2 API up" api_is 200 2 GET /healthz
start_join 3 2   # join through a follower: proposals are forwarded
wait_until 30 "3 voters seen by node1" role_count_is 1 voter 3

for n in 1 2 3; do
    s=$(status_json "$n")
    [ "$(jq -r .leader <<<"$s")" = node1 ] || fail "node$n sees leader $(jq -r .leader <<<"$s")"
    [ "$(jq '.members | length' <<<"$s")" = 3 ] || fail "node$n sees $(jq '.members|length' <<<"$s") members"
done
log "3-voter cluster formed"

# written through node 2 (a follower), read at once from node 3
code=$(api_code 2 POST /api/v1/namespaces/default/configmaps "$(cm_json cfg1 k v1)")
[ "$code" = 201 ] || fail "create via node2: HTTP $code"
body=$(api_body 3 GET /api/v1/namespaces/default/configmaps/cfg1)
[ "$(jq -r .data.k <<<"$body")" = v1 ] || fail "node3 read: $body"
rv2=$(api_body 2 GET /api/v1/namespaces/default/configmaps/cfg1 | jq -r .metadata.resourceVersion)
rv3=$(jq -r .metadata.resourceVersion <<<"$body")
[ "$rv2" = "$rv3" ] || fail "resourceVersion differs: node2 $rv2 node3 $rv3"
log "read-your-writes across nodes ok (rv=$rv3)"

# nodes are registered as Node objects
names=$(api_body 3 GET /api/v1/nodes | jq -r '[.items[].metadata.name] | sort | join(",")')
[ "$names" = node1,node2,node3 ] || fail "nodes: $names"

# a clean SIGTERM stop exits 0 and leaves the cluster serving
stop_node 3 || fail "node3 exit status on SIGTERM"
code=$(api_code 1 POST /api/v1/namespaces/default/configmaps "$(cm_json cfg2 k v2)")
[ "$code" = 201 ] || fail "write with 2 of 3 voters: HTTP $code"
log "ok"
