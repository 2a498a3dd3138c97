/* The CNI driver without root: conflists, the default list, plugin results
 * of every version and their error JSON, and ADD/DEL/CHECK run against fake
 * plugins (shell scripts in a temp dir that log what they were given), so
 * the exec protocol, prevResult chaining, reverse DEL, the cache, rollback of
 * a failed ADD and timeouts are checked anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/cni.h"
#include "tests/unit/helpers/helpers.h"

static void assert_contains(const char *s, const char *sub)
{
    if (s == NULL || strstr(s, sub) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", sub);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* ---- conflists ---- */

static void test_conflist_parse_list_and_single_conf(void **state)
{
    struct agent__cni_conflist *l = NULL;
    struct err e;
    const char *list = "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":["
                       "{\"type\":\"bridge\",\"bridge\":\"b0\"},{\"type\":\"loopback\"}]}";
    const char *conf = "{\"cniVersion\":\"0.4.0\",\"name\":\"one\",\"type\":\"ptp\"}";

    (void)state;
    assert_int_equal(agent__cni_conflist_parse(list, strlen(list), "x", &l, &e), 0);
    assert_string_equal(l->name, "net");
    assert_string_equal(l->cni_version, "1.0.0");
    assert_int_equal(json_array_size(l->plugins), 2);
    assert_false(l->disable_check);
    agent__cni_conflist_free(l);

    assert_int_equal(agent__cni_conflist_parse(conf, strlen(conf), "x", &l, &e), 0);
    assert_string_equal(l->name, "one");
    assert_int_equal(json_array_size(l->plugins), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l->plugins, 0), "type")),
                        "ptp");
    agent__cni_conflist_free(l);
    agent__cni_conflist_free(NULL);
}

static void test_conflist_parse_names_the_bad_field(void **state)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"{", "f.conflist: line"},
        {"[]", "f.conflist: not a JSON object"},
        {"{\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"x\"}]}", "f.conflist: name: required"},
        {"{\"name\":\"n\",\"plugins\":[{\"type\":\"x\"}]}", "cniVersion: required string"},
        {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[]}", "plugins: required non-empty"},
        {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"a\"},3]}",
         "plugins[1]: not an object"},
        {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"../../bin/sh\"}]}",
         "plugins[0].type: required plain file name"},
        {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"..\"}]}",
         "plugins[0].type"},
        {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"bridge\":\"x\"}]}",
         "plugins[0].type"},
        {"{\"name\":7,\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"x\"}]}",
         "name: required string"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct agent__cni_conflist *l = NULL;
        struct err e;
        assert_int_equal(
            agent__cni_conflist_parse(cases[i].text, strlen(cases[i].text), "f.conflist", &l, &e),
            ERR_INVALID);
        assert_null(l);
        assert_contains(e.msg, cases[i].msg);
    }
}

