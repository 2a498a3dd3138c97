#!/usr/bin/env bash
# Acceptance 5 of issue 9: GET /metrics on every node parses with a
# Prometheus text-format parser (prometheus_client's, the reference Python
# one; promtool's too when it is installed) and its counters move when the
# cluster works: API request counters, Raft applied index and proposals,
# scheduler bind latency. skiff_raft_is_leader is 1 on exactly one node.
# Anonymous scrapes get 401; node certificates may scrape.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
$PY -c 'import prometheus_client' 2>/dev/null ||
    fail "python3-prometheus-client is missing (scripts/deps.sh installs it)"

# parse: reads an exposition on stdin; checks it strictly (prometheus_client's
# parser, every sample under a declared # TYPE, histograms cumulative and
# ending in +Inf = _count) and prints one "name{k=v,...} value" line per
# sample, labels sorted, for grep.
parse() {
    $PY -c '
import math, re, sys
from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.read()
types = {}
for line in text.splitlines():
    m = re.match(r"# TYPE (\S+) (\S+)$", line)
    if m:
        if m.group(1) in types:
            sys.exit("TYPE given twice for " + m.group(1))
        types[m.group(1)] = m.group(2)
    elif line and not line.startswith("#"):
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and not (base in types and types[base] == "histogram"):
            sys.exit("sample without a TYPE: " + line)
out = []
for fam in text_string_to_metric_families(text):
    if fam.type == "histogram":
        series = {}
        for s in fam.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {"b": [], "count": None})
            if s.name.endswith("_bucket"):
                series[key]["b"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
        for key, h in series.items():
            b = h["b"]
            if not b or not math.isinf(b[-1][0]):
                sys.exit("%s %s: no +Inf bucket" % (fam.name, key))
            if any(b[i][1] > b[i + 1][1] or b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)):
                sys.exit("%s %s: buckets not cumulative: %s" % (fam.name, key, b))
            if b[-1][1] != h["count"]:
                sys.exit("%s %s: +Inf %s != count %s" % (fam.name, key, b[-1][1], h["count"]))
    for s in fam.samples:
        lab = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        v = s.value
        out.append("%s{%s} %s" % (s.name, lab, int(v) if v == int(v) else v))
print("\n".join(out))
'
}

scrape() { # n: raw exposition, as admin
    curl -sSf --max-time 10 --cacert "$(node_dir 1)/pki/ca.crt" \
        -H "Authorization: Bearer $(admin_token)" "https://127.0.0.1:$(api_port "$1")/metrics"
}

# metric N SERIES: the value of one parsed series ("name{k=v}") on node N, 0 if absent
metric() {
    local v
    v=$(scrape "$1" | parse | awk -v s="$2" '$1 == s && !f {print $2; f = 1}') || return 1
    echo "${v:-0}"
}
# metric_gt N SERIES VALUE: predicate
metric_gt() { local v; v=$(metric "$1" "$2") || return 1; awk -v a="$v" -v b="$3" 'BEGIN {exit !(a > b)}'; }

T_TUNING="--fake-runtime" start_init 1
T_TUNING="--fake-runtime" start_join 2 1
T_TUNING="--fake-runtime" start_join 3 1
wait_until 60 "3 voters" role_count_is 1 voter 3
wait_until 30 "a leader" leader_num 1
L=$(leader_num 1)
F=$(( L % 3 + 1 ))
log "leader node$L, follower node$F"

# ---- the format, on every node ----
for n in 1 2 3; do
    out=$(scrape "$n") || fail "node$n: scrape failed"
    parsed=$(parse <<<"$out") || fail "node$n: /metrics does not parse: $parsed"
    if command -v promtool >/dev/null; then
        # lint problems are printed but only a parse error fails: promtool
        # also flags style points (e.g. the process_ family names)
        promtool check metrics <<<"$out" >"$T_DIR/promtool.$n" 2>&1
        grep -qi "error while linting\|text format parsing error" "$T_DIR/promtool.$n" &&
            fail "node$n: promtool: $(cat "$T_DIR/promtool.$n")"
    fi
    for fam in skiff_raft_term skiff_raft_applied_index skiff_store_size_bytes skiff_store_revision \
        skiff_api_watches process_resident_memory_bytes process_open_fds; do
        grep -q "^$fam{} " <<<"$parsed" || fail "node$n: no $fam in: $parsed"
    done
done
ct=$(curl -sS -o /dev/null -w '%{content_type}' --cacert "$(node_dir 1)/pki/ca.crt" \
    -H "Authorization: Bearer $(admin_token)" "https://127.0.0.1:$(api_port 1)/metrics")
[[ "$ct" == "text/plain; version=0.0.4"* ]] || fail "content type: $ct"

