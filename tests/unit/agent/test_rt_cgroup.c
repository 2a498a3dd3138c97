/* cgroup layout detection from mountinfo text (v1, hybrid, v2), this
 * node's paths, and stats/listing read from fake cgroup trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "lib/fs.h"

/* this test machine: v1 controllers, each alone, plus cgroup2 at .../unified */
static const char hybrid[] =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* systemd's unified layout; optional fields before the separator */
static const char v2[] = "24 1 8:1 / / rw shared:1 master:3 - ext4 /dev/sda1 rw\n"
                         "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - "
                         "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

/* old style: cpu,cpuacct co-mounted, no cgroup2, one hierarchy bind-mounted
 * twice, a mount point with a space */
static const char v1[] =
    "20 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
    "25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "26 20 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory,clone_children\n"
    "27 20 0:23 / /mnt/my\\040memory rw - cgroup cgroup rw,memory,clone_children\n"
    "28 20 0:24 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n";

static void test_detect_hybrid(void **state)
{
    struct agent__cg cg;
    struct err e;

    (void)state;
    assert_int_equal(agent__cg_detect(hybrid, "n1", &cg, &e), 0);
    assert_int_equal(cg.mode, AGENT_CG_HYBRID);
    assert_string_equal(cg.unified, "/sys/fs/cgroup/unified");
    assert_int_equal(cg.n_v1, 5);
    assert_string_equal(cg.v1[0].mnt, "/sys/fs/cgroup/cpu");
    assert_string_equal(cg.v1[0].opts, "cpu");
    assert_string_equal(cg.v1[2].mnt, "/sys/fs/cgroup/memory");
    assert_string_equal(cg.v1[4].opts, "name=systemd");
    assert_string_equal(cg.parent, "skiff-n1");
}

static void test_detect_v2_and_v1(void **state)
{
    struct agent__cg cg;
    struct err e;

    (void)state;
    assert_int_equal(agent__cg_detect(v2, "n1", &cg, &e), 0);
    assert_int_equal(cg.mode, AGENT_CG_V2);
    assert_string_equal(cg.unified, "/sys/fs/cgroup");
    assert_int_equal(cg.n_v1, 0);

    assert_int_equal(agent__cg_detect(v1, "n1", &cg, &e), 0);
    assert_int_equal(cg.mode, AGENT_CG_V1);
    assert_string_equal(cg.unified, "");
    assert_int_equal(cg.n_v1, 3);
    assert_string_equal(cg.v1[0].opts, "cpu,cpuacct");
    assert_string_equal(cg.v1[1].opts, "memory");
    assert_string_equal(cg.v1[1].mnt, "/sys/fs/cgroup/memory");
    assert_string_equal(cg.v1[2].opts, "net_cls,net_prio");
}

static void test_detect_bad_input(void **state)
{
    struct agent__cg cg;
    struct err e;

    (void)state;
    assert_int_equal(agent__cg_detect("", "n1", &cg, &e), ERR_INVALID);
    assert_string_equal(e.msg, "mountinfo: no cgroup or cgroup2 mount");
    assert_int_equal(agent__cg_detect("garbage\n\n- - -\n1 2 3\n", "n1", &cg, &e), ERR_INVALID);
    assert_int_equal(agent__cg_detect(hybrid, "a/b", &cg, &e), ERR_INVALID);
    assert_int_equal(agent__cg_detect(hybrid, "", &cg, &e), ERR_INVALID);
    assert_int_equal(agent__cg_detect(hybrid, "..", &cg, &e), ERR_INVALID);
}

static void test_detect_this_machine(void **state)
{
    struct agent__cg cg;
    struct err e;

    (void)state;
    if (access("/proc/self/mountinfo", R_OK) != 0)
        skip();
    assert_int_equal(agent__cg_init(&cg, "n1", &e), 0);
    assert_true(cg.mode == AGENT_CG_V1 || cg.mode == AGENT_CG_HYBRID || cg.mode == AGENT_CG_V2);
}

