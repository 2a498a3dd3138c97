#!/usr/bin/env bash
# Acceptance (issue 6), fake runtime: the Job and CronJob controllers.
# a) completions 5 / parallelism 2 completes, never more than 2 pods active;
# b) pods that fail with backoffLimit 2 end the Job Failed/BackoffLimitExceeded
#    after 3 failed pods (10 s and 20 s back-off between them, as kube);
# c) a "*/1 * * * *" CronJob starts a Job on each minute boundary, named and
#    annotated as kube does, and keeps successfulJobsHistoryLimit 1.
# The CronJob is created first so its minute waits overlap a) and b).
# Tag: slow (about 2.5 minutes: two real cron minutes).
. "$(dirname "$0")/lib.sh"

T_TUNING="--fake-runtime"
start_init 1
start_join 2 1
start_join 3 1
wait_until 60 "3 voters" role_count_is 1 voter 3

JOBS=/apis/batch/v1/namespaces/default/jobs
CJS=/apis/batch/v1/namespaces/default/cronjobs
PODS=/api/v1/namespaces/default/pods

node_ready() {
    api_body 1 GET /api/v1/nodes/"$1" |
        jq -e '.status.conditions[] | select(.type=="Ready" and .status=="True")' >/dev/null
}
for n in 1 2 3; do wait_until 30 "node$n Ready" node_ready "node$n"; done

# ---- c) part 1: the CronJob ----
cj='{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"tick"},
 "spec":{"schedule":"*/1 * * * *","successfulJobsHistoryLimit":1,
  "jobTemplate":{"metadata":{"labels":{"run":"tick"},"annotations":{"note":"copied"}},
   "spec":{"template":{"spec":{"restartPolicy":"OnFailure",
    "containers":[{"name":"c","image":"busybox"}]}}}}}}'
[ "$(api_code 1 POST "$CJS" "$cj")" = 201 ] || fail "create cronjob: $(api_body 1 POST "$CJS" "$cj")"
cj_uid=$(api_body 1 GET "$CJS/tick" | jq -r .metadata.uid)
cj_t0=$(date +%s)
log "cronjob tick created ($cj_uid)"

# ---- a) completions 5, parallelism 2 ----
job='{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"work"},
 "spec":{"completions":5,"parallelism":2,"template":{"spec":{"restartPolicy":"Never",
  "containers":[{"name":"c","image":"busybox"}]}}}}'
[ "$(api_code 1 POST "$JOBS" "$job")" = 201 ] || fail "create job work"
work_uid=$(api_body 1 GET "$JOBS/work" | jq -r .metadata.uid)

