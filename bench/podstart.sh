#!/usr/bin/env bash
# bench/podstart.sh [--quick] [--skiff PATH] [--pod-network] [--pull]: pod start
# latency on a 1-node cluster with the runc runtime, next to plain
# `runc run -d` of an equivalent bundle in the same run.
#   skiff: bound -> Running, the image present (imported), measured from a
#     watch on the pods: the time the event carrying spec.nodeName arrived
#     to the time the event with status.phase Running arrived (so it counts
#     the agent's work, runc, and the status write through Raft and the
#     store watch back to a client)
#   runc:  `runc run -d` of a busybox bundle (read-only rootfs, sleep) from
#     start to return (the container's process is running)
# Each for 1 pod at a time (SINGLE trials) and for 50 at once (BATCH
# rounds); p50 / p99 and the skiff/runc ratio and difference.
# --pull: also image pull throughput from Debian's docker-registry on
# loopback: an image with a PULL_MB MiB random layer pulled by a pod
# (imagePullPolicy Always; the node log's image_pull -> image_pulled:
# manifest, blobs with digest checks, unpack), next to curl fetching the
# same blobs into files.
# Pods use hostNetwork unless --pod-network (then the CNI bridge's time
# counts too; needs the node's pod network). Root only. Every process
# started here is stopped by the EXIT trap; every wait has a deadline.
# Prints the table and the command lines; RESULTS.md is left alone.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0
SKIFF=
HOSTNET=true
PULL=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --skiff) SKIFF=${2:?--skiff needs a path}; shift ;;
    --pod-network) HOSTNET=false ;;
    --pull) PULL=1 ;;
    *) echo "usage: bench/podstart.sh [--quick] [--skiff PATH] [--pod-network] [--pull]" >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" -eq 1 ]; then SINGLE=5; BATCH=1; PULL_MB=32; else SINGLE=20; BATCH=3; PULL_MB=256; fi
N_BATCH=50

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

[ "$(id -u)" = 0 ] || die "needs root (runc, mounts, cgroups)"
for b in runc umoci skopeo jq curl; do command -v "$b" >/dev/null || die "$b not installed"; done
[ -x /bin/busybox ] || die "/bin/busybox (busybox-static) missing"
if [ -z "$SKIFF" ]; then
    make -C "$ROOT" skiff >/dev/null || die "make skiff failed (or pass --skiff PATH)"
    SKIFF=$ROOT/skiff
fi

