#!/usr/bin/env bash
# tags: root netns
# The node-side network pieces against the real kernel and the Debian CNI
# plugins, in network namespaces made here: a "node" netns with three
# "pods" attached by the CNI driver (bridge + host-local + loopback), a
# "client" netns on the node's outside link. Checks: pods ping each other;
# a ClusterIP Service over two httpd pods answers from both and, after the
# rules change to one endpoint, from that one only; hairpin; sessionAffinity;
# NodePort from the client; cluster DNS through busybox nslookup; node routes;
# CNI CHECK and DEL (leases released, masquerade rules gone); and at the end
# nothing left: namespaces, processes, leases, tables.
# The libraries are driven through a small tool compiled from agent/*.c below
# (the agent itself does not use them yet). busybox wget -T crashes (1.35), so
# requests are bounded with timeout(1) instead.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "skip: needs root"; exit 0
fi
for t in ip nft busybox cc pkg-config; do
    command -v "$t" >/dev/null || { echo "skip: $t missing"; exit 0; }
done
CNI_BIN=${SKIFF_CNI_PATH:-/usr/lib/cni}
[ -x "$CNI_BIN/bridge" ] || { echo "skip: no CNI plugins in $CNI_BIN"; exit 0; }
source "$ROOT/tests/integration/lib.sh"

P=sk$$ # prefix of everything made here
NODE=${P}n CLIENT=${P}c
PODS=("${P}p1" "${P}p2" "${P}p3")
ALL_NS=("$NODE" "$CLIENT" "${PODS[@]}")
BG_PIDS=()

net_cleanup() {
    local rc=$? ns pid
    for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${BG_PIDS[@]}"; do wait_pid_exit "$pid" 5 || kill -KILL "$pid" 2>/dev/null; done
    # anything else still running inside our namespaces is ours too
    for ns in "${ALL_NS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if ip netns list | grep -q "^$P"; then
        echo "FAIL: namespaces left: $(ip netns list | grep "^$P" | tr '\n' ' ')"; rc=1
    fi
    (exit "$rc")
    cleanup # lib.sh: node logs, sanitizer reports, rm -rf T_DIR, exit
}
trap net_cleanup EXIT

# ---- the tool ----
cat >"$T_DIR/netctl.c" <<'EOF'
/* netctl: the agent's network libraries from the command line (test only). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "agent/cni.h"
#include "agent/dns.h"
#include "agent/netroutes.h"
#include "agent/svcrules.h"

static int die(const char *what, struct err *e)
{
    fprintf(stderr, "netctl %s: %s\n", what, e->msg);
    return 1;
}

static int cni(int argc, char **argv)
{
    /* cni ADD|DEL|CHECK CONFDIR CACHEDIR ID NETNS */
    struct agent__cni c;
    struct agent__cni_conflist *l;
    struct agent__cni_attach a = {argv[5], argv[6], NULL, "K8S_POD_NAMESPACE=default", NULL};
    struct agent__cni_result r;
    struct err e;
    char ip[32];
    int rv;
    if (argc != 7)
        return 2;
    if (agent__cni_init(&c, getenv("SKIFF_CNI_PATH"), argv[4], 20000, &e) ||
        agent__cni_conflist_load(argv[3], &l, &e))
        return die("cni", &e);
    if (strcmp(argv[2], "ADD") == 0) {
        rv = agent__cni_add(&c, l, &a, &r, &e);
        if (rv == 0) {
            printf("%s\n", agent__cni_result_ipv4(&r, ip, sizeof ip));
            agent__cni_result_close(&r);
        }
    } else if (strcmp(argv[2], "DEL") == 0) {
        rv = agent__cni_del(&c, l, &a, &e);
    } else {
        rv = agent__cni_check(&c, l, &a, &e);
    }
    agent__cni_conflist_free(l);
    return rv ? die(argv[2], &e) : 0;
}