# ---- b) failing pods, backoffLimit 2 ----
flaky='{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"flaky"},
 "spec":{"backoffLimit":2,"template":{"metadata":{"annotations":{"skiff.io/fake-exit-code":"1"}},
  "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}'
[ "$(api_code 1 POST "$JOBS" "$flaky")" = 201 ] || fail "create job flaky"

# a): watch every 50 ms that no more than 2 pods of work are active
max_active=0
deadline=$(( $(date +%s) + 45 ))
while :; do
    pods=$(api_body 1 GET "$PODS?labelSelector=job-name%3Dwork") || fail "list pods"
    active=$(jq '[.items[] | select(.metadata.deletionTimestamp == null and
        (.status.phase // "Pending") != "Succeeded" and (.status.phase // "Pending") != "Failed")]
        | length' <<<"$pods")
    [ "$active" -gt "$max_active" ] && max_active=$active
    [ "$active" -le 2 ] || fail "work has $active active pods: $(jq -c '[.items[] | [.metadata.name, .status.phase]]' <<<"$pods")"
    st=$(api_body 1 GET "$JOBS/work" | jq -c .status)
    if jq -e '.succeeded == 5 and any(.conditions[]?; .type == "Complete" and .status == "True")' \
        <<<"$st" >/dev/null; then
        break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "work did not complete: $st"
    sleep 0.05
done
[ "$max_active" = 2 ] || fail "work never ran 2 pods at once (max $max_active)"
jq -e '.active == 0 and .failed == 0 and .completionTime != null and .startTime != null and
    any(.conditions[]; .type == "Complete" and .reason == "CompletionsReached") and
    any(.conditions[]; .type == "SuccessCriteriaMet")' <<<"$st" >/dev/null ||
    fail "work status: $st"
pods=$(api_body 1 GET "$PODS?labelSelector=job-name%3Dwork")
jq -e --arg uid "$work_uid" '(.items | length) == 5 and all(.items[];
    .status.phase == "Succeeded" and
    .metadata.labels["batch.kubernetes.io/controller-uid"] == $uid and
    .metadata.labels["controller-uid"] == $uid and
    .metadata.labels["batch.kubernetes.io/job-name"] == "work" and
    (.metadata.name | startswith("work-")) and
    .metadata.ownerReferences[0].kind == "Job" and .metadata.ownerReferences[0].uid == $uid and
    .metadata.ownerReferences[0].controller == true)' <<<"$pods" >/dev/null ||
    fail "work pods: $(jq -c '[.items[] | {n: .metadata.name, p: .status.phase, l: .metadata.labels}]' <<<"$pods")"
out=$(skiff_cli get jobs) || fail "skiff get jobs: $out"
grep -Eq '^work +5/5 ' <<<"$out" || fail "skiff get jobs: $out"
log "a) work completed 5/5, at most $max_active active"

# b)
flaky_failed() {
    api_body 1 GET "$JOBS/flaky" | jq -e '.status | any(.conditions[]?;
        .type == "Failed" and .status == "True" and .reason == "BackoffLimitExceeded")'
}
wait_until 60 "flaky Failed with BackoffLimitExceeded" flaky_failed
st=$(api_body 1 GET "$JOBS/flaky" | jq -c .status)
jq -e '.failed == 3 and .active == 0 and .succeeded == 0 and .completionTime == null and
    any(.conditions[]; .type == "FailureTarget" and .reason == "BackoffLimitExceeded")' \
    <<<"$st" >/dev/null || fail "flaky status: $st"
pods=$(api_body 1 GET "$PODS?labelSelector=job-name%3Dflaky")
[ "$(jq '[.items[] | select(.status.phase == "Failed")] | length' <<<"$pods")" = 3 ] ||
    fail "flaky pods: $(jq -c '[.items[] | [.metadata.name, .status.phase]]' <<<"$pods")"
# the back-off: 10 s after the first failure, 20 s after the second
starts=$(jq -r '[.items[].metadata.creationTimestamp | fromdate] | sort | .[]' <<<"$pods" | tr '\n' ' ')
read -r s1 s2 s3 <<<"$starts"
[ $(( s2 - s1 )) -ge 10 ] && [ $(( s3 - s2 )) -ge 20 ] || fail "flaky back-off: pods created at $starts"
log "b) flaky Failed after 3 failed pods (created at $starts)"

# ---- c) part 2: runs on minute boundaries ----
tick_jobs() { api_body 1 GET "$JOBS" | jq --arg uid "$cj_uid" '[.items[] |
    select(any(.metadata.ownerReferences[]?; .uid == $uid and .controller == true))]'; }
tick_jobs_at_least() { [ "$(tick_jobs | jq length)" -ge "$1" ]; }
left=$(( cj_t0 + 75 - $(date +%s) )); [ "$left" -gt 5 ] || left=5
wait_until "$left" "a Job of cronjob tick" tick_jobs_at_least 1
j=$(tick_jobs | jq '.[0]')
name=$(jq -r .metadata.name <<<"$j")
stamp=$(jq -r '.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]' <<<"$j")
[[ "$stamp" =~ ^[0-9-]+T[0-9]{2}:[0-9]{2}:00Z$ ]] || fail "scheduled timestamp $stamp"
[ "$name" = "tick-$(( $(date -d "$stamp" +%s) / 60 ))" ] || fail "job name $name for $stamp"
jq -e '.metadata.labels.run == "tick" and .metadata.annotations.note == "copied"' <<<"$j" \
    >/dev/null || fail "template metadata not copied: $j"
job_complete() {
    api_body 1 GET "$JOBS/$1" | jq -e 'any(.status.conditions[]?; .type == "Complete" and .status == "True")'
}
wait_until 30 "$name completes" job_complete "$name"
cj_recorded() {
    api_body 1 GET "$CJS/tick" | jq -e --arg s "$1" '.status.lastScheduleTime == $s and
        .status.lastSuccessfulTime != null and ((.status.active // []) | length) == 0'
}
wait_until 15 "tick status records $stamp" cj_recorded "$stamp"
log "c) $name scheduled at $stamp completed"

# ---- while the next minute comes: deadline, suspend/resume, TTL ----
mkjob() { # name extra-spec-json
    printf '{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"%s"},"spec":{%s"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}' "$1" "$2"
}
# fake pods take 1 s each: 50 completions one at a time outlast a 2 s deadline
[ "$(api_code 1 POST "$JOBS" "$(mkjob slow '"completions":50,"activeDeadlineSeconds":2,')")" = 201 ] ||
    fail "create job slow"
[ "$(api_code 1 POST "$JOBS" "$(mkjob held '"suspend":true,')")" = 201 ] || fail "create job held"
[ "$(api_code 1 POST "$JOBS" "$(mkjob brief '"ttlSecondsAfterFinished":2,')")" = 201 ] ||
    fail "create job brief"
job_cond() { # name type reason
    api_body 1 GET "$JOBS/$1" | jq -e --arg t "$2" --arg r "$3" \
        'any(.status.conditions[]?; .type == $t and .status == "True" and .reason == $r)'
}
wait_until 20 "slow Failed with DeadlineExceeded" job_cond slow Failed DeadlineExceeded
pods=$(api_body 1 GET "$PODS?labelSelector=job-name%3Dslow")
[ "$(jq '[.items[] | select(.status.phase != "Succeeded")] | length' <<<"$pods")" = 0 ] ||
    fail "slow left active pods: $(jq -c '[.items[] | [.metadata.name, .status.phase]]' <<<"$pods")"
wait_until 10 "held Suspended" job_cond held Suspended JobSuspended
st=$(api_body 1 GET "$JOBS/held" | jq -c .status)
jq -e '.active == 0 and .startTime == null' <<<"$st" >/dev/null || fail "held status: $st"
[ "$(api_body 1 GET "$PODS?labelSelector=job-name%3Dheld" | jq '.items | length')" = 0 ] ||
    fail "suspended job held has pods"
CT=application/merge-patch+json api_is 200 1 PATCH "$JOBS/held" '{"spec":{"suspend":false}}' ||
    fail "resume held"
wait_until 20 "held completes after resume" job_cond held Complete CompletionsReached
api_body 1 GET "$JOBS/held" | jq -e 'any(.status.conditions[]; .type == "Suspended" and
    .status == "False" and .reason == "JobResumed")' >/dev/null || fail "held not resumed"
wait_until 20 "brief deleted 2 s after it finished" api_is 404 1 GET "$JOBS/brief"
log "d) deadline, suspend/resume and ttlSecondsAfterFinished ok"

# the next minute: a second run, and history limit 1 keeps only it
second_run() {
    local js; js=$(tick_jobs) || return 1
    jq -e --arg n "$name" 'length == 1 and .[0].metadata.name != $n and
        any(.[0].status.conditions[]?; .type == "Complete" and .status == "True")' <<<"$js"
}
wait_until 80 "second run of tick complete, first one deleted" second_run
name2=$(tick_jobs | jq -r '.[0].metadata.name')
[ $(( ${name2#tick-} - ${name#tick-} )) = 1 ] || fail "runs $name then $name2"
out=$(skiff_cli get cronjobs) || fail "skiff get cronjobs: $out"
grep -Eq '^tick +\*/1 \* \* \* \*' <<<"$out" || fail "skiff get cronjobs: $out"
log "c) $name2 ran next minute; $name deleted by successfulJobsHistoryLimit 1"
log "ok"
