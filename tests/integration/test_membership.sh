#!/usr/bin/env bash
# tags: slow
# Acceptance: membership follows liveness. Five nodes make five voters. When
# a non-leader voter is killed (-9), the leader demotes it to spare after
# --dead-voter-timeout-ms and, with four live nodes, shrinks to three voters
# (one live voter becomes a standby); writes keep working. When the dead node
# comes back it is promoted again: five voters. A sixth node makes a standby.
. "$(dirname "$0")/lib.sh"

# every node gets a short dead-voter timeout (persisted in node.json, so it
# survives 'skiff run')
T_TUNING="--dead-voter-timeout-ms 3000"

start_init 1
for n in 2 3 4 5; do
    start_join "$n" 1
done
wait_until 60 "5 voters, all reachable, seen by node1" status_matches 1 \
    '([.members[] | select(.role == "voter" and .reachable)] | length) == 5'
log "5-voter cluster formed"

L=$(leader_num 1) || fail "no leader after forming"
victim=
for n in 5 4 3 2; do
    [ "$n" != "$L" ] && { victim=$n; break; }
done
log "leader node$L; killing voter node$victim with SIGKILL"
kill9 "$victim"

# With 4 live nodes the target is 3 voters: the dead one goes to spare, one
# live voter steps down to standby. All judged from the leader's status.
reconciled_after_kill() {
    status_matches "$L" '
        ([.members[] | select(.role == "voter")] | length) == 3 and
        ([.members[] | select(.role == "standby")] | length) == 1 and
        ([.members[] | select(.role == "spare")] | length) == 1 and
        (.members[] | select(.name == $dead) | .role == "spare" and .reachable == false) and
        ([.members[] | select(.name != $dead) | .reachable] | all) and
        (.leader == $leader)' --arg dead "node$victim" --arg leader "node$L"
}
wait_until 30 "leader node$L: node$victim spare+unreachable, 3 voters + 1 standby" \
    reconciled_after_kill
log "reconciled with 4 live nodes: $(members_sig "$L")"

# writes still work, also through the live non-voter (forwarded to the leader)
standby=$(status_json "$L" | jq -r '.members[] | select(.role == "standby") | .name')
sn=${standby#node}
code=$(api_code "$sn" POST /api/v1/namespaces/default/configmaps "$(cm_json after-kill k v1)")
[ "$code" = 201 ] || fail "write via standby node$sn with a dead voter: HTTP $code"
cm_value_is "$L" after-kill k v1 || fail "leader node$L does not serve after-kill"
log "writes ok through standby node$sn"

restart_node "$victim"
wait_until 45 "node$victim back: 5 voters, all reachable" status_matches "$L" \
    '([.members[] | select(.role == "voter" and .reachable)] | length) == 5'
wait_until 15 "node$victim caught up (serves after-kill)" cm_value_is "$victim" after-kill k v1
log "5 voters again: $(members_sig "$L")"

# sixth node: voter target stays 5, the extra node is a standby
start_join 6 1
wait_until 45 "6 nodes: 5 voters + 1 standby, all reachable" status_matches "$L" '
    (.members | length) == 6 and
    ([.members[] | select(.role == "voter")] | length) == 5 and
    ([.members[] | select(.role == "standby")] | length) == 1 and
    ([.members[] | .reachable] | all)'
wait_until 15 "node6 sees 6 members" status_matches 6 '(.members | length) == 6'
code=$(api_code 6 POST /api/v1/namespaces/default/configmaps "$(cm_json six k v6)")
[ "$code" = 201 ] || fail "write via node6: HTTP $code"
cm_value_is "$L" six k v6 || fail "leader does not serve six"
log "6 nodes: $(members_sig "$L")"

# with a standby at hand, a dead voter is replaced by promotion first (quorum
# never shrinks): 5 live nodes -> 5 voters, the dead one a spare
victim2=
for n in 2 3 4 5; do
    [ "$n" != "$L" ] && [ "$n" != "$victim" ] && { victim2=$n; break; }
done
log "killing voter node$victim2 with SIGKILL"
kill9 "$victim2"
wait_until 30 "leader node$L: node$victim2 spare+unreachable, standby promoted to 5 voters" \
    status_matches "$L" '
    ([.members[] | select(.role == "voter" and .reachable)] | length) == 5 and
    ([.members[] | select(.role == "standby")] | length) == 0 and
    (.members[] | select(.name == $dead) | .role == "spare" and .reachable == false)' \
    --arg dead "node$victim2"
code=$(api_code 6 POST /api/v1/namespaces/default/configmaps "$(cm_json six-b k v7)")
[ "$code" = 201 ] || fail "write via node6 after replacing node$victim2: HTTP $code"
log "replaced: $(members_sig "$L")"
log "ok"