static void test_default_conflist_is_bridge_hostlocal_loopback(void **state)
{
    struct agent__cni_conflist *l = NULL;
    char *text = NULL;
    struct err e;
    json_t *br, *ipam;

    (void)state;
    assert_int_equal(agent__cni_default_conflist("10.244.1.7/24", NULL, "/var/lib/n1/ipam", &text, &e),
                     0);
    assert_int_equal(agent__cni_conflist_parse(text, strlen(text), "default", &l, &e), 0);
    assert_string_equal(l->name, AGENT_CNI_NETWORK);
    assert_string_equal(l->cni_version, "1.0.0");
    br = json_array_get(l->plugins, 0);
    assert_string_equal(json_string_value(json_object_get(br, "type")), "bridge");
    assert_string_equal(json_string_value(json_object_get(br, "bridge")), "skiff0");
    assert_true(json_is_true(json_object_get(br, "isGateway")));
    assert_true(json_is_false(json_object_get(br, "ipMasq"))); /* the node table masquerades */
    assert_true(json_is_true(json_object_get(br, "hairpinMode")));
    ipam = json_object_get(br, "ipam");
    assert_string_equal(json_string_value(json_object_get(ipam, "type")), "host-local");
    assert_string_equal(json_string_value(json_object_get(ipam, "dataDir")), "/var/lib/n1/ipam");
    /* host bits cleared: host-local refuses a subnet with them set */
    assert_contains(text, "\"subnet\": \"10.244.1.0/24\"");
    assert_contains(text, "\"dst\": \"0.0.0.0/0\"");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l->plugins, 1), "type")),
                        "portmap");
    assert_true(json_is_true(json_object_get(
        json_object_get(json_array_get(l->plugins, 1), "capabilities"), "portMappings")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(l->plugins, 2), "type")),
                        "loopback");
    agent__cni_conflist_free(l);
    free(text);

    /* a node's own bridge name; a name that is no interface name is refused */
    assert_int_equal(agent__cni_default_conflist("10.244.1.0/24", "skb0123abcd", "/d", &text, &e),
                     0);
    assert_contains(text, "\"bridge\": \"skb0123abcd\"");
    free(text);
    assert_int_equal(agent__cni_default_conflist("10.244.1.0/24", "a-name-much-too-long", "/d",
                                                 &text, &e),
                     ERR_INVALID);
    assert_contains(e.msg, "bridge");

    assert_int_equal(agent__cni_default_conflist("10.244.1.0/33", NULL, "/d", &text, &e), ERR_INVALID);
    assert_contains(e.msg, "pod cidr");
    assert_int_equal(agent__cni_default_conflist("fd00::/64", NULL, "/d", &text, &e), ERR_INVALID);
    assert_int_equal(agent__cni_default_conflist(NULL, NULL, "/d", &text, &e), ERR_INVALID);
    assert_int_equal(agent__cni_default_conflist("10.0.0.0/8", NULL, "rel", &text, &e), ERR_INVALID);
    assert_contains(e.msg, "absolute");
}

