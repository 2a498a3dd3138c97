/* Service rules: the nft text for a set of Services and Endpoints (one
 * golden ruleset read line by line once, then the properties: sorted and
 * deterministic, headless/ExternalName/not-ready skipped, rejects for
 * ports without endpoints, affinity, masquerade choices, bad objects
 * skipped without reaching the text), and when nft is usable (root) the
 * text is checked by `nft -c` and applied and removed in a private netns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cni.h"
#include "agent/svcrules.h"

static void assert_contains(const char *s, const char *sub)
{
    if (s == NULL || strstr(s, sub) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", sub);
}

static void assert_lacks(const char *s, const char *sub)
{
    if (strstr(s, sub) != NULL)
        fail_msg("\"%s\" contains \"%s\"", s, sub);
}

/* JSON from text written with ' for ". */
static json_t *J(const char *text)
{
    char *buf = strdup(text);
    json_error_t jerr;
    json_t *v;
    assert_non_null(buf);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(buf, 0, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, buf);
    free(buf);
    return v;
}

static const char *services_json =
    "[{'metadata':{'namespace':'default','name':'web'},'spec':{'clusterIP':'10.96.0.10',"
    "'type':'NodePort','ports':[{'name':'http','port':80,'protocol':'TCP','nodePort':30080}]}},"
    "{'metadata':{'namespace':'default','name':'sticky'},'spec':{'clusterIP':'10.96.0.11',"
    "'sessionAffinity':'ClientIP','ports':[{'port':8080,'protocol':'TCP'}]}},"
    "{'metadata':{'namespace':'default','name':'empty'},'spec':{'clusterIP':'10.96.0.12',"
    "'type':'NodePort','ports':[{'port':53,'protocol':'UDP','nodePort':30053}]}},"
    "{'metadata':{'namespace':'default','name':'headless'},'spec':{'clusterIP':'None',"
    "'ports':[{'port':80}]}}]";

static const char *endpoints_json =
    "[{'metadata':{'namespace':'default','name':'web'},'subsets':[{'addresses':[{'ip':'10.244.0."
    "3'},{'ip':'10.244.0.2'}],'notReadyAddresses':[{'ip':'10.244.0.9'}],'ports':[{'name':'http',"
    "'port':8080,'protocol':'TCP'}]}]},"
    "{'metadata':{'namespace':'default','name':'sticky'},'subsets':[{'addresses':[{'ip':'10.244."
    "0.2'}],'ports':[{'port':80,'protocol':'TCP'}]}]},"
    "{'metadata':{'namespace':'default','name':'headless'},'subsets':[{'addresses':[{'ip':'10.244."
    "0.7'}],'ports':[{'port':80,'protocol':'TCP'}]}]}]";

static const char *const node_ips[] = {"192.168.77.1"};
static const struct agent__svc_node node1 = {"n1", "10.244.0.0/24", NULL, node_ips, 1};

static char *rules(const struct agent__svc_node *n, const char *svcs, const char *eps,
                   struct agent__svc_stats *st)
{
    json_t *s = J(svcs), *ep = J(eps);
    char *out = NULL;
    struct err e;
    if (agent__svc_ruleset(n, s, ep, &out, st, &e) != 0)
        fail_msg("%s", e.msg);
    json_decref(s);
    json_decref(ep);
    return out;
}

