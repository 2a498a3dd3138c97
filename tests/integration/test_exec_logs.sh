#!/usr/bin/env bash
# tags: root, slow
# skiff exec and skiff logs -f on the real runtime, two nodes (runc),
# busybox imported on both, hostNetwork pods (no pod network needed):
#  - exec on the local node: stdout, stderr and the exit code of
#    `sh -c 'echo out; echo err >&2; exit 3'`; a missing program exits 127;
#    an unknown container is a clear error (exit 1, names it)
#  - exec of a pod on node2 through node1's API (forwarded with the caller's
#    token); a node's own certificate may not exec (403); an Upgrade request
#    (interactive kubectl) gets 400
#  - logs -f: sees a line written after it started (exec writes to the
#    container's stdout through /proc/1/fd/1), locally and through node1 for
#    node2's pod, follows a container across a restart, and ends when the
#    pod is deleted
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (runc, mounts, cgroups)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci jq curl; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }

. "$(dirname "$0")/lib.sh"

D=$(node_dir 1)
FOLLOWERS=()
t_cleanup() {
    local id root p
    for p in "${FOLLOWERS[@]}"; do kill "$p" 2>/dev/null; done
    for root in "$(node_dir 1)/agent/runc" "$(node_dir 2)/agent/runc"; do
        for id in $(runc --root "$root" list -q 2>/dev/null); do
            runc --root "$root" delete -f "$id" >/dev/null 2>&1
        done
    done
    awk -v d="$T_DIR" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
}

W=$T_DIR/img
mkdir -p "$W"
log "building the busybox image"
busybox_image "$W"

export SKIFF_AGENT_BACKOFF_MS=300 # the restarting pod comes back quickly
T_RUNTIME=runc start_init 1
T_RUNTIME=runc start_join 2 1
wait_until 30 "node2 joined" test -e "$(node_dir 2)/initialized"
for n in 1 2; do
    out=$("$SKIFF" image import "$W/busybox.tar" --ref busybox:1.36 --data-dir "$(node_dir $n)" 2>&1) ||
        fail "skiff image import on node$n: $out"
done
wait_until 20 "api up" api_is 200 1 GET /api/v1/namespaces/default

NS=/api/v1/namespaces/default
KCFG="$D/admin.kubeconfig"
sk() { "$SKIFF" "$1" --kubeconfig "$KCFG" "${@:2}"; } # flags before exec's "--"
pod() { # name node command
    jq -cn --arg n "$1" --arg node "$2" --arg cmd "$3" '
        {apiVersion: "v1", kind: "Pod", metadata: {name: $n},
         spec: {restartPolicy: "Always", terminationGracePeriodSeconds: 1, hostNetwork: true,
                nodeSelector: {"kubernetes.io/hostname": $node},
                containers: [{name: "c", image: "busybox:1.36", imagePullPolicy: "Never",
                              command: ["sh", "-c", $cmd]}]}}'
}
phase_is() { [ "$(api_body 1 GET "$NS/pods/$1" | jq -r .status.phase)" = "$2" ]; }
running() { api_body 1 GET "$NS/pods/$1" | jq -e '.status.containerStatuses[0].state.running' >/dev/null; }

api_is 201 1 POST "$NS/pods" "$(pod near node1 'echo near-started; exec sleep 100000')" || fail "create near"
api_is 201 1 POST "$NS/pods" "$(pod far node2 'echo far-started; echo i-am-far >/tmp/who; exec sleep 100000')" || fail "create far"
api_is 201 1 POST "$NS/pods" "$(pod crash node1 'echo run-$(cat /proc/uptime); sleep 1; exit 1')" ||
    fail "create crash"
wait_until 60 "pod near running" running near
wait_until 60 "pod far running" running far

