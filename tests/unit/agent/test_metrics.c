/* agent/metrics: the cgroup and /proc parsers on fixture text, the walker
 * on a temp dir laid out like the cgroup tree (v1 hybrid and v2), the rates
 * between two samples, and the sampler's lifecycle on a real loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/metrics.h"

/* ---- fixtures ---- */

struct fx {
    char dir[256];
};

static void put(const char *dir, const char *rel, const char *text)
{
    char path[1024], tmp[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    /* mkdir -p of the parent */
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        snprintf(tmp, sizeof tmp, "%.*s", (int)(p - path), path);
        mkdir(tmp, 0755);
    }
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_metrics.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void proc_files(const char *dir, unsigned long busy_ticks)
{
    char stat[256];
    snprintf(stat, sizeof stat, "cpu  %lu 0 0 1000 20 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n",
             busy_ticks);
    put(dir, "proc/stat", stat);
    put(dir, "proc/meminfo",
        "MemTotal:        8000000 kB\nMemFree:  100 kB\nMemAvailable:    6000000 kB\n");
}

/* ---- parsers ---- */

static void test_cpuacct_parses_ns_and_rejects_garbage(void **state)
{
    uint64_t ns = 0;
    struct err e;
    (void)state;
    assert_int_equal(agent__metrics_parse_cpuacct("123456789\n", &ns, &e), 0);
    assert_int_equal(ns, 123456789);
    assert_int_equal(agent__metrics_parse_cpuacct("", &ns, &e), ERR_INVALID);
    assert_int_equal(agent__metrics_parse_cpuacct("12x\n", &ns, &e), ERR_INVALID);
}

static void test_cpu_stat_reads_usage_usec_as_ns(void **state)
{
    uint64_t ns = 0;
    struct err e;
    (void)state;
    assert_int_equal(agent__metrics_parse_cpu_stat("usage_usec 2500\nuser_usec 2000\n"
                                                   "system_usec 500\n",
                                                   &ns, &e),
                     0);
    assert_int_equal(ns, 2500000);
    assert_int_equal(agent__metrics_parse_cpu_stat("user_usec 2000\n", &ns, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "usage_usec"));
}

static void test_memory_stat_key_lookup_is_exact(void **state)
{
    const char *stat = "inactive_anon 1\ntotal_inactive_file 4096\ninactive_file 1024\n";
    uint64_t v = 0;
    struct err e;
    (void)state;
    assert_int_equal(agent__metrics_parse_keyed(stat, "inactive_file", &v, &e), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(agent__metrics_parse_keyed(stat, "total_inactive_file", &v, &e), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(agent__metrics_parse_keyed(stat, "active_file", &v, &e), ERR_NOTFOUND);
    assert_int_equal(agent__metrics_working_set(10000, 4096), 5904);
    assert_int_equal(agent__metrics_working_set(100, 4096), 0);
}

static void test_proc_stat_busy_leaves_out_idle_and_iowait(void **state)
{
    uint64_t busy = 0, total = 0;
    struct err e;
    (void)state;
    /* user nice system idle iowait irq softirq steal guest guest_nice */
    assert_int_equal(agent__metrics_parse_proc_stat("cpu  100 10 40 800 50 0 0 0 30 0\n", 100,
                                                    &busy, &total, &e),
                     0);
    assert_int_equal(busy, 150ull * 10000000ull); /* guest is inside user already */
    assert_int_equal(total, 1000ull * 10000000ull);
    assert_int_equal(agent__metrics_parse_proc_stat("intr 1 2\n", 100, &busy, &total, &e),
                     ERR_INVALID);
    assert_int_equal(agent__metrics_parse_proc_stat("cpu  1 2\n", 100, &busy, &total, &e),
                     ERR_INVALID);
}

static void test_meminfo_used_is_total_minus_available(void **state)
{
    uint64_t used = 0;
    struct err e;
    (void)state;
    assert_int_equal(agent__metrics_parse_meminfo("MemTotal: 1000 kB\nMemFree: 10 kB\n"
                                                  "MemAvailable: 400 kB\n",
                                                  &used, &e),
                     0);
    assert_int_equal(used, 600 * 1024);
    assert_int_equal(agent__metrics_parse_meminfo("MemTotal: 1000 kB\n", &used, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "MemAvailable"));
}

/* ---- walker and rates ---- */

static void v1_tree(const char *dir, const char *uid, const char *ctr, unsigned long cpu_ns,
                    unsigned long mem)
{
    char rel[256], v[64];
    snprintf(rel, sizeof rel, "cpuacct/skiff-n1/pod%s/%s/cpuacct.usage", uid, ctr);
    snprintf(v, sizeof v, "%lu\n", cpu_ns);
    put(dir, rel, v);
    snprintf(rel, sizeof rel, "memory/skiff-n1/pod%s/%s/memory.usage_in_bytes", uid, ctr);
    snprintf(v, sizeof v, "%lu\n", mem);
    put(dir, rel, v);
    snprintf(rel, sizeof rel, "memory/skiff-n1/pod%s/%s/memory.stat", uid, ctr);
    put(dir, rel, "cache 0\ninactive_file 1\ntotal_inactive_file 4096\n");
}

static void detect(const char *dir, bool v2, struct agent__cg *cg)
{
    char mi[2048];
    struct err e;
    if (v2)
        snprintf(mi, sizeof mi, "41 31 0:38 / %s/v2 rw,relatime - cgroup2 cgroup2 rw\n", dir);
    else
        snprintf(mi, sizeof mi,
                 "32 31 0:29 / %s/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
                 "35 31 0:32 / %s/memory rw,relatime - cgroup cgroup rw,memory\n"
                 "41 31 0:38 / %s/unified rw,relatime - cgroup2 cgroup2 rw\n",
                 dir, dir, dir);
    assert_int_equal(agent__cg_detect(mi, "n1", cg, &e), 0);
}

static void test_walk_v1_hybrid_then_rates_per_container(void **state)
{
    struct fx *f = *state;
    struct agent__cg *cg = calloc(1, sizeof *cg);
    struct agent__metrics_raw *a = NULL, *b = NULL;
    char proc[300];
    struct err e;
    json_t *snap, *c;

    detect(f->dir, false, cg);
    assert_int_equal(cg->mode, AGENT_CG_HYBRID);
    snprintf(proc, sizeof proc, "%s/proc", f->dir);
    proc_files(f->dir, 100);
    v1_tree(f->dir, "u1", "web", 1000000000ul, 1 << 20);
    v1_tree(f->dir, "u1", "side", 0, 8192);
    put(f->dir, "memory/skiff-n1/notapod/x/memory.usage_in_bytes", "1\n");
    assert_int_equal(agent__metrics_walk(cg, true, proc, &a, &e), 0);
    assert_int_equal(a->n_ctrs, 2);
    assert_true(a->has_node);
    assert_int_equal(a->node_memory_bytes, 2000000ull * 1024);

    /* one second later: web used 0.25 s of CPU, node 0.5 s; a new pod appears
     * (no rate yet) */
    proc_files(f->dir, 150);
    v1_tree(f->dir, "u1", "web", 1250000000ul, 2 << 20);
    v1_tree(f->dir, "u1", "side", 0, 8192);
    v1_tree(f->dir, "u2", "new", 5, 4096);
    assert_int_equal(agent__metrics_walk(cg, true, proc, &b, &e), 0);
    assert_int_equal(b->n_ctrs, 3);
    b->mono_ms = a->mono_ms + 1000;
    b->wall_s = 1700000000;

    assert_null(agent__metrics_rates("n1", NULL, b));
    snap = agent__metrics_rates("n1", a, b);
    assert_non_null(snap);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(snap, "node"), "cpu")),
                     500000000);
    assert_string_equal(json_string_value(json_object_get(json_object_get(snap, "node"), "name")),
                        "n1");
    c = json_object_get(
        json_object_get(json_object_get(json_object_get(snap, "pods"), "u1"), "containers"), "web");
    assert_int_equal(json_integer_value(json_object_get(c, "cpu")), 250000000);
    assert_int_equal(json_integer_value(json_object_get(c, "memory")), (2 << 20) - 4096);
    c = json_object_get(
        json_object_get(json_object_get(json_object_get(snap, "pods"), "u1"), "containers"),
        "side");
    assert_int_equal(json_integer_value(json_object_get(c, "memory")), 4096);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(snap, "pods"), "u1"), "window")),
                     1000);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(snap, "pods"), "u1"), "ts")),
                        "2023-11-14T22:13:20Z");
    assert_null(json_object_get(json_object_get(snap, "pods"), "u2"));
    json_decref(snap);
    agent__metrics_raw_free(a);
    agent__metrics_raw_free(b);
    free(cg);
}

