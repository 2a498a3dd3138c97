#!/usr/bin/env bash
# tags: root, slow
# The agent issue's acceptance cases, through the real daemon on runc: one
# node, Pods created through the API, images pulled from Debian's
# docker-registry on loopback (a busybox image built with umoci, pushed
# with skopeo).
#  1. pull (imagePullPolicy Always) + httpd on hostNetwork serving a Secret
#     volume; curl gets the secret's value; the log file and `skiff logs`
#     have what the container printed; `skiff exec` output, stderr and exit
#     code
#  2. exit 1 under Always: CrashLoopBackOff with growing back-off and
#     restartCount (SKIFF_AGENT_BACKOFF_MS=500 in the node's environment);
#     under Never: Failed with exitCode 1
#  3. memory limit 32Mi, 64Mi allocated: terminated reason OOMKilled
#  4. a liveness probe that starts failing restarts the container; a
#     readiness probe flips the Ready condition both ways
#  5. delete: the object stays (deletionTimestamp) while the container
#     stops; SIGTERM reaches the process (its trap writes to the log, read
#     before the log goes with the pod), the deletion completes within the
#     grace period, nothing of the pod left
#  6. kill -9 of the node while pods run: on restart a running pod is
#     adopted (same containerID, startedAt, restartCount); a pod deleted
#     from the store while the agent was down (the node restarted once with
#     noRuntime in node.json: API up, agent touching nothing) is cleaned;
#     the adopted container's later death is still seen (it restarts)
#  7. bad image reference, unreachable registry, digest mismatch (a blob
#     tampered in the registry's storage), missing secret: ErrImagePull then
#     ImagePullBackOff, CreateContainerConfigError naming the secret; the
#     node still runs a good pod afterwards
# At the end: no runc container, mount, pod cgroup or registry process left.
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (runc, mounts, cgroups)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci docker-registry jq curl; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }

. "$(dirname "$0")/lib.sh"

D=$(node_dir 1)
RUNC_ROOT="$D/agent/runc"
NS=/api/v1/namespaces/default
declare -A UIDS=() # pod name -> uid, for the leftover checks