static const char *golden =
    "table ip skiff-n1\n"
    "delete table ip skiff-n1\n"
    "table ip skiff-n1 {\n"
    "\tset nodeport-ips {\n"
    "\t\ttype ipv4_addr\n"
    "\t\telements = { 192.168.77.1 }\n"
    "\t}\n"
    "\tmap service-ips {\n"
    "\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
    "\t\telements = { 10.96.0.11 . tcp . 8080 : goto svc-default/sticky/tcp/8080,\n"
    "\t\t\t     10.96.0.10 . tcp . 80 : goto svc-default/web/tcp/http }\n"
    "\t}\n"
    "\tmap service-nodeports {\n"
    "\t\ttype inet_proto . inet_service : verdict\n"
    "\t\telements = { tcp . 30080 : goto ext-default/web/tcp/http }\n"
    "\t}\n"
    "\tmap no-endpoint-services {\n"
    "\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
    "\t\telements = { 10.96.0.12 . udp . 53 : goto reject-chain }\n"
    "\t}\n"
    "\tmap no-endpoint-nodeports {\n"
    "\t\ttype inet_proto . inet_service : verdict\n"
    "\t\telements = { udp . 30053 : goto reject-chain }\n"
    "\t}\n"
    "\tchain nat-prerouting {\n"
    "\t\ttype nat hook prerouting priority -100; policy accept;\n"
    "\t\tjump services\n"
    "\t}\n"
    "\tchain nat-output {\n"
    "\t\ttype nat hook output priority -100; policy accept;\n"
    "\t\tjump services\n"
    "\t}\n"
    "\tchain nat-postrouting {\n"
    "\t\ttype nat hook postrouting priority 100; policy accept;\n"
    "\t\tjump masquerading\n"
    "\t}\n"
    "\tchain filter-input {\n"
    "\t\ttype filter hook input priority -110; policy accept;\n"
    "\t\tct state new jump endpoints-check\n"
    "\t}\n"
    "\tchain filter-forward {\n"
    "\t\ttype filter hook forward priority -110; policy accept;\n"
    "\t\tct state new jump endpoints-check\n"
    "\t}\n"
    "\tchain filter-output {\n"
    "\t\ttype filter hook output priority -110; policy accept;\n"
    "\t\tct state new jump endpoints-check\n"
    "\t}\n"
    "\tchain endpoints-check {\n"
    "\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services\n"
    "\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports\n"
    "\t}\n"
    "\tchain reject-chain {\n"
    "\t\treject\n"
    "\t}\n"
    "\tchain mark-for-masquerade {\n"
    "\t\tmeta mark set meta mark or 0x4000\n"
    "\t}\n"
    "\tchain masquerading {\n"
    "\t\tmeta mark & 0x4000 == 0 return\n"
    "\t\tmeta mark set meta mark xor 0x4000\n"
    "\t\tmasquerade fully-random\n"
    "\t}\n"
    "\tchain services {\n"
    "\t\tip daddr . meta l4proto . th dport vmap @service-ips\n"
    "\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n"
    "\t}\n"
    "\tset aff-default/sticky/tcp/8080/10.244.0.2/80 {\n"
    "\t\ttype ipv4_addr\n"
    "\t\tflags dynamic,timeout\n"
    "\t\ttimeout 10800s\n"
    "\t}\n"
    "\tchain svc-default/sticky/tcp/8080 {\n"
    "\t\tip saddr @aff-default/sticky/tcp/8080/10.244.0.2/80 goto "
    "ep-default/sticky/tcp/8080/10.244.0.2/80\n"
    "\t\tgoto ep-default/sticky/tcp/8080/10.244.0.2/80\n"
    "\t}\n"
    "\tchain ep-default/sticky/tcp/8080/10.244.0.2/80 {\n"
    "\t\tip saddr 10.244.0.2 jump mark-for-masquerade\n"
    "\t\tupdate @aff-default/sticky/tcp/8080/10.244.0.2/80 { ip saddr }\n"
    "\t\tmeta l4proto tcp dnat to 10.244.0.2:80\n"
    "\t}\n"
    "\tchain svc-default/web/tcp/http {\n"
    "\t\tnumgen random mod 2 vmap { 0 : goto ep-default/web/tcp/http/10.244.0.2/8080,\n"
    "\t\t\t1 : goto ep-default/web/tcp/http/10.244.0.3/8080 }\n"
    "\t}\n"
    "\tchain ext-default/web/tcp/http {\n"
    "\t\tip saddr != 10.244.0.0/24 jump mark-for-masquerade\n"
    "\t\tgoto svc-default/web/tcp/http\n"
    "\t}\n"
    "\tchain ep-default/web/tcp/http/10.244.0.2/8080 {\n"
    "\t\tip saddr 10.244.0.2 jump mark-for-masquerade\n"
    "\t\tmeta l4proto tcp dnat to 10.244.0.2:8080\n"
    "\t}\n"
    "\tchain ep-default/web/tcp/http/10.244.0.3/8080 {\n"
    "\t\tip saddr 10.244.0.3 jump mark-for-masquerade\n"
    "\t\tmeta l4proto tcp dnat to 10.244.0.3:8080\n"
    "\t}\n"
    "}\n";