static void test_write_default_then_load_first_file(void **state)
{
    char dir[64], conf[128], path[256];
    struct agent__cni_conflist *l = NULL;
    struct stat st1, st2;
    struct err e;

    (void)state;
    assert_int_equal(helpers_mkdtemp(dir, sizeof dir, "skiff-cni"), 0);
    snprintf(conf, sizeof conf, "%s/net.d", dir);
    assert_int_equal(agent__cni_conflist_load(conf, &l, &e), ERR_NOTFOUND);
    assert_int_equal(agent__cni_write_default(conf, "10.244.2.0/24", NULL, "/x/ipam", &e), 0);
    snprintf(path, sizeof path, "%s/%s", conf, AGENT_CNI_CONF_FILE);
    assert_int_equal(stat(path, &st1), 0);
    /* unchanged: the file is left alone */
    assert_int_equal(agent__cni_write_default(conf, "10.244.2.0/24", NULL, "/x/ipam", &e), 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    /* a file sorting later and a non-config file do not matter */
    snprintf(path, sizeof path, "%s/99-other.conflist", conf);
    spit(path, "{broken", 0644);
    snprintf(path, sizeof path, "%s/00-readme.txt", conf);
    spit(path, "hello", 0644);
    assert_int_equal(agent__cni_conflist_load(conf, &l, &e), 0);
    assert_string_equal(l->name, "skiff");
    assert_contains(l->path, AGENT_CNI_CONF_FILE);
    agent__cni_conflist_free(l);
    /* one sorting earlier wins, and its error names the file */
    snprintf(path, sizeof path, "%s/01-bad.conf", conf);
    spit(path, "{\"name\":\"x\"}", 0644);
    assert_int_equal(agent__cni_conflist_load(conf, &l, &e), ERR_INVALID);
    assert_contains(e.msg, "01-bad.conf: cniVersion");
    helpers_rmtree(dir);
}

/* ---- results ---- */

static void test_result_parse_versions(void **state)
{
    struct agent__cni_result r;
    struct err e;
    char ip[32];
    const char *v100 =
        "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"skiff0\",\"mac\":\"aa:bb:cc:dd:ee:"
        "ff\"},{\"name\":\"veth1\",\"mac\":\"11:22:33:44:55:66\"},{\"name\":\"eth0\",\"mac\":"
        "\"22:33:44:55:66:77\",\"sandbox\":\"/var/run/netns/p1\"}],\"ips\":[{\"address\":\"10."
        "244.0.5/24\",\"gateway\":\"10.244.0.1\",\"interface\":2}],\"routes\":[{\"dst\":\"0.0.0."
        "0/0\"}],\"dns\":{}}";
    const char *v040 = "{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\",\"address\":\"10.1."
                       "0.9/16\"},{\"version\":\"6\",\"address\":\"fd00::9/64\",\"gateway\":"
                       "\"fd00::1\"}],\"routes\":[{\"dst\":\"10.0.0.0/8\",\"gw\":\"10.1.0.1\"}]}";
    const char *v020 = "{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.2.0.3/16\",\"gateway\":"
                       "\"10.2.0.1\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}]},\"dns\":{}}";
    const char *bare = "{\"cniVersion\":\"1.0.0\"}";

    (void)state;
    assert_int_equal(agent__cni_result_parse(v100, strlen(v100), &r, &e), 0);
    assert_string_equal(r.cni_version, "1.0.0");
    assert_int_equal(r.n_ifaces, 3);
    assert_string_equal(r.ifaces[2].sandbox, "/var/run/netns/p1");
    assert_string_equal(r.ifaces[0].sandbox, "");
    assert_int_equal(r.n_ips, 1);
    assert_string_equal(r.ips[0].address, "10.244.0.5/24");
    assert_string_equal(r.ips[0].gateway, "10.244.0.1");
    assert_int_equal(r.ips[0].interface, 2);
    assert_int_equal(r.ips[0].version, 4);
    assert_int_equal(r.n_routes, 1);
    assert_string_equal(r.routes[0].dst, "0.0.0.0/0");
    assert_string_equal(r.routes[0].gw, "");
    assert_string_equal(agent__cni_result_ipv4(&r, ip, sizeof ip), "10.244.0.5");
    assert_non_null(r.raw);
    agent__cni_result_close(&r);

    assert_int_equal(agent__cni_result_parse(v040, strlen(v040), &r, &e), 0);
    assert_int_equal(r.n_ips, 2);
    assert_int_equal(r.ips[1].version, 6);
    assert_int_equal(r.ips[1].interface, -1);
    assert_string_equal(r.routes[0].gw, "10.1.0.1");
    assert_string_equal(agent__cni_result_ipv4(&r, ip, sizeof ip), "10.1.0.9");
    agent__cni_result_close(&r);

    assert_int_equal(agent__cni_result_parse(v020, strlen(v020), &r, &e), 0);
    assert_int_equal(r.n_ips, 1);
    assert_string_equal(r.ips[0].address, "10.2.0.3/16");
    assert_string_equal(r.ips[0].gateway, "10.2.0.1");
    assert_int_equal(r.n_routes, 1);
    agent__cni_result_close(&r);

    assert_int_equal(agent__cni_result_parse(bare, strlen(bare), &r, &e), 0);
    assert_int_equal(r.n_ips, 0);
    assert_string_equal(agent__cni_result_ipv4(&r, ip, sizeof ip), "");
    agent__cni_result_close(&r);
    agent__cni_result_close(NULL);
}

static void test_result_parse_rejects_bad_output(void **state)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"", "cni result: line"},
        {"[1]", "not a JSON object"},
        {"{\"ips\":[]}", "cniVersion: required string"},
        {"{\"cniVersion\":\"1.0.0\",\"ips\":{}}", "ips: not an array"},
        {"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.300/24\"}]}",
         "ips[0].address: not an IPv4 CIDR"},
        {"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.3\"}]}", "ips[0].address"},
        {"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.3/33\"}]}", "ips[0].address"},
        {"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.3/24\",\"gateway\":\"fd00::"
         "1\"}]}",
         "ips[0].gateway"},
        {"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.3/24\",\"interface\":0}]}",
         "ips[0].interface: not an index"},
        {"{\"cniVersion\":\"1.0.0\",\"routes\":[{\"dst\":\"x\"}]}", "routes[0].dst: not a CIDR"},
        {"{\"cniVersion\":\"1.0.0\",\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"nope\"}]}",
         "routes[0].gw: not an IP"},
        {"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"mac\":\"x\"}]}", "interfaces[0]"},
        {"{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"fd00::1/64\"}}", "ip4.ip: not an IPv4"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct agent__cni_result r;
        struct err e;
        assert_int_equal(agent__cni_result_parse(cases[i].text, strlen(cases[i].text), &r, &e),
                         ERR_INVALID);
        assert_null(r.raw);
        assert_contains(e.msg, cases[i].msg);
    }
}

