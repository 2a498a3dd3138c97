#!/usr/bin/env bash
# Acceptance (issue 4): every kind through the REST API of a 3-node cluster.
# Objects written through a follower are readable from every node; an update
# that changes nothing keeps its resourceVersion; a spec change bumps
# generation; the three patch types and server-side apply; /status and
# /scale; fieldSelector; finalizers hold a delete; a watch on node 3 sees
# writes made through nodes 1 and 2 in revision order; bad input (a table of
# cases) gets the apiserver's error and stores nothing.
. "$(dirname "$0")/lib.sh"

# the API alone: no scheduler or controllers writing beside the test
T_TUNING="--no-controllers"
start_init 1
start_join 2 1
start_join 3 1
wait_until 60 "3 voters" role_count_is 1 voter 3
L=$(leader_num 1) || fail "no leader"
F=$(( L % 3 + 1 ))   # a follower
log "leader node$L, writing through follower node$F"

expect() { # code node method path body [message-substring]
    local out code
    out=$(api "$2" "$3" "$4" "${5:-}")
    code=$(tail -n 1 <<<"$out")
    [ "$code" = "$1" ] || fail "$3 $4: want HTTP $1, got $code: $(sed '$d' <<<"$out")"
    if [ -n "${6:-}" ]; then
        sed '$d' <<<"$out" | jq -r .message | grep -qF -- "$6" ||
            fail "$3 $4: message lacks \"$6\": $(sed '$d' <<<"$out")"
    fi
    sed '$d' <<<"$out" >"$T_DIR/last.json"
}
last() { jq -r "$1" "$T_DIR/last.json"; }

DEP=/apis/apps/v1/namespaces/default/deployments
deploy='{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"nginx-deployment","labels":{"app":"nginx"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.7.9","ports":[{"containerPort":80}]}]}}}}'

# ---- one object of every kind, created through the follower ----
expect 201 "$F" POST $DEP "$deploy"
[ "$(last .metadata.generation)" = 1 ] || fail "generation on create: $(last .metadata.generation)"
[ "$(last .spec.strategy.type)" = RollingUpdate ] || fail "deployment defaults missing"
[ "$(last .spec.template.spec.containers[0].imagePullPolicy)" = IfNotPresent ] || fail "container defaults missing"
rv1=$(last .metadata.resourceVersion)
expect 201 "$F" POST /api/v1/namespaces/default/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"nginx"},"ports":[{"port":80}]}}'
[ "$(last .spec.ports[0].targetPort)" = 80 ] || fail "service targetPort default"
# ClusterIP and node ports: allocated from 10.96.0.0/16 and 30000-32767, never twice
webip=$(last .spec.clusterIP)
[[ "$webip" == 10.96.* ]] && [ "$(last '.spec.clusterIPs[0]')" = "$webip" ] || fail "clusterIP: $webip"
expect 422 "$F" POST /api/v1/namespaces/default/services "{\"metadata\":{\"name\":\"dup\"},\"spec\":{\"clusterIP\":\"$webip\",\"ports\":[{\"port\":80}]}}" "provided IP is already allocated"
expect 422 "$F" POST /api/v1/namespaces/default/services '{"metadata":{"name":"far"},"spec":{"clusterIP":"192.168.0.9","ports":[{"port":80}]}}' "not in the valid range"
expect 201 1 POST /api/v1/namespaces/default/services '{"metadata":{"name":"np"},"spec":{"type":"NodePort","clusterIP":"10.96.7.7","ports":[{"name":"a","port":80},{"name":"b","port":81,"nodePort":30123}]}}'
np=$(last .spec.ports[0].nodePort)
[ "$np" -ge 30000 ] && [ "$np" -le 32767 ] && [ "$(last .spec.ports[1].nodePort)" = 30123 ] || fail "nodePorts: $(last .spec.ports)"
expect 422 1 POST /api/v1/namespaces/default/services '{"metadata":{"name":"np2"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30123}]}}' "provided port is already allocated"
expect 201 1 POST /api/v1/namespaces/default/services '{"metadata":{"name":"headless"},"spec":{"clusterIP":"None","selector":{"a":"b"},"ports":[{"port":80}]}}'
[ "$(last .spec.clusterIP)" = None ] || fail "headless"
# an update without clusterIP keeps it; a delete releases the IP and the ports
expect 200 2 PUT /api/v1/namespaces/default/services/np '{"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"name":"a","port":80},{"name":"b","port":81,"nodePort":30123}]}}'
[ "$(last .spec.clusterIP)" = 10.96.7.7 ] && [ "$(last .spec.ports[0].nodePort)" = "$np" ] || fail "update lost allocations: $(last .spec)"
expect 200 3 DELETE /api/v1/namespaces/default/services/np
expect 201 3 POST /api/v1/namespaces/default/services '{"metadata":{"name":"np3"},"spec":{"type":"NodePort","clusterIP":"10.96.7.7","ports":[{"port":80,"nodePort":30123}]}}'
expect 200 3 DELETE /api/v1/namespaces/default/services/np3
expect 201 "$F" POST /api/v1/namespaces/default/secrets '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"stringData":{"user":"admin"},"data":{"pw":"c2VjcmV0"}}'
expect 201 "$F" POST /api/v1/namespaces/default/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"}}'
expect 201 "$F" POST /apis/batch/v1/namespaces/default/jobs '{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"busybox"}]}}}}'
expect 201 "$F" POST /apis/batch/v1/namespaces/default/cronjobs '{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"tick"},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"t","image":"busybox"}]}}}}}}'
expect 201 "$F" POST /apis/apps/v1/namespaces/default/daemonsets '{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"containers":[{"name":"a","image":"busybox"}]}}}}'
expect 201 "$F" POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"node1"},"spec":{"holderIdentity":"node1","leaseDurationSeconds":40}}'
expect 201 "$F" POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}'
[ "$(last .status.phase)" = Active ] || fail "namespace phase"
expect 201 "$F" POST /api/v1/namespaces/team-a/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
[ "$(last .status.phase)" = Pending ] || fail "pod phase on create: $(last .status.phase)"
expect 201 "$F" POST /api/v1/namespaces/team-a/endpoints '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},"subsets":[{"addresses":[{"ip":"10.0.0.5"}],"ports":[{"port":80}]}]}'
expect 201 "$F" POST /apis/apps/v1/namespaces/default/replicasets '{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'