static void test_ruleset_golden(void **state)
{
    struct agent__svc_stats st;
    char *text = rules(&node1, services_json, endpoints_json, &st);

    (void)state;
    if (strcmp(text, golden) != 0)
        fail_msg("ruleset differs:\n%s", text);
    assert_int_equal(st.services, 3);
    assert_int_equal(st.ports, 3);
    assert_int_equal(st.endpoints, 3);
    assert_int_equal(st.rejects, 1);
    assert_int_equal(st.skipped, 0);
    assert_string_equal(st.skip_reason, "");
    free(text);
}

/* Reversed arrays, reversed addresses and subsets split differently give
 * the same text: the agent compares texts to skip an apply. */
static void test_ruleset_is_deterministic(void **state)
{
    const char *svcs_rev =
        "[{'metadata':{'namespace':'default','name':'headless'},'spec':{'clusterIP':'None',"
        "'ports':[{'port':80}]}},"
        "{'metadata':{'namespace':'default','name':'empty'},'spec':{'clusterIP':'10.96.0.12',"
        "'type':'NodePort','ports':[{'port':53,'protocol':'UDP','nodePort':30053}]}},"
        "{'metadata':{'namespace':'default','name':'sticky'},'spec':{'clusterIP':'10.96.0.11',"
        "'sessionAffinity':'ClientIP','ports':[{'port':8080}]}},"
        "{'metadata':{'namespace':'default','name':'web'},'spec':{'clusterIP':'10.96.0.10',"
        "'type':'NodePort','ports':[{'name':'http','port':80,'nodePort':30080}]}}]";
    const char *eps_rev =
        "[{'metadata':{'namespace':'default','name':'sticky'},'subsets':[{'addresses':[{'ip':'10."
        "244.0.2'}],'ports':[{'port':80}]}]},"
        "{'metadata':{'namespace':'default','name':'web'},'subsets':[{'addresses':[{'ip':'10.244."
        "0.2'}],'ports':[{'name':'http','port':8080}]},{'addresses':[{'ip':'10.244.0.3'},{'ip':"
        "'10.244.0.2'}],'ports':[{'name':'http','port':8080,'protocol':'TCP'}]}]}]";
    char *a = rules(&node1, services_json, endpoints_json, NULL);
    char *b = rules(&node1, svcs_rev, eps_rev, NULL);
    char *c = rules(&node1, services_json, endpoints_json, NULL);

    (void)state;
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    free(a);
    free(b);
    free(c);
}

static void test_no_services_still_makes_the_table(void **state)
{
    char *out = NULL;
    struct err e;
    struct agent__svc_node n = {"node-2.example", NULL, NULL, NULL, 0};

    (void)state;
    assert_int_equal(agent__svc_ruleset(&n, NULL, NULL, &out, NULL, &e), 0);
    assert_contains(out, "table ip skiff-node-2.example\n"
                         "delete table ip skiff-node-2.example\n"
                         "table ip skiff-node-2.example {\n"
                         "\tset nodeport-ips {\n\t\ttype ipv4_addr\n\t}\n"
                         "\tmap service-ips {\n"
                         "\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t}\n");
    assert_lacks(out, "elements");
    assert_lacks(out, "chain svc-");
    free(out);
}