static int rules(int argc, char **argv)
{
    /* rules NODE PODCIDR NODEADDR SERVICES.json ENDPOINTS.json */
    const char *addrs[] = {argv[4]};
    struct agent__svc_node n = {argv[2], argv[3], NULL, addrs, 1};
    json_t *s, *ep;
    struct agent__svc_stats st;
    struct err e;
    char *out;
    if (argc != 7)
        return 2;
    s = json_load_file(argv[5], 0, NULL);
    ep = json_load_file(argv[6], 0, NULL);
    if (agent__svc_ruleset(&n, s, ep, &out, &st, &e))
        return die("rules", &e);
    fputs(out, stdout);
    fprintf(stderr, "rules: %zu services %zu ports %zu endpoints %zu skipped\n", st.services,
            st.ports, st.endpoints, st.skipped);
    free(out);
    json_decref(s);
    json_decref(ep);
    return 0;
}

static json_t *records;

static int lookup(void *data, const char *ns, const char *svc, struct agent__dns_records *out)
{
    char key[300];
    json_t *ips, *v;
    size_t i;
    snprintf(key, sizeof key, "%s/%s", ns, svc);
    ips = json_object_get(records, key);
    if (ips == NULL)
        return ERR_NOTFOUND;
    json_array_foreach (ips, i, v)
        if (out->n_ips < AGENT_DNS_IPS_MAX)
            out->ips[out->n_ips++] = inet_addr(json_string_value(v));
    return 0;
}

static void on_signal(uv_signal_t *s, int sig)
{
    agent__dns_close(s->data, NULL, NULL);
    uv_close((uv_handle_t *)s, NULL);
}

static int dns(int argc, char **argv)
{
    /* dns ADDR PORT RECORDS.json: serves until SIGTERM */
    struct agent__dns_config c = {NULL, lookup, NULL};
    struct agent__dns *d;
    uv_signal_t sig;
    struct err e;
    if (argc != 5 || (records = json_load_file(argv[4], 0, NULL)) == NULL)
        return 2;
    if (agent__dns_new(uv_default_loop(), &c, argv[2], atoi(argv[3]), &d, &e))
        return die("dns", &e);
    uv_signal_init(uv_default_loop(), &sig);
    sig.data = d;
    uv_signal_start(&sig, on_signal, SIGTERM);
    fprintf(stderr, "dns: listening on %s:%d\n", argv[2], agent__dns_port(d));
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    uv_loop_close(uv_default_loop());
    json_decref(records);
    return 0;
}

static int routes(int argc, char **argv)
{
    /* routes [DST=VIA]...: sync (none: flush), and forwarding on */
    struct agent__route r[16];
    struct err e;
    int n = 0;
    for (int i = 2; i < argc && n < 16; i++, n++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL)
            return 2;
        snprintf(r[n].dst, sizeof r[n].dst, "%.*s", (int)(eq - argv[i]), argv[i]);
        snprintf(r[n].via, sizeof r[n].via, "%s", eq + 1);
    }
    if (agent__ip_forward(true, &e) || agent__routes_sync(NULL, r, (size_t)n, 5000, &e))
        return die("routes", &e);
    return 0;
}

int main(int argc, char **argv)
{
    struct err e;
    char buf[512];
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "conf") == 0 && argc == 5) /* conf CONFDIR PODCIDR DATADIR */
        return agent__cni_write_default(argv[2], argv[3], NULL, argv[4], &e) ? die("conf", &e) : 0;
    if (strcmp(argv[1], "cni") == 0)
        return cni(argc, argv);
    if (strcmp(argv[1], "rules") == 0)
        return rules(argc, argv);
    if (strcmp(argv[1], "apply") == 0 && argc == 3) { /* apply FILE */
        FILE *f = fopen(argv[2], "r");
        static char text[1 << 20];
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f)
            fclose(f);
        text[n] = '\0';
        return agent__svc_apply(NULL, text, 10000, &e) ? die("apply", &e) : 0;
    }
    if (strcmp(argv[1], "remove") == 0 && argc == 3)
        return agent__svc_remove(NULL, argv[2], 10000, &e) ? die("remove", &e) : 0;
    if (strcmp(argv[1], "dns") == 0)
        return dns(argc, argv);
    if (strcmp(argv[1], "routes") == 0)
        return routes(argc, argv);
    if (strcmp(argv[1], "resolv") == 0 && argc == 4) { /* resolv NS NAMESERVER */
        if (agent__dns_resolv_conf(argv[3], argv[2], NULL, buf, sizeof buf, &e))
            return die("resolv", &e);
        fputs(buf, stdout);
        return 0;
    }
    return 2;
}
EOF
log "building netctl"
( cd "$ROOT" && cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -I. \
    -D_GNU_SOURCE -g \
    $(pkg-config --cflags jansson libuv) -o "$T_DIR/netctl" "$T_DIR/netctl.c" agent/cni.c lib/buf.c \
    agent/svcrules.c agent/dns.c agent/netroutes.c lib/err.c \
    $(pkg-config --libs jansson libuv) ) || fail "netctl does not build"
