#!/usr/bin/env bash
# Acceptance 2: kill -9 of the leader. A write through a survivor succeeds
# within 3 s; every acknowledged write before and after is present on all
# survivors; the killed node restarts with `skiff run` and catches up.
. "$(dirname "$0")/lib.sh"

start_init 1
start_join 2 1
wait_until 30 "node2 API up" api_is 200 2 GET /healthz
start_join 3 1
wait_until 30 "3 voters" role_count_is 1 voter 3

acked=()
for i in $(seq 1 20); do
    code=$(api_code $(( (i % 3) + 1 )) POST /api/v1/namespaces/default/configmaps "$(cm_json before-$i k v$i)")
    [ "$code" = 201 ] || fail "write before-$i: HTTP $code"
    acked+=("before-$i")
done
log "20 writes acknowledged before the kill"

leader=$(leader_of 1)
[ -n "$leader" ] || fail "no leader"
ln=${leader#node}
log "killing leader $leader with SIGKILL"
kill9 "$ln"
survivors=()
for n in 1 2 3; do [ "$n" != "$ln" ] && survivors+=("$n"); done

# first successful write through a survivor, measured from the kill
start_ms=$(( $(date +%s%N) / 1000000 ))
deadline=$(( start_ms + 3000 ))
i=0
while true; do
    i=$((i + 1))
    code=$(api_code "${survivors[0]}" POST /api/v1/namespaces/default/configmaps "$(cm_json after-$i k v)")
    if [ "$code" = 201 ]; then acked+=("after-$i"); break; fi
    now=$(( $(date +%s%N) / 1000000 ))
    [ "$now" -lt "$deadline" ] || fail "no successful write within 3 s of the leader kill (last HTTP $code)"
    sleep 0.02
done
took=$(( $(( $(date +%s%N) / 1000000 )) - start_ms ))
log "first write after the kill succeeded after ${took} ms (new leader: $(leader_of "${survivors[0]}"))"

for i in $(seq 1 10); do
    n=${survivors[$(( i % 2 ))]}
    code=$(api_code "$n" POST /api/v1/namespaces/default/configmaps "$(cm_json later-$i k v$i)")
    [ "$code" = 201 ] || fail "write later-$i via node$n: HTTP $code"
    acked+=("later-$i")
done

has_all() { # n
    local names
    names=$(api_body "$1" GET /api/v1/namespaces/default/configmaps | jq -r '.items[].metadata.name')
    for a in "${acked[@]}"; do grep -qx "$a" <<<"$names" || { echo "node$1 lacks $a"; return 1; }; done
}
for n in "${survivors[@]}"; do
    wait_until 10 "node$n has every acknowledged write" has_all "$n"
done
log "all ${#acked[@]} acknowledged writes present on the survivors"

restart_node "$ln"
wait_until 30 "restarted node$ln serves" api_is 200 "$ln" GET /healthz
wait_until 30 "restarted node$ln caught up" has_all "$ln"
same_rev() {
    local a b; a=$(status_json "$ln" | jq .revision); b=$(status_json "${survivors[0]}" | jq .revision)
    [ -n "$a" ] && [ "$a" = "$b" ]
}
wait_until 15 "same revision on the restarted node" same_rev
wait_until 30 "3 voters again" role_count_is "${survivors[0]}" voter 3
log "ok"