static void test_only_ready_addresses_and_matching_ports(void **state)
{
    const char *svcs =
        "[{'metadata':{'namespace':'ns1','name':'multi'},'spec':{'clusterIP':'10.96.1.1',"
        "'ports':[{'name':'http','port':80},{'name':'dns','port':53,'protocol':'UDP'},"
        "{'name':'dnstcp','port':53,'protocol':'TCP'}]}}]";
    const char *eps =
        "[{'metadata':{'namespace':'ns1','name':'multi'},'subsets':[{'addresses':[{'ip':'10.244."
        "1.4'}],'notReadyAddresses':[{'ip':'10.244.1.5'}],'ports':[{'name':'http','port':8080},"
        "{'name':'dns','port':5353,'protocol':'UDP'}]}]}]";
    struct agent__svc_stats st;
    char *out = rules(&node1, svcs, eps, &st);

    (void)state;
    assert_contains(out, "10.96.1.1 . tcp . 80 : goto svc-ns1/multi/tcp/http");
    assert_contains(out, "10.96.1.1 . udp . 53 : goto svc-ns1/multi/udp/dns");
    assert_contains(out, "meta l4proto tcp dnat to 10.244.1.4:8080");
    assert_contains(out, "meta l4proto udp dnat to 10.244.1.4:5353");
    assert_lacks(out, "10.244.1.5");
    /* dnstcp has no endpoint port of that name: rejected, as kube-proxy does */
    assert_contains(out, "elements = { 10.96.1.1 . tcp . 53 : goto reject-chain }");
    assert_int_equal(st.ports, 3);
    assert_int_equal(st.rejects, 1);
    assert_int_equal(st.endpoints, 2);
    free(out);
}

static void test_affinity_timeout_and_masquerade_choices(void **state)
{
    const char *svcs =
        "[{'metadata':{'namespace':'a','name':'s'},'spec':{'clusterIP':'10.96.2.2','type':"
        "'LoadBalancer','sessionAffinity':'ClientIP','sessionAffinityConfig':{'clientIP':{"
        "'timeoutSeconds':60}},'ports':[{'port':443,'nodePort':31443}]}},"
        "{'metadata':{'namespace':'a','name':'x'},'spec':{'type':'ExternalName','externalName':"
        "'example.com'}},"
        "{'metadata':{'namespace':'a','name':'pending'},'spec':{'ports':[{'port':1}]}}]";
    const char *eps = "[{'metadata':{'namespace':'a','name':'s'},'subsets':[{'addresses':[{'ip':'"
                      "10.244.3.2'},{'ip':'10.244.3.1'},{'ip':'10.244.3.3'}],'ports':[{'port':"
                      "8443}]}]}]";
    struct agent__svc_node n = {"n1", NULL, "10.244.0.0/16", NULL, 0};
    struct agent__svc_stats st;
    char *out = rules(&n, svcs, eps, &st);

    (void)state;
    assert_contains(out, "\tset aff-a/s/tcp/443/10.244.3.1/8443 {\n\t\ttype ipv4_addr\n"
                         "\t\tflags dynamic,timeout\n\t\ttimeout 60s\n\t}\n");
    assert_contains(out, "\t\tip saddr @aff-a/s/tcp/443/10.244.3.3/8443 goto "
                         "ep-a/s/tcp/443/10.244.3.3/8443\n");
    assert_contains(out, "update @aff-a/s/tcp/443/10.244.3.2/8443 { ip saddr }");
    assert_contains(out, "numgen random mod 3 vmap { 0 : goto ep-a/s/tcp/443/10.244.3.1/8443,\n"
                         "\t\t\t1 : goto ep-a/s/tcp/443/10.244.3.2/8443,\n"
                         "\t\t\t2 : goto ep-a/s/tcp/443/10.244.3.3/8443 }");
    /* no pod CIDR: no pod egress rule */
    assert_null(strstr(out, "ip daddr != 10.244.0.0/16 masquerade"));
    /* cluster CIDR given: off-cluster ClusterIP clients are masqueraded */
    assert_contains(out, "ip daddr 10.96.2.2 ip saddr != 10.244.0.0/16 jump mark-for-masquerade");
    /* no pod CIDR: every NodePort client is masqueraded */
    assert_contains(out, "\tchain ext-a/s/tcp/443 {\n\t\tjump mark-for-masquerade\n"
                         "\t\tgoto svc-a/s/tcp/443\n\t}\n");
    assert_contains(out, "tcp . 31443 : goto ext-a/s/tcp/443");
    assert_int_equal(st.services, 1);
    assert_int_equal(st.skipped, 0);
    free(out);
}