W=$(mktemp -d /tmp/skiff-podstart.XXXXXX)
SK_PID=
WATCH_PID=
REG_PID=
RUNC_ROOT=$W/runc-root
cleanup() {
    local id m
    [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
    [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null
    if [ -n "$SK_PID" ]; then
        kill -TERM "$SK_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$SK_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SK_PID" 2>/dev/null
    fi
    # the node's containers, CNI attachments, table, bridge, cgroups
    [ -e "$W/n1/node.json" ] && "$SKIFF" reset --data-dir "$W/n1" --keep-data >/dev/null 2>&1
    for root in "$RUNC_ROOT" "$W/n1/agent/runc"; do
        for id in $(runc --root "$root" list -q 2>/dev/null); do
            runc --root "$root" delete -f "$id" >/dev/null 2>&1
        done
    done
    awk -v d="$W" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# p50 and p99 (nearest rank) of the numbers in a file
pct() { sort -n "$1" | awk -v p="$2" '{v[NR] = $1} END {i = int((NR * p + 99) / 100); if (i < 1) i = 1; print v[i]}'; }

# ---- the image and the bundle ----
log "building the busybox image (umoci, skopeo)"
(
    set -e
    cd "$W"
    umoci init --layout oci
    umoci new --image oci:busybox
    umoci unpack --image oci:busybox bundle
    mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/tmp
    cp /bin/busybox bundle/rootfs/bin/busybox
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "bundle/rootfs/bin/$a"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >bundle/rootfs/etc/passwd
    umoci repack --image oci:busybox bundle
    skopeo copy --insecure-policy oci:"$W/oci:busybox" oci-archive:"$W/busybox.tar"
    # the runc bundle: the same rootfs, read-only (shared by every
    # container), sleep as the process, no terminal
    jq '.process.args = ["sleep", "100000"] | .process.terminal = false | .root.readonly = true' \
        bundle/config.json >bundle/config.json.new
    mv bundle/config.json.new bundle/config.json
) >"$W/build.log" 2>&1 || { cat "$W/build.log"; die "image build failed"; }

# ---- runc alone ----
log "runc run -d: $SINGLE single, $BATCH x $N_BATCH at once"
mkdir -p "$RUNC_ROOT"
: >"$W/runc1.ms"
for i in $(seq "$SINGLE"); do
    t0=$(date +%s%N)
    runc --root "$RUNC_ROOT" run -d --bundle "$W/bundle" "s$i" </dev/null >/dev/null 2>&1 ||
        die "runc run s$i failed"
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 )) | awk '{printf "%.1f\n", $1 / 1000}' >>"$W/runc1.ms"
    runc --root "$RUNC_ROOT" delete -f "s$i" >/dev/null 2>&1
done
: >"$W/runc50.ms"
for r in $(seq "$BATCH"); do
    t0=$(date +%s%N)
    for i in $(seq "$N_BATCH"); do
        (
            runc --root "$RUNC_ROOT" run -d --bundle "$W/bundle" "b$r-$i" </dev/null >/dev/null 2>&1 ||
                exit 1
            t1=$(date +%s%N)
            awk -v d=$(( (t1 - t0) / 1000 )) 'BEGIN {printf "%.1f\n", d / 1000}' >>"$W/runc50.ms"
        ) &
    done
    wait
    for id in $(runc --root "$RUNC_ROOT" list -q); do runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1; done
done
[ "$(wc -l <"$W/runc50.ms")" = $(( BATCH * N_BATCH )) ] || die "some runc run failed"

# ---- skiff ----
log "skiff: 1 node, runc runtime"
P=$(( 20000 + $$ % 10000 ))
"$SKIFF" init --data-dir "$W/n1" --name podstart-bench --advertise 127.0.0.1 --listen "127.0.0.1:$P" \
    --peer-listen "127.0.0.1:$(( P + 1 ))" >"$W/n1.log" 2>&1 &
SK_PID=$!
for _ in $(seq 300); do [ -s "$W/n1/join-token" ] && break; sleep 0.1; done
[ -s "$W/n1/join-token" ] || { tail "$W/n1.log"; die "node did not start"; }
"$SKIFF" image import "$W/busybox.tar" --ref busybox:bench --data-dir "$W/n1" >/dev/null ||
    die "image import failed"
TOKEN=$(awk '/token:/ {print $2; exit}' "$W/n1/admin.kubeconfig")
API=https://127.0.0.1:$P
cu() { curl -sS --max-time 10 --cacert "$W/n1/pki/ca.crt" -H "Authorization: Bearer $TOKEN" "$@"; }
for _ in $(seq 100); do cu -o /dev/null "$API/api/v1/namespaces/default" && break; sleep 0.1; done
NS=$API/api/v1/namespaces/default

# every pod event with its arrival time ($EPOCHREALTIME: no fork per line)
(
    curl -sSN --cacert "$W/n1/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
        "$NS/pods?watch=1" |
        while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
) >"$W/events" &
WATCH_PID=$!

pod() { # name
    jq -cn --arg n "$1" --argjson hn "$HOSTNET" '{apiVersion: "v1", kind: "Pod", metadata: {name: $n},
        spec: {hostNetwork: $hn, terminationGracePeriodSeconds: 0,
               containers: [{name: "c", image: "busybox:bench", imagePullPolicy: "Never",
                             command: ["sleep", "100000"]}]}}'
}
running_count() { # prefix
    cu "$NS/pods" | jq --arg p "$1" '[.items[] | select((.metadata.name | startswith($p)) and .status.phase == "Running")] | length'
}
pods_left() { cu "$NS/pods" | jq '.items | length'; }
wait_for() { # seconds what cmd...
    local secs=$1 what=$2 deadline; shift 2
    deadline=$(( $(now_ms) + secs * 1000 ))
    until "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || { tail -n 30 "$W/n1.log"; die "timed out: $what"; }
        sleep 0.2 # latencies come from the watch's event times, not from this poll
    done
}
is_n() { [ "$(running_count "$1")" = "$2" ]; }
none_left() { [ "$(pods_left)" = 0 ]; }
# waits for the given background jobs only (a bare `wait` would wait for the
# watch too)
wait_pids() { local p; for p in "$@"; do wait "$p"; done; }
delete_all() {
    local pids=()
    for n in "$@"; do cu -o /dev/null -X DELETE "$NS/pods/$n" & pids+=($!); done
    wait_pids "${pids[@]}"
    wait_for 120 "pods deleted" none_left
}