static void test_paths(void **state)
{
    struct agent__cg cg;
    char buf[128];
    struct err e;

    (void)state;
    assert_int_equal(agent__cg_detect(hybrid, "n1", &cg, &e), 0);
    assert_int_equal(agent__cg_path(&cg, "u-1", "c1", buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "/skiff-n1/podu-1/c1");
    assert_int_equal(agent__cg_path(&cg, "u-1", NULL, buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "/skiff-n1/podu-1");
    assert_int_equal(agent__cg_path(&cg, NULL, NULL, buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "/skiff-n1");
    assert_int_equal(agent__cg_path(&cg, "../x", NULL, buf, sizeof buf, &e), ERR_INVALID);
    assert_int_equal(agent__cg_path(&cg, "u", "..", buf, sizeof buf, &e), ERR_INVALID);
    assert_int_equal(agent__cg_path(&cg, "u", "c", buf, 8, &e), ERR_INVALID);
    /* nothing outside this node's parent is ever read or removed */
    assert_int_equal(agent__cg_remove(&cg, "/", &e), ERR_INVALID);
    assert_int_equal(agent__cg_remove(&cg, "/skiff-n10", &e), ERR_INVALID);
    assert_int_equal(agent__cg_remove(&cg, "/skiff-n1/../x", &e), ERR_INVALID);
}

/* ---- fake trees ---- */

static void put(const char *dir, const char *file, const char *text)
{
    char p[512];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, file);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mkdirs(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void test_stats_v1(void **state)
{
    char tmp[64] = "/tmp/skiff-cg-XXXXXX", d[256];
    struct agent__cg cg = {.mode = AGENT_CG_V1, .parent = "skiff-n1"};
    struct agent__cg_stats st;
    struct err e;

    (void)state;
    assert_non_null(mkdtemp(tmp));
    cg.n_v1 = 3;
    snprintf(cg.v1[0].mnt, sizeof cg.v1[0].mnt, "%s/memory", tmp);
    snprintf(cg.v1[0].opts, sizeof cg.v1[0].opts, "memory");
    snprintf(cg.v1[1].mnt, sizeof cg.v1[1].mnt, "%s/cpu,cpuacct", tmp);
    snprintf(cg.v1[1].opts, sizeof cg.v1[1].opts, "cpu,cpuacct");
    snprintf(cg.v1[2].mnt, sizeof cg.v1[2].mnt, "%s/pids", tmp);
    snprintf(cg.v1[2].opts, sizeof cg.v1[2].opts, "pids");
    snprintf(d, sizeof d, "%s/memory/skiff-n1/podu1/c1", tmp);
    mkdirs(d);
    put(d, "memory.usage_in_bytes", "33554432\n");
    put(d, "memory.limit_in_bytes", "33554432\n");
    put(d, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    snprintf(d, sizeof d, "%s/cpu,cpuacct/skiff-n1/podu1/c1", tmp);
    mkdirs(d);
    put(d, "cpuacct.usage", "123456789\n");
    snprintf(d, sizeof d, "%s/pids/skiff-n1/podu2", tmp);
    mkdirs(d);

    assert_int_equal(agent__cg_stats(&cg, "/skiff-n1/podu1/c1", &st, &e), 0);
    assert_int_equal(st.memory_bytes, 33554432);
    assert_int_equal(st.memory_limit_bytes, 33554432);
    assert_int_equal(st.oom_kills, 2);
    assert_int_equal(st.cpu_ns, 123456789);
    assert_int_equal(st.pids, 0);
    /* unlimited reads as 0 */
    snprintf(d, sizeof d, "%s/memory/skiff-n1/podu1/c1", tmp);
    put(d, "memory.limit_in_bytes", "9223372036854771712\n");
    assert_int_equal(agent__cg_stats(&cg, "/skiff-n1/podu1/c1", &st, &e), 0);
    assert_int_equal(st.memory_limit_bytes, 0);
    assert_int_equal(agent__cg_stats(&cg, "/skiff-n1/podu9/c1", &st, &e), ERR_NOTFOUND);

    {
        char **uids;
        size_t n;
        assert_int_equal(agent__cg_list_pods(&cg, &uids, &n, &e), 0);
        assert_int_equal(n, 2);
        assert_true((strcmp(uids[0], "u1") == 0 && strcmp(uids[1], "u2") == 0) ||
                    (strcmp(uids[0], "u2") == 0 && strcmp(uids[1], "u1") == 0));
        agent__strv_free(uids, n);
    }
    fs_rmtree(tmp);
}

static void test_stats_v2(void **state)
{
    char tmp[64] = "/tmp/skiff-cg-XXXXXX", d[256];
    struct agent__cg cg = {.mode = AGENT_CG_V2, .parent = "skiff-n1"};
    struct agent__cg_stats st;
    struct err e;

    (void)state;
    assert_non_null(mkdtemp(tmp));
    snprintf(cg.unified, sizeof cg.unified, "%s", tmp);
    snprintf(d, sizeof d, "%s/skiff-n1/podu1/c1", tmp);
    mkdirs(d);
    put(d, "memory.current", "1000\n");
    put(d, "memory.max", "max\n");
    put(d, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
    put(d, "cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
    put(d, "pids.current", "4\n");
    assert_int_equal(agent__cg_stats(&cg, "/skiff-n1/podu1/c1", &st, &e), 0);
    assert_int_equal(st.memory_bytes, 1000);
    assert_int_equal(st.memory_limit_bytes, 0);
    assert_int_equal(st.oom_kills, 1);
    assert_int_equal(st.cpu_ns, 2500000);
    assert_int_equal(st.pids, 4);
    fs_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_hybrid),
        cmocka_unit_test(test_detect_v2_and_v1),
        cmocka_unit_test(test_detect_bad_input),
        cmocka_unit_test(test_detect_this_machine),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_stats_v1),
        cmocka_unit_test(test_stats_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
