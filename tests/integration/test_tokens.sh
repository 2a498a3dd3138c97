#!/usr/bin/env bash
# Acceptance: join tokens. 'skiff join' is refused, saying why, for an
# unknown, an expired, a revoked, another cluster's and a malformed token;
# each time it exits non-zero, leaves no node.json and the membership is
# unchanged. 'skiff token list' shows each token's state, and a token made
# with 'skiff token create' lets a node join.
. "$(dirname "$0")/lib.sh"

start_init 1
start_join 2 1
# settled: with 2 live nodes the voter target is 1, so node2 ends a standby
# (joining -> spare -> standby); "membership unchanged" compares from here
wait_until 30 "node2 joined: a reachable standby" status_matches 1 \
    '(.members | length) == 2 and ([.members[] | .reachable] | all) and
     (.members[] | select(.name == "node2") | .role == "standby")'
log "2-node cluster: $(members_sig 1)"

nodes_sig() { api_body 1 GET /api/v1/nodes | jq -r '[.items[].metadata.name] | sort | join(",")'; }

# join_refused N TOKEN REGEX WHAT: a foreground 'skiff join' of node N with
# TOKEN must fail with a message matching REGEX and change nothing.
join_refused() {
    local n=$1 token=$2 want=$3 what=$4 out rc members nodes
    members=$(members_sig 1)
    nodes=$(nodes_sig)
    [ -n "$members" ] && [ -n "$nodes" ] || fail "$what: cannot read status/nodes before the join"
    # 30s bound: a join that wrongly succeeds would go on running the node
    out=$(timeout 30 "$SKIFF" join $(common_flags "$n") --server "127.0.0.1:$(api_port 1)" \
        --token "$token" 2>&1)
    rc=$?
    printf '%s\n' "$out" >>"$T_DIR/n$n.log" # kept for the failure dump and sanitizer scan
    [ "$rc" -ne 124 ] || fail "$what: skiff join still running after 30s (joined?): $out"
    [ "$rc" -ne 0 ] || fail "$what: skiff join exited 0: $out"
    grep -qE -- "$want" <<<"$out" || fail "$what: want a message matching /$want/, got: $out"
    [ ! -e "$(node_dir "$n")/node.json" ] || fail "$what: $(node_dir "$n")/node.json was written"
    [ "$(members_sig 1)" = "$members" ] || fail "$what: members $members -> $(members_sig 1)"
    [ "$(nodes_sig)" = "$nodes" ] || fail "$what: nodes $nodes -> $(nodes_sig)"
    log "$what: refused, rc=$rc: $(tail -n 1 <<<"$out")"
}

# token_state ID: valid | expired | revoked, as the server reports it
token_state() {
    skiff_cli token list -o json |
        jq -r --arg id "$1" '.items[] | select(.id == $id) |
            if .revoked then "revoked" elif .expired then "expired" else "valid" end'
}
token_state_is() { [ "$(token_state "$1")" = "$2" ]; }

boot=$(cat "$(node_dir 1)/join-token")
IFS=. read -r prefix ca_hash secret <<<"$boot"
[ "$prefix" = SKF1 ] && [ -n "$secret" ] || fail "bootstrap token not SKF1.<hash>.<secret>: $boot"

# 1. well-formed, this cluster's CA, but a secret the cluster never issued
rand_secret=$(head -c $(( ${#secret} / 2 )) /dev/urandom | od -An -tx1 | tr -d ' \n')
join_refused 3 "SKF1.$ca_hash.$rand_secret" "join refused .*unknown to this cluster" "wrong token"

# 2. expired: a 1s token, used once the server itself reports it expired
j=$(skiff_cli token create --ttl 1s --description expiring -o json) || fail "token create --ttl 1s"
exp_id=$(jq -r .id <<<"$j"); exp_tok=$(jq -r .token <<<"$j")
[ -n "$exp_id" ] && [ "${exp_tok#SKF1.}" != "$exp_tok" ] || fail "token create output: $j"
wait_until 10 "token $exp_id expired" token_state_is "$exp_id" expired
join_refused 3 "$exp_tok" "join refused .*token $exp_id expired at" "expired token"

# 3. revoked
j=$(skiff_cli token create --description revoked -o json) || fail "token create"
rev_id=$(jq -r .id <<<"$j"); rev_tok=$(jq -r .token <<<"$j")
token_state_is "$rev_id" valid || fail "new token $rev_id state: $(token_state "$rev_id")"
out=$(skiff_cli token revoke "$rev_id" 2>&1) || fail "token revoke $rev_id: $out"
token_state_is "$rev_id" revoked || fail "revoked token $rev_id state: $(token_state "$rev_id")"
join_refused 3 "$rev_tok" "join refused .*token $rev_id was revoked" "revoked token"
out=$(skiff_cli token revoke 000000 2>&1) && fail "revoking an unknown token succeeded: $out"

# 4. a token from another cluster: the joining side pins the CA and refuses
start_init 9
other=$(cat "$(node_dir 9)/join-token")
join_refused 3 "$other" "different cluster CA" "other cluster's token"

# 5. malformed
join_refused 3 "not-a-token" "--token: .*want SKF1" "malformed token (no dots)"
join_refused 3 "SKF1.$ca_hash.zz" "--token: .*secret" "malformed token (bad secret)"

# token list (the table) shows each token with its state
list=$(skiff_cli token list) || fail "token list"
row_state() { awk -v id="$1" '$1 == id {print $3}' <<<"$list"; }
boot_id=$(skiff_cli token list -o json | jq -r '.items[] | select(.description == "bootstrap") | .id')
[ "$(row_state "$boot_id")" = valid ] || fail "bootstrap token $boot_id not valid in: $list"
[ "$(row_state "$exp_id")" = expired ] || fail "token $exp_id not expired in: $list"
[ "$(row_state "$rev_id")" = revoked ] || fail "token $rev_id not revoked in: $list"
log "token list states ok"

# a fresh token from 'skiff token create' works (through a follower, and
# into the data dir the refused attempts used)
j=$(skiff_cli token create --description good -o json) || fail "token create"
good_tok=$(jq -r .token <<<"$j")
start_join_with 3 2 "$good_tok"
wait_until 30 "node3 joined and reachable" status_matches 1 \
    '(.members | length) == 3 and ([.members[] | .reachable] | all) and
     (.members[] | select(.name == "node3") | .role != "joining")'
wait_until 15 "node3 API up" api_is 200 3 GET /healthz
[ -e "$(node_dir 3)/node.json" ] || fail "node3 joined but has no node.json"
[ "$(nodes_sig)" = node1,node2,node3 ] || fail "nodes after good join: $(nodes_sig)"
wait_until 15 "3 voters after node3 joined" role_count_is 1 voter 3
log "good token joined node3: $(members_sig 1)"
log "ok"