static void test_error_json_gives_the_plugins_message(void **state)
{
    struct err e;
    (void)state;
    assert_int_equal(agent__cni_error_from("bridge",
                                           "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"failed "
                                           "to allocate\",\"details\":\"no IP addresses "
                                           "available in range set\"}",
                                           "", 1, &e),
                     ERR_IO);
    assert_string_equal(e.msg, "bridge: failed to allocate: no IP addresses available in range "
                               "set (code 11)");
    assert_int_equal(
        agent__cni_error_from("x", "{\"code\":3,\"msg\":\"no such container\"}", "", 1, &e),
        ERR_NOTFOUND);
    assert_int_equal(agent__cni_error_from("x", "garbage", "line one\nline two", 2, &e), ERR_IO);
    assert_string_equal(e.msg, "x: exit 2: line one");
    assert_int_equal(agent__cni_error_from("x", NULL, NULL, 137, &e), ERR_IO);
    assert_string_equal(e.msg, "x: exit 137");
}

/* ---- exec ---- */

static void test_netexec_feeds_large_stdin_and_reports_exit(void **state)
{
    const char *cat[] = {"cat", NULL}, *sh[] = {"/bin/sh", "-c", "echo oops >&2; exit 3", NULL};
    const char *none[] = {"/nonexistent/prog", NULL};
    size_t n = 600 * 1024; /* far past a pipe's 64 KiB: needs the poll loop */
    char *in = malloc(n + 1);
    struct agent__netexec x = {cat, NULL, in, n, 5000};
    struct agent__netexec_out out;
    struct err e;

    (void)state;
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    in[n] = '\0';
    assert_int_equal(agent__netexec_run(&x, &out, &e), 0);
    assert_int_equal(out.exit_code, 0);
    assert_int_equal(out.out_len, n);
    assert_memory_equal(out.out, in, n);
    agent__netexec_out_close(&out);

    /* the child exits without reading a large stdin: EPIPE, not SIGPIPE */
    x = (struct agent__netexec){sh, NULL, in, n, 5000};
    assert_int_equal(agent__netexec_run(&x, &out, &e), 0);
    assert_int_equal(out.exit_code, 3);
    agent__netexec_out_close(&out);
    free(in);

    x = (struct agent__netexec){sh, NULL, NULL, 0, 5000};
    assert_int_equal(agent__netexec_run(&x, &out, &e), 0);
    assert_int_equal(out.exit_code, 3);
    assert_string_equal(out.err, "oops\n");
    assert_string_equal(out.out, "");
    agent__netexec_out_close(&out);

    x = (struct agent__netexec){none, NULL, NULL, 0, 5000};
    assert_int_equal(agent__netexec_run(&x, &out, &e), ERR_NOTFOUND);
    agent__netexec_out_close(&out);
}

static void test_netexec_kills_at_the_deadline(void **state)
{
    const char *sh[] = {"/bin/sh", "-c", "echo started; exec sleep 30", NULL};
    struct agent__netexec x = {sh, NULL, NULL, 0, 300};
    struct agent__netexec_out out;
    struct timespec a, b;
    struct err e;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(agent__netexec_run(&x, &out, &e), ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(b.tv_sec - a.tv_sec < 5);
    assert_int_equal(out.exit_code, 128 + 9);
    assert_string_equal(out.out, "started\n");
    assert_contains(e.msg, "killed after 300 ms");
    agent__netexec_out_close(&out);
}

/* ---- the driver against fake plugins ---- */

struct fixture {
    char dir[64], bin[128], cache[128], log[160];
};

/* fake-a: an IPAM-like first plugin; fake-b: a second one that must see
 * fake-a's result as prevResult; fail: a plugin answering with error JSON;
 * slow: one that never answers. Each logs "<CMD> <name> <id> <ifname>
 * <netns>" and keeps its last stdin. */
static const char *fake_plugin =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\"); n=$(basename \"$0\")\n"
    "cat > \"$d/stdin.$CNI_COMMAND.$n\"\n"
    "echo \"$CNI_COMMAND $n $CNI_CONTAINERID $CNI_IFNAME ${CNI_NETNS:-none} "
    "${CNI_ARGS:-noargs}\" >> \"$d/log\"\n"
    "[ -n \"$HOME\" ] && echo \"leaked env HOME\" >> \"$d/log\"\n"
    "case \"$n.$CNI_COMMAND\" in\n"
    "fake-a.ADD) echo '{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\","
    "\"sandbox\":\"'$CNI_NETNS'\"}],\"ips\":[{\"address\":\"10.244.0.5/24\",\"gateway\":"
    "\"10.244.0.1\",\"interface\":0}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}' ;;\n"
    "fake-b.ADD) echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.244.0.6/24\"}]}' ;;\n"
    "fail.*) echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad config\",\"details\":"
    "\"no bridge\"}'; exit 1 ;;\n"
    "slow.*) exec sleep 30 ;;\n"
    "esac\n"
    "exit 0\n";

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *names[] = {"fake-a", "fake-b", "fail", "slow"};
    char path[256];

    assert_non_null(f);
    assert_int_equal(helpers_mkdtemp(f->dir, sizeof f->dir, "skiff-cnid"), 0);
    snprintf(f->bin, sizeof f->bin, "%s/bin", f->dir);
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
    snprintf(f->log, sizeof f->log, "%s/log", f->bin);
    assert_int_equal(mkdir(f->bin, 0755), 0);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", f->bin, names[i]);
        spit(path, fake_plugin, 0755);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    helpers_rmtree(f->dir);
    free(f);
    return 0;
}