# ---- exec, local ----
out=$(sk exec near -- sh -c 'echo out; echo err >&2; exit 3' 2>"$T_DIR/err")
rc=$?
[ $rc = 3 ] || fail "exec exit code $rc, want 3 (stderr: $(cat "$T_DIR/err"))"
[ "$out" = out ] || fail "exec stdout: $out"
[ "$(cat "$T_DIR/err")" = err ] || fail "exec stderr: $(cat "$T_DIR/err")"
out=$(sk exec near -- /no/such/program 2>&1)
rc=$?
[ $rc = 127 ] || fail "missing program: exit $rc, want 127 ($out)"
out=$(sk exec near -c nope -- true 2>&1) && fail "exec -c nope succeeded: $out"
grep -q 'container nope is not valid' <<<"$out" || fail "unknown container message: $out"
out=$(sk exec ghost -- true 2>&1) && fail "exec in a missing pod succeeded: $out"
grep -q 'not found' <<<"$out" || fail "missing pod message: $out"
log "exec local: output, stderr, exit code 3, 127, unknown container, missing pod"

# ---- exec, forwarded; who may exec ----
out=$(sk exec far -- sh -c 'cat /tmp/who; exit 5')
rc=$?
[ $rc = 5 ] || fail "forwarded exec exit $rc, want 5"
[ "$out" = i-am-far ] || fail "forwarded exec ran elsewhere: $out"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" --cert "$D/pki/node.crt" \
    --key "$D/pki/node.key" -X POST "https://127.0.0.1:$(api_port 1)$NS/pods/near/exec?command=true")
[ "$code" = 403 ] || fail "a node's certificate may exec: $code"
out=$(curl -sS --cacert "$D/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    -H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' -X POST -w '\n%{http_code}' \
    "https://127.0.0.1:$(api_port 1)$NS/pods/near/exec?command=true")
[ "$(tail -n 1 <<<"$out")" = 400 ] && grep -q 'interactive exec is not supported' <<<"$out" ||
    fail "upgrade request: $out"
log "exec forwarded to node2, node certificate refused, upgrade refused"

# ---- logs -f ----
follow() { # pod outfile: the follower's pid in $F (not $(...): FOLLOWERS must stick)
    sk logs -f "$1" >"$2" 2>&1 &
    F=$!
    FOLLOWERS+=("$F")
}
has() { grep -q -- "$2" "$1"; }
follow near "$T_DIR/near.out"; FN=$F
follow far "$T_DIR/far.out"; FF=$F
follow crash "$T_DIR/crash.out"; FC=$F
wait_until 10 "near's follow has the first line" has "$T_DIR/near.out" near-started
wait_until 10 "far's follow has the first line" has "$T_DIR/far.out" far-started
sk exec near -- sh -c 'echo late-near >>/proc/1/fd/1' || fail "exec write near"
sk exec far -- sh -c 'echo late-far >>/proc/1/fd/1' || fail "exec write far"
wait_until 10 "near's follow sees a later line" has "$T_DIR/near.out" late-near
wait_until 10 "far's follow (through node1) sees a later line" has "$T_DIR/far.out" late-far
runs() { [ "$(grep -c '^run-' "$T_DIR/crash.out")" -ge 2 ]; }
wait_until 30 "crash's follow goes on across a restart" runs
log "logs -f: later lines, local and forwarded, across a restart"

# a client that goes away mid-follow (local and forwarded): the nodes let
# go of the stream (ASan builds would report a use after free at exit)
follow near "$T_DIR/gone-near.out"; GN=$F
follow far "$T_DIR/gone-far.out"; GF=$F
wait_until 10 "second followers started" has "$T_DIR/gone-far.out" far-started
wait_until 10 "second local follower started" has "$T_DIR/gone-near.out" near-started
kill "$GN" "$GF"
sk exec far -- sh -c 'echo after-client-left >>/proc/1/fd/1' || fail "exec after a follower left"
wait_until 10 "the remaining follower still streams" has "$T_DIR/far.out" after-client-left
log "logs -f: clients that went away are let go, the others go on"

for p in near far crash; do api_is 200 1 DELETE "$NS/pods/$p" || fail "delete $p"; done
for p in $FN $FF $FC; do
    wait_pid_exit "$p" 30 || fail "logs -f $p did not end when its pod was deleted"
done
gone() { api_is 404 1 GET "$NS/pods/$1"; }
for p in near far crash; do wait_until 30 "pod $p gone" gone $p; done
no_containers() {
    [ -z "$(runc --root "$D/agent/runc" list -q)" ] && [ -z "$(runc --root "$(node_dir 2)/agent/runc" list -q)" ]
}
wait_until 20 "no runc container left" no_containers
log "PASS"
