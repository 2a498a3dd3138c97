#!/usr/bin/env bash
# Acceptance 6: concurrent writers with a compare on resourceVersion: exactly
# one wins, the rest get 409 Conflict. Writers spread over all three nodes.
. "$(dirname "$0")/lib.sh"

start_init 1
start_join 2 1
wait_until 30 "node2 API up" api_is 200 2 GET /healthz
start_join 3 1
wait_until 30 "3 voters" role_count_is 1 voter 3

[ "$(api_code 1 POST /api/v1/namespaces/default/configmaps "$(cm_json reg k v0)")" = 201 ] \
    || fail "create reg"
for round in 1 2 3; do
    rv=$(api_body 1 GET /api/v1/namespaces/default/configmaps/reg | jq -r .metadata.resourceVersion)
    pids=()
    for w in $(seq 1 12); do
        n=$(( (w % 3) + 1 ))
        body=$(printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"reg","resourceVersion":"%s"},"data":{"k":"r%s-w%s"}}' "$rv" "$round" "$w")
        ( echo "$(api_code "$n" PUT /api/v1/namespaces/default/configmaps/reg "$body")" \
            >"$T_DIR/cas-$round-$w" ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    ok=$(cat "$T_DIR"/cas-$round-* | grep -c '^200$')
    conflict=$(cat "$T_DIR"/cas-$round-* | grep -c '^409$')
    log "round $round from rv $rv: $ok won, $conflict got 409"
    [ "$ok" = 1 ] || fail "round $round: $ok writers won (want exactly 1): $(cat "$T_DIR"/cas-$round-* | tr '\n' ' ')"
    [ "$conflict" = 11 ] || fail "round $round: $conflict conflicts (want 11)"
    # the winner's value is what every node reads
    v=$(api_body 1 GET /api/v1/namespaces/default/configmaps/reg | jq -r .data.k)
    for n in 2 3; do
        same() { [ "$(api_body "$n" GET /api/v1/namespaces/default/configmaps/reg | jq -r .data.k)" = "$v" ]; }
        wait_until 5 "node$n reads the winner $v" same
    done
done
log "ok"