# exactly one leader
leaders_sum() { local t=0 v; for n in 1 2 3; do v=$(metric "$n" "skiff_raft_is_leader{}") || return 1; t=$((t + v)); done; echo $t; }
leaders_one() { [ "$(leaders_sum)" = 1 ]; }
wait_until 20 "skiff_raft_is_leader is 1 on exactly one node" leaders_one
[ "$(metric "$L" "skiff_raft_is_leader{}")" = 1 ] || fail "node$L is leader but says it is not"

# ---- auth: anonymous 401, a node certificate may scrape ----
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$(node_dir 1)/pki/ca.crt" \
    "https://127.0.0.1:$(api_port 1)/metrics")
[ "$code" = 401 ] || fail "anonymous /metrics: $code, want 401"
if [ -e "$(node_dir 1)/pki/node.crt" ]; then
    code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$(node_dir 1)/pki/ca.crt" \
        --cert "$(node_dir 1)/pki/node.crt" --key "$(node_dir 1)/pki/node.key" \
        "https://127.0.0.1:$(api_port 1)/metrics")
    [ "$code" = 200 ] || fail "node certificate /metrics: $code, want 200"
fi

# ---- counters move ----
POST201='skiff_api_requests_total{code=201,verb=POST}'
posts0=$(metric "$F" "$POST201")
props0=$(metric "$F" "skiff_raft_proposals_total{}")
applied_l0=$(metric "$L" "skiff_raft_applied_index{}")
applied_f0=$(metric "$F" "skiff_raft_applied_index{}")
binds0=$(metric "$L" "skiff_scheduler_bind_duration_seconds_count{}")
lat0=$(metric "$F" "skiff_raft_proposal_duration_seconds_count{}")
log "before: posts=$posts0 proposals=$props0 applied=$applied_l0/$applied_f0 binds=$binds0"

for i in 1 2 3 4 5; do
    api_is 201 "$F" POST /api/v1/namespaces/default/configmaps "$(cm_json "prom-$i" k v)" ||
        fail "create configmap prom-$i on node$F"
done
api_is 201 "$F" POST /api/v1/namespaces/default/pods \
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"prom-pod"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}' ||
    fail "create pod on node$F"
api_is 404 "$F" GET /api/v1/namespaces/default/configmaps/prom-missing || fail "404 read"

wait_until 10 "node$F counts its POSTs" metric_gt "$F" "$POST201" $(( posts0 + 5 ))
metric_gt "$F" "skiff_api_requests_total{code=404,verb=GET}" 0 || fail "node$F: no GET 404 counted"
metric_gt "$F" "skiff_raft_proposals_total{}" $(( props0 + 5 )) || fail "node$F: proposals did not move"
metric_gt "$F" "skiff_raft_proposal_duration_seconds_count{}" $(( lat0 + 5 )) ||
    fail "node$F: proposal latency histogram did not move"
metric_gt "$F" "skiff_api_request_duration_seconds_count{verb=POST}" 5 ||
    fail "node$F: POST latency histogram did not move"
wait_until 10 "node$L applied index moves" metric_gt "$L" "skiff_raft_applied_index{}" $(( applied_l0 + 5 ))
wait_until 10 "node$F applied index moves" metric_gt "$F" "skiff_raft_applied_index{}" $(( applied_f0 + 5 ))
wait_until 30 "the leader's scheduler counts a bind" \
    metric_gt "$L" "skiff_scheduler_bind_duration_seconds_count{}" "$binds0"
pods_total() {
    local t=0 v
    for ph in Pending Running Succeeded Failed Unknown; do
        v=$(metric "$F" "skiff_pods{phase=$ph}") || return 1
        t=$((t + v))
    done
    [ "$t" -ge 1 ]
}
wait_until 10 "node$F counts the pod by phase" pods_total
metric_gt "$F" "skiff_nodes{ready=true}" 0 || fail "node$F: no ready nodes counted"

# LIST is told from GET, as the apiserver does
api_is 200 "$F" GET /api/v1/namespaces/default/configmaps || fail "list configmaps"
metric_gt "$F" "skiff_api_requests_total{code=200,verb=LIST}" 0 || fail "node$F: no LIST counted"

# a watch open on the follower shows in skiff_api_watches, and is counted
# as a WATCH request when it ends (timeoutSeconds)
curl -sS -N --max-time 20 --cacert "$(node_dir 1)/pki/ca.crt" \
    -H "Authorization: Bearer $(admin_token)" \
    "https://127.0.0.1:$(api_port "$F")/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=3" \
    >/dev/null 2>&1 &
WATCH_PID=$!
t_cleanup() { kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; }
wait_until 10 "node$F counts an open watch" metric_gt "$F" "skiff_api_watches{}" 0
wait_until 15 "node$F counts the ended watch" \
    metric_gt "$F" "skiff_api_requests_total{code=200,verb=WATCH}" 0
[ "$(metric "$F" "skiff_api_watches{}")" = 0 ] || fail "node$F: watch still counted open"
t_cleanup

log "PASS"
