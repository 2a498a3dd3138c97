#!/usr/bin/env bash
# Acceptance: the installed kubectl, with the admin.kubeconfig 'skiff init'
# writes, can discover the API (/api, /api/v1, /apis; the aggregated
# discovery Accept gets the plain documents), print version, list and get
# Nodes and ConfigMaps as server-side Tables, print -o yaml/json, create a
# ConfigMap from literals and delete it; kubectl 1.32's protobuf creates. Skipped when kubectl is missing.
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
expect "get nodes header" '^NAME +STATUS +ROLES +AGE +VERSION$' "$out"
expect "get nodes row" '^node1 +Ready +<none> +[0-9]+[smhd] +v1\.29\.0-skiff$' "$out"
out=$(k get no -o wide 2>&1) || fail "get no -o wide: $out"
expect "get nodes wide" '^node1 +Ready +<none> +[0-9]+[smhd] +v1\.29\.0-skiff +127\.0\.0\.1 ' "$out"

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

out=$(k create namespace other 2>&1) || fail "create namespace: $out"
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

# kubectl >= 1.32 sends typed creates as protobuf: decoded; a broken body is a clear 400
code=$(printf 'k8s\0' | curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
    --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary @- \
    "https://127.0.0.1:$(api_port 1)/api/v1/namespaces/default/configmaps")
[ "$code" = 400 ] || fail "truncated protobuf body: want 400, got $code"
if [ -x /usr/lib/google-cloud-sdk/bin/kubectl.1.32 ]; then
    k132() { /usr/lib/google-cloud-sdk/bin/kubectl.1.32 --kubeconfig "$KCFG" --cache-dir "$T_DIR/kc132" --request-timeout=10s "$@"; }
    out=$(k132 create configmap pb1 --from-literal=a=b 2>&1) || fail "1.32 create configmap: $out"
    expect "1.32 create configmap" '^configmap/pb1 created$' "$out"
    [ "$(api_body 1 GET /api/v1/namespaces/default/configmaps/pb1 | jq -r .data.a)" = b ] || fail "pb1 data"
    out=$(k132 create secret generic pb2 --from-literal=pw=s3 2>&1) || fail "1.32 create secret: $out"
    [ "$(api_body 1 GET /api/v1/namespaces/default/secrets/pb2 | jq -r .data.pw | base64 -d)" = s3 ] || fail "pb2 data"
    out=$(k132 create deployment pb3 --image=nginx:1.25 --replicas=2 --port=80 2>&1) || fail "1.32 create deployment: $out"
    expect "1.32 create deployment" '^deployment.apps/pb3 created$' "$out"
    [ "$(api_body 1 GET /apis/apps/v1/namespaces/default/deployments/pb3 | jq -r '.spec.replicas, .spec.template.spec.containers[0].ports[0].containerPort' | tr '\n' ' ')" = "2 80 " ] ||
        fail "pb3 spec"
    out=$(k132 create namespace pb4 2>&1) || fail "1.32 create namespace: $out"
    k132 delete deployment pb3 >/dev/null 2>&1 || fail "delete pb3"
fi
# acceptance: apply -f the multi-kind manifest, get deploy, get pods -A, delete -f,
# with the default kubectl and with 1.32 (OpenAPI v3, aggregated discovery)
MAN="$(dirname "$0")/manifests/all.yaml"
KC132=/usr/lib/google-cloud-sdk/bin/kubectl.1.32
for kc in kubectl "$KC132"; do
    [ -x "$(command -v "$kc")" ] || continue
    kk() { "$kc" --kubeconfig "$KCFG" --cache-dir "$T_DIR/kcache-$(basename "$kc")" --request-timeout=10s "$@"; }
    out=$(kk apply -f "$MAN" 2>&1) || fail "$kc apply: $out"
    expect "$kc apply created" '^deployment\.apps/nginx-deployment created$' "$out"
    expect "$kc apply created" '^cronjob\.batch/hello created$' "$out"
    out=$(kk apply -f "$MAN" 2>&1) || fail "$kc apply again: $out"
    expect "$kc apply unchanged" '^deployment\.apps/nginx-deployment unchanged$' "$out"
    out=$(sed 's/replicas: 2/replicas: 3/' "$MAN" | kk apply -f - 2>&1) || fail "$kc apply changed: $out"
    expect "$kc apply configured" '^deployment\.apps/nginx-deployment configured$' "$out"
    expect "$kc apply configured" '^service/nginx unchanged$' "$out"
    out=$(kk get deploy 2>&1) || fail "$kc get deploy: $out"
    expect "$kc get deploy" '^nginx-deployment +[0-9]/3 +[0-9] +[0-9] +[0-9]+[smhd]$' "$out"
    out=$(kk get deploy nginx-deployment -o jsonpath='{.metadata.generation}' 2>&1)
    [ "$out" = 2 ] || fail "$kc: generation after replicas change: $out"
    pods_listed() { [ "$(kk get pods -A --no-headers 2>/dev/null | grep -c '^default *nginx-deployment-')" = 3 ]; }
    wait_until 30 "$kc lists the 3 pods" pods_listed
    out=$(kk get pods -A 2>&1) || fail "$kc get pods -A: $out"
    # the Deployment controller made the pods; no runtime here, so they stay Pending
    expect "$kc get pods -A" '^default +nginx-deployment-[a-z0-9]+-[a-z0-9]{5} +0/1 +Pending ' "$out"
    out=$(kk get cj,ds,job,svc,secret 2>&1) || fail "$kc get several kinds: $out"
    expect "$kc get cronjob" '^cronjob\.batch/hello +\*/1 \* \* \* \*' "$out"
    out=$(kk delete -f "$MAN" 2>&1) || fail "$kc delete -f: $out"
    expect "$kc delete" '^deployment\.apps "nginx-deployment" deleted$' "$out"
    out=$(kk get deploy 2>&1)
    expect "$kc after delete" 'No resources found' "$out"
done
log "kubectl: discovery, version, get/create/delete, apply -f/delete -f all passed"