static void test_walk_v2_and_counter_reset_drops_the_container(void **state)
{
    struct fx *f = *state;
    struct agent__cg *cg = calloc(1, sizeof *cg);
    struct agent__metrics_raw *a = NULL, *b = NULL;
    char proc[300];
    struct err e;
    json_t *snap, *c;

    detect(f->dir, true, cg);
    assert_int_equal(cg->mode, AGENT_CG_V2);
    snprintf(proc, sizeof proc, "%s/nowhere", f->dir); /* no /proc: no node figures */
    put(f->dir, "v2/skiff-n1/podu9/app/memory.current", "65536\n");
    put(f->dir, "v2/skiff-n1/podu9/app/memory.stat", "anon 1\ninactive_file 16384\n");
    put(f->dir, "v2/skiff-n1/podu9/app/cpu.stat", "usage_usec 1000000\n");
    put(f->dir, "v2/skiff-n1/podu9/old/memory.current", "100\n");
    put(f->dir, "v2/skiff-n1/podu9/old/cpu.stat", "usage_usec 900\n");
    assert_int_equal(agent__metrics_walk(cg, true, proc, &a, &e), 0);
    assert_false(a->has_node);
    put(f->dir, "v2/skiff-n1/podu9/app/cpu.stat", "usage_usec 1100000\n");
    put(f->dir, "v2/skiff-n1/podu9/old/cpu.stat", "usage_usec 10\n"); /* restarted */
    assert_int_equal(agent__metrics_walk(cg, true, proc, &b, &e), 0);
    b->mono_ms = a->mono_ms + 2000;

    snap = agent__metrics_rates("n1", a, b);
    assert_non_null(snap);
    assert_null(json_object_get(snap, "node"));
    c = json_object_get(json_object_get(json_object_get(snap, "pods"), "u9"), "containers");
    assert_int_equal(json_object_size(c), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "app"), "cpu")),
                     50000000); /* 0.1 s over 2 s = 50m */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "app"), "memory")),
                     65536 - 16384);
    json_decref(snap);
    agent__metrics_raw_free(a);
    agent__metrics_raw_free(b);
    free(cg);
}