NETCTL=$T_DIR/netctl
export SKIFF_CNI_PATH=$CNI_BIN

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- namespaces and the node's outside link ----
for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns" || fail "ip netns add $ns"
    ip -n "$ns" link set lo up
done
ip -n "$NODE" link add ext0 type veth peer name ext0 netns "$CLIENT" || fail "veth"
ip -n "$NODE" addr add 192.168.77.1/24 dev ext0
ip -n "$CLIENT" addr add 192.168.77.2/24 dev ext0
ip -n "$NODE" link set ext0 up
ip -n "$CLIENT" link set ext0 up
NODE_IP=192.168.77.1
# the client stands in for the node's upstream: a node needs a route that
# covers the service CIDR (as for kube-proxy), or traffic to a ClusterIP
# without endpoints dies in routing before the forward hook can reject it
ip -n "$NODE" route add default via 192.168.77.2

# ---- routes: forwarding on, our routes in and out, others untouched ----
log "node routes"
nsx "$NODE" "$NETCTL" routes 10.244.1.0/24=192.168.77.2 10.244.2.0/24=192.168.77.3 ||
    fail "routes sync"
[ "$(nsx "$NODE" cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "ip_forward not on"
[ "$(ip -n "$NODE" route show proto 0x53 | wc -l)" = 2 ] || fail "routes not made"
nsx "$NODE" "$NETCTL" routes 10.244.2.0/24=192.168.77.2 || fail "routes resync"
[ "$(ip -n "$NODE" route show proto 0x53)" = "10.244.2.0/24 via 192.168.77.2 dev ext0 " ] ||
    fail "routes after resync: $(ip -n "$NODE" route show proto 0x53)"
nsx "$NODE" "$NETCTL" routes || fail "routes flush"
[ -z "$(ip -n "$NODE" route show proto 0x53)" ] || fail "routes left after flush"
ip -n "$NODE" route show | grep -q "192.168.77.0/24 dev ext0" || fail "kernel route gone"

# ---- CNI: three pods on the node's bridge ----
CONF=$T_DIR/net.d CACHE=$T_DIR/cni-cache IPAM=$T_DIR/ipam
"$NETCTL" conf "$CONF" 10.244.0.0/24 "$IPAM" || fail "default conflist"
declare -A IP=()
for p in "${PODS[@]}"; do
    IP[$p]=$(nsx "$NODE" "$NETCTL" cni ADD "$CONF" "$CACHE" "$p" "/run/netns/$p") ||
        fail "CNI ADD $p"
    log "pod $p: ${IP[$p]}"
    [[ "${IP[$p]}" == 10.244.0.* ]] || fail "pod $p got '${IP[$p]}'"
done
P1=${PODS[0]} P2=${PODS[1]} P3=${PODS[2]}
[ "${IP[$P1]}" != "${IP[$P2]}" ] || fail "same IP twice"
ip -n "$NODE" link show skiff0 >/dev/null || fail "no bridge skiff0"
nsx "$P1" ip route show | grep -q "default via 10.244.0.1" || fail "pod has no default route"
nsx "$P1" ip addr show lo | grep -q "state UNKNOWN\|UP" || fail "pod loopback down"
nsx "$NODE" "$NETCTL" cni CHECK "$CONF" "$CACHE" "$P1" "/run/netns/$P1" || fail "CNI CHECK"
ls "$IPAM/skiff" | grep -q "^${IP[$P1]}$" || fail "no lease file for ${IP[$P1]}"

log "ping between pods"
nsx "$P1" busybox ping -c1 -W2 "${IP[$P2]}" >/dev/null || fail "p1 cannot ping p2"
nsx "$P2" busybox ping -c1 -W2 "${IP[$P1]}" >/dev/null || fail "p2 cannot ping p1"
nsx "$P3" busybox ping -c1 -W2 10.244.0.1 >/dev/null || fail "p3 cannot ping its gateway"

# ---- Services ----
for p in "$P1" "$P2"; do
    mkdir -p "$T_DIR/www-$p"
    echo "$p" >"$T_DIR/www-$p/index.html"
    # ip netns exec execs the command: $! is the server itself
    ip netns exec "$p" busybox httpd -f -p 80 -h "$T_DIR/www-$p" &
    BG_PIDS+=($!)
done
wait_until 10 "httpd in p1" nsx "$P3" timeout 2 busybox wget -q -O /dev/null "http://${IP[$P1]}/"
wait_until 10 "httpd in p2" nsx "$P3" timeout 2 busybox wget -q -O /dev/null "http://${IP[$P2]}/"

services() { # affinity(None|ClientIP)
    cat <<JSON
[{"metadata":{"namespace":"default","name":"web"},
  "spec":{"type":"NodePort","clusterIP":"10.96.0.10","sessionAffinity":"$1",
          "ports":[{"name":"http","port":80,"targetPort":80,"protocol":"TCP","nodePort":30080}]}},
 {"metadata":{"namespace":"default","name":"gone"},
  "spec":{"clusterIP":"10.96.0.11","ports":[{"port":80,"protocol":"TCP"}]}}]
JSON
}
endpoints() { # ip...
    local sep="" a=""
    for ip in "$@"; do a+="$sep{\"ip\":\"$ip\"}"; sep=","; done
    echo "[{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"subsets\":[{\"addresses\":[$a],\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}]}]"
}
apply_rules() { # affinity ip...
    local aff=$1; shift
    services "$aff" >"$T_DIR/svc.json"
    endpoints "$@" >"$T_DIR/ep.json"
    nsx "$NODE" "$NETCTL" rules "$NODE" 10.244.0.0/24 "$NODE_IP" "$T_DIR/svc.json" \
        "$T_DIR/ep.json" >"$T_DIR/rules.nft" || fail "rules"
    nsx "$NODE" "$NETCTL" apply "$T_DIR/rules.nft" || { cat "$T_DIR/rules.nft"; fail "apply"; }
}
# answers FROM_NS URL N: the distinct bodies of N requests, sorted
answers() {
    local i
    for i in $(seq "$3"); do nsx "$1" timeout 3 busybox wget -q -O - "$2" 2>&1; done | sort | uniq -c
}

log "ClusterIP over two endpoints"
apply_rules None "${IP[$P1]}" "${IP[$P2]}"
got=$(answers "$P3" http://10.96.0.10/ 20)
echo "$got"
grep -q " $P1$" <<<"$got" && grep -q " $P2$" <<<"$got" || fail "not both endpoints answered: $got"
[ "$(awk '{s+=$1} END {print s}' <<<"$got")" = 20 ] || fail "not 20 answers: $got"

log "ClientIP affinity sticks to one endpoint"
apply_rules ClientIP "${IP[$P1]}" "${IP[$P2]}"
got=$(answers "$P3" http://10.96.0.10/ 10)
echo "$got"
[ "$(wc -l <<<"$got")" = 1 ] && grep -q "10 $P" <<<"$got" || fail "affinity broken: $got"

log "one endpoint left"
apply_rules None "${IP[$P1]}"
got=$(answers "$P3" http://10.96.0.10/ 10)
[ "$got" = "     10 $P1" ] || fail "after update expected only $P1: $got"

log "hairpin: p1 reaches itself through its service"
got=$(answers "$P1" http://10.96.0.10/ 3)
[ "$got" = "      3 $P1" ] || fail "hairpin: $got"

log "NodePort from outside the node"
got=$(answers "$CLIENT" "http://$NODE_IP:30080/" 3)
[ "$got" = "      3 $P1" ] || fail "NodePort: $got"

log "a service without endpoints is rejected at once"
out=$(nsx "$P3" timeout 5 busybox nc -w 3 10.96.0.11 80 </dev/null 2>&1)
grep -q "refused" <<<"$out" || fail "no reject for a service without endpoints: $out"

log "unchanged input gives the same ruleset"
cp "$T_DIR/rules.nft" "$T_DIR/rules.prev"
nsx "$NODE" "$NETCTL" rules "$NODE" 10.244.0.0/24 "$NODE_IP" "$T_DIR/svc.json" "$T_DIR/ep.json" \
    >"$T_DIR/rules.nft" 2>/dev/null
cmp -s "$T_DIR/rules.nft" "$T_DIR/rules.prev" || fail "ruleset not deterministic"

# ---- DNS ----
log "cluster DNS"
echo '{"default/web":["10.96.0.10"],"default/db":["'"${IP[$P1]}"'","'"${IP[$P2]}"'"]}' \
    >"$T_DIR/records.json"
ip netns exec "$NODE" "$NETCTL" dns 10.244.0.1 53 "$T_DIR/records.json" 2>"$T_DIR/dns.log" &
BG_PIDS+=($!)
DNS_PID=$!
wait_until 10 "dns answers" nsx "$P3" busybox nslookup web.default.svc.cluster.local 10.244.0.1
out=$(nsx "$P3" busybox nslookup web.default.svc.cluster.local 10.244.0.1 2>&1)
echo "$out"
grep -q "Address: 10.96.0.10" <<<"$out" || fail "nslookup web: $out"
out=$(nsx "$P3" busybox nslookup db.default.svc.cluster.local 10.244.0.1 2>&1)
grep -q "Address: ${IP[$P1]}" <<<"$out" && grep -q "Address: ${IP[$P2]}" <<<"$out" ||
    fail "nslookup headless: $out"
out=$(nsx "$P3" busybox nslookup nope.default.svc.cluster.local 10.244.0.1 2>&1)
grep -qi "NXDOMAIN\|can't find" <<<"$out" || fail "nslookup unknown: $out"
# a pod resolving the short name through the search path of its resolv.conf
"$NETCTL" resolv default 10.244.0.1 >"$T_DIR/resolv.conf"
grep -qx "search default.svc.cluster.local svc.cluster.local cluster.local" "$T_DIR/resolv.conf" ||
    fail "resolv.conf: $(cat "$T_DIR/resolv.conf")"
kill -TERM "$DNS_PID"
wait_pid_exit "$DNS_PID" 5 || fail "dns server did not stop on SIGTERM"

# ---- teardown, verified ----
log "teardown"
for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${BG_PIDS[@]}"; do wait_pid_exit "$pid" 5 || fail "process $pid did not stop"; done
BG_PIDS=()
nsx "$NODE" "$NETCTL" remove "$NODE" || fail "remove rules"
nsx "$NODE" "$NETCTL" remove "$NODE" || fail "remove rules twice"
nsx "$NODE" nft list tables | grep -q "skiff-" && fail "nft table left"
for p in "${PODS[@]}"; do
    nsx "$NODE" "$NETCTL" cni DEL "$CONF" "$CACHE" "$p" "/run/netns/$p" || fail "CNI DEL $p"
done
# DEL again, and DEL after the netns is gone: both fine
nsx "$NODE" "$NETCTL" cni DEL "$CONF" "$CACHE" "$P1" "/run/netns/$P1" || fail "second DEL"
ip netns del "$P2"
nsx "$NODE" "$NETCTL" cni DEL "$CONF" "$CACHE" "$P2" "/run/netns/$P2" || fail "DEL, netns gone"
leases=$(ls "$IPAM/skiff" 2>/dev/null | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' || true)
[ -z "$leases" ] || fail "leases not released: $leases"
[ -z "$(ls "$CACHE")" ] || fail "result cache not emptied: $(ls "$CACHE")"
[ -z "$(ip -n "$NODE" -o link show type veth | grep -v ext0)" ] || fail "veths left on the node"
# bridge's ipMasq chains go with DEL
if command -v iptables >/dev/null; then
    nsx "$NODE" iptables -t nat -S 2>/dev/null | grep -q "CNI-" && fail "masquerade chains left"
fi
for ns in "${ALL_NS[@]}"; do
    [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] || fail "processes left in $ns"
    ip netns del "$ns" 2>/dev/null
done
ip netns list | grep -q "^$P" && fail "namespaces left"
log "ok"