static struct agent__cni_conflist *list_of(const char *version, const char *types)
{
    char text[1024], *p;
    struct agent__cni_conflist *l = NULL;
    struct err e;
    int n =
        snprintf(text, sizeof text, "{\"cniVersion\":\"%s\",\"name\":\"t\",\"plugins\":[", version);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", types);
    for (p = strtok(copy, ","); p; p = strtok(NULL, ","))
        n += snprintf(text + n, sizeof text - (size_t)n, "%s{\"type\":\"%s\",\"k\":\"%s\"}",
                      text[n - 1] == '[' ? "" : ",", p, p);
    snprintf(text + n, sizeof text - (size_t)n, "]}");
    if (agent__cni_conflist_parse(text, strlen(text), "test", &l, &e) != 0)
        fail_msg("%s", e.msg);
    return l;
}

/* runtimeConfig.portMappings goes to the plugins that declare the
 * capability, and only to them */
static void test_port_mappings_reach_capable_plugins_only(void **state)
{
    struct fixture *f = *state;
    const char *text = "{\"cniVersion\":\"1.0.0\",\"name\":\"t\",\"plugins\":["
                       "{\"type\":\"fake-a\"},"
                       "{\"type\":\"fake-b\",\"capabilities\":{\"portMappings\":true}}]}";
    json_t *pm = json_pack("[{s:i, s:i, s:s}]", "hostPort", 8080, "containerPort", 80, "protocol",
                           "tcp");
    struct agent__cni_attach a = {"pod2", "/proc/self/ns/net", NULL, NULL, pm};
    struct agent__cni_conflist *l = NULL;
    struct agent__cni c;
    struct agent__cni_result r;
    char path[256], *in;
    struct err e;

    assert_int_equal(agent__cni_conflist_parse(text, strlen(text), "test", &l, &e), 0);
    assert_int_equal(agent__cni_init(&c, f->bin, f->cache, 5000, &e), 0);
    assert_int_equal(agent__cni_add(&c, l, &a, &r, &e), 0);
    agent__cni_result_close(&r);
    snprintf(path, sizeof path, "%s/stdin.ADD.fake-b", f->bin);
    in = slurp(path);
    assert_contains(in, "\"runtimeConfig\":{\"portMappings\":[{");
    assert_contains(in, "\"hostPort\":8080");
    free(in);
    snprintf(path, sizeof path, "%s/stdin.ADD.fake-a", f->bin);
    in = slurp(path);
    assert_null(strstr(in, "runtimeConfig"));
    free(in);
    assert_int_equal(agent__cni_del(&c, l, &a, &e), 0);
    agent__cni_conflist_free(l);
    json_decref(pm);
}

