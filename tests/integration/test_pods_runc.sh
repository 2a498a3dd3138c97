#!/usr/bin/env bash
# tags: root, slow
# The agent's pod driver on the real runc: a busybox image built with umoci
# (every applet linked), exported as an OCI archive with skopeo, imported
# into the node's image store by the helper tests/unit/agent/test_pods_runc,
# which drives agent__pods_set with real pods (run + log, CrashLoopBackOff,
# Never -> Failed, OOMKilled, Secret volume and env, missing Secret, probes,
# deletion with SIGTERM and grace leaving nothing, adoption across a
# close/open of the driver). See that file for the cases.
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (runc, mounts, cgroups)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }

. "$(dirname "$0")/lib.sh"

ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SKIFF_PODS_RUNC_BIN:-$ROOT_DIR/build/test/tests/unit/agent/test_pods_runc}
[ -x "$BIN" ] || fail "helper $BIN not built (make build-test)"
W=$T_DIR/img
mkdir -p "$W"

log "building the image with umoci"
busybox_image "$W"

log "running the pod driver cases"
SKIFF_TEST_PODS_IMAGE=$W/busybox.tar ASAN_OPTIONS=detect_leaks=1 "$BIN" >"$T_DIR/n1.log" 2>&1
rc=$?
grep -E '^\[ *(OK|FAILED|PASSED|SKIPPED|ERROR|LINE) *\]' "$T_DIR/n1.log"
[ $rc -eq 0 ] || { tail -n 80 "$T_DIR/n1.log"; fail "pod driver cases"; }
grep -q 'PASSED  \] 10 test' "$T_DIR/n1.log" || fail "not every case ran"
log "PASS"
