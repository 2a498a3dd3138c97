#!/usr/bin/env bash
# Acceptance (issue 4) through the skiff CLI on a 3-node cluster:
#  1. the multi-kind manifest applied through a follower, readable from every
#     node; apply again says unchanged; a replicas change says configured and
#     bumps generation;
#  3. a table of bad manifests each gets its precise error and stores nothing;
#  5. the leader killed during a stream of applies: every acknowledged apply
#     is present afterwards.
. "$(dirname "$0")/lib.sh"

MAN="$(dirname "$0")/manifests/all.yaml"
# the API and the CLI alone: no controllers writing beside the test
T_TUNING="--no-controllers"
start_init 1
start_join 2 1
start_join 3 1
wait_until 60 "3 voters" role_count_is 1 voter 3
L=$(leader_num 1) || fail "no leader"
F=$(( L % 3 + 1 ))
KCFG="$(node_dir 1)/admin.kubeconfig"
sk() { "$SKIFF" "$@" --kubeconfig "$KCFG"; }
skn() { local n=$1; shift; "$SKIFF" "$@" --kubeconfig "$KCFG" -s "127.0.0.1:$(api_port "$n")"; }
expect() { grep -qE -- "$2" <<<"$3" || fail "$1: want /$2/, got: $3"; }

# ---- 1 ----
out=$(skn "$F" apply -f "$MAN" 2>&1) || fail "apply via follower node$F: $out"
for o in deployment.apps/nginx-deployment service/nginx secret/db-pass configmap/app-config \
    job.batch/pi cronjob.batch/hello daemonset.apps/node-agent; do
    expect "apply $o" "^$o created$" "$out"
done
for n in 1 2 3; do
    out=$(skn "$n" get deploy,svc,secret,cm,job,cj,ds -o name 2>&1) || fail "get on node$n: $out"
    [ "$(grep -cE '^(deployment.apps/nginx-deployment|service/nginx|secret/db-pass|configmap/app-config|job.batch/pi|cronjob.batch/hello|daemonset.apps/node-agent)$' <<<"$out")" = 7 ] ||
        fail "node$n does not have all 7 objects: $out"
done
out=$(skn "$L" apply -f "$MAN" 2>&1) || fail "apply again: $out"
[ "$(grep -c ' unchanged$' <<<"$out")" = 7 ] || fail "apply again is not all unchanged: $out"
out=$(sed 's/replicas: 2/replicas: 3/' "$MAN" | skn "$F" apply -f - 2>&1) || fail "apply changed: $out"
expect "configured" '^deployment.apps/nginx-deployment configured$' "$out"
[ "$(grep -c ' unchanged$' <<<"$out")" = 6 ] || fail "other objects not unchanged: $out"
gen=$(api_body 3 GET /apis/apps/v1/namespaces/default/deployments/nginx-deployment | jq .metadata.generation)
[ "$gen" = 2 ] || fail "generation after replicas change: $gen"
out=$(sk get deploy nginx-deployment -o yaml) || fail "get -o yaml"
expect "-o yaml" '^  replicas: 3$' "$out"
out=$(sk get secret db-pass -o jsonish 2>&1) && fail "bad -o accepted"
out=$(sk get deployments.apps 2>&1) || fail "get deployments.apps: $out"
expect "table" '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$' "$out"

