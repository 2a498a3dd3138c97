#!/usr/bin/env bash
# tags: root, slow
# End to end on the real runtime: a node started with the runc runtime, a
# busybox image (umoci + skopeo, as test_pods_runc.sh builds it) imported
# with `skiff image import`, a Pod created through the API runs: the
# scheduler binds it, the agent runs it with runc, its status says Running
# with the container started, its log has the output; a container that
# exits 3 under restartPolicy Never makes the pod Failed with exit code 3;
# deleting a pod stops it within its grace period and leaves no runc
# container, mount or sandbox behind.
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (runc, mounts, cgroups)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }

. "$(dirname "$0")/lib.sh"

D=$(node_dir 1)
RUNC_ROOT="$D/agent/runc"
t_cleanup() {
    local id root
    for root in "$(node_dir 1)/agent/runc" "$(node_dir 2)/agent/runc"; do
        for id in $(runc --root "$root" list -q 2>/dev/null); do
            runc --root "$root" delete -f "$id" >/dev/null 2>&1
        done
    done
    # deepest mounts first
    awk -v d="$T_DIR" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
}

W=$T_DIR/img
mkdir -p "$W"
log "building the busybox image"
busybox_image "$W"

T_RUNTIME=runc start_init 1
T_RUNTIME=runc start_join 2 1
wait_until 30 "node2 joined" test -e "$(node_dir 2)/initialized"
for n in 1 2; do
    out=$("$SKIFF" image import "$W/busybox.tar" --ref busybox:1.36 --data-dir "$(node_dir $n)" 2>&1) ||
        fail "skiff image import on node$n: $out"
done
out=$("$SKIFF" image ls --data-dir "$D" 2>&1) || fail "skiff image ls: $out"
grep -q 'busybox:1.36' <<<"$out" || fail "image ls: $out"
wait_until 20 "api up" api_is 200 1 GET /api/v1/namespaces/default

pod() { # name restartPolicy command [node]
    printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s"},"spec":{"restartPolicy":"%s","terminationGracePeriodSeconds":2,"nodeSelector":{"kubernetes.io/hostname":"%s"},"containers":[{"name":"c","image":"busybox:1.36","imagePullPolicy":"Never","command":["sh","-c","%s"]}]}}' "$1" "$2" "${4:-node1}" "$3"
}
phase_is() { [ "$(api_body 1 GET "/api/v1/namespaces/default/pods/$1" | jq -r .status.phase)" = "$2" ]; }

api_is 201 1 POST /api/v1/namespaces/default/pods "$(pod web Always 'echo hello-from-skiff; exec sleep 1000')" ||
    fail "create pod web"
wait_until 60 "pod web Running" phase_is web Running
st=$(api_body 1 GET /api/v1/namespaces/default/pods/web)
[ "$(jq -r .spec.nodeName <<<"$st")" = node1 ] || fail "not bound: $st"
[ "$(jq -r '.status.containerStatuses[0].state.running.startedAt // empty' <<<"$st")" != "" ] ||
    fail "container not running: $(jq -c .status <<<"$st")"
log_has_hello() { grep -rqs hello-from-skiff "$D/agent/logs"; }
wait_until 20 "the log has the output" log_has_hello
[ -n "$(runc --root "$RUNC_ROOT" list -q)" ] || fail "no runc container"
KCFG="$D/admin.kubeconfig"
out=$("$SKIFF" logs web --kubeconfig "$KCFG" 2>&1) || fail "skiff logs: $out"
grep -q '^hello-from-skiff$' <<<"$out" || fail "skiff logs: $out"

# a pod on node2, its log read through node1's API (proxied with node1's certificate)
api_is 201 1 POST /api/v1/namespaces/default/pods "$(pod far Always 'echo one; echo two; echo three; exec sleep 1000' node2)" ||
    fail "create pod far"
wait_until 60 "pod far Running" phase_is far Running
three_lines() { [ "$("$SKIFF" logs far --kubeconfig "$KCFG" 2>/dev/null | wc -l)" = 3 ]; }
wait_until 20 "far's log through node1" three_lines
out=$("$SKIFF" logs far --tail 1 --kubeconfig "$KCFG" 2>&1) || fail "skiff logs --tail: $out"
[ "$out" = three ] || fail "skiff logs --tail 1: $out"
out=$("$SKIFF" logs far -p --kubeconfig "$KCFG" 2>&1) && fail "logs -p without a restart: $out"
grep -q 'previous terminated container' <<<"$out" || fail "logs -p: $out"

api_is 201 1 POST /api/v1/namespaces/default/pods "$(pod oops Never 'echo bye; exit 3')" ||
    fail "create pod oops"
wait_until 60 "pod oops Failed" phase_is oops Failed
code=$(api_body 1 GET /api/v1/namespaces/default/pods/oops | jq -r '.status.containerStatuses[0].state.terminated.exitCode')
[ "$code" = 3 ] || fail "exit code: $code"

# deletion: graceful (sleep as pid 1 ignores SIGTERM: SIGKILL after 2 s), then gone
for p in web oops far; do api_is 200 1 DELETE "/api/v1/namespaces/default/pods/$p" || fail "delete $p"; done
gone() { api_is 404 1 GET "/api/v1/namespaces/default/pods/$1"; }
for p in web oops far; do wait_until 30 "pod $p gone" gone $p; done
no_containers() {
    [ -z "$(runc --root "$RUNC_ROOT" list -q)" ] && [ -z "$(runc --root "$(node_dir 2)/agent/runc" list -q)" ]
}
wait_until 20 "no runc container left" no_containers
no_mounts() { [ -z "$(awk -v d="$T_DIR" '$5 ~ "^"d {print $5}' /proc/self/mountinfo)" ]; }
wait_until 20 "no mount left" no_mounts
log "agent on runc: run, logs (local and through another node), exit code, graceful delete, nothing left"