/* With both CIDRs, pods' traffic leaving the cluster is masqueraded and
 * pod-to-pod traffic (any node) is not */
static void test_pod_egress_masquerade(void **state)
{
    const char *ips[] = {"192.0.2.1"};
    struct agent__svc_node n = {"n1", "10.244.3.0/24", "10.244.0.0/16", ips, 1};
    struct agent__svc_stats st;
    char *out = rules(&n, "[]", "[]", &st);
    (void)state;
    assert_contains(out, "\tchain nat-postrouting {\n"
                         "\t\ttype nat hook postrouting priority 100; policy accept;\n"
                         "\t\tjump masquerading\n"
                         "\t\tip saddr 10.244.3.0/24 ip daddr != 10.244.0.0/16 masquerade "
                         "fully-random\n\t}\n");
    free(out);
}

/* Objects with a bad field are skipped whole and named; nothing of theirs
 * reaches the text (no nft syntax can be smuggled in). */
static void test_bad_objects_are_skipped_and_named(void **state)
{
    const char *svcs =
        "[{'metadata':{'namespace':'default','name':'x; flush ruleset'},'spec':{'clusterIP':'10."
        "96.0.1','ports':[{'port':80}]}},"
        "{'metadata':{'namespace':'default','name':'badip'},'spec':{'clusterIP':'10.96.0.300',"
        "'ports':[{'port':80}]}},"
        "{'metadata':{'namespace':'default','name':'badport'},'spec':{'clusterIP':'10.96.0.5',"
        "'ports':[{'name':'ok','port':80},{'name':'a b','port':81}]}},"
        "{'metadata':{'namespace':'default','name':'badproto'},'spec':{'clusterIP':'10.96.0.6',"
        "'ports':[{'port':80,'protocol':'ICMP'}]}},"
        "{'metadata':{'namespace':'default','name':'good'},'spec':{'clusterIP':'10.96.0.7',"
        "'ports':[{'port':70000}]}},"
        "{'metadata':{'namespace':'default','name':'fine'},'spec':{'clusterIP':'10.96.0.8',"
        "'ports':[{'port':80}]}},"
        "'not an object', 7]";
    const char *eps =
        "[{'metadata':{'namespace':'default','name':'fine'},'subsets':[{'addresses':[{'ip':'10."
        "244.0.2 }'},{'ip':'10.244.0.4'}],'ports':[{'port':80},{'port':0}]}]},{}, 3]";
    struct agent__svc_stats st;
    char *out = rules(&node1, svcs, eps, &st);

    (void)state;
    assert_lacks(out, "flush");
    assert_lacks(out, "10.96.0.5");
    assert_lacks(out, "10.244.0.2");
    assert_contains(out, "meta l4proto tcp dnat to 10.244.0.4:80");
    assert_int_equal(st.services, 1);
    assert_int_equal(st.skipped, 9); /* 5 services, 2 non-objects, an address, a port */
    assert_string_equal(
        st.skip_reason,
        "service default/x; flush ruleset: metadata.name/namespace or spec: invalid");
    free(out);
}

