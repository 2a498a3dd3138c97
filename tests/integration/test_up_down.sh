#!/usr/bin/env bash
# tags: root netns
# skiff up / down / reset (issue 8, acceptance 6): a 3-node local cluster in
# network namespaces (fake runtime, to stay light) comes up with every node
# Ready and an admin kubeconfig that works from the host; leftovers of the
# kinds a real node makes (a mount below a data dir, cgroups, an nft table,
# pod routes) are planted; `skiff down` then leaves no namespace, veth,
# bridge, route, nft table, mount, cgroup, process or data dir behind, and a
# second down is a no-op. `up` with a name whose namespace exists fails
# cleanly and makes nothing. `skiff reset` refuses while its node runs and
# afterwards removes the node's nft table and data dir.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "skip: needs root"; exit 0
fi
# nsenter, not `ip netns exec`: that one mounts a fresh /sys, hiding the cgroups
for t in ip nft jq nsenter; do
    command -v "$t" >/dev/null || { echo "skip: $t missing"; exit 0; }
done
source "$ROOT/tests/integration/lib.sh"

N=tup$(( $$ % 100000 ))        # prefix of everything up makes here
N2=${N}x                       # the "name in use" case
SUBNET=10.251.$(( $$ % 250 )).0/24
C=$T_DIR/cluster
RS_NS=${N}-rs                  # netns of the standalone reset node
RS_DIR=$T_DIR/rs
RS_PID=

t_cleanup() {
    [ -n "$RS_PID" ] && kill -KILL "$RS_PID" 2>/dev/null
    "$SKIFF" down --dir "$C" >/dev/null 2>&1
    ip netns del "$N2-n1" 2>/dev/null
    ip netns del "$RS_NS" 2>/dev/null
    rmdir /sys/fs/cgroup/*/"skiff-$N-n2"/pod-planted /sys/fs/cgroup/*/"skiff-$N-n2" \
        /sys/fs/cgroup/"skiff-$N-n2"/pod-planted /sys/fs/cgroup/"skiff-$N-n2" 2>/dev/null
}

# ---- up ----
args=(--nodes 3 --name "$N" --dir "$C" --subnet "$SUBNET")
if command -v umoci >/dev/null && command -v skopeo >/dev/null; then
    busybox_image "$T_DIR"
    args+=(--image "$T_DIR/busybox.tar")
fi
log "skiff up ${args[*]} -- --fake-runtime"
t0=$(date +%s)
timeout 150 "$SKIFF" up "${args[@]}" -- --fake-runtime >"$T_DIR/up.out" 2>&1
rc=$?
cat "$T_DIR/up.out"
[ "$rc" -eq 0 ] || fail "skiff up exited $rc"
log "up took $(( $(date +%s) - t0 )) s"
grep -q "3 nodes Ready" "$T_DIR/up.out" || fail "up did not report 3 Ready nodes"
[ -s "$C/admin.kubeconfig" ] || fail "no $C/admin.kubeconfig"
[ "$(jq -r .name "$C/up.json")" = "$N" ] || fail "up.json: name"
if [[ " ${args[*]} " == *" --image "* ]]; then
    grep -q "$N-n3: imported .* as docker.io/library/busybox:latest" "$T_DIR/up.out" ||
        fail "image import not reported for node 3"
    "$SKIFF" image ls --data-dir "$C/n2" | grep -q "busybox:latest" || fail "node 2 has no busybox"
fi

# from the host, through the bridge
out=$("$SKIFF" get nodes --kubeconfig "$C/admin.kubeconfig") || fail "skiff get nodes: $out"
echo "$out"
[ "$(grep -c " Ready " <<<"$out")" = 3 ] || fail "want 3 Ready nodes, got: $out"
for k in 1 2 3; do
    ip netns list | grep -q "^$N-n$k\b" || fail "no netns $N-n$k"
done
ip link show "$N-br" >/dev/null || fail "no bridge $N-br"

# a second up into the same dir is refused and changes nothing
"$SKIFF" up "${args[@]}" >"$T_DIR/up2.out" 2>&1 && fail "second up succeeded"
grep -q "already holds a cluster" "$T_DIR/up2.out" || fail "second up: $(cat "$T_DIR/up2.out")"
"$SKIFF" get nodes --kubeconfig "$C/admin.kubeconfig" >/dev/null || fail "cluster hurt by second up"

# ---- plant what a real node leaves: down must remove it all ----
mkdir -p "$C/n2/agent/sandboxes/planted/shm"
mount -t tmpfs planted "$C/n2/agent/sandboxes/planted/shm" || fail "plant mount"
mkdir -p "$C/n2/agent/sandboxes/planted/shm/deeper"
mount -t tmpfs planted2 "$C/n2/agent/sandboxes/planted/shm/deeper" || fail "plant mount 2"
planted_cg=""
for h in /sys/fs/cgroup/pids /sys/fs/cgroup/memory /sys/fs/cgroup; do
    if [ -e "$h/cgroup.procs" ] && mkdir -p "$h/skiff-$N-n2/pod-planted" 2>/dev/null; then
        planted_cg="$h/skiff-$N-n2"; break
    fi
done
[ -n "$planted_cg" ] || log "note: no cgroup hierarchy to plant in"
ip netns exec "$N-n2" nft add table ip "skiff-$N-n2" || fail "plant nft table"
ip -n "$N-n2" route replace 10.244.77.0/24 via "$(jq -r '.nodes[2].ip' "$C/up.json")" proto 0x53 ||
    fail "plant route"
nft add table ip "$N-up" || fail "plant host table $N-up"

pids=$(pgrep -f -- "--data-dir $C/n" | tr '\n' ' ')
log "node pids: $pids"