static void test_add_chains_results_and_del_runs_in_reverse(void **state)
{
    struct fixture *f = *state;
    struct agent__cni_conflist *l = list_of("1.0.0", "fake-a,fake-b");
    struct agent__cni_attach a = {"pod1", "/proc/self/ns/net", NULL, "K8S_POD_NAMESPACE=default", NULL};
    struct agent__cni c;
    struct agent__cni_result r;
    char path[256], *log, *in;
    struct err e;

    assert_int_equal(agent__cni_init(&c, f->bin, f->cache, 5000, &e), 0);
    assert_int_equal(agent__cni_add(&c, l, &a, &r, &e), 0);
    /* the last plugin's result is the answer */
    assert_int_equal(r.n_ips, 1);
    assert_string_equal(r.ips[0].address, "10.244.0.6/24");
    agent__cni_result_close(&r);
    /* fake-b got fake-a's result, and the list's name and version */
    snprintf(path, sizeof path, "%s/stdin.ADD.fake-b", f->bin);
    in = slurp(path);
    assert_contains(in, "\"prevResult\":{");
    assert_contains(in, "10.244.0.5/24");
    assert_contains(in, "\"name\":\"t\"");
    assert_contains(in, "\"cniVersion\":\"1.0.0\"");
    assert_contains(in, "\"k\":\"fake-b\"");
    free(in);
    snprintf(path, sizeof path, "%s/stdin.ADD.fake-a", f->bin);
    in = slurp(path);
    assert_null(strstr(in, "prevResult"));
    free(in);
    /* the cache holds the result for DEL and CHECK */
    snprintf(path, sizeof path, "%s/t-pod1-eth0", f->cache);
    in = slurp(path);
    assert_non_null(in);
    assert_contains(in, "10.244.0.6/24");
    free(in);

    assert_int_equal(agent__cni_check(&c, l, &a, &e), 0);
    snprintf(path, sizeof path, "%s/stdin.CHECK.fake-a", f->bin);
    in = slurp(path);
    assert_contains(in, "\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.244."
                        "0.6/24\"}]}");
    free(in);

    assert_int_equal(agent__cni_del(&c, l, &a, &e), 0);
    snprintf(path, sizeof path, "%s/stdin.DEL.fake-a", f->bin);
    in = slurp(path);
    assert_contains(in, "prevResult");
    free(in);
    log = slurp(f->log);
    assert_string_equal(
        log, "ADD fake-a pod1 eth0 /proc/self/ns/net IgnoreUnknown=1;K8S_POD_NAMESPACE=default\n"
             "ADD fake-b pod1 eth0 /proc/self/ns/net IgnoreUnknown=1;K8S_POD_NAMESPACE=default\n"
             "CHECK fake-a pod1 eth0 /proc/self/ns/net IgnoreUnknown=1;K8S_POD_NAMESPACE=default\n"
             "CHECK fake-b pod1 eth0 /proc/self/ns/net IgnoreUnknown=1;K8S_POD_NAMESPACE=default\n"
             "DEL fake-b pod1 eth0 /proc/self/ns/net IgnoreUnknown=1;K8S_POD_NAMESPACE=default\n"
             "DEL fake-a pod1 eth0 /proc/self/ns/net IgnoreUnknown=1;K8S_POD_NAMESPACE=default\n");
    free(log);
    snprintf(path, sizeof path, "%s/t-pod1-eth0", f->cache);
    assert_int_not_equal(access(path, F_OK), 0);
    /* CHECK without an ADD result; DEL again is fine (idempotent) and a
     * gone netns is passed as empty */
    assert_int_equal(agent__cni_check(&c, l, &a, &e), ERR_NOTFOUND);
    a.netns = "/nonexistent/netns";
    assert_int_equal(agent__cni_del(&c, l, &a, &e), 0);
    log = slurp(f->log);
    assert_contains(log, "DEL fake-a pod1 eth0 none");
    free(log);
    agent__cni_conflist_free(l);
}

