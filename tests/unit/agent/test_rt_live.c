/* The runtime layer against the real runc (tags: root, slow ~10 s): a
 * busybox rootfs, a pod sandbox, containers that exit with a code, get
 * OOM-killed, are stopped with a grace period, are exec'd into, share the
 * sandbox's network namespace and hostname; and a teardown that leaves no
 * runc container, mount, cgroup or namespace file, whether the tests passed
 * or not. Skips when not root, or runc or /bin/busybox is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "lib/fs.h"

#define MAX_IDS 32

struct fx {
    char dir[64]; /* everything lives here */
    char rootfs[128], sbroot[128];
    struct agent__runc r;
    struct agent__cg cg;
    char ids[MAX_IDS][64]; /* containers made, for teardown */
    size_t n_ids;
    struct agent__sandbox sbs[8]; /* sandboxes made */
    char sb_uids[8][32];
    size_t n_sbs;
    bool skip; /* not root, no runc or no busybox */
};

/* ---- helpers ---- */

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    if (f != NULL) {
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static void make_rootfs(const char *root)
{
    static const char *const applets[] = {"sh",   "echo", "cat",  "sleep", "hostname", "readlink",
                                          "head", "tr",   "true", "id",    "ls",       "stat"};
    char p[256], cmd[512];
    size_t i;

    snprintf(cmd, sizeof cmd, "mkdir -p %s/bin %s/etc %s/tmp && cp /bin/busybox %s/bin/busybox",
             root, root, root, root);
    assert_int_equal(system(cmd), 0);
    for (i = 0; i < sizeof applets / sizeof applets[0]; i++) {
        snprintf(p, sizeof p, "%s/bin/%s", root, applets[i]);
        assert_int_equal(symlink("busybox", p), 0);
    }
    snprintf(p, sizeof p, "%s/etc/passwd", root);
    write_text(p, "root:x:0:0:root:/root:/bin/sh\n");
}

/* ---- fixture ---- */

static void cleanup(struct fx *f)
{
    char path[128];
    struct err e;
    size_t i;

    for (i = 0; i < f->n_ids; i++) {
        agent__runc_kill(&f->r, f->ids[i], SIGKILL, true, &e);
        agent__runc_delete(&f->r, f->ids[i], true, &e);
    }
    f->n_ids = 0;
    /* reap whatever inits were ours (the subreaper contract); this test
     * process owns all its children, so -1 is fine here, unlike the daemon */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    for (i = 0; i < f->n_sbs; i++) {
        if (agent__cg_path(&f->cg, f->sb_uids[i], NULL, path, sizeof path, &e) == 0 &&
            agent__cg_remove(&f->cg, path, &e) != 0)
            print_error("cleanup: %s\n", e.msg);
        if (agent__sandbox_destroy(&f->sbs[i], &e) != 0)
            print_error("cleanup: %s\n", e.msg);
    }
    f->n_sbs = 0;
}

/* A run that crashed (no teardown) left /tmp/skiff-rt-XXXXXX with an
 * "owner" pid that is gone: take its containers, sandboxes and cgroups
 * down with the same calls the agent uses to clean up after a restart. */
static void sweep_crashed_runs(void)
{
    glob_t g;
    size_t i, j;

    if (glob("/tmp/skiff-rt-*", GLOB_ONLYDIR, NULL, &g) != 0)
        return;
    for (i = 0; i < g.gl_pathc; i++) {
        const char *dir = g.gl_pathv[i];
        char p[256], node[32], cgp[128], *owner, **uids;
        struct agent__runc_state *l;
        struct agent__sandbox sb;
        struct agent__runc r;
        struct agent__cg cg;
        struct err e;
        size_t n;
        long pid;

        snprintf(p, sizeof p, "%s/owner", dir);
        owner = read_text(p);
        pid = strtol(owner, NULL, 10);
        free(owner);
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(p, sizeof p, "%s/runc", dir);
        if (agent__runc_init(&r, NULL, p, 10000, &e) == 0 &&
            agent__runc_list(&r, &l, &n, &e) == 0) {
            for (j = 0; j < n; j++) {
                agent__runc_kill(&r, l[j].id, SIGKILL, true, &e);
                agent__runc_delete(&r, l[j].id, true, &e);
            }
            free(l);
        }
        snprintf(p, sizeof p, "%s/sandboxes", dir);
        if (agent__sandbox_list(p, &uids, &n, &e) == 0) {
            for (j = 0; j < n; j++) {
                /* fills the paths even when the namespaces are gone */
                agent__sandbox_open(p, uids[j], &sb, &e);
                agent__sandbox_destroy(&sb, &e);
            }
            agent__strv_free(uids, n);
        }
        snprintf(node, sizeof node, "rt%ld", pid);
        if (agent__cg_init(&cg, node, &e) == 0 &&
            agent__cg_path(&cg, NULL, NULL, cgp, sizeof cgp, &e) == 0)
            agent__cg_remove(&cg, cgp, &e);
        fs_rmtree(dir);
    }
    globfree(&g);
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char root[128], node[32];
    struct err e;

    *state = f;
    if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0) {
        f->skip = true;
        return 0;
    }
    sweep_crashed_runs();
    snprintf(f->dir, sizeof f->dir, "/tmp/skiff-rt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(root, sizeof root, "%s/owner", f->dir);
    snprintf(node, sizeof node, "%d\n", (int)getpid());
    write_text(root, node);
    snprintf(root, sizeof root, "%s/runc", f->dir);
    assert_int_equal(agent__runc_init(&f->r, NULL, root, 10000, &e), 0);
    if (!agent__runc_available(&f->r)) {
        f->skip = true;
        return 0;
    }
    snprintf(f->rootfs, sizeof f->rootfs, "%s/rootfs", f->dir);
    snprintf(f->sbroot, sizeof f->sbroot, "%s/sandboxes", f->dir);
    make_rootfs(f->rootfs);
    snprintf(root, sizeof root, "%s/logs", f->dir);
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(root, sizeof root, "%s/bundles", f->dir);
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(node, sizeof node, "rt%d", (int)getpid());
    if (agent__cg_init(&f->cg, node, &e) != 0)
        fail_msg("cg_init: %s", e.msg);
    if (agent__rt_subreaper(&e) != 0)
        fail_msg("%s", e.msg);
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    char path[128];
    struct err e;

    if (!f->skip) {
        cleanup(f);
        if (agent__cg_path(&f->cg, NULL, NULL, path, sizeof path, &e) == 0)
            agent__cg_remove(&f->cg, path, &e);
        fs_rmtree(f->dir);
    }
    free(f);
    return 0;
}

/* The fixture, or a skip (cmocka 1.1 counts a skip in a setup as an error). */
static struct fx *live(void **state)
{
    struct fx *f = *state;
    if (f->skip)
        skip();
    return f;
}

static int test_teardown(void **state)
{
    if (!((struct fx *)*state)->skip)
        cleanup(*state);
    return 0;
}

static struct agent__sandbox *sandbox(struct fx *f, const char *uid, const char *hostname)
{
    struct agent__sandbox *sb = &f->sbs[f->n_sbs];
    struct err e;

    assert_true(f->n_sbs < 8);
    if (agent__sandbox_create(f->sbroot, uid, hostname, sb, &e) != 0)
        fail_msg("sandbox: %s", e.msg);
    snprintf(f->sb_uids[f->n_sbs], sizeof f->sb_uids[0], "%s", uid);
    f->n_sbs++;
    return sb;
}

/* Bundle + create + start of container id in sb, running args (a JSON
 * array text) with resources (JSON object text or NULL). Returns the pid. */
static pid_t run(struct fx *f, struct agent__sandbox *sb, const char *uid, const char *id,
                 const char *args, const char *resources)
{
    char text[2048], bundle[128], log[128], cgp[128], files[3][160], term[160];
    struct agent__bundle_spec s = {0};
    json_t *pod;
    pid_t pid;
    struct err e;
    size_t i;

    snprintf(text, sizeof text,
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"%s\"},"
             "\"spec\":{\"containers\":[{\"name\":\"%s\",\"image\":\"busybox\","
             "\"command\":%s,\"resources\":%s}]}}",
             sb->hostname, uid, id, args, resources ? resources : "{}");
    pod = json_loads(text, 0, NULL);
    assert_non_null(pod);
    snprintf(bundle, sizeof bundle, "%s/bundles/%s", f->dir, id);
    assert_int_equal(mkdir(bundle, 0755), 0);
    for (i = 0; i < 3; i++) {
        snprintf(files[i], sizeof files[i], "%s/%s", bundle,
                 (const char *[]){"hosts", "resolv.conf", "hostname"}[i]);
        write_text(files[i], i == 2 ? sb->hostname : "# test\n");
    }
    snprintf(term, sizeof term, "%s/termination-log", bundle);
    write_text(term, "");
    snprintf(log, sizeof log, "%s/logs/%s.log", f->dir, id);
    assert_int_equal(agent__cg_path(&f->cg, uid, id, cgp, sizeof cgp, &e), 0);
    s.pod = pod;
    s.container = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    s.rootfs = f->rootfs;
    s.netns_path = sb->netns;
    s.ipcns_path = sb->ipcns;
    s.utsns_path = sb->utsns;
    s.shm_path = sb->shm;
    s.hosts_path = files[0];
    s.resolv_path = files[1];
    s.hostname_path = files[2];
    s.termination_log_path = term;
    s.cgroups_path = cgp;
    if (agent__bundle_write(&s, bundle, &e) != 0)
        fail_msg("bundle: %s", e.msg);
    json_decref(pod);
    assert_true(f->n_ids < MAX_IDS);
    snprintf(f->ids[f->n_ids++], sizeof f->ids[0], "%s", id);
    if (agent__runc_create(&f->r, id, bundle, log, log, &pid, &e) != 0)
        fail_msg("create: %s", e.msg);
    assert_true(pid > 1);
    if (agent__runc_start(&f->r, id, &e) != 0)
        fail_msg("start: %s", e.msg);
    return pid;
}

static char *log_of(struct fx *f, const char *id)
{
    char p[128];
    snprintf(p, sizeof p, "%s/logs/%s.log", f->dir, id);
    return read_text(p);
}

/* ---- tests ---- */

static void test_exit_code_and_log(void **state)
{
    struct fx *f = live(state);
    struct agent__sandbox *sb = sandbox(f, "u1", "pod-one");
    struct agent__runc_state st;
    struct err e;
    int code;
    pid_t pid =
        run(f, sb, "u1", "c-exit", "[\"sh\",\"-c\",\"echo hi; echo oops >&2; exit 3\"]", NULL);
    char *log;

    if (agent__ctr_wait(pid, 10000, &code, &e) != 0)
        fail_msg("wait: %s", e.msg);
    assert_int_equal(code, 3);
    log = log_of(f, "c-exit");
    assert_non_null(strstr(log, "hi\n"));
    assert_non_null(strstr(log, "oops\n"));
    free(log);
    assert_int_equal(agent__runc_state(&f->r, "c-exit", &st, &e), 0);
    assert_int_equal(st.status, AGENT_RUNC_STOPPED);
    assert_int_equal(agent__runc_delete(&f->r, "c-exit", false, &e), 0);
    assert_int_equal(agent__runc_state(&f->r, "c-exit", &st, &e), ERR_NOTFOUND);
    /* delete is idempotent */
    assert_int_equal(agent__runc_delete(&f->r, "c-exit", false, &e), 0);
}

static void test_memory_limit_oom_kill_is_reported(void **state)
{
    struct fx *f = live(state);
    struct agent__sandbox *sb = sandbox(f, "u2", "pod-oom");
    struct agent__cg_stats st;
    char cgp[128];
    struct err e;
    int code;
    pid_t pid = run(f, sb, "u2", "c-oom",
                    "[\"sh\",\"-c\",\"x=$(head -c 67108864 /dev/zero | tr '\\\\0' a); "
                    "echo survived\"]",
                    "{\"limits\":{\"memory\":\"32Mi\"}}");

    if (agent__ctr_wait(pid, 20000, &code, &e) != 0)
        fail_msg("wait: %s", e.msg);
    assert_int_equal(code, 137);
    /* read the cgroup before runc delete removes it */
    assert_int_equal(agent__cg_path(&f->cg, "u2", "c-oom", cgp, sizeof cgp, &e), 0);
    if (agent__cg_stats(&f->cg, cgp, &st, &e) != 0)
        fail_msg("stats: %s", e.msg);
    assert_true(st.oom_kills >= 1);
    assert_int_equal(st.memory_limit_bytes, 32 << 20);
}

static void test_stop_sigterm_then_sigkill_after_grace(void **state)
{
    struct fx *f = live(state);
    struct agent__sandbox *sb = sandbox(f, "u3", "pod-stop");
    pid_t a = run(f, sb, "u3", "c-trap",
                  "[\"sh\",\"-c\",\"trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; "
                  "done\"]",
                  NULL);
    /* pid 1 of a pid namespace ignores signals it has no handler for */
    pid_t b = run(f, sb, "u3", "c-deaf", "[\"sleep\",\"1000\"]", NULL);
    struct err e;
    int64_t t0;
    int code;
    char *log;

    /* wait until the trap is set (the shell echoes after it) */
    for (t0 = ms_now(); ms_now() - t0 < 5000;) {
        log = log_of(f, "c-trap");
        bool ready = strstr(log, "ready") != NULL;
        free(log);
        if (ready)
            break;
        usleep(20000);
    }
    t0 = ms_now();
    if (agent__ctr_stop(&f->r, "c-trap", a, 5000, &code, &e) != 0)
        fail_msg("stop: %s", e.msg);
    assert_int_equal(code, 7);
    assert_true(ms_now() - t0 < 3000);

    t0 = ms_now();
    if (agent__ctr_stop(&f->r, "c-deaf", b, 500, &code, &e) != 0)
        fail_msg("stop: %s", e.msg);
    assert_int_equal(code, 137);
    assert_true(ms_now() - t0 >= 500);
}

static void test_exec_returns_output_and_exit_code(void **state)
{
    struct fx *f = live(state);
    struct agent__sandbox *sb = sandbox(f, "u4", "pod-exec");
    const char *args[] = {"sh", "-c", "echo out $GREET; echo err >&2; pwd; exit 5", NULL};
    const char *env[] = {"GREET=hello", NULL};
    const char *hang[] = {"sleep", "100", NULL};
    const char *nothing[] = {"/nope", NULL};
    struct agent__exec_result res;
    struct err e;
    int64_t t0;
    int code;
    pid_t pid = run(f, sb, "u4", "c-exec", "[\"sleep\",\"1000\"]", NULL);

    if (agent__runc_exec(&f->r, "c-exec", args, env, "/tmp", 10000, &res, &e) != 0)
        fail_msg("exec: %s", e.msg);
    assert_int_equal(res.exit_code, 5);
    assert_string_equal(res.out, "out hello\n/tmp\n");
    assert_string_equal(res.err, "err\n");
    agent__exec_result_close(&res);

    t0 = ms_now();
    assert_int_equal(agent__runc_exec(&f->r, "c-exec", hang, NULL, NULL, 300, &res, &e), 0);
    assert_true(res.timed_out);
    assert_true(ms_now() - t0 < 3000);
    agent__exec_result_close(&res);

    /* runc's own failure is an error, not an exit code */
    assert_int_not_equal(agent__runc_exec(&f->r, "c-exec", nothing, NULL, NULL, 5000, &res, &e), 0);
    assert_non_null(strstr(e.msg, "runc exec c-exec: "));
    assert_int_equal(agent__runc_exec(&f->r, "c-none", args, NULL, NULL, 5000, &res, &e),
                     ERR_NOTFOUND);

    assert_int_equal(agent__ctr_stop(&f->r, "c-exec", pid, 100, &code, &e), 0);
    assert_int_equal(code, 137);
}

static void test_containers_share_the_sandbox_network_and_hostname(void **state)
{
    struct fx *f = live(state);
    struct agent__sandbox *sb = sandbox(f, "u5", "shared-pod");
    const char *probe = "[\"sh\",\"-c\",\"readlink /proc/self/ns/net; hostname; "
                        "readlink /proc/self/ns/pid; echo shm > /dev/shm/x; cat /dev/shm/x\"]";
    pid_t a = run(f, sb, "u5", "c-a", probe, NULL);
    pid_t b = run(f, sb, "u5", "c-b", probe, NULL);
    struct agent__sandbox again;
    char want[64];
    char *la, *lb, *nl;
    struct stat st;
    struct err e;
    int code;

    assert_int_equal(agent__ctr_wait(a, 10000, &code, &e), 0);
    assert_int_equal(code, 0);
    assert_int_equal(agent__ctr_wait(b, 10000, &code, &e), 0);
    assert_int_equal(code, 0);
    assert_int_equal(stat(sb->netns, &st), 0);
    snprintf(want, sizeof want, "net:[%lu]\nshared-pod\n", (unsigned long)st.st_ino);
    la = log_of(f, "c-a");
    lb = log_of(f, "c-b");
    if (strncmp(la, want, strlen(want)) != 0 || strncmp(lb, want, strlen(want)) != 0)
        fail_msg("want prefix \"%s\", got \"%s\" and \"%s\"", want, la, lb);
    /* own pid namespaces: the third lines differ */
    nl = strchr(la + strlen(want), '\n');
    assert_non_null(nl);
    assert_true(strncmp(la + strlen(want), lb + strlen(want), (size_t)(nl - la) - strlen(want)) !=
                0);
    free(la);
    free(lb);
    /* adoption after a restart finds the same sandbox */
    assert_int_equal(agent__sandbox_open(f->sbroot, "u5", &again, &e), 0);
    assert_string_equal(again.netns, sb->netns);
    assert_string_equal(again.hostname, "shared-pod");
    assert_int_equal(agent__sandbox_open(f->sbroot, "u404", &again, &e), ERR_NOTFOUND);
    assert_int_equal(agent__sandbox_create(f->sbroot, "u5", "x", &again, &e), ERR_CONFLICT);
}

static void test_list_for_adoption(void **state)
{
    struct fx *f = live(state);
    struct agent__sandbox *sb = sandbox(f, "u6", "pod-list");
    struct agent__runc_state *l;
    char **uids;
    size_t n, i;
    struct err e;
    bool found = false;
    int code;
    pid_t pid = run(f, sb, "u6", "c-list", "[\"sleep\",\"1000\"]", NULL);

    assert_int_equal(agent__runc_list(&f->r, &l, &n, &e), 0);
    for (i = 0; i < n; i++)
        if (strcmp(l[i].id, "c-list") == 0) {
            found = true;
            assert_int_equal(l[i].status, AGENT_RUNC_RUNNING);
            assert_int_equal(l[i].pid, pid);
            assert_non_null(strstr(l[i].bundle, "/bundles/c-list"));
        }
    free(l);
    assert_true(found);
    assert_int_equal(agent__cg_list_pods(&f->cg, &uids, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(uids[0], "u6");
    agent__strv_free(uids, n);
    assert_int_equal(agent__sandbox_list(f->sbroot, &uids, &n, &e), 0);
    assert_int_equal(n, 1);
    agent__strv_free(uids, n);
    assert_int_equal(agent__ctr_stop(&f->r, "c-list", pid, 100, &code, &e), 0);
}

/* Runs last: what the teardown after every test leaves behind. */
static void test_teardown_leaves_nothing(void **state)
{
    struct fx *f = live(state);
    struct agent__runc_state *l;
    char path[PATH_MAX], **uids, *mi;
    size_t n, i;
    struct err e;

    cleanup(f);
    assert_int_equal(agent__cg_path(&f->cg, NULL, NULL, path, sizeof path, &e), 0);
    assert_int_equal(agent__cg_remove(&f->cg, path, &e), 0);
    assert_int_equal(agent__runc_list(&f->r, &l, &n, &e), 0);
    free(l);
    assert_int_equal(n, 0);
    mi = read_text("/proc/self/mountinfo");
    if (strstr(mi, f->dir) != NULL)
        fail_msg("mounts left under %s:\n%s", f->dir, mi);
    free(mi);
    for (i = 0; i <= f->cg.n_v1; i++) {
        const char *mnt = i < f->cg.n_v1 ? f->cg.v1[i].mnt : f->cg.unified;
        if (mnt[0] == '\0')
            continue;
        snprintf(path, sizeof path, "%s/%s", mnt, f->cg.parent);
        if (access(path, F_OK) == 0)
            fail_msg("cgroup left: %s", path);
    }
    assert_int_equal(agent__sandbox_list(f->sbroot, &uids, &n, &e), 0);
    agent__strv_free(uids, n);
    assert_int_equal(n, 0);
}

int main(void)
{
#define T(t) cmocka_unit_test_teardown(t, test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_exit_code_and_log),
        T(test_memory_limit_oom_kill_is_reported),
        T(test_stop_sigterm_then_sigkill_after_grace),
        T(test_exec_returns_output_and_exit_code),
        T(test_containers_share_the_sandbox_network_and_hostname),
        T(test_list_for_adoption),
        T(test_teardown_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