# ---- down ----
# --keep-data first, so that the nodes' logs can be checked for sanitizer
# reports (lib.sh looks at T_DIR/n*.log); DIR removal is checked below
log "skiff down --dir $C --keep-data"
t0=$(date +%s)
timeout 90 "$SKIFF" down --dir "$C" --keep-data >"$T_DIR/down.out" 2>&1
rc=$?
cat "$T_DIR/down.out"
for k in 1 2 3; do cp "$C/n$k/skiff.log" "$T_DIR/n$k.log" 2>/dev/null; done
[ "$rc" -eq 0 ] || fail "skiff down exited $rc"
log "down took $(( $(date +%s) - t0 )) s"
[ -e "$C/up.json" ] && fail "down --keep-data left up.json"
[ -s "$C/n1/node.json" ] || fail "down --keep-data removed the data"

ip netns list | grep -q "^$N-" && fail "namespaces left: $(ip netns list | grep "^$N-")"
ip -br link | grep -q "^$N-" && fail "links left: $(ip -br link | grep "^$N-")"
ip route | grep -q "$(echo "$SUBNET" | cut -d. -f1-3)\." && fail "host route left: $(ip route)"
nft list tables | grep -q -- "$N" && fail "nft tables left: $(nft list tables | grep -- "$N")"
grep -q " $C" /proc/self/mountinfo && fail "mounts left: $(grep " $C" /proc/self/mountinfo)"
ls -d /sys/fs/cgroup/*/"skiff-$N-"* /sys/fs/cgroup/"skiff-$N-"* 2>/dev/null &&
    fail "cgroups left"
for p in $pids; do
    kill -0 "$p" 2>/dev/null && fail "process $p left"
done
pgrep -f -- "$C" >/dev/null && fail "processes left: $(pgrep -af -- "$C")"
grep -q "unmounted $C/n2/agent/sandboxes/planted/shm/deeper" "$T_DIR/down.out" ||
    fail "deeper mount not reported unmounted"
[ -z "$planted_cg" ] || grep -q "removed cgroup /skiff-$N-n2" "$T_DIR/down.out" ||
    fail "cgroup removal not reported"

# a second down: nothing to do, exit 0
out=$("$SKIFF" down --dir "$C" 2>&1) || fail "second down failed: $out"
grep -q "nothing to do" <<<"$out" || fail "second down: $out"
rm -rf "$C"

# a plain down removes DIR (one node, quickly)
timeout 60 "$SKIFF" up --nodes 1 --name "$N" --dir "$C" --subnet "$SUBNET" -- --fake-runtime \
    >"$T_DIR/up1.out" 2>&1 || { cat "$T_DIR/up1.out"; fail "1-node up"; }
cp "$C/n1/skiff.log" "$T_DIR/n5.log" # the log dies with DIR; lib.sh checks T_DIR/n*.log
out=$(timeout 60 "$SKIFF" down --dir "$C" 2>&1) || fail "1-node down: $out"
[ -e "$C" ] && fail "down left $C"
ip netns list | grep -q "^$N-" && fail "1-node down left a namespace"

# ---- a name in use: fails cleanly, makes nothing ----
ip netns add "$N2-n1" || fail "ip netns add $N2-n1"
out=$("$SKIFF" up --nodes 3 --name "$N2" --dir "$T_DIR/c2" --subnet "$SUBNET" -- --fake-runtime \
    2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 1 ] || fail "up with a name in use exited $rc"
grep -q "network namespace $N2-n1 exists" <<<"$out" || fail "no clear message: $out"
[ "$(ip netns list | grep -c "^$N2-")" = 1 ] || fail "up made namespaces: $(ip netns list)"
ip -br link | grep -q "^$N2-" && fail "up made links: $(ip -br link | grep "^$N2-")"
[ -e "$T_DIR/c2" ] && fail "up made $T_DIR/c2"
ip netns list | grep -q "^$N2-n1\b" || fail "up deleted the namespace it did not make"
ip netns del "$N2-n1"

# ---- skiff reset of one node (fake runtime), in a namespace of its own ----
ip netns add "$RS_NS" || fail "ip netns add $RS_NS"
ip -n "$RS_NS" link set lo up
nsenter --net="/run/netns/$RS_NS" "$SKIFF" init --data-dir "$RS_DIR" --name "$N-r1" --advertise 127.0.0.1 \
    --listen 127.0.0.1:6443 --peer-listen 127.0.0.1:6444 --fake-runtime >"$T_DIR/n9.log" 2>&1 &
RS_PID=$!
wait_until 30 "reset node initialized" test -s "$RS_DIR/join-token"
ip netns exec "$RS_NS" nft add table ip "skiff-$N-r1" 2>/dev/null # the agent may have made it
out=$(nsenter --net="/run/netns/$RS_NS" "$SKIFF" reset --data-dir "$RS_DIR" 2>&1)
rc=$?
[ "$rc" -eq 1 ] || fail "reset of a running node exited $rc: $out"
grep -q "is running" <<<"$out" || fail "reset of a running node: $out"
[ -s "$RS_DIR/node.json" ] || fail "reset of a running node touched its data dir"
kill -TERM "$RS_PID"
wait_pid_exit "$RS_PID" 15 || fail "reset node did not stop"
wait "$RS_PID"
RS_PID=
out=$(nsenter --net="/run/netns/$RS_NS" "$SKIFF" reset --data-dir "$RS_DIR" 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || fail "reset exited $rc"
grep -q "deleted nft table ip skiff-$N-r1" <<<"$out" || fail "reset did not report the table"
ip netns exec "$RS_NS" nft list tables | grep -q "skiff-$N-r1" && fail "nft table left"
[ -e "$RS_DIR" ] && fail "reset left $RS_DIR"
ip netns del "$RS_NS"

log "PASS"
