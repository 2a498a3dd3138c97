#!/usr/bin/env bash
# The HorizontalPodAutoscaler controller on 3 nodes with the fake runtime and
# a fake metrics source (--fake-metrics FILE: the pods' usage comes from
# FILE; the fake runtime has no cgroups). Issue 9, acceptance 1, 3, 4:
#  a) `skiff autoscale` 1..4 at 50 % on a Deployment requesting 100m CPU;
#     200m per pod scales it to 4 (ceil(1 * 200 / 50)) and never beyond;
#     `skiff get hpa` shows kubectl's columns.
#  b) an HPA on a missing Deployment says why (FailedGetScale); one on
#     pods without requests says why (FailedGetResourceMetric); nothing
#     changes, nothing crashes.
#  c) load drops to 10m and the leader is killed 4 s later: the new leader
#     keeps 4 replicas until the (shortened, 8 s) stabilisation window that
#     began under the old leader ends (read from the HPA's stored history),
#     then scales to 1 (the minimum) - never down early, never back up.
. "$(dirname "$0")/lib.sh"

WINDOW_MS=8000
METRICS=$T_DIR/metrics.json
T_TUNING="--fake-runtime --fake-metrics $METRICS --hpa-sync-ms 500 \
--hpa-downscale-window-ms $WINDOW_MS"
NS=default
DEPS=/apis/apps/v1/namespaces/$NS/deployments
HPAS=/apis/autoscaling/v2/namespaces/$NS/horizontalpodautoscalers

# load MILLICORES: every pod uses that much CPU (read by the leader each sync)
load() {
    jq -n --arg c "${1}m" '{kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1",
        items: [{metadata: {name: "*"}, containers: [{name: "app",
            usage: {cpu: $c, memory: "10Mi"}}]}]}' >"$METRICS.tmp" && mv "$METRICS.tmp" "$METRICS"
}
load 200

start_init 1
start_join 2 1
wait_until 30 "node2 API up" api_is 200 2 GET /healthz
start_join 3 1
wait_until 30 "3 voters" role_count_is 1 voter 3

# deployment_json NAME REPLICAS [RESOURCES_JSON]
deployment_json() {
    jq -cn --arg n "$1" --argjson r "$2" --argjson res "${3:-{\}}" '{apiVersion: "apps/v1",
        kind: "Deployment", metadata: {name: $n},
        spec: {replicas: $r, selector: {matchLabels: {app: $n}},
            template: {metadata: {labels: {app: $n}},
                spec: {containers: [{name: "app", image: "nginx", resources: $res}]}}}}'
}
replicas_of() { api_body "$1" GET "$DEPS/$2" | jq -r '.spec.replicas'; }
replicas_is() { [ "$(replicas_of "$1" "$2")" = "$3" ]; }
hpa_get() { api_body "$1" GET "$HPAS/$2"; }
# hpa_cond_is N NAME TYPE STATUS REASON [MESSAGE_SUBSTRING]
hpa_cond_is() {
    hpa_get "$1" "$2" | jq -e --arg t "$3" --arg s "$4" --arg r "$5" --arg m "${6:-}" \
        'any(.status.conditions[]?; .type == $t and .status == $s and .reason == $r and
            (.message | contains($m)))'
}

# ---- a) scale up to the maximum ----
api_is 201 1 POST "$DEPS" "$(deployment_json web 1 '{"requests": {"cpu": "100m"}}')" ||
    fail "create web"
wait_until 20 "web has 1 replica" replicas_is 1 web 1
out=$(skiff_cli autoscale deployment web --min 1 --max 4 --cpu-percent 50) ||
    fail "skiff autoscale: $out"
[ "$out" = "horizontalpodautoscaler.autoscaling/web autoscaled" ] || fail "autoscale said: $out"
hpa_get 1 web | jq -e '.apiVersion == "autoscaling/v2" and .spec.minReplicas == 1 and
    .spec.maxReplicas == 4 and .spec.scaleTargetRef.kind == "Deployment" and
    .spec.metrics[0].resource.target.averageUtilization == 50' >/dev/null ||
    fail "the HPA skiff autoscale made: $(hpa_get 1 web)"
wait_until 30 "web scaled up to 4" replicas_is 1 web 4
wait_until 20 "HPA status at 4 and 200 %" eval 'hpa_get 1 web | jq -e ".status.currentReplicas == 4
    and .status.currentMetrics[0].resource.current.averageUtilization == 200 and
    .status.lastScaleTime != null"'
hpa_cond_is 1 web ScalingActive True ValidMetricFound "cpu resource utilization" >/dev/null ||
    fail "ScalingActive: $(hpa_get 1 web | jq -c .status.conditions)"
# 4 pods at 200 % want 16: limited by maxReplicas
wait_until 10 "ScalingLimited TooManyReplicas" hpa_cond_is 1 web ScalingLimited True TooManyReplicas
replicas_is 1 web 4 || fail "beyond max: $(replicas_of 1 web)"
table=$(skiff_cli get hpa web) || fail "skiff get hpa"
echo "$table" | head -1 | grep -q "NAME *REFERENCE *TARGETS *MINPODS *MAXPODS *REPLICAS *AGE" ||
    fail "get hpa header: $table"
echo "$table" | grep -q "web *Deployment/web *cpu: 200%/50% *1 *4 *4" || fail "get hpa row: $table"