# readable from every node (each read is linearizable by default)
for n in 1 2 3; do
    for p in $DEP/nginx-deployment /api/v1/namespaces/default/services/web \
        /api/v1/namespaces/default/secrets/creds /apis/batch/v1/namespaces/default/cronjobs/tick \
        /api/v1/namespaces/team-a/pods/p1 /api/v1/namespaces/team-a; do
        expect 200 "$n" GET "$p"
    done
done
expect 200 1 GET /api/v1/pods
[ "$(last '[.items[] | select(.metadata.namespace == "team-a")] | length')" = 1 ] || fail "all-namespace pod list"
[ "$(last .kind)" = PodList ] || fail "list kind"
expect 404 1 POST /api/v1/namespaces/nope/configmaps '{"metadata":{"name":"x"}}' 'namespaces "nope" not found'
expect 409 2 POST $DEP "$deploy" 'deployments.apps "nginx-deployment" already exists'

# ---- updates: unchanged keeps the resourceVersion, spec change bumps generation ----
cur=$(api_body 1 GET $DEP/nginx-deployment)
expect 200 "$F" PUT $DEP/nginx-deployment "$cur"
[ "$(last .metadata.resourceVersion)" = "$rv1" ] || fail "no-op PUT moved resourceVersion $rv1 -> $(last .metadata.resourceVersion)"
CT=application/merge-patch+json expect 200 "$F" PATCH $DEP/nginx-deployment '{"spec":{"replicas":3}}'
[ "$(last .metadata.generation)" = 2 ] || fail "generation after replicas change: $(last .metadata.generation)"
[ "$(last .spec.replicas)" = 3 ] || fail "merge patch"
CT=application/merge-patch+json expect 200 "$F" PATCH $DEP/nginx-deployment '{"metadata":{"labels":{"tier":"web"}}}'
[ "$(last .metadata.generation)" = 2 ] || fail "label change bumped generation"
# strategic merge: containers merge by name, a new env list merges by name
CT=application/strategic-merge-patch+json expect 200 1 PATCH $DEP/nginx-deployment '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"},{"name":"side","image":"busybox"}]}}}}'
[ "$(last '.spec.template.spec.containers | length')" = 2 ] || fail "strategic merge added a container"
[ "$(last .spec.template.spec.containers[0].image)" = nginx:1.25 ] || fail "strategic merge image"
[ "$(last .spec.template.spec.containers[0].ports[0].containerPort)" = 80 ] || fail "strategic merge kept ports"
CT=application/json-patch+json expect 200 2 PATCH $DEP/nginx-deployment '[{"op":"replace","path":"/spec/replicas","value":1},{"op":"remove","path":"/spec/template/spec/containers/1"}]'
[ "$(last .spec.replicas)" = 1 ] || fail "json patch"
CT=application/json-patch+json expect 409 2 PATCH $DEP/nginx-deployment '[{"op":"test","path":"/spec/replicas","value":7}]'
stale=$(jq -c '.metadata.resourceVersion="1" | .spec.replicas=9' <<<"$cur")
expect 409 3 PUT $DEP/nginx-deployment "$stale" "the object has been modified"