log "skiff: $SINGLE single pods"
for i in $(seq "$SINGLE"); do
    cu -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary "$(pod "one-$i")" "$NS/pods"
    wait_for 60 "one-$i Running" is_n "one-$i" 1
    delete_all "one-$i"
done
log "skiff: $BATCH x $N_BATCH pods at once"
for r in $(seq "$BATCH"); do
    names=()
    pids=()
    for i in $(seq "$N_BATCH"); do
        names+=("many$r-$i")
        cu -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary "$(pod "many$r-$i")" \
            "$NS/pods" &
        pids+=($!)
    done
    wait_pids "${pids[@]}"
    wait_for 180 "round $r: $N_BATCH pods Running" is_n "many$r-" "$N_BATCH"
    delete_all "${names[@]}"
done
sleep 0.5
kill "$WATCH_PID" 2>/dev/null
WATCH_PID=

# bound -> Running per pod, from the event times
lat() { # name prefix -> ms per pod
    sed 's/^\([0-9.]*\) \(.*\)$/{"t":\1,"e":\2}/' "$W/events" | jq -r --arg p "$1" -s '
        map(select(.e.object.metadata.name | startswith($p)))
        | group_by(.e.object.metadata.name)[]
        | ((map(select(.e.object.spec.nodeName != null)) | first | .t) as $b
           | (map(select(.e.object.status.phase == "Running")) | first | .t) as $r
           | if $b != null and $r != null then (($r - $b) * 1000 * 10 | round) / 10 else empty end)'
}
lat one- >"$W/skiff1.ms"
lat many >"$W/skiff50.ms"
[ "$(wc -l <"$W/skiff1.ms")" = "$SINGLE" ] || die "missing events for single pods"
[ "$(wc -l <"$W/skiff50.ms")" = $(( BATCH * N_BATCH )) ] || die "missing events for batch pods"

# Where a single pod's time goes, from the node's log (UTC, ms) and the
# watch events: bound -> agent's pod_setup -> container_started (sandbox,
# rootfs, config, runc create + start) -> the Running event back (status
# write through Raft and the watch). Seconds of the day (no run spans
# midnight: the bench takes minutes).
stages() {
    local name b r su cs
    : >"$W/st_pickup"; : >"$W/st_launch"; : >"$W/st_status"
    for name in $(sed -n 's/.*"name":"\(one-[0-9]*\)".*/\1/p' "$W/events" | sort -u); do
        b=$(sed 's/^\([0-9.]*\) \(.*\)$/{"t":\1,"e":\2}/' "$W/events" | jq -rs --arg n "$name" '
            map(select(.e.object.metadata.name == $n and .e.object.spec.nodeName != null)) | first | .t')
        r=$(sed 's/^\([0-9.]*\) \(.*\)$/{"t":\1,"e":\2}/' "$W/events" | jq -rs --arg n "$name" '
            map(select(.e.object.metadata.name == $n and .e.object.status.phase == "Running")) | first | .t')
        su=$(awk -v n="pod=default/$name" '$0 ~ "pod_setup " n " " {print $1; exit}' "$W/n1.log")
        cs=$(awk -v n="pod=default/$name" '$0 ~ "container_started " n " " {print $1; exit}' "$W/n1.log")
        [ -n "$su" ] && [ -n "$cs" ] || continue
        awk -v b="$b" -v r="$r" -v su="$su" -v cs="$cs" -v d="$W" 'function sod(ts,  h) {
                h = substr(ts, 12, 12); split(h, x, ":"); return x[1] * 3600 + x[2] * 60 + x[3] }
            BEGIN { bs = b % 86400; rs = r % 86400
                printf "%.1f\n", (sod(su) - bs) * 1000 >> (d "/st_pickup")
                printf "%.1f\n", (sod(cs) - sod(su)) * 1000 >> (d "/st_launch")
                printf "%.1f\n", (rs - sod(cs)) * 1000 >> (d "/st_status") }'
    done
}

row() { # label skiff-file runc-file
    local s50 s99 r50 r99
    s50=$(pct "$2" 50); s99=$(pct "$2" 99); r50=$(pct "$3" 50); r99=$(pct "$3" 99)
    awk -v l="$1" -v s50="$s50" -v s99="$s99" -v r50="$r50" -v r99="$r99" -v n="$(wc -l <"$2")" 'BEGIN {
        printf "| %s | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.2fx | %+.1f ms |\n",
               l, n, s50, s99, r50, r99, s50 / r50, s50 - r50 }'
}
echo
echo "pod start latency, 1 node, runc $(runc --version | head -n 1 | awk '{print $3}'), hostNetwork=$HOSTNET, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| pods at once | samples | skiff p50 | skiff p99 | runc run -d p50 | runc p99 | p50 ratio | p50 skiff - runc |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
row 1 "$W/skiff1.ms" "$W/runc1.ms"
row "$N_BATCH" "$W/skiff50.ms" "$W/runc50.ms"
stages
echo
echo "single pods, p50 per stage: bound -> agent pod_setup $(pct "$W/st_pickup" 50) ms;" \
    "pod_setup -> container_started (sandbox, rootfs, runc create + start)" \
    "$(pct "$W/st_launch" 50) ms; container_started -> Running event $(pct "$W/st_status" 50) ms"

