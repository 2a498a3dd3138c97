#!/usr/bin/env bash
# Acceptance: Raft snapshots. With --snapshot-threshold 64, 400 ConfigMaps
# make every node snapshot and compact its log, so a 4th node that joins
# afterwards can only catch up by installing a snapshot; it must then serve
# the same objects. A node stopped with SIGTERM, and one killed with -9, come
# back with 'skiff run' (snapshot + log tail), serve everything written
# before and while they were down, and take writes again.
. "$(dirname "$0")/lib.sh"

T_TUNING="--snapshot-threshold 64"
# Why 400: raft keeps 256 entries (the default trailing) behind its last
# snapshot. Entry 1 is gone from every log only once a snapshot was taken
# past index 256 + 64 = 320; ~10 entries go to forming the cluster.
N=400

start_init 1
start_join 2 1
start_join 3 1
wait_until 30 "3 voters seen by node1" role_count_is 1 voter 3
log "3-voter cluster formed"

total=0
# write_cms FIRST LAST: ConfigMaps cm-FIRST..cm-LAST (data.k = vI), spread
# over the nodes given in $VIA (default: 1 2 3)
write_cms() {
    local i n code via=(${VIA:-1 2 3})
    for (( i = $1; i <= $2; i++ )); do
        n=${via[$(( i % ${#via[@]} ))]}
        code=$(api_code "$n" POST /api/v1/namespaces/default/configmaps "$(cm_json "cm-$i" k "v$i")")
        [ "$code" = 201 ] || fail "create cm-$i via node$n: HTTP $code"
        total=$(( total + 1 ))
    done
}

# converged N LAST: node N lists $total ConfigMaps and serves cm-LAST
converged() { cm_count_is "$1" "$total" && cm_value_is "$1" "cm-$2" k "v$2"; }

write_cms 1 "$N"
log "wrote $N ConfigMaps"
for n in 1 2 3; do
    wait_until 15 "node$n took a snapshot" log_has "$n" "snapshot_taken"
done
log "snapshots taken on nodes 1-3: $(grep -c snapshot_taken "$T_DIR/n1.log") on node1"

# 4th node: the leader's log no longer starts at 1, so it must send a snapshot
start_join 4 1
wait_until 45 "node4 converged ($total ConfigMaps, cm-$N)" converged 4 "$N"
log_has 4 "snapshot_restored" || fail "node4 converged but its log has no snapshot_restored"
log "node4 restored a snapshot: $(grep -m1 -o 'snapshot_restored.*' "$T_DIR/n4.log")"
wait_until 30 "4 members, all reachable" status_matches 1 \
    '(.members | length) == 4 and ([.members[] | .reachable] | all)'

# restart after SIGTERM: node 2 misses some writes while down
L=$(leader_num 1) || fail "no leader"
victim=2; [ "$L" = 2 ] && victim=3
stop_node "$victim" || fail "node$victim exit status on SIGTERM: $?"
log "node$victim stopped (SIGTERM); writing while it is down"
live=(); for n in 1 2 3 4; do [ "$n" != "$victim" ] && live+=("$n"); done
VIA="${live[*]}" write_cms $(( N + 1 )) $(( N + 20 ))
kept=$(grep -c snapshot_kept_store "$T_DIR/n$victim.log")
restart_node "$victim"
wait_until 30 "node$victim back and converged ($total ConfigMaps)" converged "$victim" $(( N + 20 ))
for i in 1 $(( N / 2 )) "$N"; do
    cm_value_is "$victim" "cm-$i" k "v$i" || fail "node$victim after restart: cm-$i missing or wrong"
done
# same boot, store ahead of the snapshot: the store is kept, not rewritten
[ "$(grep -c snapshot_kept_store "$T_DIR/n$victim.log")" -gt "$kept" ] ||
    fail "node$victim restarted without keeping its store (no new snapshot_kept_store)"
VIA=$victim write_cms $(( N + 21 )) $(( N + 25 ))
wait_until 10 "node1 sees writes made through restarted node$victim" converged 1 $(( N + 25 ))
log "node$victim restarted after SIGTERM: serves $total ConfigMaps, accepts writes"

# restart after kill -9: a different follower
victim2=3; { [ "$L" = 3 ] || [ "$victim" = 3 ]; } && victim2=4
[ "$victim2" = "$L" ] && victim2=2
kill9 "$victim2"
log "node$victim2 killed (SIGKILL); writing while it is down"
live=(); for n in 1 2 3 4; do [ "$n" != "$victim2" ] && live+=("$n"); done
VIA="${live[*]}" write_cms $(( N + 26 )) $(( N + 45 ))
kept=$(grep -c snapshot_kept_store "$T_DIR/n$victim2.log")
restart_node "$victim2"
wait_until 30 "node$victim2 back and converged ($total ConfigMaps)" converged "$victim2" $(( N + 45 ))
for i in 1 $(( N / 2 )) "$N"; do
    cm_value_is "$victim2" "cm-$i" k "v$i" || fail "node$victim2 after kill -9: cm-$i missing or wrong"
done
# SIGKILL loses nothing of an LMDB store (the page cache has every commit)
[ "$(grep -c snapshot_kept_store "$T_DIR/n$victim2.log")" -gt "$kept" ] ||
    fail "node$victim2 restarted without keeping its store (no new snapshot_kept_store)"
VIA=$victim2 write_cms $(( N + 46 )) $(( N + 50 ))
for n in 1 2 3 4; do
    wait_until 10 "node$n converged on $total ConfigMaps" converged "$n" $(( N + 50 ))
done
log "node$victim2 restarted after SIGKILL: all 4 nodes serve $total ConfigMaps"

# "reboot": the machine's boot id changed since the store was last open, so
# its unsynced commits cannot be trusted and the snapshot is restored
stop_node "$victim2" || fail "node$victim2 exit status on SIGTERM: $?"
echo "$(cat /proc/sys/kernel/random/boot_id)-rebooted" >"$T_DIR/boot_id"
restores=$(grep -c snapshot_restored "$T_DIR/n$victim2.log")
export SKIFF_TEST_BOOT_ID_FILE="$T_DIR/boot_id"
restart_node "$victim2"
unset SKIFF_TEST_BOOT_ID_FILE
wait_until 30 "node$victim2 back after a reboot ($total ConfigMaps)" converged "$victim2" $(( N + 50 ))
[ "$(grep -c snapshot_restored "$T_DIR/n$victim2.log")" -gt "$restores" ] ||
    fail "node$victim2 'rebooted' without restoring its snapshot (no new snapshot_restored)"
for i in 1 $(( N / 2 )) "$N" $(( N + 50 )); do
    cm_value_is "$victim2" "cm-$i" k "v$i" || fail "node$victim2 after a reboot: cm-$i missing or wrong"
done
log "node$victim2 after a 'reboot': snapshot restored, serves $total ConfigMaps"
log "ok"