static void test_node_config_is_checked(void **state)
{
    const char *const bad_ip[] = {"192.168.1.300"};
    const char *const padded[] = {"192.168.001.1"};
    struct agent__svc_node n = {"Node_1", NULL, NULL, NULL, 0};
    char *out = NULL, table[64];
    struct err e;

    (void)state;
    assert_int_equal(agent__svc_ruleset(&n, NULL, NULL, &out, NULL, &e), ERR_INVALID);
    assert_contains(e.msg, "node name");
    n.name = "n1";
    n.pod_cidr = "10.0.0.0/40";
    assert_int_equal(agent__svc_ruleset(&n, NULL, NULL, &out, NULL, &e), ERR_INVALID);
    assert_contains(e.msg, "pod cidr");
    n.pod_cidr = NULL;
    n.cluster_cidr = "x";
    assert_int_equal(agent__svc_ruleset(&n, NULL, NULL, &out, NULL, &e), ERR_INVALID);
    n.cluster_cidr = NULL;
    n.addresses = bad_ip;
    n.n_addresses = 1;
    assert_int_equal(agent__svc_ruleset(&n, NULL, NULL, &out, NULL, &e), ERR_INVALID);
    assert_contains(e.msg, "node addresses[0]");
    n.addresses = padded;
    assert_int_equal(agent__svc_ruleset(&n, NULL, NULL, &out, NULL, &e), ERR_INVALID);
    assert_null(out);
    assert_int_equal(agent__svc_table_name("n1", table, sizeof table, &e), 0);
    assert_string_equal(table, "skiff-n1");
    assert_int_equal(agent__svc_table_name("n1", table, 5, &e), ERR_INVALID);
    assert_int_equal(agent__svc_table_name("", table, sizeof table, &e), ERR_INVALID);
}

/* A fresh network namespace for the nft checks (root only). */
static bool nft_usable(void)
{
    const char *argv[] = {"nft", "--version", NULL};
    struct agent__netexec x = {argv, NULL, NULL, 0, 5000};
    struct agent__netexec_out out;
    bool ok;
    if (geteuid() != 0)
        return false;
    ok = agent__netexec_run(&x, &out, NULL) == 0 && out.exit_code == 0;
    agent__netexec_out_close(&out);
    return ok;
}

static void test_nft_accepts_applies_and_removes(void **state)
{
    struct agent__svc_stats st;
    char *text;
    pid_t pid;
    int status;

    (void)state;
    if (!nft_usable())
        skip();
    text = rules(&node1, services_json, endpoints_json, &st);
    /* in a child in its own netns: the test host's rules stay untouched */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct err e;
        const char *argv[] = {"nft", "list", "table", "ip", "skiff-n1", NULL};
        struct agent__netexec x = {argv, NULL, NULL, 0, 5000};
        struct agent__netexec_out out;
        if (unshare(CLONE_NEWNET) != 0)
            _exit(77);
        if (agent__svc_apply(NULL, text, 10000, &e) != 0) {
            fprintf(stderr, "apply: %s\n", e.msg);
            _exit(1);
        }
        /* twice: the transaction replaces the table it finds */
        if (agent__svc_apply(NULL, text, 10000, &e) != 0)
            _exit(2);
        if (agent__netexec_run(&x, &out, &e) != 0 || out.exit_code != 0 ||
            strstr(out.out, "ep-default/web/tcp/http/10.244.0.3/8080") == NULL)
            _exit(3);
        agent__netexec_out_close(&out);
        if (agent__svc_remove(NULL, "n1", 10000, &e) != 0 ||
            agent__svc_remove(NULL, "n1", 10000, &e) != 0)
            _exit(4);
        if (agent__netexec_run(&x, &out, &e) != 0 || out.exit_code == 0)
            _exit(5);
        agent__netexec_out_close(&out);
        if (agent__svc_apply(NULL, "table ip skiff-n1 { bogus }\n", 10000, &e) != ERR_IO ||
            strstr(e.msg, "apply service rules: nft exit 1") == NULL) {
            fprintf(stderr, "bad apply: %s\n", e.msg);
            _exit(6);
        }
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    free(text);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        skip();
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ruleset_golden),
        cmocka_unit_test(test_ruleset_is_deterministic),
        cmocka_unit_test(test_no_services_still_makes_the_table),
        cmocka_unit_test(test_only_ready_addresses_and_matching_ports),
        cmocka_unit_test(test_pod_egress_masquerade),
        cmocka_unit_test(test_affinity_timeout_and_masquerade_choices),
        cmocka_unit_test(test_bad_objects_are_skipped_and_named),
        cmocka_unit_test(test_node_config_is_checked),
        cmocka_unit_test(test_nft_accepts_applies_and_removes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
