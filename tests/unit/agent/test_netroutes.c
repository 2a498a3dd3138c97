/* Node routes: checking and normalising entries, the diff between wanted
 * and existing routes, parsing `ip -j route` output, and (root only, in a
 * private network namespace) sync and flush against the kernel, leaving
 * other routes alone. */
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
#include "agent/netroutes.h"

static void assert_contains(const char *s, const char *sub)
{
    if (s == NULL || strstr(s, sub) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", sub);
}

static void test_route_check_normalises(void **state)
{
    struct agent__route r = {"10.244.1.9/24", "192.168.77.2"};
    struct err e;

    (void)state;
    assert_int_equal(agent__route_check(&r, &e), 0);
    assert_string_equal(r.dst, "10.244.1.0/24");
    r = (struct agent__route){"10.244.1.0", "192.168.77.2"};
    assert_int_equal(agent__route_check(&r, &e), ERR_INVALID);
    assert_contains(e.msg, "route dst");
    r = (struct agent__route){"10.244.1.0/33", "192.168.77.2"};
    assert_int_equal(agent__route_check(&r, &e), ERR_INVALID);
    r = (struct agent__route){"10.244.1.0/24", "192.168.77"};
    assert_int_equal(agent__route_check(&r, &e), ERR_INVALID);
    assert_contains(e.msg, "route via");
    r = (struct agent__route){"0.0.0.0/0", "10.0.0.1"};
    assert_int_equal(agent__route_check(&r, &e), 0);
}

static void test_diff_adds_changes_and_removes(void **state)
{
    struct agent__route want[] = {
        {"10.244.1.0/24", "192.168.77.2"}, /* unchanged */
        {"10.244.2.0/24", "192.168.77.9"}, /* gateway moved */
        {"10.244.3.0/24", "192.168.77.4"}, /* new */
        {"10.244.3.0/24", "192.168.77.5"}, /* duplicate: first wins */
    };
    struct agent__route have[] = {
        {"10.244.2.0/24", "192.168.77.3"},
        {"10.244.1.0/24", "192.168.77.2"},
        {"10.244.9.0/24", "192.168.77.8"}, /* node gone */
    };
    struct agent__routes_plan p;
    struct err e;

    (void)state;
    assert_int_equal(agent__routes_diff(want, 4, have, 3, &p, &e), 0);
    assert_int_equal(p.n_replace, 2);
    assert_int_equal(p.replace[0], 1);
    assert_int_equal(p.replace[1], 2);
    assert_int_equal(p.n_del, 1);
    assert_int_equal(p.del[0], 2);
    agent__routes_plan_close(&p);

    /* nothing wanted: everything ours goes; nothing there: everything added */
    assert_int_equal(agent__routes_diff(NULL, 0, have, 3, &p, &e), 0);
    assert_int_equal(p.n_replace, 0);
    assert_int_equal(p.n_del, 3);
    agent__routes_plan_close(&p);
    assert_int_equal(agent__routes_diff(want, 3, NULL, 0, &p, &e), 0);
    assert_int_equal(p.n_replace, 3);
    assert_int_equal(p.n_del, 0);
    agent__routes_plan_close(&p);
    /* in sync: nothing to do */
    assert_int_equal(agent__routes_diff(have, 3, have, 3, &p, &e), 0);
    assert_int_equal(p.n_replace + p.n_del, 0);
    agent__routes_plan_close(&p);
    agent__routes_plan_close(NULL);
}

static void test_parse_ip_json(void **state)
{
    const char *j = "[{\"dst\":\"10.244.1.0/24\",\"gateway\":\"192.168.77.2\",\"dev\":\"v0\","
                    "\"flags\":[]},{\"dst\":\"10.244.5.0/24\",\"dev\":\"v0\",\"scope\":\"link\"},"
                    "{\"dst\":\"10.9.9.9\",\"gateway\":\"192.168.77.3\"},{\"dst\":\"default\","
                    "\"gateway\":\"192.168.77.1\"},{\"dst\":\"junk\",\"gateway\":\"x\"},7]";
    struct agent__route *r = NULL;
    size_t n;
    struct err e;

    (void)state;
    assert_int_equal(agent__routes_parse(j, strlen(j), &r, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].dst, "10.244.1.0/24");
    assert_string_equal(r[0].via, "192.168.77.2");
    assert_string_equal(r[1].dst, "10.9.9.9/32");
    assert_string_equal(r[2].dst, "0.0.0.0/0");
    free(r);
    assert_int_equal(agent__routes_parse("[]", 2, &r, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(r);
    assert_int_equal(agent__routes_parse("{", 1, &r, &n, &e), ERR_INVALID);
    assert_int_equal(agent__routes_parse(NULL, 0, &r, &n, &e), ERR_INVALID);
}

static int sh(const char *cmd)
{
    int rv = system(cmd);
    return WIFEXITED(rv) ? WEXITSTATUS(rv) : -1;
}

/* In a child in its own netns: a veth with 192.168.77.1/24, a route that
 * is not ours, then sync → change → flush. */
static int netns_body(void)
{
    struct agent__route want[] = {{"10.244.1.0/24", "192.168.77.2"},
                                  {"10.244.2.0/24", "192.168.77.3"}};
    struct agent__route bad[] = {{"10.244.7.0/24", "192.168.99.9"}, /* unreachable gateway */
                                 {"10.244.8.0/24", "192.168.77.8"}};
    struct err e;

    if (unshare(CLONE_NEWNET) != 0)
        return 77;
    if (sh("ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up && "
           "ip addr add 192.168.77.1/24 dev v0 && ip route add 10.50.0.0/16 via 192.168.77.9") != 0)
        return 10;
    if (agent__ip_forward(true, &e) != 0 || sh("grep -qx 1 /proc/sys/net/ipv4/ip_forward") != 0)
        return 11;
    if (agent__routes_sync(NULL, want, 2, 5000, &e) != 0) {
        fprintf(stderr, "sync: %s\n", e.msg);
        return 12;
    }
    if (sh("ip route show proto " AGENT_ROUTES_PROTO " | grep -q '10.244.1.0/24 via 192.168.77.2'"
           " && ip route show proto " AGENT_ROUTES_PROTO
           " | grep -q '10.244.2.0/24 via 192.168.77.3'") != 0)
        return 13;
    /* one node gone, the other moved */
    want[0] = (struct agent__route){"10.244.2.0/24", "192.168.77.4"};
    if (agent__routes_sync(NULL, want, 1, 5000, &e) != 0)
        return 14;
    if (sh("test \"$(ip route show proto " AGENT_ROUTES_PROTO
           ")\" = '10.244.2.0/24 via 192.168.77.4 dev v0 '") != 0) {
        sh("ip route show proto " AGENT_ROUTES_PROTO " >&2");
        return 15;
    }
    /* a failing entry does not hold back the next one */
    if (agent__routes_sync(NULL, bad, 2, 5000, &e) != ERR_IO)
        return 16;
    if (strstr(e.msg, "10.244.7.0/24") == NULL && strstr(e.msg, "route replace") == NULL) {
        fprintf(stderr, "msg: %s\n", e.msg);
        return 17;
    }
    if (sh("ip route show proto " AGENT_ROUTES_PROTO " | grep -q 10.244.8.0/24") != 0)
        return 18;
    if (agent__routes_flush(NULL, 5000, &e) != 0 ||
        sh("test -z \"$(ip route show proto " AGENT_ROUTES_PROTO ")\"") != 0)
        return 19;
    /* somebody else's route is still there */
    if (sh("ip route show | grep -q '10.50.0.0/16 via 192.168.77.9'") != 0)
        return 20;
    return 0;
}

static void test_sync_in_a_netns(void **state)
{
    pid_t pid;
    int status;

    (void)state;
    if (geteuid() != 0 || sh("ip -V >/dev/null 2>&1") != 0)
        skip();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(netns_body());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_check_normalises),
        cmocka_unit_test(test_diff_adds_changes_and_removes),
        cmocka_unit_test(test_parse_ip_json),
        cmocka_unit_test(test_sync_in_a_netns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
