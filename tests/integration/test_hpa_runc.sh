#!/usr/bin/env bash
# tags: root, slow
# The autoscaling issue's acceptance 1 on real containers: cgroup CPU
# samples (agent/metrics.c, every second here) through metrics.k8s.io to
# the HPA controller (every second, scale-down window 10 s):
#  a Deployment of 1 replica whose busybox container burns CPU with
#  requests.cpu 100m and an HPA 1..3 at 50 %: it scales up (to 3, never
#  beyond); the burning stops (a file touched in every pod through skiff
#  exec): after the window it scales back to 1 (never below). The HPA's
#  status shows the CPU it saw.
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (runc, cgroups)"; exit 0; fi
if ! grep -qw overlay /proc/filesystems; then echo "SKIP: overlayfs unavailable"; exit 0; fi
for b in runc skopeo umoci jq; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) missing"; exit 0; }
export T_RUNTIME=runc
export T_TUNING="--metrics-period-ms 1000 --hpa-sync-ms 1000 --hpa-downscale-window-ms 10000"
. "$(dirname "$0")/lib.sh"

kc() { "$SKIFF" "$@" --kubeconfig "$(node_dir 1)/admin.kubeconfig"; }
t_cleanup() {
    [ -d "$(node_dir 1)" ] && "$SKIFF" reset --data-dir "$(node_dir 1)" --keep-data >/dev/null 2>&1
}

W=$T_DIR/img
mkdir -p "$W"
busybox_image "$W"
start_init 1
has_cidr() { kc get nodes -o json | jq -e '.items[0].spec.podCIDR'; }
wait_until 60 "node ready with a pod CIDR" has_cidr
"$SKIFF" image import "$W/busybox.tar" --ref busybox:latest --data-dir "$(node_dir 1)" >/dev/null ||
    fail "image import"

cat >"$T_DIR/burn.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: burn}
spec:
  replicas: 1
  selector: {matchLabels: {app: burn}}
  template:
    metadata: {labels: {app: burn}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burn
        image: busybox:latest
        imagePullPolicy: Never
        command: [sh, -c, 'while [ ! -e /tmp/stop ]; do :; done; exec sleep 3600']
        resources: {requests: {cpu: 100m}}
EOF
kc apply -f "$T_DIR/burn.yaml" >/dev/null || fail "apply"
kc autoscale deployment burn --min 1 --max 3 --cpu-percent 50 >/dev/null || fail "skiff autoscale"
replicas() { kc get deploy burn -o json | jq -r '.spec.replicas'; }
max_seen=1
watch_replicas() { # records the largest and smallest replica count seen
    local r; r=$(replicas)
    [ "$r" -gt "$max_seen" ] && max_seen=$r
    [ "$r" -lt 1 ] && fail "replicas went to $r (below min)"
    [ "$r" -gt 3 ] && fail "replicas went to $r (beyond max)"
    return 0
}
at3() { watch_replicas; [ "$(replicas)" = 3 ]; }
t0=$(date +%s)
wait_until 90 "scaled up to 3" at3
log "scaled up to 3 after $(( $(date +%s) - t0 )) s"
kc get hpa burn >"$T_DIR/hpa.txt"
cat "$T_DIR/hpa.txt"
util=$(kc get hpa burn -o json | jq -r '.status.currentMetrics[0].resource.current.averageUtilization // empty')
[ -n "$util" ] && [ "$util" -gt 50 ] || fail "status.currentMetrics shows no load: $(kc get hpa burn -o json | jq -c .status)"
log "HPA saw $util % of the request"

# stop the burning in every pod (each pod checks its own /tmp/stop)
ready3() { [ "$(kc get pods -l app=burn -o json | jq '[.items[] | select(.status.phase == "Running")] | length')" = 3 ]; }
wait_until 60 "3 burn pods running" ready3
for p in $(kc get pods -l app=burn -o json | jq -r '.items[].metadata.name'); do
    "$SKIFF" exec --kubeconfig "$(node_dir 1)/admin.kubeconfig" "$p" -- touch /tmp/stop >/dev/null || fail "exec touch in $p"
done
t1=$(date +%s)
at1() { watch_replicas; [ "$(replicas)" = 1 ]; }
wait_until 90 "scaled back to 1" at1
dt=$(( $(date +%s) - t1 ))
log "scaled back to 1 after $dt s (window 10 s)"
[ "$dt" -ge 9 ] || fail "scaled down after $dt s, before the 10 s window"
log "PASS"