static void test_walk_without_node_dir_or_cgroups_is_empty(void **state)
{
    struct fx *f = *state;
    struct agent__cg *cg = calloc(1, sizeof *cg);
    struct agent__metrics_raw *a = NULL;
    char proc[300];
    struct err e;

    detect(f->dir, false, cg);
    snprintf(proc, sizeof proc, "%s/proc", f->dir);
    proc_files(f->dir, 1);
    assert_int_equal(agent__metrics_walk(cg, true, proc, &a, &e), 0);
    assert_int_equal(a->n_ctrs, 0);
    assert_true(a->has_node);
    agent__metrics_raw_free(a);
    assert_int_equal(agent__metrics_walk(cg, false, proc, &a, &e), 0);
    assert_int_equal(a->n_ctrs, 0);
    agent__metrics_raw_free(a);
    free(cg);
}

/* ---- the sampler on a loop ---- */

struct run {
    struct agent_metrics *m;
    json_t *snap;
    int ticks;
};

static void on_poll(uv_timer_t *t)
{
    struct run *r = t->data;
    r->snap = agent_metrics_snapshot(r->m);
    if (r->snap != NULL || ++r->ticks > 200) {
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, NULL);
        agent_metrics_close(r->m);
    }
}

static void test_sampler_publishes_rates_and_closes_cleanly(void **state)
{
    struct fx *f = *state;
    char mi[1024], proc[300];
    struct agent_metrics_config cfg = {"n1", 20, mi, proc};
    struct run r = {0};
    uv_loop_t loop;
    uv_timer_t t;
    struct err e;

    snprintf(mi, sizeof mi, "35 31 0:32 / %s/memory rw - cgroup cgroup rw,memory\n", f->dir);
    snprintf(proc, sizeof proc, "%s/proc", f->dir);
    proc_files(f->dir, 10);
    put(f->dir, "memory/skiff-n1/podp/c/memory.usage_in_bytes", "4096\n");
    uv_loop_init(&loop);
    assert_int_equal(agent_metrics_new(&loop, &cfg, &r.m, &e), 0);
    assert_null(agent_metrics_snapshot(r.m)); /* no interval yet */
    uv_timer_init(&loop, &t);
    t.data = &r;
    uv_timer_start(&t, on_poll, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_non_null(r.snap);
    assert_non_null(json_object_get(r.snap, "node"));
    /* no cpu controller here: the container has no rate and is left out */
    assert_int_equal(json_object_size(json_object_get(r.snap, "pods")), 0);
    json_decref(r.snap);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_sampler_refuses_bad_node_name_and_closes_right_away(void **state)
{
    struct agent_metrics_config bad = {"a/b", 0, NULL, NULL};
    struct agent_metrics_config ok = {"n1", 0, "garbage\n", "/nonexistent"};
    struct agent_metrics *m = NULL;
    uv_loop_t loop;
    struct err e;
    (void)state;

    uv_loop_init(&loop);
    assert_int_equal(agent_metrics_new(&loop, &bad, &m, &e), ERR_INVALID);
    assert_null(m);
    /* no cgroup mount at all: still a sampler (node figures only) */
    assert_int_equal(agent_metrics_new(&loop, &ok, &m, &e), 0);
    agent_metrics_close(m);
    agent_metrics_close(NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuacct_parses_ns_and_rejects_garbage),
        cmocka_unit_test(test_cpu_stat_reads_usage_usec_as_ns),
        cmocka_unit_test(test_memory_stat_key_lookup_is_exact),
        cmocka_unit_test(test_proc_stat_busy_leaves_out_idle_and_iowait),
        cmocka_unit_test(test_meminfo_used_is_total_minus_available),
        cmocka_unit_test_setup_teardown(test_walk_v1_hybrid_then_rates_per_container, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_walk_v2_and_counter_reset_drops_the_container, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_walk_without_node_dir_or_cgroups_is_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sampler_publishes_rates_and_closes_cleanly, setup,
                                        teardown),
        cmocka_unit_test(test_sampler_refuses_bad_node_name_and_closes_right_away),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
