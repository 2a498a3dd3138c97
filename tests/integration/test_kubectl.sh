#!/usr/bin/env bash
# Acceptance: the installed kubectl, with the admin.kubeconfig 'skiff init'
# writes, can discover the API (/api, /api/v1, /apis; the aggregated
# discovery Accept gets the plain documents), print version, list and get
# Nodes and ConfigMaps as server-side Tables, print -o yaml/json, create a
# ConfigMap from literals and delete it. Skipped when kubectl is missing.
. "$(dirname "$0")/lib.sh"

if ! command -v kubectl >/dev/null 2>&1; then
    echo "SKIP: kubectl is not installed"
    exit 0
fi

start_init 1
KCFG="$(node_dir 1)/admin.kubeconfig"
# a private discovery cache: a run must not see another run's (or port's)
k() { kubectl --kubeconfig "$KCFG" --cache-dir "$T_DIR/kcache" --request-timeout=10s "$@"; }

# expect WHAT REGEX OUTPUT
expect() { grep -qE -- "$2" <<<"$3" || fail "$1: want /$2/, got: $3"; }

wait_until 30 "kubectl lists node1" k get nodes node1

out=$(k version 2>&1) || fail "kubectl version: $out"
expect "version" '^Server Version: v1\.[0-9]+\.[0-9]+-skiff' "$out"
log "kubectl version: $(grep Server <<<"$out")"

out=$(k get nodes 2>&1) || fail "get nodes: $out"
expect "get nodes header" '^NAME +STATUS +ROLES +AGE$' "$out"
expect "get nodes row" '^node1 +Ready +<none> +[0-9]+[smhd]$' "$out"
out=$(k get no -o wide 2>&1) || fail "get no -o wide: $out"
expect "get nodes wide" '^node1 +Ready +<none> +[0-9]+[smhd] +127\.0\.0\.1$' "$out"

out=$(k create configmap kc1 --from-literal=k=v --from-literal=k2=v2 2>&1) || fail "create: $out"
expect "create configmap" '^configmap/kc1 created$' "$out"
out=$(k get configmaps 2>&1) || fail "get configmaps: $out"
expect "get configmaps header" '^NAME +DATA +AGE$' "$out"
expect "get configmaps row" '^kc1 +2 +[0-9]+[smhd]$' "$out"
out=$(k get configmap kc1 2>&1) || fail "get configmap kc1: $out"
expect "get configmap kc1" '^kc1 +2 +[0-9]+[smhd]$' "$out"
out=$(k get cm kc1 -o json 2>&1) || fail "get cm -o json: $out"
[ "$(jq -r '.data.k + "," + .metadata.namespace + "," + .kind' <<<"$out")" = "v,default,ConfigMap" ] ||
    fail "get cm -o json: $out"
out=$(k get cm kc1 -o yaml 2>&1) || fail "get cm -o yaml: $out"
expect "get cm -o yaml" '^  k2: v2$' "$out"

out=$(k create configmap kc2 -n other --from-literal=a=b 2>&1) || fail "create -n: $out"
out=$(k get cm -n other -o yaml 2>&1) || fail "get cm -n other -o yaml: $out"
expect "get cm -n -o yaml" '^    name: kc2$' "$out"
out=$(k get cm -A 2>&1) || fail "get cm -A: $out"
expect "get cm -A header" '^NAMESPACE +NAME +DATA +AGE$' "$out"
expect "get cm -A other" '^other +kc2 +1 ' "$out"
expect "get cm -A default" '^default +kc1 +2 ' "$out"
out=$(k get cm -n empty 2>&1) || fail "get cm -n empty: $out"
expect "empty namespace" 'No resources found in empty namespace' "$out"

out=$(k create configmap kc1 --from-literal=k=v 2>&1) && fail "second create succeeded: $out"
expect "create twice" 'AlreadyExists|already exists' "$out"

out=$(k delete configmap kc1 2>&1) || fail "delete: $out"
expect "delete" '^configmap "kc1" deleted$' "$out"
out=$(k get configmap kc1 2>&1) && fail "get after delete succeeded: $out"
expect "get after delete" 'NotFound' "$out"
out=$(k delete cm kc2 -n other 2>&1) || fail "delete -n: $out"

# what kubectl >= 1.26 asks first: the plain document, typed application/json
agg='application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'
out=$(curl -sS -D - --max-time 10 --cacert "$(node_dir 1)/pki/ca.crt" \
    -H "Authorization: Bearer $(admin_token)" -H "Accept: $agg" \
    "https://127.0.0.1:$(api_port 1)/api/v1") || fail "curl /api/v1: $out"
expect "aggregated discovery content type" '^[Cc]ontent-[Tt]ype: application/json' "$out"
expect "aggregated discovery body" '"kind":"APIResourceList"' "$out"

# kubectl >= 1.32 sends typed creates as protobuf: a clear 415, not a JSON parse error
code=$(printf 'k8s\0' | curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
    --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary @- \
    "https://127.0.0.1:$(api_port 1)/api/v1/namespaces/default/configmaps")
[ "$code" = 415 ] || fail "protobuf body: want 415, got $code"
log "kubectl: discovery, version, get/create/delete all passed"