# status and scale subresources
rv=$(api_body 1 GET $DEP/nginx-deployment | jq -r .metadata.resourceVersion)
expect 200 3 PUT $DEP/nginx-deployment/status "$(api_body 1 GET $DEP/nginx-deployment | jq -c '.status={"replicas":1,"readyReplicas":1} | .spec.replicas=50')"
[ "$(last .status.readyReplicas)" = 1 ] || fail "status update"
[ "$(last .spec.replicas)" = 1 ] || fail "status update changed spec"
expect 200 1 PUT $DEP/nginx-deployment "$(api_body 1 GET $DEP/nginx-deployment | jq -c '.status={}')"
[ "$(last .status.readyReplicas)" = 1 ] || fail "main-resource PUT changed status"
expect 200 2 GET $DEP/nginx-deployment/scale
[ "$(last .kind)" = Scale ] && [ "$(last .status.selector)" = app=nginx ] || fail "scale get: $(cat "$T_DIR/last.json")"
expect 200 2 PUT $DEP/nginx-deployment/scale '{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"nginx-deployment","namespace":"default"},"spec":{"replicas":4}}'
[ "$(last .spec.replicas)" = 4 ] || fail "scale put"
CT=application/merge-patch+json expect 200 2 PATCH $DEP/nginx-deployment/scale '{"spec":{"replicas":5}}'
expect 200 3 GET $DEP/nginx-deployment
[ "$(last .spec.replicas)" = 5 ] || fail "scale patch"

# server-side apply: create, unchanged, conflict, force
SSA="/apis/apps/v1/namespaces/default/deployments/ssa?fieldManager=tester"
applied=$(jq -c '.metadata.name="ssa"' <<<"$deploy")
CT=application/apply-patch+yaml expect 201 "$F" PATCH "$SSA" "$applied"
rv=$(last .metadata.resourceVersion)
CT=application/apply-patch+yaml expect 200 "$F" PATCH "$SSA" "$applied"
[ "$(last .metadata.resourceVersion)" = "$rv" ] || fail "identical apply moved resourceVersion"
CT=application/merge-patch+json expect 200 1 PATCH "/apis/apps/v1/namespaces/default/deployments/ssa?fieldManager=other" '{"spec":{"replicas":7}}'
CT=application/apply-patch+yaml expect 409 "$F" PATCH "$SSA" "$applied" 'conflict'
CT=application/apply-patch+yaml expect 200 "$F" PATCH "$SSA&force=true" "$applied"
[ "$(last .spec.replicas)" = 2 ] || fail "forced apply"

# ---- fieldSelector and labelSelector ----
expect 200 1 GET "/api/v1/pods?fieldSelector=metadata.namespace%3Dteam-a,status.phase%3DPending"
[ "$(last '.items | length')" = 1 ] || fail "fieldSelector"
expect 200 1 GET "/api/v1/pods?fieldSelector=status.phase%3DRunning"
[ "$(last '.items | length')" = 0 ] || fail "fieldSelector excludes"
expect 400 1 GET "/api/v1/pods?fieldSelector=spec.bogus%3Dx" "field label not supported: spec.bogus"

# ---- finalizers hold a delete; removing the last one finishes it ----
expect 201 1 POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"held","finalizers":["example.com/hold"]}}'
expect 200 2 DELETE /api/v1/namespaces/default/configmaps/held
[ "$(last .metadata.deletionTimestamp)" != null ] || fail "deletionTimestamp not set"
expect 200 3 GET /api/v1/namespaces/default/configmaps/held
CT=application/merge-patch+json expect 200 3 PATCH /api/v1/namespaces/default/configmaps/held '{"metadata":{"finalizers":null}}'
wait_until 10 "held is gone" api_is 404 1 GET /api/v1/namespaces/default/configmaps/held
expect 200 1 DELETE /apis/batch/v1/namespaces/default/jobs/pi '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}'
expect 404 1 GET /apis/batch/v1/namespaces/default/jobs/pi
expect 422 1 DELETE /apis/batch/v1/namespaces/default/cronjobs/tick '{"propagationPolicy":"Sideways"}' "propagationPolicy"

# ---- a watch on node 3 sees writes through nodes 1 and 2 in order ----
start_rv=$(api_body 3 GET /api/v1/namespaces/default/configmaps | jq -r .metadata.resourceVersion)
curl -sS -N --max-time 20 --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    "https://127.0.0.1:$(api_port 3)/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$start_rv&timeoutSeconds=15" \
    >"$T_DIR/watch.out" &
wpid=$!
for i in 1 2 3 4 5 6; do
    n=$(( (i % 2) + 1 ))
    api_is 201 "$n" POST /api/v1/namespaces/default/configmaps "{\"metadata\":{\"name\":\"w$i\"}}" || fail "create w$i"