# ---- 3: bad manifests ----
rev0=$(status_json 1 | jq .revision)
B="$T_DIR/bad"
mkdir -p "$B"
dep() { # a deployment manifest with one jq edit, as JSON
    jq -c "$1" <<<'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad"},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
}
bad() { # name content expected-substring
    printf '%s\n' "$2" >"$B/$1"
    local out
    out=$(sk apply -f "$B/$1" 2>&1) && fail "bad manifest $1 accepted: $out"
    grep -qF -- "$3" <<<"$out" || fail "bad manifest $1: want \"$3\", got: $out"
}
bad syntax.yaml $'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\ndata: {}' "syntax.yaml:"
bad dupkey.yaml $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y' 'duplicate key "name"'
bad kind.yaml $'apiVersion: apps/v1\nkind: Deploymnt\nmetadata: {name: x}' 'unknown kind "Deploymnt"'
bad noname.yaml $'apiVersion: v1\nkind: ConfigMap\ndata: {a: b}' 'document 1: metadata: required'
bad image.json "$(dep 'del(.spec.template.spec.containers[0].image)')" 'spec.template.spec.containers[0].image: Required value'
bad name.json "$(dep '.metadata.name="Bad_Name"')" 'metadata.name: Invalid value: "Bad_Name"'
bad type.json "$(dep '.spec.replicas="two"')" 'spec.replicas'
bad unknown.json "$(dep '.spec.replcas=2')" 'unknown field "spec.replcas"'
bad dupc.json "$(dep '.spec.template.spec.containers += [{"name":"c","image":"x"}]')" 'spec.template.spec.containers[1].name: Duplicate value: "c"'
bad selector.json "$(dep '.spec.selector.matchLabels.a="z"')" 'does not match template `labels`'
bad port.json "$(dep '.spec.template.spec.containers[0].ports=[{"containerPort":70000}]')" 'containerPort'
bad svc.yaml $'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: Bogus\n  ports: [{port: 80}]' 'spec.type: Unsupported value: "Bogus"'
bad cron.yaml $'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: "61 * * * *"\n  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: x}]}}}}' 'spec.schedule'
bad job.yaml $'apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template: {spec: {restartPolicy: Always, containers: [{name: c, image: x}]}}' 'spec.template.spec.restartPolicy'
bad secret.yaml $'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "not base64!"}' 'illegal base64 data'
bad ns.yaml $'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nope}' 'namespaces "nope" not found'
bad bomb.yaml $'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]' 'alias'
huge=$(head -c 3300000 /dev/zero | tr '\0' 'x')
bad huge.yaml "$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata: {v: %s}' "$huge")" 'exceed'
out=$(sk apply -n other -f "$B/../bad/ns.yaml" 2>&1) && fail "namespace mismatch accepted"
expect "namespace mismatch" 'does not match the namespace "other"' "$out"
[ "$(status_json 1 | jq .revision)" = "$rev0" ] || fail "bad manifests moved the revision"
log "bad manifests: 19 rejected, nothing stored"

# ---- 5: kill the leader during a stream of applies ----
acked="$T_DIR/acked"
: >"$acked"
(
    for i in $(seq 1 300); do
        for n in 1 2 3; do
            printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s%d}\ndata: {i: "%d"}\n' "$i" "$i" |
                "$SKIFF" apply -f - --kubeconfig "$KCFG" -s "127.0.0.1:$(api_port "$n")" \
                    --request-timeout 3s >/dev/null 2>&1 && { echo "s$i" >>"$acked"; break; }
        done
    done
) &
spid=$!
acked_ge() { [ "$(wc -l <"$acked")" -ge "$1" ]; }
wait_until 30 "50 applies acknowledged" acked_ge 50
kill9 "$L"
log "killed leader node$L after $(wc -l <"$acked") applies"
wait "$spid"
S=$(( L % 3 + 1 ))
wait_until 30 "a new leader" leader_num "$S"
n_acked=$(wc -l <"$acked")
[ "$n_acked" -ge 250 ] || fail "only $n_acked of 300 applies acknowledged"
present=$(api_body "$S" GET /api/v1/namespaces/default/configmaps | jq -r '.items[].metadata.name' | grep -c '^s[0-9]*$')
missing=$(comm -23 <(sort "$acked") <(api_body "$S" GET /api/v1/namespaces/default/configmaps | jq -r '.items[].metadata.name' | sort))
[ -z "$missing" ] || fail "acknowledged applies lost: $missing"
log "leader kill: $n_acked acknowledged, all present ($present stored)"
