#!/usr/bin/env bash
# Bad input gets a clear error and changes nothing: malformed JSON, unknown
# fields, invalid names, a wrong bearer token, a full store. Nothing is
# stored on error and the node keeps serving.
. "$(dirname "$0")/lib.sh"

T_TUNING="--store-size-mb 4" start_init 1
rev() { status_json 1 | jq .revision; }
# the agent reports the node's capacity once at start: let that write land first
node_reported() { [ "$(api_body 1 GET /api/v1/nodes/node1 | jq -r '.status.capacity.pods // empty')" != "" ]; }
wait_until 20 "node1 reported its capacity" node_reported
r0=$(rev)

expect() { # code method path body [message-substring]
    local out code
    out=$(api 1 "$2" "$3" "${4:-}")
    code=$(tail -n 1 <<<"$out")
    [ "$code" = "$1" ] || fail "$2 $3: want HTTP $1, got $code: $(sed '$d' <<<"$out")"
    if [ -n "${5:-}" ]; then
        sed '$d' <<<"$out" | jq -r .message | grep -qF -- "$5" ||
            fail "$2 $3: message lacks \"$5\": $(sed '$d' <<<"$out")"
    fi
}
CM=/api/v1/namespaces/default/configmaps
expect 400 POST $CM '{"apiVersion":"v1","kind":"ConfigMap",' "invalid JSON"
expect 422 POST $CM '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}' "metadata.name"
expect 400 POST "$CM?fieldValidation=Strict" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"bogus":1}' "bogus"
expect 400 POST $CM '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"k":5}}' "data"
[ "$(rev)" = "$r0" ] || fail "revision moved on rejected writes: $r0 -> $(rev)"

# wrong bearer token: 401, nothing else said
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$(node_dir 1)/pki/ca.crt" \
    -H "Authorization: Bearer not-a-token" "https://127.0.0.1:$(api_port 1)$CM")
[ "$code" = 401 ] || fail "wrong token: HTTP $code"
grep -q "not-a-token" "$T_DIR/n1.log" && fail "a bearer token appeared in the log"

# fill the 4 MiB store with 200 KiB objects until it refuses; bounded loop
big=$(head -c 150000 /dev/zero | tr '\0' 'x')
n=0 full=""
for i in $(seq 1 60); do
    body=$(printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big-%d"},"data":{"v":"%s"}}' "$i" "$big")
    out=$(api 1 POST $CM "$body")
    code=$(tail -n 1 <<<"$out")
    if [ "$code" = 201 ]; then n=$((n + 1)); continue; fi
    full=$(sed '$d' <<<"$out")
    break
done
[ -n "$full" ] || fail "store never reported full after $n writes"
jq -r .message <<<"$full" | grep -q "store is full" || fail "unexpected refusal: $full"
[ "$(jq -r .code <<<"$full")" = 503 ] || fail "full store: want 503: $full"
log "store refused write $((n + 1)) with: $(jq -r .message <<<"$full")"
count=$(api_body 1 GET $CM | jq '.items | length')
[ "$count" = "$n" ] || fail "after refusal: $count objects stored, $n acknowledged"

# deletes still work, and the node still serves reads and health
code=$(api_code 1 DELETE $CM/big-1)
[ "$code" = 200 ] || fail "delete on a full store: HTTP $code"
api_is 200 1 GET /healthz || fail "healthz after full store"
log "ok"
