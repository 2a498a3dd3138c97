#!/usr/bin/env bash
# tags: root
# The agent's image store against a real registry (Debian's docker-registry
# on loopback): a two-layer busybox image built with umoci (the top layer
# deletes /bin/echo: a whiteout) is pushed with skopeo, then pulled through
# agent/registry.c by the helper tests/unit/agent/test_image_pull, which
# mounts the overlay rootfs and runs `chroot ROOT /bin/busybox echo hello`.
# A node on runc then pulls through the token-auth front with a Pod's
# imagePullSecrets (and is refused without). Then the failures: a wrong tag
# (404 named), pull by digest, a blob
# tampered in the registry's storage (digest mismatch, nothing kept), and a
# stopped registry (ERR_IO naming the URL).
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (overlay mounts, chroot)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in docker-registry skopeo umoci jq curl; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }

. "$(dirname "$0")/lib.sh"

ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
PULL=${SKIFF_IMAGE_PULL_BIN:-$ROOT_DIR/build/test/tests/unit/agent/test_image_pull}
[ -x "$PULL" ] || fail "helper $PULL not built (make build-test)"

PORT=$(( T_BASE + 7 ))
REG=127.0.0.1:$PORT
W=$T_DIR/img
mkdir -p "$W"

# unmount whatever the helper left mounted before lib.sh's cleanup kills the
# registry and removes T_DIR (rm -rf must never walk into a live overlay)
img_cleanup() {
    local rc=$? m
    for m in $(awk -v d="$T_DIR" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
        umount -l "$m" 2>/dev/null
    done
    (exit "$rc")
    cleanup
}
trap img_cleanup EXIT

# ---- a two-layer busybox image ----
log "building the image with umoci"
(
    set -e
    cd "$W"
    umoci init --layout oci
    umoci new --image oci:busybox
    umoci unpack --image oci:busybox bundle
    mkdir -p bundle/rootfs/bin bundle/rootfs/etc
    cp /bin/busybox bundle/rootfs/bin/busybox
    ln -s busybox bundle/rootfs/bin/sh
    ln -s busybox bundle/rootfs/bin/echo
    umoci repack --refresh-bundle --image oci:busybox bundle
    rm bundle/rootfs/bin/echo
    echo "hi from skiff" >bundle/rootfs/etc/skiff-hello
    umoci repack --image oci:busybox bundle
    umoci config --image oci:busybox --config.cmd /bin/sh
) >"$W/umoci.log" 2>&1 || { cat "$W/umoci.log"; fail "umoci could not build the image"; }

# ---- the registry ----
cat >"$W/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $W/reg
  delete:
    enabled: true
http:
  addr: $REG
EOF
docker-registry serve "$W/registry.yml" >"$T_DIR/n9.log" 2>&1 &
T_PID[9]=$!
wait_until 20 "registry answers /v2/" curl -sf --max-time 2 "http://$REG/v2/"

log "pushing with skopeo"
skopeo copy --insecure-policy --dest-tls-verify=false "oci:$W/oci:busybox" \
    "docker://$REG/busybox:1.36" >"$W/skopeo.log" 2>&1 ||
    { cat "$W/skopeo.log"; fail "skopeo push"; }

# A token-auth front for the registry (python3): 401 + Bearer challenge,
# a token only for the right basic credentials and scope, one 503 on the
# first manifest request (the pull retries), then proxies to the registry.
cat >"$W/authproxy.py" <<'EOF'
import base64, http.server, json, sys, urllib.error, urllib.request
port, upstream, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
TOKEN = "skiff-test-token"
state = {"failed_once": False}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, fmt, *a):
        sys.stderr.write(fmt % a + "\n")
        sys.stderr.flush()
    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/token"):
            want = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            if "scope=repository%3Abusybox%3Apull" not in self.path or "service=skiff-test" not in self.path:
                return self.send(400)
            return self.send(200, json.dumps({"token": TOKEN}).encode(), [("Content-Type", "application/json")])
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            chal = f'Bearer realm="http://127.0.0.1:{port}/token",service="skiff-test",scope="repository:busybox:pull"'
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                             [("WWW-Authenticate", chal), ("Content-Type", "application/json")])
        if "/manifests/" in self.path and not state["failed_once"]:
            state["failed_once"] = True
            return self.send(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}')
        req = urllib.request.Request(upstream + self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                keep = [(k, v) for k, v in r.getheaders() if k.lower() in ("content-type", "docker-content-digest")]
                return self.send(r.status, r.read(), keep)
        except urllib.error.HTTPError as err:
            return self.send(err.code, err.read())
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
APORT=$(( T_BASE + 8 ))
python3 "$W/authproxy.py" "$APORT" "http://$REG" skiff s3cret >"$T_DIR/n8.log" 2>&1 &
T_PID[8]=$!
auth_proxy_up() { [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/v2/")" = 401 ]; }
wait_until 20 "auth proxy answers 401" auth_proxy_up

# pull NAME REF EXPECT [MSG] [RUN]: runs the helper with its own store dir
pull() {
    local name=$1 ref=$2 expect=$3 msg=${4:-} run=${5:-0}
    log "pull $name: $ref (expect $expect${msg:+: $msg})"
    SKIFF_TEST_REGISTRY=$REG SKIFF_TEST_STORE="$W/store-$name" SKIFF_TEST_REF="$ref" \
        SKIFF_TEST_EXPECT="$expect" SKIFF_TEST_MSG="$msg" SKIFF_TEST_RUN="$run" \
        ASAN_OPTIONS=detect_leaks=1 "$PULL" >"$W/pull-$name.log" 2>&1
    local rc=$?
    grep -E '^(digest|error)=|rootfs ok' "$W/pull-$name.log"
    if [ $rc -ne 0 ]; then cat "$W/pull-$name.log"; fail "pull $name"; fi
}

# ---- success: pull, mount, chroot echo hello, whiteout, second pull no-op ----
pull ok "$REG/busybox:1.36" ok "" 1
grep -q 'progress ref=.*done=.* total=' "$W/pull-ok.log" || fail "no progress reported"

# ---- bearer token auth (with one 503 retried), and wrong credentials ----
SKIFF_TEST_USER=skiff SKIFF_TEST_PASS=s3cret pull auth "127.0.0.1:$APORT/busybox:1.36" ok
grep -q '"GET /v2/busybox/manifests/1.36 HTTP/1.1" 503' "$T_DIR/n8.log" || fail "no 503 was served"
SKIFF_TEST_USER=skiff SKIFF_TEST_PASS=wrong pull badauth "127.0.0.1:$APORT/busybox:1.36" denied \
    "token: GET http://127.0.0.1:$APORT/token?service=skiff-test&scope=repository%3Abusybox%3Apull: 401: UNAUTHORIZED: bad credentials"
pull noauth "127.0.0.1:$APORT/busybox:1.36" denied "token: GET http://127.0.0.1:$APORT/token"

# ---- imagePullSecrets through the daemon: a node on runc pulls from the
# token-auth front with a kubernetes.io/dockerconfigjson Secret; without
# it the pod waits in ErrImagePull/ImagePullBackOff ----
if command -v runc >/dev/null; then
    T_RUNTIME=runc
    t_cleanup() {
        [ -d "$(node_dir 1)" ] && "$SKIFF" reset --data-dir "$(node_dir 1)" --keep-data >/dev/null 2>&1
    }
    start_init 1
    kc() { "$SKIFF" "$@" --kubeconfig "$(node_dir 1)/admin.kubeconfig"; }
    AUTH=$(printf 'skiff:s3cret' | base64 -w0)
    CFG=$(printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$APORT" "$AUTH" | base64 -w0)
    cat <<EOF | kc apply -f - >/dev/null || fail "apply pull-secret pods"
apiVersion: v1
kind: Secret
metadata: {name: regcred}
type: kubernetes.io/dockerconfigjson
data: {.dockerconfigjson: $CFG}
---
apiVersion: v1
kind: Pod
metadata: {name: withsecret}
spec:
  terminationGracePeriodSeconds: 1
  imagePullSecrets: [{name: nosuch}, {name: regcred}]
  containers: [{name: c, image: "127.0.0.1:$APORT/busybox:1.36", command: [/bin/busybox, sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: nosecret}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: "127.0.0.1:$APORT/busybox:1.36", command: [/bin/busybox, sleep, "3600"]}]
EOF
    phase_is() { [ "$(kc get pod "$1" -o json | jq -r .status.phase)" = "$2" ]; }
    wait_until 90 "pod withsecret Running (pulled with the Secret's credentials)" phase_is withsecret Running
    denied() {
        kc get pod nosecret -o json | jq -r '.status.containerStatuses[0].state.waiting.reason' |
            grep -Eq 'ErrImagePull|ImagePullBackOff'
    }
    wait_until 60 "pod nosecret refused by the registry" denied
    kc get pod nosecret -o json | jq -r '.status.containerStatuses[0].state.waiting.message' |
        grep -q 401 || fail "nosecret's message does not say 401: $(kc get pod nosecret -o json | jq -c .status.containerStatuses)"
    ! grep -q s3cret "$T_DIR"/n1.log || fail "the registry password is in the node log"
    kc delete pod withsecret nosecret >/dev/null
    gone() { [ "$(kc get pods -o json | jq '.items | length')" = 0 ]; }
    wait_until 60 "pods deleted" gone
    stop_node 1
    log "imagePullSecrets: pulled with the Secret, refused without, no password in the log"
fi

# ---- by digest ----
MDIGEST=$(curl -sfI --max-time 5 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/busybox/manifests/1.36" | tr -d '\r' |
    awk 'tolower($1) == "docker-content-digest:" {print $2}')
[ -n "$MDIGEST" ] || fail "registry gave no Docker-Content-Digest"
pull bydigest "$REG/busybox@$MDIGEST" ok
grep -q "^digest=$MDIGEST" "$W/pull-bydigest.log" || fail "pull by digest recorded another digest"

# ---- a wrong tag: 404 with the registry's code, as not found ----
pull badtag "$REG/busybox:nope" notfound "manifests/nope: 404: MANIFEST_UNKNOWN"

# ---- a blob damaged in the registry's storage: same size, other bytes ----
LAYER=$(curl -sf --max-time 5 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/busybox/manifests/1.36" | jq -r '.layers[0].digest')
BLOB=$W/reg/docker/registry/v2/blobs/sha256/${LAYER:7:2}/${LAYER#sha256:}/data
[ -f "$BLOB" ] || fail "registry blob $BLOB not found"
printf 'SKIFFSKIFF' | dd of="$BLOB" bs=1 seek=5000 conv=notrunc status=none
pull corrupt "$REG/busybox:1.36" invalid "digest mismatch: want $LAYER got sha256:"
[ ! -e "$W/store-corrupt/blobs/sha256/${LAYER#sha256:}" ] || fail "corrupt blob kept"
if ls -A "$W/store-corrupt/blobs/sha256" | grep -q '^\.tmp-'; then fail "temp blob left"; fi
[ -z "$(ls -A "$W/store-corrupt/layers")" ] || fail "layer unpacked from a corrupt blob"

# ---- the registry is gone: ERR_IO naming the URL ----
kill -TERM "${T_PID[9]}"
wait_pid_exit "${T_PID[9]}" 10 || kill -KILL "${T_PID[9]}"
unset 'T_PID[9]'
pull down "$REG/busybox:1.36" io "GET http://$REG/v2/busybox/manifests/1.36: "

log "PASS"