[ "$PULL" = 1 ] || exit 0
command -v docker-registry >/dev/null || die "--pull: docker-registry not installed"
log "image pull: a $PULL_MB MiB random layer from docker-registry on loopback"
REG=127.0.0.1:$(( P + 5 ))
printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
    "$W/reg" "$REG" >"$W/registry.yml"
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf --max-time 1 "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
(
    set -e
    cd "$W"
    umoci unpack --image oci:busybox big
    head -c $(( PULL_MB << 20 )) /dev/urandom >big/rootfs/blob.bin
    umoci repack --image oci:big big
    skopeo copy --insecure-policy --dest-tls-verify=false "oci:$W/oci:big" "docker://$REG/big:1"
) >"$W/big.log" 2>&1 || { cat "$W/big.log"; die "building or pushing the big image failed"; }
MAN=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/big/manifests/1")
BYTES=$(jq '([.layers[].size] | add) + .config.size' <<<"$MAN")
t0=$(date +%s%N)
for d in $(jq -r '.layers[].digest, .config.digest' <<<"$MAN"); do
    curl -sf -o "$W/blob.$d" "http://$REG/v2/big/blobs/$d" || die "curl blob $d"
done
t1=$(date +%s%N)
rm -f "$W"/blob.*
jq -cn --arg img "$REG/big:1" --argjson hn "$HOSTNET" '{apiVersion: "v1", kind: "Pod",
    metadata: {name: "puller"}, spec: {hostNetwork: $hn, terminationGracePeriodSeconds: 0,
    containers: [{name: "c", image: $img, imagePullPolicy: "Always", command: ["sleep", "100000"]}]}}' |
    cu -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @- "$NS/pods"
pulled() { grep -q "image_pulled pod=default/puller " "$W/n1.log"; }
wait_for 600 "the big image pulled" pulled
ps=$(awk '/image_pull pod=default\/puller / {print $1; exit}' "$W/n1.log")
pe=$(awk '/image_pulled pod=default\/puller / {print $1; exit}' "$W/n1.log")
awk -v b="$BYTES" -v ps="$ps" -v pe="$pe" -v c=$(( (t1 - t0) / 1000 )) 'function sod(ts,  x) {
        split(substr(ts, 12, 12), x, ":"); return x[1] * 3600 + x[2] * 60 + x[3] }
    BEGIN { s = sod(pe) - sod(ps); cs = c / 1e6
        printf "\nimage pull, %.1f MiB of blobs: skiff %.2f s = %.0f MiB/s (digests checked, layer unpacked);", b / 1048576, s, b / 1048576 / s
        printf " curl of the same blobs %.2f s = %.0f MiB/s; ratio %.2fx\n", cs, b / 1048576 / cs, s / cs }'