done
api_is 200 2 DELETE /api/v1/namespaces/default/configmaps/w1 || fail "delete w1"
lines_ge() { [ "$(wc -l <"$1")" -ge "$2" ]; }
wait_until 15 "watch saw 7 events" lines_ge "$T_DIR/watch.out" 7
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
got=$(jq -r '"\(.type) \(.object.metadata.name)"' "$T_DIR/watch.out" | tr '\n' ' ')
[ "$got" = "ADDED w1 ADDED w2 ADDED w3 ADDED w4 ADDED w5 ADDED w6 DELETED w1 " ] || fail "watch order: $got"
jq -r .object.metadata.resourceVersion "$T_DIR/watch.out" | sort -c -n || fail "watch revisions not ascending"
# resume from the middle misses nothing
mid=$(sed -n 3p "$T_DIR/watch.out" | jq -r .object.metadata.resourceVersion)
curl -sS -N --max-time 5 --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    "https://127.0.0.1:$(api_port 1)/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$mid&timeoutSeconds=2" \
    >"$T_DIR/resume.out" || true
got=$(jq -r '.object.metadata.name' "$T_DIR/resume.out" | tr '\n' ' ')
[ "$got" = "w4 w5 w6 w1 " ] || fail "resume from $mid: $got"

# ---- bad input: the apiserver's error, and nothing stored ----
r0=$(status_json 1 | jq .revision)
POD=/api/v1/namespaces/default/pods
pod() { jq -c "$1" <<<'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'; }
expect 400 1 POST $POD '{"apiVersion":"v1",' "invalid JSON"
expect 400 1 POST $POD "$(pod '.kind="Deployment"')" "does not match"
expect 400 1 POST $POD "$(pod '.apiVersion="apps/v1"')" "does not match the expected API version"
expect 422 1 POST $POD "$(pod '.spec.containers[0].image=null')" "spec.containers[0].image: Required value"
expect 422 1 POST $POD "$(pod '.metadata.name="Bad_Name"')" "metadata.name: Invalid value"
expect 422 1 POST $POD "$(pod 'del(.metadata.name)')" "name or generateName is required"
expect 400 1 POST "$POD?fieldValidation=Strict" "$(pod '.spec.containers[0].bogus=1')" 'unknown field "spec.containers[0].bogus"'
expect 400 1 POST "$DEP" "$(jq -c '.spec.replicas="two"' <<<"$deploy")" "spec.replicas"
expect 422 1 POST $POD "$(pod '.spec.containers += [{"name":"c","image":"x"}]')" 'Duplicate value: "c"'
expect 422 1 POST "$DEP" "$(jq -c '.metadata.name="d2" | .spec.selector.matchLabels.app="other"' <<<"$deploy")" "selector"
expect 422 1 POST $POD "$(pod '.spec.containers[0].ports=[{"containerPort":70000}]')" "containerPort"
expect 422 1 POST /api/v1/namespaces/default/services '{"metadata":{"name":"s"},"spec":{"type":"Bogus","ports":[{"port":80}]}}' "spec.type"
expect 422 1 POST /apis/batch/v1/namespaces/default/cronjobs '{"metadata":{"name":"c"},"spec":{"schedule":"not a cron","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}}}' "spec.schedule"
expect 400 1 POST $POD "$(pod '.spec.containers[0].name=5')" "spec.containers[0].name"
expect 404 1 POST /apis/apps/v1/namespaces/default/widgets '{}' "could not find"
expect 400 1 POST "$POD?fieldValidation=Bogus" "$(pod .)" "fieldValidation"
expect 400 1 POST "$POD?dryRun=Some" "$(pod .)" "dryRun"
big=$(head -c 3200000 /dev/zero | tr '\0' 'x')
expect 413 1 POST /api/v1/namespaces/default/configmaps "{\"metadata\":{\"name\":\"big\"},\"data\":{\"v\":\"$big\"}}"
expect 201 1 POST "$POD?dryRun=All" "$(pod .)"
expect 404 1 GET $POD/ok
[ "$(status_json 1 | jq .revision)" = "$r0" ] || fail "revision moved on rejected writes"
# Warn (the default without fieldValidation) drops the field and says so
hdr=$(curl -sS -D - -o /dev/null --cacert "$(node_dir 1)/pki/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    -H 'Content-Type: application/json' --data-binary "$(pod '.metadata.name="warned" | .spec.extra=1')" \
    "https://127.0.0.1:$(api_port 1)$POD?fieldValidation=Warn")
grep -qi '^warning: 299 - "unknown field \\"spec.extra\\""' <<<"$hdr" ||
    grep -qi '^warning: 299 - .unknown field' <<<"$hdr" || fail "no Warning header: $hdr"
expect 200 1 GET $POD/warned
[ "$(last .spec.extra)" = null ] || fail "unknown field stored under Warn"
log "resources: ok"