# pod cgroups of this test's pods (other tests may run nodes named node1 too)
pod_cgroups() { # uid
    local c
    for c in /sys/fs/cgroup/*/skiff-node1/pod"$1" /sys/fs/cgroup/skiff-node1/pod"$1"; do
        [ -d "$c" ] && echo "$c"
    done
}

t_cleanup() {
    local id m u c
    for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
        runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1
    done
    # deepest mounts first
    awk -v d="$T_DIR" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    for u in "${UIDS[@]}"; do
        for c in $(pod_cgroups "$u"); do
            find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    done
}

W=$T_DIR/img
mkdir -p "$W"
log "building the busybox images"
(
    set -e
    cd "$W"
    umoci init --layout oci
    umoci new --image oci:busybox
    umoci unpack --image oci:busybox bundle
    mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/tmp
    chmod 1777 bundle/rootfs/tmp
    cp /bin/busybox bundle/rootfs/bin/busybox
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -sf busybox "bundle/rootfs/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >bundle/rootfs/etc/passwd
    echo 'root:x:0:' >bundle/rootfs/etc/group
    umoci repack --refresh-bundle --image oci:busybox bundle
    umoci config --image oci:busybox --config.cmd /bin/sh
    # a second tag with a layer of its own: the one whose blob gets damaged
    umoci unpack --image oci:busybox bundle2
    head -c 200000 /dev/urandom >bundle2/rootfs/etc/noise
    umoci repack --image oci:busybox-bad bundle2
) >"$W/build.log" 2>&1 || { cat "$W/build.log"; fail "could not build the image"; }

# ---- the registry (its process is T_PID[9]: lib.sh stops it) ----
REG=127.0.0.1:$(( T_BASE + 7 ))
cat >"$W/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $W/reg
http:
  addr: $REG
EOF
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
T_PID[9]=$!
wait_until 20 "registry answers /v2/" curl -sf --max-time 2 "http://$REG/v2/"
for t in busybox:1.36 busybox-bad:bad; do
    skopeo copy --insecure-policy --dest-tls-verify=false "oci:$W/oci:${t%%:*}" \
        "docker://$REG/busybox:${t#*:}" >"$W/skopeo.log" 2>&1 ||
        { cat "$W/skopeo.log"; fail "skopeo push $t"; }
done

# short restart back-off (base 500 ms, max 15 s), read by the node's agent
export SKIFF_AGENT_BACKOFF_MS=500
T_RUNTIME=runc start_init 1
wait_until 20 "api up" api_is 200 1 GET "$NS"

# ---- helpers ----
IMG=$REG/busybox:1.36
pod_json() { # name restartPolicy command [extra spec json] [extra container json]
    local spec=${4:-} ctr=${5:-}
    jq -cn --arg n "$1" --arg rp "$2" --arg cmd "$3" --arg img "$IMG" \
        --argjson spec "${spec:-null}" --argjson ctr "${ctr:-null}" '
        {apiVersion: "v1", kind: "Pod", metadata: {name: $n},
         spec: ({restartPolicy: $rp, terminationGracePeriodSeconds: 2,
                 containers: [({name: "c", image: $img, imagePullPolicy: "IfNotPresent",
                                command: ["sh", "-c", $cmd]} + ($ctr // {}))]} + ($spec // {}))}'
}
create() { # json
    local name out
    name=$(jq -r .metadata.name <<<"$1")
    out=$(api 1 POST "$NS/pods" "$1")
    [ "$(tail -n 1 <<<"$out")" = 201 ] || fail "create pod $name: $out"
    UIDS[$name]=$(sed '$d' <<<"$out" | jq -r .metadata.uid)
}
pod_get() { api_body 1 GET "$NS/pods/$1"; }
# pod_is NAME JQ_EXPR [jq args]: predicate on the pod object
pod_is() { local n=$1 x=$2 b; shift 2; b=$(pod_get "$n") || return 1; jq -e "$@" "$x" <<<"$b" >/dev/null; }
cs() { echo '.status.containerStatuses[0]'; }
gone() { api_is 404 1 GET "$NS/pods/$1"; }
log_dir() { echo "$D/agent/logs/default_$1_${UIDS[$1]}"; }
log_has() { grep -rqs -- "$2" "$(log_dir "$1")"; }
runc_ids() { runc --root "$RUNC_ROOT" list -q 2>/dev/null; }
runc_has() { runc_ids | grep -q "^$1_"; }

# nothing of pod uid on the machine: runc container, mount, cgroup, dirs
nothing_of() { # uid
    local u=$1
    if runc_ids | grep -q "^${u}_"; then echo "runc container of $u left"; return 1; fi
    if grep -q "$u" /proc/self/mountinfo; then echo "mount of $u left"; return 1; fi
    if [ -n "$(pod_cgroups "$u")" ]; then echo "cgroup of $u left: $(pod_cgroups "$u")"; return 1; fi
    if [ -e "$D/agent/pods/$u" ] || [ -e "$D/agent/sandboxes/$u" ]; then
        echo "dirs of $u left"; return 1
    fi
    return 0
}
delete_pod() { api_is 200 1 DELETE "$NS/pods/$1" || fail "delete $1"; }

T0=$(date +%s)

# ====== 1. pull + httpd serving a Secret volume on the host network ======
log "1. pull from $REG, httpd serving a Secret"
HPORT=$(( T_BASE + 30 ))
SECRET='{"apiVersion":"v1","kind":"Secret","metadata":{"name":"web-secret"},"data":{"greeting":"'$(printf 'hello-from-a-secret' | base64)'"}}'
api_is 201 1 POST "$NS/secrets" "$SECRET" || fail "create secret"
create "$(pod_json web Always "echo web-starting; exec httpd -f -p $HPORT -h /data" \
    '{"hostNetwork": true, "volumes": [{"name": "s", "secret": {"secretName": "web-secret"}}]}' \
    '{"imagePullPolicy": "Always", "volumeMounts": [{"name": "s", "mountPath": "/data"}]}')"

# ====== 2, 3, 4: started together, checked one after the other ======
log "2-4. crash loop, Never/Failed, OOM, probes"
create "$(pod_json crash Always 'echo crashing; exit 1')"
create "$(pod_json never Never 'echo failing; exit 1')"
# shellcheck disable=SC2016 # $(...) is for the container's shell
create "$(pod_json oom Never 'echo allocating; x=$(head -c 67108864 /dev/zero | tr "\000" a); echo survived' \
    '{}' '{"resources": {"limits": {"memory": "32Mi"}}}')"
create "$(pod_json live Always 'touch /tmp/healthy; sleep 3; rm -f /tmp/healthy; exec sleep 1000' \
    '{"terminationGracePeriodSeconds": 1}' \
    '{"livenessProbe": {"exec": {"command": ["test", "-f", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 1}}')"
# readiness follows a file the test flips in a hostPath dir: the container's
# own loop mirrors it into /tmp/ready, which the probe tests
CTL=$T_DIR/ctl
mkdir -p "$CTL"
create "$(pod_json ready Always 'while true; do if [ -f /ctl/ready ]; then touch /tmp/ready; else rm -f /tmp/ready; fi; sleep 0.2; done' \
    "{\"terminationGracePeriodSeconds\": 1, \"volumes\": [{\"name\": \"ctl\", \"hostPath\": {\"path\": \"$CTL\"}}]}" \
    '{"volumeMounts": [{"name": "ctl", "mountPath": "/ctl"}], "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}}')"

# ---- 1: checks ----
wait_until 60 "pod web Running" pod_is web '.status.phase == "Running"'
pod_is web "$(cs).imageID | startswith(\"$REG/busybox@sha256:\")" ||
    fail "imageID: $(pod_get web | jq -c "$(cs)")"
serves() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$HPORT/greeting")" = hello-from-a-secret ]; }
wait_until 20 "httpd serves the secret" serves
wait_until 10 "web's log has its output" log_has web web-starting
out=$("$SKIFF" logs web --kubeconfig "$D/admin.kubeconfig" 2>&1) || fail "skiff logs web: $out"
grep -q web-starting <<<"$out" || fail "skiff logs web: $out"
log "skiff logs: ok"
# skiff exec: the command's output and exit code
out=$("$SKIFF" exec web --kubeconfig "$D/admin.kubeconfig" -- cat /data/greeting 2>&1)
[ "$out" = hello-from-a-secret ] || fail "skiff exec web -- cat: $out"
"$SKIFF" exec web --kubeconfig "$D/admin.kubeconfig" -- sh -c 'echo to-stderr >&2; exit 3' \
    >/dev/null 2>"$T_DIR/exec.err"
rc=$?
[ $rc = 3 ] || fail "skiff exec: exit code $rc, want 3"
grep -qx to-stderr "$T_DIR/exec.err" || fail "skiff exec: stderr $(cat "$T_DIR/exec.err")"
log "skiff exec: ok"

# ---- 2: CrashLoopBackOff with growing back-off; Never -> Failed 1 ----
declare -A BACKOFFS=()
crash_looping() {
    local b m
    b=$(pod_get crash) || return 1
    m=$(jq -r "$(cs).state.waiting | select(.reason == \"CrashLoopBackOff\") | .message" <<<"$b")
    [[ $m =~ back-off\ ([0-9]+)s ]] && BACKOFFS[${BASH_REMATCH[1]}]=1
    [ "$(jq -r "$(cs).restartCount" <<<"$b")" -ge 3 ] && [ "${#BACKOFFS[@]}" -ge 2 ]
}
wait_until 40 "crash: CrashLoopBackOff, restartCount >= 3, growing back-off" crash_looping
log "crash: back-offs seen: ${!BACKOFFS[*]}"
# as kubelet: a crash-looping pod stays Running, and is not Ready
pod_is crash '.status.phase == "Running" and (.status.conditions[] | select(.type == "Ready") | .status) == "False"' ||
    fail "crash: $(pod_get crash | jq -c '{phase: .status.phase, conditions: .status.conditions}')"
pod_is crash "$(cs).lastState.terminated.exitCode == 1" ||
    fail "crash lastState: $(pod_get crash | jq -c "$(cs)")"
wait_until 30 "never: Failed" pod_is never '.status.phase == "Failed"'
pod_is never "$(cs).state.terminated.exitCode == 1 and $(cs).restartCount == 0" ||
    fail "never: $(pod_get never | jq -c "$(cs)")"

# ---- 3: OOMKilled ----
wait_until 30 "oom: terminated" pod_is oom "$(cs).state.terminated != null"
pod_is oom "$(cs).state.terminated | .reason == \"OOMKilled\" and .exitCode == 137" ||
    fail "oom: $(pod_get oom | jq -c "$(cs).state")"
pod_is oom '.status.phase == "Failed"' || fail "oom phase: $(pod_get oom | jq -r .status.phase)"
log_has oom survived && fail "oom: the allocation succeeded"

# ---- 4: liveness restarts, readiness both ways ----
wait_until 30 "live: restarted by its liveness probe" pod_is live "$(cs).restartCount >= 1"
pod_is live "$(cs).lastState.terminated != null" || fail "live: $(pod_get live | jq -c "$(cs)")"
ready_is() { # Ready and ContainersReady conditions, and the container's ready
    pod_is ready "([.status.conditions[] | select(.type == \"Ready\" or .type == \"ContainersReady\") |
        .status] == [\"$1\", \"$1\"]) and $(cs).ready == $2"
}
wait_until 30 "ready: Running, not Ready" pod_is ready '.status.phase == "Running"'
ready_is False false || fail "ready: Ready before the file: $(pod_get ready | jq -c .status.conditions)"
touch "$CTL/ready"
wait_until 15 "ready: Ready True" ready_is True true
rm -f "$CTL/ready"
wait_until 15 "ready: Ready False again" ready_is False false
touch "$CTL/ready"
wait_until 15 "ready: Ready True again" ready_is True true
pod_is ready "$(cs).restartCount == 0" || fail "ready: restarted"

log "cleaning up cases 1-4"
for p in crash never oom live ready; do delete_pod "$p"; done

# ====== 5. delete: SIGTERM reaches the process, grace honoured ======
log "5. graceful delete"
create "$(pod_json term Always 'trap "echo got-sigterm; sleep 1; exit 0" TERM; echo term-waiting; while true; do sleep 0.1; done' \
    '{"terminationGracePeriodSeconds": 10}')"
wait_until 30 "term: Running" pod_is term '.status.phase == "Running"'
wait_until 10 "term: log" log_has term term-waiting
t1=$(date +%s%N)
delete_pod term
# graceful: the object stays, marked, while the container stops
pod_is term '.metadata.deletionTimestamp != null and .metadata.deletionGracePeriodSeconds == 10' ||
    fail "term: not deleted gracefully: $(pod_get term | head -c 300)"
# the log goes with the pod: read it while the trap sleeps
wait_until 9 "term: SIGTERM written to the log" log_has term got-sigterm
wait_until 10 "term: gone" gone term
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
log "term: deleted in ${ms} ms (grace 10 s, the trap takes 1 s)"
# at least the trap's second (the pod waited for its container), well below
# the grace (the container exited on SIGTERM, no SIGKILL was needed)
[ "$ms" -ge 900 ] || fail "term: gone after ${ms} ms: removed before its container stopped"
[ "$ms" -lt 9000 ] || fail "term: deletion took ${ms} ms: SIGKILL after the grace, not SIGTERM"
wait_until 10 "term: nothing left" nothing_of "${UIDS[term]}"

# ====== 6. kill -9 of the node: adopt running pods, clean deleted ones ======
log "6. kill -9 and adoption"
create "$(pod_json keep Always 'echo keep-started; exec sleep 100000')"
create "$(pod_json drop Always 'echo drop-started; exec sleep 100000')"
wait_until 30 "keep Running" pod_is keep '.status.phase == "Running"'
wait_until 30 "drop Running" pod_is drop '.status.phase == "Running"'
before=$(pod_get keep | jq -c "$(cs) | {containerID, restartCount, startedAt: .state.running.startedAt}")
pid_before=$(runc --root "$RUNC_ROOT" state "${UIDS[keep]}_c" | jq -r .pid)
kill9 1
# once with the agent off (noRuntime in node.json): the API deletes pod drop
# from the store and nothing on the machine is touched
# (sed, not jq: jq rounds the 64-bit node id to a double)
sed -i 's/"noRuntime": false/"noRuntime": true/' "$D/node.json"
grep -q '"noRuntime": true' "$D/node.json" || fail "node.json: $(cat "$D/node.json")"
restart_node 1
wait_until 30 "api up (no runtime)" api_is 200 1 GET "$NS"
runc_has "${UIDS[drop]}" || fail "drop's container died with the node"
delete_pod drop
wait_until 20 "drop gone from the store" gone drop
stop_node 1 || fail "node stopped with an error"
runc_has "${UIDS[drop]}" || fail "drop's container removed with the agent off"
sed -i 's/"noRuntime": true/"noRuntime": false/' "$D/node.json"
restart_node 1
wait_until 30 "api up again" api_is 200 1 GET "$NS"
wait_until 30 "drop cleaned after the restart" nothing_of "${UIDS[drop]}"
adopted() {
    local now
    now=$(pod_get keep | jq -c "$(cs) | {containerID, restartCount, startedAt: .state.running.startedAt}")
    [ "$now" = "$before" ] && pod_is keep '.status.phase == "Running"'
}
wait_until 20 "keep adopted" adopted
pid_after=$(runc --root "$RUNC_ROOT" state "${UIDS[keep]}_c" | jq -r .pid)
[ "$pid_after" = "$pid_before" ] || fail "keep restarted: pid $pid_before -> $pid_after"
[ "$(grep -rh keep-started "$(log_dir keep)" | wc -l)" = 1 ] || fail "keep ran twice"
# the adopted container is no child of this process: its exit is still seen
# (restartPolicy Always: it runs again)
kill -KILL "$pid_after"
wait_until 20 "keep: the adopted container's exit seen, restarted" pod_is keep \
    "$(cs).restartCount == 1 and $(cs).state.running != null"
log "keep after its kill: $(pod_get keep | jq -c "$(cs).lastState")"
# still under control: the adopted container stops on delete
delete_pod keep
wait_until 20 "keep gone" gone keep
wait_until 10 "keep: nothing left" nothing_of "${UIDS[keep]}"

# ====== 7. image and config errors: precise reasons, the node carries on ======
log "7. image and config errors"
LAYER=$(curl -sf --max-time 5 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/busybox/manifests/bad" | jq -r '.layers[-1].digest')
BLOB=$W/reg/docker/registry/v2/blobs/sha256/${LAYER:7:2}/${LAYER#sha256:}/data
[ -f "$BLOB" ] || fail "registry blob $BLOB not found"
printf 'SKIFFSKIFF' | dd of="$BLOB" bs=1 seek=5000 conv=notrunc status=none
create "$(pod_json badref Always 'exit 0' '{}' '{"image": "no-such-registry.invalid/x:1"}')"
create "$(pod_json unreach Always 'exit 0' '{}' '{"image": "127.0.0.1:1/x:1"}')"
create "$(pod_json corrupt Always 'exit 0' '{}' "{\"image\": \"$REG/busybox:bad\"}")"
create "$(pod_json nosecret Always 'exit 0' '{}' \
    '{"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "no-such-secret", "key": "pw"}}}]}')"
create "$(pod_json novol Always 'exit 0' \
    '{"volumes": [{"name": "s", "secret": {"secretName": "no-such-volume-secret"}}]}' \
    '{"volumeMounts": [{"name": "s", "mountPath": "/s"}]}')"
declare -A SEEN=()
# reasons NAME: records every waiting reason the pod shows
reasons_seen() { # name want...
    local n=$1 r; shift
    r=$(pod_get "$n" | jq -r "$(cs).state.waiting.reason // empty") || return 1
    [ -n "$r" ] && SEEN[$n]="${SEEN[$n]:-} $r"
    for r in "$@"; do [[ " ${SEEN[$n]:-} " == *" $r "* ]] || return 1; done
}
for p in badref unreach corrupt; do
    wait_until 30 "$p: ErrImagePull then ImagePullBackOff" reasons_seen "$p" ErrImagePull ImagePullBackOff
    log "$p: $(pod_get "$p" | jq -r "$(cs).state.waiting | \"\(.reason): \(.message)\"")"
done
pod_is corrupt "$(cs).state.waiting.message | test(\"digest mismatch\")" ||
    fail "corrupt: $(pod_get corrupt | jq -c "$(cs).state")"
[ ! -e "$D/agent/images/blobs/sha256/${LAYER#sha256:}" ] || fail "the corrupt blob was kept"
for p in nosecret novol; do
    sec=$([ $p = nosecret ] && echo no-such-secret || echo no-such-volume-secret)
    wait_until 20 "$p: CreateContainerConfigError naming the secret" pod_is "$p" \
        "$(cs).state.waiting | .reason == \"CreateContainerConfigError\" and (.message | test(\"$sec\"))"
    log "$p: $(pod_get "$p" | jq -r "$(cs).state.waiting.message")"
done
create "$(pod_json after Always 'echo after-ok; exec sleep 100000')"
wait_until 30 "a good pod still runs" pod_is after '.status.phase == "Running"'
wait_until 10 "after: log" log_has after after-ok
kill -0 "${T_PID[1]}" || fail "the node died"

# ====== the end: everything deleted, nothing left ======
log "deleting everything"
for p in web badref unreach corrupt nosecret novol after; do delete_pod "$p"; done
for p in "${!UIDS[@]}"; do wait_until 30 "$p gone" gone "$p"; done
for p in "${!UIDS[@]}"; do wait_until 10 "$p: nothing left" nothing_of "${UIDS[$p]}"; done
[ -z "$(runc_ids)" ] || fail "runc containers left: $(runc_ids)"
stop_node 1 || fail "node stopped with an error"
mounts=$(awk -v d="$D" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo)
[ -z "$mounts" ] || fail "mounts left: $mounts"
kill -TERM "${T_PID[9]}"
wait_pid_exit "${T_PID[9]}" 10 || fail "the registry did not stop"
unset 'T_PID[9]'
log "PASS in $(( $(date +%s) - T0 )) s after the node started"
