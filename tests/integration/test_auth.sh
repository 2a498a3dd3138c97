#!/usr/bin/env bash
# API authentication and authorization: the admin's client certificate from
# admin.kubeconfig (no token needed), a node's own certificate (identity
# system:node:NAME: reads everything, writes only what an agent writes), and
# refusals: no credentials, a wrong token, a certificate from another CA.
. "$(dirname "$0")/lib.sh"

start_init 1
D=$(node_dir 1)
KC="$D/admin.kubeconfig"
wait_until 20 "api up" api_is 200 1 GET /api/v1/namespaces/default
awk '/client-certificate-data:/ {print $2}' "$KC" | base64 -d >"$T_DIR/admin.crt"
awk '/client-key-data:/ {print $2}' "$KC" | base64 -d >"$T_DIR/admin.key"
chmod 600 "$T_DIR/admin.key"
grep -q "O=system:masters" <(openssl x509 -in "$T_DIR/admin.crt" -noout -subject -nameopt sep_comma_plus_space) ||
    fail "admin certificate lacks O=system:masters"

# curl_as CERT KEY METHOD PATH [BODY]: code on the last line; no bearer token
curl_as() {
    local args=(-sS --max-time 10 --cacert "$D/pki/ca.crt" -X "$3" -w '\n%{http_code}')
    [ -n "$1" ] && args+=(--cert "$1" --key "$2")
    if [ -n "${5:-}" ]; then
        printf '%s' "$5" | curl "${args[@]}" -H 'Content-Type: application/json' --data-binary @- \
            "https://127.0.0.1:$(api_port 1)$4"
    else
        curl "${args[@]}" "https://127.0.0.1:$(api_port 1)$4"
    fi
}
code_of() { tail -n 1 <<<"$1"; }

# admin by certificate only
out=$(curl_as "$T_DIR/admin.crt" "$T_DIR/admin.key" GET /api/v1/namespaces/default/configmaps)
[ "$(code_of "$out")" = 200 ] || fail "admin cert GET: $out"
out=$(curl_as "$T_DIR/admin.crt" "$T_DIR/admin.key" POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"by-cert"}}')
[ "$(code_of "$out")" = 201 ] || fail "admin cert POST: $out"
out=$(curl_as "$T_DIR/admin.crt" "$T_DIR/admin.key" GET /skiff/v1/tokens)
[ "$(code_of "$out")" = 200 ] || fail "admin cert tokens: $out"

# a node's certificate: reads, agent writes, nothing else
NC="$D/pki/node.crt" NK="$D/pki/node.key"
out=$(curl_as "$NC" "$NK" GET /api/v1/pods)
[ "$(code_of "$out")" = 200 ] || fail "node GET pods: $out"
out=$(curl_as "$NC" "$NK" POST /api/v1/namespaces/default/pods '{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}')
[ "$(code_of "$out")" = 201 ] || fail "node POST pod: $out"
out=$(curl_as "$NC" "$NK" POST /apis/apps/v1/namespaces/default/deployments '{"metadata":{"name":"d"}}')
[ "$(code_of "$out")" = 403 ] || fail "node POST deployment: $out"
grep -qF 'User \"system:node:node1\" cannot create resource \"deployments\" in API group \"apps\" in the namespace \"default\"' <<<"$out" ||
    fail "node 403 message: $out"
out=$(curl_as "$NC" "$NK" GET /skiff/v1/tokens)
[ "$(code_of "$out")" = 403 ] || fail "node GET tokens: $out"

# refusals
out=$(curl_as "" "" GET /api/v1/namespaces/default/configmaps)
[ "$(code_of "$out")" = 401 ] || fail "no credentials: $out"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" -H "Authorization: Bearer nope" \
    "https://127.0.0.1:$(api_port 1)/api/v1/namespaces")
[ "$code" = 401 ] || fail "wrong token: $code"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/O=system:masters/CN=evil" \
    -addext "extendedKeyUsage=clientAuth" -keyout "$T_DIR/evil.key" -out "$T_DIR/evil.crt" 2>/dev/null
out=$(curl_as "$T_DIR/evil.crt" "$T_DIR/evil.key" GET /api/v1/namespaces 2>&1) &&
    [ "$(code_of "$out")" = 200 ] && fail "a certificate from another CA was accepted: $out"
log "foreign certificate refused: $(head -c 120 <<<"$out" | tr '\n' ' ')"

# the CLI and kubectl with a certificate-only kubeconfig
grep -v '    token:' "$KC" >"$T_DIR/cert-only.kubeconfig"
grep -q token: "$T_DIR/cert-only.kubeconfig" && fail "token still in the cert-only kubeconfig"
out=$("$SKIFF" get cm by-cert --kubeconfig "$T_DIR/cert-only.kubeconfig" 2>&1) || fail "skiff get with cert: $out"
grep -q '^by-cert ' <<<"$out" || fail "skiff get with cert: $out"
if command -v kubectl >/dev/null; then
    out=$(kubectl --kubeconfig "$T_DIR/cert-only.kubeconfig" --cache-dir "$T_DIR/kc" get ns 2>&1) || fail "kubectl with cert: $out"
    grep -q '^default ' <<<"$out" || fail "kubectl get ns with cert: $out"
fi
log "auth: admin cert, node cert, refusals all passed"