# ---- b) the conditions say why ----
api_is 201 1 POST "$HPAS" '{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
    "metadata":{"name":"ghost"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1",
    "kind":"Deployment","name":"ghost"},"minReplicas":1,"maxReplicas":3}}' || fail "create ghost"
wait_until 20 "ghost: FailedGetScale" hpa_cond_is 1 ghost AbleToScale False FailedGetScale \
    'deployments.apps "ghost" not found'
api_is 201 1 POST "$DEPS" "$(deployment_json noreq 2)" || fail "create noreq"
skiff_cli autoscale deploy/noreq --max 5 --cpu-percent 50 >/dev/null || fail "autoscale noreq"
wait_until 20 "noreq: FailedGetResourceMetric" hpa_cond_is 1 noreq ScalingActive False \
    FailedGetResourceMetric "missing request for cpu in container app of Pod noreq-"
replicas_is 1 noreq 2 || fail "noreq changed: $(replicas_of 1 noreq)"
# bad specs are refused with the apiserver's messages
code=$(api_code 1 POST "$HPAS" '{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
    "metadata":{"name":"bad"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"web"},
    "minReplicas":3,"maxReplicas":2}}')
[ "$code" = 422 ] || fail "min > max answered $code"

# kubectl autoscale (it POSTs autoscaling/v1): stored as v2, scales like any
if command -v kubectl >/dev/null 2>&1; then
    k() { kubectl --kubeconfig "$(node_dir 1)/admin.kubeconfig" --cache-dir "$T_DIR/kcache" \
        --request-timeout=10s "$@"; }
    api_is 201 1 POST "$DEPS" "$(deployment_json kweb 1 '{"requests": {"cpu": "100m"}}')" ||
        fail "create kweb"
    out=$(k autoscale deployment kweb --min=1 --max=3 --cpu-percent=50 2>&1) ||
        fail "kubectl autoscale: $out"
    [ "$out" = "horizontalpodautoscaler.autoscaling/kweb autoscaled" ] ||
        fail "kubectl autoscale said: $out"
    hpa_get 1 kweb | jq -e '.spec.metrics[0].resource.target.averageUtilization == 50 and
        .spec.maxReplicas == 3' >/dev/null || fail "kubectl's HPA as v2: $(hpa_get 1 kweb)"
    wait_until 30 "kweb scaled to its max 3" replicas_is 1 kweb 3
    kweb_row() { k get hpa kweb | grep -q "kweb *Deployment/kweb *cpu: 200%/50% *1 *3 *3"; }
    wait_until 10 "kubectl get hpa kweb shows 3 replicas" kweb_row
else
    log "kubectl missing: kubectl autoscale not tested"
fi

# ---- c) leader killed while the window runs: the new leader resumes ----
[ "$(hpa_get 1 web | jq -r '.metadata.annotations["autoscaling.skiff.io/history"] // ""')" != "" ] ||
    fail "no recommendation history on the HPA"
leader=$(leader_num 1) || fail "no leader"
q=1; [ "$leader" = 1 ] && q=2
KILL_AFTER_MS=4000
load 10
t0=$(date +%s%N)
log "load down; leader node$leader is killed after ${KILL_AFTER_MS} ms; sampling on node$q"
# sample spec.replicas until it reaches 1 (or 40 s): "ms replicas" lines
samples=$T_DIR/samples
: >"$samples"
killed=0
deadline=$(( $(date +%s) + 40 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    r=$(replicas_of "$q" web 2>/dev/null) || r=""
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ -n "$r" ] && echo "$ms $r" >>"$samples"
    [ "$r" = 1 ] && break
    if [ "$killed" = 0 ] && [ "$ms" -ge "$KILL_AFTER_MS" ]; then
        kill9 "$leader"
        killed=1
        log "killed leader node$leader at +${ms} ms"
    fi
    sleep 0.2
done
[ "$killed" = 1 ] || fail "scaled down before the leader was killed: $(cat "$samples")"
[ "$(tail -1 "$samples" | cut -d' ' -f2)" = 1 ] || fail "web never scaled down: $(tail -3 "$samples")"
first_down=$(awk '$2 != 4 { print $1; exit }' "$samples")
log "first replicas below 4 at +${first_down} ms (window ${WINDOW_MS} ms)"
# the last high recommendation came at most one sync (500 ms) before t0:
# never down before the window ...
[ "$first_down" -ge $(( WINDOW_MS - 1000 )) ] ||
    fail "scaled down after ${first_down} ms, before the ${WINDOW_MS} ms window: $(cat "$samples")"
# ... and the new leader went on with the old one's window (from the stored
# history) rather than starting a new one when it took over (that would be
# after KILL_AFTER_MS + election + WINDOW_MS)
[ "$first_down" -lt $(( KILL_AFTER_MS + WINDOW_MS )) ] ||
    fail "the new leader started a new window: down after ${first_down} ms: $(cat "$samples")"
# from 4 straight to the minimum, never back up, never above 4
awk '$2 > 4 { exit 1 } prev == 1 && $2 != 1 { exit 1 } { prev = $2 }' "$samples" ||
    fail "flapping: $(cat "$samples")"
wait_until 20 "HPA says 1" eval 'hpa_get $q web | jq -e ".status.currentReplicas == 1 and
    .status.desiredReplicas == 1"'
log "test_hpa_fake: ok"