static void test_failed_add_is_rolled_back_with_the_plugins_message(void **state)
{
    struct fixture *f = *state;
    struct agent__cni_conflist *l = list_of("1.0.0", "fake-a,fail,fake-b");
    struct agent__cni_attach a = {"pod2", "/proc/self/ns/net", "eth1", NULL, NULL};
    struct agent__cni c;
    struct agent__cni_result r;
    char *log, path[256];
    struct err e;

    assert_int_equal(agent__cni_init(&c, f->bin, f->cache, 5000, &e), 0);
    assert_int_equal(agent__cni_add(&c, l, &a, &r, &e), ERR_IO);
    assert_string_equal(e.msg, "cni ADD: fail: bad config: no bridge (code 7)");
    assert_null(r.raw);
    log = slurp(f->log);
    assert_string_equal(log, "ADD fake-a pod2 eth1 /proc/self/ns/net noargs\n"
                             "ADD fail pod2 eth1 /proc/self/ns/net noargs\n"
                             "DEL fail pod2 eth1 /proc/self/ns/net noargs\n"
                             "DEL fake-a pod2 eth1 /proc/self/ns/net noargs\n");
    free(log);
    snprintf(path, sizeof path, "%s/t-pod2-eth1", f->cache);
    assert_int_not_equal(access(path, F_OK), 0);
    /* DEL goes on past a failing plugin so the others release what they hold */
    assert_int_equal(agent__cni_del(&c, l, &a, &e), ERR_IO);
    assert_contains(e.msg, "bad config");
    log = slurp(f->log);
    assert_contains(log, "DEL fake-b pod2 eth1 /proc/self/ns/net noargs\n"
                         "DEL fail pod2 eth1 /proc/self/ns/net noargs\n"
                         "DEL fake-a pod2 eth1 /proc/self/ns/net noargs\n");
    free(log);
    agent__cni_conflist_free(l);
}

static void test_timeouts_missing_plugins_and_bad_attach(void **state)
{
    struct fixture *f = *state;
    struct agent__cni_conflist *slow = list_of("1.0.0", "slow");
    struct agent__cni_conflist *missing = list_of("1.0.0", "nope");
    struct agent__cni_conflist *old = list_of("0.3.1", "fake-a");
    struct agent__cni_attach a = {"pod3", "/proc/self/ns/net", NULL, NULL, NULL};
    struct agent__cni c;
    struct agent__cni_result r;
    struct err e;

    assert_int_equal(agent__cni_init(&c, f->bin, f->cache, 300, &e), 0);
    assert_int_equal(agent__cni_add(&c, slow, &a, &r, &e), ERR_TIMEOUT);
    assert_contains(e.msg, "cni ADD slow: exec");
    assert_int_equal(agent__cni_add(&c, missing, &a, &r, &e), ERR_INVALID);
    assert_contains(e.msg, "cni plugin nope: not found in");
    assert_int_equal(agent__cni_check(&c, old, &a, &e), ERR_INVALID);
    assert_contains(e.msg, "not supported");

    a.container_id = "../etc";
    assert_int_equal(agent__cni_add(&c, old, &a, &r, &e), ERR_INVALID);
    assert_contains(e.msg, "container id");
    a.container_id = "ok";
    a.ifname = "eth0/../x";
    assert_int_equal(agent__cni_add(&c, old, &a, &r, &e), ERR_INVALID);
    a.ifname = NULL;
    a.netns = NULL;
    assert_int_equal(agent__cni_add(&c, old, &a, &r, &e), ERR_INVALID);
    assert_contains(e.msg, "netns");

    /* several plugin dirs, the second one holding it; no cache */
    char two[300];
    snprintf(two, sizeof two, "/nonexistent:%s", f->bin);
    assert_int_equal(agent__cni_init(&c, two, NULL, 5000, &e), 0);
    a.netns = "/proc/self/ns/net";
    assert_int_equal(agent__cni_add(&c, old, &a, &r, &e), 0);
    assert_string_equal(r.ips[0].address, "10.244.0.5/24");
    agent__cni_result_close(&r);
    assert_int_equal(agent__cni_del(&c, old, &a, &e), 0);
    assert_int_equal(agent__cni_check(&c, old, &a, &e), ERR_INVALID);

    agent__cni_conflist_free(slow);
    agent__cni_conflist_free(missing);
    agent__cni_conflist_free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conflist_parse_list_and_single_conf),
        cmocka_unit_test(test_conflist_parse_names_the_bad_field),
        cmocka_unit_test(test_default_conflist_is_bridge_hostlocal_loopback),
        cmocka_unit_test(test_write_default_then_load_first_file),
        cmocka_unit_test(test_result_parse_versions),
        cmocka_unit_test(test_result_parse_rejects_bad_output),
        cmocka_unit_test(test_error_json_gives_the_plugins_message),
        cmocka_unit_test(test_netexec_feeds_large_stdin_and_reports_exit),
        cmocka_unit_test(test_netexec_kills_at_the_deadline),
        cmocka_unit_test_setup_teardown(test_add_chains_results_and_del_runs_in_reverse, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_port_mappings_reach_capable_plugins_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_add_is_rolled_back_with_the_plugins_message,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts_missing_plugins_and_bad_attach, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
