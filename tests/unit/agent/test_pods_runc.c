/* The pod driver against the real runc (tags: root, slow ~30 s), run by
 * tests/integration/test_pods_runc.sh, which builds a busybox OCI archive
 * and passes it in SKIFF_TEST_PODS_IMAGE. Without it (a plain unit run),
 * or when not root or runc is missing, every case skips. The image is
 * imported into the node's store; pods use imagePullPolicy IfNotPresent.
 * Cases: a pod runs and logs; CrashLoopBackOff with growing restarts;
 * Never -> Failed exit 1; OOMKilled; a Secret volume and env; a missing
 * Secret; liveness and readiness probes; deletion with SIGTERM and grace
 * leaving nothing behind; adoption across a close/open of the driver, with
 * a pod gone meanwhile cleaned up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/pods.h"
#include "lib/fs.h"

#define IMAGE "127.0.0.1:5999/busybox:1.36"

struct fx {
    bool skip;
    char dir[64], node[32];
    uv_loop_t loop;
    struct agent_pods *p;
    json_t *statuses; /* key -> last status */
    json_t *removed;  /* key -> true once reported with NULL */
    json_t *secret;
    json_t *pods; /* key -> the pod last set (with the status last reported, as the store) */
    bool closed;
};

static struct fx *F;
static bool term_exit_7_seen; /* k/term reported terminated with 7 before removal */

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_status(void *data, const char *key, json_t *status)
{
    struct fx *f = data;
    if (status == NULL) {
        json_object_set_new(f->removed, key, json_true());
        json_object_del(f->statuses, key);
        return;
    }
    if (strcmp(key, "k/term") == 0) {
        const json_t *t = json_object_get(
            json_object_get(json_array_get(json_object_get(status, "containerStatuses"), 0),
                            "state"),
            "terminated");
        if (json_integer_value(json_object_get(t, "exitCode")) == 7)
            term_exit_7_seen = true;
    }
    json_object_set_new(f->statuses, key, status);
}

static const json_t *lookup(void *data, const char *kind, const char *ns, const char *name)
{
    struct fx *f = data;
    if (strcmp(kind, "Secret") == 0 && strcmp(ns, "default") == 0 && strcmp(name, "db") == 0)
        return f->secret;
    return NULL;
}

static void open_driver(struct fx *f)
{
    struct agent_pods_config cfg = {
        .node_name = f->node,
        .dir = f->dir,
        .node_ip = "127.0.0.1",
        .lookup = lookup,
        .lookup_data = f,
        .backoff_base_ms = 300,
        .tick_ms = 50,
    };
    struct err e;
    if (agent__pods_new(&f->loop, &cfg, on_status, f, &f->p, &e) != 0)
        fail_msg("pods_new: %s", e.msg);
}

static void on_closed(void *data)
{
    ((struct fx *)data)->closed = true;
}

static void close_driver(struct fx *f)
{
    int64_t t0 = ms_now();
    f->closed = false;
    agent__pods_close(f->p, on_closed, f);
    while (!f->closed && ms_now() - t0 < 30000)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->closed);
    f->p = NULL;
}

/* Runs the loop until pred(key) holds or timeout_ms passes. */
static bool run_until(bool (*pred)(struct fx *, const char *), const char *key, int timeout_ms)
{
    int64_t t0 = ms_now();
    while (ms_now() - t0 < timeout_ms) {
        if (pred(F, key))
            return true;
        uv_run(&F->loop, UV_RUN_ONCE);
    }
    return pred(F, key);
}

static void wait_for(bool (*pred)(struct fx *, const char *), const char *key, int timeout_ms,
                     const char *what)
{
    if (!run_until(pred, key, timeout_ms)) {
        char *s = json_dumps(json_object_get(F->statuses, key), JSON_INDENT(1));
        fail_msg("timed out waiting for %s of %s; last status:\n%s", what, key, s ? s : "none");
    }
}

static const json_t *cstatus(const char *key, size_t i)
{
    return json_array_get(json_object_get(json_object_get(F->statuses, key), "containerStatuses"),
                          i);
}

static const char *phase(const char *key)
{
    return json_string_value(json_object_get(json_object_get(F->statuses, key), "phase"));
}

static const char *waiting_reason(const char *key)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(cstatus(key, 0), "state"), "waiting"), "reason"));
}

static const json_t *terminated(const char *key)
{
    return json_object_get(json_object_get(cstatus(key, 0), "state"), "terminated");
}

static bool is_running(struct fx *f, const char *key)
{
    (void)f;
    return phase(key) && strcmp(phase(key), "Running") == 0 &&
           json_object_get(json_object_get(cstatus(key, 0), "state"), "running") != NULL;
}

static bool is_removed(struct fx *f, const char *key)
{
    return json_object_get(f->removed, key) != NULL;
}

static json_t *pod_json(const char *name, const char *uid, const char *policy,
                        const char *container_extra, const char *spec_extra)
{
    char text[4096];
    json_error_t jerr;
    json_t *pod;
    snprintf(text, sizeof text,
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"%s\"},"
             "\"spec\":{\"nodeName\":\"%s\",\"restartPolicy\":\"%s\","
             "\"terminationGracePeriodSeconds\":2%s%s,"
             "\"containers\":[{\"name\":\"c\",\"image\":\"" IMAGE "\","
             "\"imagePullPolicy\":\"IfNotPresent\"%s%s}]}}",
             name, uid, F->node, policy, spec_extra ? "," : "", spec_extra ? spec_extra : "",
             container_extra ? "," : "", container_extra ? container_extra : "");
    pod = json_loads(text, 0, &jerr);
    if (pod == NULL)
        fail_msg("pod json: %s: %s", jerr.text, text);
    return pod;
}

static void set_pod(const char *key, json_t *pod)
{
    json_object_set(F->pods, key, pod);
    agent__pods_set(F->p, key, pod);
    json_decref(pod);
}

static char *read_log(const char *name, const char *uid, int restart)
{
    char p[512];
    struct err e;
    FILE *f;
    char *buf = calloc(1, 65536);
    assert_int_equal(agent__log_path(F->dir, "default", name, uid, "c", restart, p, sizeof p, &e),
                     0);
    if ((f = fopen(p, "r")) != NULL) {
        buf[fread(buf, 1, 65535, f)] = '\0';
        fclose(f);
    }
    return buf;
}

static bool log_has(const char *name, const char *uid, const char *text)
{
    char *l = read_log(name, uid, 0);
    bool ok = strstr(l, text) != NULL;
    free(l);
    return ok;
}

/* Deletion: the pod with a deletionTimestamp (and grace), then wait for
 * the NULL report. */
static void delete_pod(const char *key, json_t *pod, int grace_s)
{
    json_t *md = json_object_get(pod, "metadata");
    json_object_set_new(md, "deletionTimestamp", json_string("2024-01-01T00:00:00Z"));
    json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(grace_s));
    set_pod(key, pod);
}

/* Nothing of uid remains: runc container, mount, cgroup, sandbox, dir. */
static void assert_gone(const char *uid)
{
    struct agent__runc r;
    struct agent__runc_state *l;
    struct agent__cg cg;
    char p[512], *mi;
    struct stat st;
    struct err e;
    size_t n, i;
    FILE *f;

    snprintf(p, sizeof p, "%s/runc", F->dir);
    assert_int_equal(agent__runc_init(&r, NULL, p, 10000, &e), 0);
    assert_int_equal(agent__runc_list(&r, &l, &n, &e), 0);
    for (i = 0; i < n; i++)
        if (strncmp(l[i].id, uid, strlen(uid)) == 0)
            fail_msg("runc container %s left", l[i].id);
    free(l);
    mi = calloc(1, 1 << 20);
    f = fopen("/proc/self/mountinfo", "r");
    mi[fread(mi, 1, (1 << 20) - 1, f)] = '\0';
    fclose(f);
    snprintf(p, sizeof p, "%s/pods/%s", F->dir, uid);
    if (strstr(mi, p) != NULL)
        fail_msg("mount left under %s", p);
    snprintf(p, sizeof p, "%s/sandboxes/%s", F->dir, uid);
    if (strstr(mi, p) != NULL)
        fail_msg("mount left under %s", p);
    free(mi);
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/pods/%s", F->dir, uid);
    assert_int_not_equal(stat(p, &st), 0);
    assert_int_equal(agent__cg_init(&cg, F->node, &e), 0);
    for (i = 0; i <= cg.n_v1; i++) {
        const char *mnt = i < cg.n_v1 ? cg.v1[i].mnt : cg.unified;
        if (mnt[0] == '\0')
            continue;
        snprintf(p, sizeof p, "%s/%s/pod%s", mnt, cg.parent, uid);
        if (stat(p, &st) == 0)
            fail_msg("cgroup left: %s", p);
    }
}

static pid_t runc_pid(const char *id)
{
    struct agent__runc r;
    struct agent__runc_state st;
    char p[512];
    struct err e;
    snprintf(p, sizeof p, "%s/runc", F->dir);
    agent__runc_init(&r, NULL, p, 10000, &e);
    if (agent__runc_state(&r, id, &st, &e) != 0)
        return 0;
    return st.pid;
}

/* ---- fixture ---- */

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *img = getenv("SKIFF_TEST_PODS_IMAGE");
    struct agent_image_store *s;
    struct agent__runc r;
    char p[128];
    struct err e;

    *state = F = f;
    if (img == NULL || geteuid() != 0 || agent__runc_init(&r, NULL, "/tmp", 0, &e) != 0 ||
        !agent__runc_available(&r)) {
        f->skip = true;
        return 0;
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/skiff-pods-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->node, sizeof f->node, "pt%d", (int)getpid());
    snprintf(p, sizeof p, "%s/images", f->dir);
    if (agent_image_store_open(p, &s, &e) != 0 ||
        agent_image_import(s, img, IMAGE, NULL, NULL, &e) != 0)
        fail_msg("import %s: %s", img, e.msg);
    agent_image_store_free(s);
    if (agent__rt_subreaper(&e) != 0)
        fail_msg("%s", e.msg);
    f->statuses = json_object();
    f->removed = json_object();
    f->pods = json_object();
    /* "czNjcmV0" is "s3cret" */
    f->secret = json_pack("{s:{s:s}}", "data", "pw", "czNjcmV0");
    uv_loop_init(&f->loop);
    open_driver(f);
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    struct agent__cg cg;
    char p[128];
    struct err e;
    if (!f->skip) {
        if (f->p != NULL)
            close_driver(f);
        assert_int_equal(uv_loop_close(&f->loop), 0);
        /* whatever a failed case left: the driver's own teardown by uid */
        if (agent__cg_init(&cg, f->node, &e) == 0 &&
            agent__cg_path(&cg, NULL, NULL, p, sizeof p, &e) == 0) {
            struct agent__pods_rt rt = {0};
            json_t *uids;
            const char *uid;
            json_t *v;
            snprintf(rt.dir, sizeof rt.dir, "%s", f->dir);
            snprintf(rt.sbroot, sizeof rt.sbroot, "%s/sandboxes", f->dir);
            snprintf(p, sizeof p, "%s/runc", f->dir);
            agent__runc_init(&rt.runc, NULL, p, 10000, &e);
            rt.cg = cg;
            if (agent__scan_run(&rt, &uids, &e) == 0) {
                json_object_foreach (uids, uid, v)
                    agent__teardown_run(&rt, uid, &e);
                json_decref(uids);
            }
            agent__cg_path(&cg, NULL, NULL, p, sizeof p, &e);
            if (agent__cg_remove(&cg, p, &e) != 0)
                print_error("node cgroup: %s\n", e.msg);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        fs_rmtree(f->dir);
        json_decref(f->statuses);
        json_decref(f->removed);
        json_decref(f->pods);
        json_decref(f->secret);
    }
    free(f);
    return 0;
}

static struct fx *live(void **state)
{
    struct fx *f = *state;
    if (f->skip)
        skip();
    return f;
}

/* ---- cases ---- */

static void test_pod_runs_and_its_log_has_its_output(void **state)
{
    live(state);
    json_t *pod = pod_json("hi", "u-hi", "Always",
                           "\"command\":[\"sh\",\"-c\",\"echo hi; sleep 1000\"]", NULL);
    const json_t *st;
    set_pod("k/hi", json_incref(pod));
    wait_for(is_running, "k/hi", 30000, "Running");
    st = json_object_get(F->statuses, "k/hi");
    assert_string_equal(json_string_value(json_object_get(st, "hostIP")), "127.0.0.1");
    assert_non_null(json_object_get(st, "startTime"));
    assert_non_null(strstr(json_string_value(json_object_get(cstatus("k/hi", 0), "imageID")),
                           "busybox@sha256:"));
    assert_true(json_is_true(json_object_get(cstatus("k/hi", 0), "ready")));
    for (int64_t t0 = ms_now(); !log_has("hi", "u-hi", "hi\n") && ms_now() - t0 < 5000;)
        uv_run(&F->loop, UV_RUN_NOWAIT), usleep(20000);
    assert_true(log_has("hi", "u-hi", "hi\n"));
    /* setting the same pod again changes nothing */
    set_pod("k/hi", json_incref(pod));
    assert_true(is_running(F, "k/hi"));
    json_decref(pod);
}

static bool crash_looping(struct fx *f, const char *key)
{
    static bool seen;
    (void)f;
    const char *r = waiting_reason(key);
    if (r && strcmp(r, "CrashLoopBackOff") == 0)
        seen = true;
    return seen && json_integer_value(json_object_get(cstatus(key, 0), "restartCount")) >= 3;
}

static void test_exit_1_under_always_crash_loops(void **state)
{
    live(state);
    const json_t *last;
    set_pod("k/crash", pod_json("crash", "u-crash", "Always",
                                "\"command\":[\"sh\",\"-c\",\"echo boom; exit 1\"]", NULL));
    wait_for(crash_looping, "k/crash", 30000, "CrashLoopBackOff and 3 restarts");
    assert_string_equal(phase("k/crash"), "Running");
    last = json_object_get(json_object_get(cstatus("k/crash", 0), "lastState"), "terminated");
    assert_int_equal(json_integer_value(json_object_get(last, "exitCode")), 1);
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "Error");
    /* each restart logs to its own file */
    char *l = read_log("crash", "u-crash", 2);
    assert_non_null(strstr(l, "boom"));
    free(l);
}

static bool finished(struct fx *f, const char *key)
{
    (void)f;
    return phase(key) &&
           (strcmp(phase(key), "Failed") == 0 || strcmp(phase(key), "Succeeded") == 0);
}

static void test_exit_1_under_never_fails_the_pod(void **state)
{
    live(state);
    set_pod("k/never",
            pod_json("never", "u-never", "Never", "\"command\":[\"sh\",\"-c\",\"exit 1\"]", NULL));
    wait_for(finished, "k/never", 30000, "Failed");
    assert_string_equal(phase("k/never"), "Failed");
    assert_int_equal(json_integer_value(json_object_get(terminated("k/never"), "exitCode")), 1);
    assert_int_equal(json_integer_value(json_object_get(cstatus("k/never", 0), "restartCount")), 0);
}

static void test_memory_limit_oom_killed(void **state)
{
    live(state);
    set_pod("k/oom", pod_json("oom", "u-oom", "Never",
                              "\"command\":[\"sh\",\"-c\",\"x=$(head -c 67108864 /dev/zero | tr "
                              "'\\\\0' a); echo survived\"],"
                              "\"resources\":{\"limits\":{\"memory\":\"32Mi\"}}",
                              NULL));
    wait_for(finished, "k/oom", 30000, "Failed");
    assert_string_equal(json_string_value(json_object_get(terminated("k/oom"), "reason")),
                        "OOMKilled");
    assert_int_equal(json_integer_value(json_object_get(terminated("k/oom"), "exitCode")), 137);
}

static bool log_has_secret(struct fx *f, const char *key)
{
    (void)f;
    (void)key;
    return log_has("sec", "u-sec", "file=s3cret env=s3cret ro=yes");
}

static void test_secret_volume_and_env(void **state)
{
    live(state);
    set_pod("k/sec",
            pod_json("sec", "u-sec", "Always",
                     "\"command\":[\"sh\",\"-c\",\"echo file=$(cat /etc/db/pw) env=$PW "
                     "ro=$(touch /etc/db/x 2>/dev/null && echo no || echo yes); sleep 1000\"],"
                     "\"env\":[{\"name\":\"PW\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"db\","
                     "\"key\":\"pw\"}}}],"
                     "\"volumeMounts\":[{\"name\":\"db\",\"mountPath\":\"/etc/db\"}]",
                     "\"volumes\":[{\"name\":\"db\",\"secret\":{\"secretName\":\"db\"}}]"));
    wait_for(log_has_secret, "k/sec", 30000, "the secret in the log");
}

static bool config_error(struct fx *f, const char *key)
{
    (void)f;
    const char *r = waiting_reason(key);
    return r && strcmp(r, "CreateContainerConfigError") == 0;
}

static void test_missing_secret_is_create_container_config_error(void **state)
{
    live(state);
    set_pod("k/nosec",
            pod_json("nosec", "u-nosec", "Always",
                     "\"command\":[\"sleep\",\"1000\"],"
                     "\"env\":[{\"name\":\"PW\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"gone\","
                     "\"key\":\"pw\"}}}]",
                     NULL));
    wait_for(config_error, "k/nosec", 30000, "CreateContainerConfigError");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(cstatus("k/nosec", 0), "state"), "waiting"),
            "message")),
        "secret \"gone\" not found");
    assert_string_equal(phase("k/nosec"), "Pending");
}

static bool ready_true(struct fx *f, const char *key)
{
    (void)f;
    return json_is_true(json_object_get(cstatus(key, 0), "ready"));
}

static bool ready_false_running(struct fx *f, const char *key)
{
    return is_running(f, key) && !json_is_true(json_object_get(cstatus(key, 0), "ready"));
}

static bool restarted(struct fx *f, const char *key)
{
    (void)f;
    return json_integer_value(json_object_get(cstatus(key, 0), "restartCount")) >= 1;
}

static void test_probes_readiness_and_liveness(void **state)
{
    live(state);
    set_pod("k/probe",
            pod_json("probe", "u-probe", "Always",
                     "\"command\":[\"sh\",\"-c\",\"touch /tmp/ready /tmp/ok; sleep 3; rm "
                     "/tmp/ready; sleep 3; rm /tmp/ok; sleep 1000\"],"
                     "\"readinessProbe\":{\"exec\":{\"command\":[\"test\",\"-f\",\"/tmp/ready\"]},"
                     "\"periodSeconds\":1,\"failureThreshold\":1},"
                     "\"livenessProbe\":{\"exec\":{\"command\":[\"test\",\"-f\",\"/tmp/ok\"]},"
                     "\"periodSeconds\":1,\"failureThreshold\":2}",
                     NULL));
    wait_for(ready_true, "k/probe", 30000, "Ready");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(F->statuses, "k/probe"), "conditions"),
                           3),
            "status")),
        "True");
    wait_for(ready_false_running, "k/probe", 15000, "not Ready");
    wait_for(restarted, "k/probe", 20000, "a liveness restart");
}

static void test_delete_sigterm_grace_and_nothing_left(void **state)
{
    live(state);
    json_t *pod = pod_json("term", "u-term", "Always",
                           "\"command\":[\"sh\",\"-c\",\"trap 'exit 7' TERM; echo ready; while "
                           "true; do sleep 0.1; done\"]",
                           NULL);
    json_t *deaf = pod_json("deaf", "u-deaf", "Always", "\"command\":[\"sleep\",\"1000\"]", NULL);
    int64_t t0;
    set_pod("k/term", json_incref(pod));
    set_pod("k/deaf", json_incref(deaf));
    wait_for(is_running, "k/term", 30000, "Running");
    wait_for(is_running, "k/deaf", 30000, "Running");
    for (t0 = ms_now(); !log_has("term", "u-term", "ready") && ms_now() - t0 < 5000;)
        uv_run(&F->loop, UV_RUN_NOWAIT), usleep(20000);

    /* SIGTERM handled: exit 7, well before the 10 s grace */
    t0 = ms_now();
    delete_pod("k/term", pod, 10);
    wait_for(is_removed, "k/term", 20000, "removal");
    assert_true(ms_now() - t0 < 5000);
    assert_true(term_exit_7_seen);
    assert_gone("u-term");

    /* pid 1 without a handler ignores SIGTERM: SIGKILL after the grace */
    t0 = ms_now();
    delete_pod("k/deaf", deaf, 1);
    wait_for(is_removed, "k/deaf", 20000, "removal");
    assert_true(ms_now() - t0 >= 1000);
    assert_gone("u-deaf");
}

static void test_adoption_keeps_running_containers_and_cleans_gone_pods(void **state)
{
    struct fx *f = live(state);
    json_t *keep = pod_json("keep", "u-keep", "Always", "\"command\":[\"sleep\",\"1000\"]", NULL);
    json_t *gone = pod_json("gone", "u-gone", "Always", "\"command\":[\"sleep\",\"1000\"]", NULL);
    const char *started;
    char started_before[32];
    pid_t pid;

    set_pod("k/keep", json_incref(keep));
    set_pod("k/gone", gone);
    wait_for(is_running, "k/keep", 30000, "Running");
    wait_for(is_running, "k/gone", 30000, "Running");
    pid = runc_pid("u-keep_c");
    assert_true(pid > 0);
    started = json_string_value(json_object_get(
        json_object_get(json_object_get(cstatus("k/keep", 0), "state"), "running"), "startedAt"));
    snprintf(started_before, sizeof started_before, "%s", started);

    close_driver(f);
    assert_int_equal(runc_pid("u-keep_c"), pid); /* closing stops nothing */
    open_driver(f);
    /* agent.c's initial list: every pod still in the store, with the status
     * written for it (the new driver starts from it), then synced */
    {
        const char *k;
        json_t *v, *copy;
        json_object_del(f->pods, "k/gone");
        json_object_foreach (f->pods, k, v) {
            if (json_object_get(f->removed, k) != NULL)
                continue;
            copy = json_deep_copy(v);
            if (json_object_get(f->statuses, k) != NULL)
                json_object_set(copy, "status", json_object_get(f->statuses, k));
            agent__pods_set(f->p, k, copy);
            json_decref(copy);
        }
    }
    json_object_clear(f->statuses);
    agent__pods_synced(f->p);
    wait_for(is_running, "k/keep", 30000, "Running after adoption");
    assert_int_equal(runc_pid("u-keep_c"), pid);
    assert_int_equal(json_integer_value(json_object_get(cstatus("k/keep", 0), "restartCount")), 0);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(cstatus("k/keep", 0), "state"), "running"),
            "startedAt")),
        started_before);
    /* the pod deleted while no driver ran is torn down */
    for (int64_t t0 = ms_now(); runc_pid("u-gone_c") != 0 && ms_now() - t0 < 20000;)
        uv_run(&F->loop, UV_RUN_ONCE);
    for (int64_t t0 = ms_now(); ms_now() - t0 < 500;)
        uv_run(&F->loop, UV_RUN_NOWAIT), usleep(20000);
    assert_gone("u-gone");
    /* a pod that disappears from the store (no deletionTimestamp) goes too */
    agent__pods_set(f->p, "k/keep", NULL);
    for (int64_t t0 = ms_now(); runc_pid("u-keep_c") != 0 && ms_now() - t0 < 20000;)
        uv_run(&F->loop, UV_RUN_ONCE);
    for (int64_t t0 = ms_now(); ms_now() - t0 < 500;)
        uv_run(&F->loop, UV_RUN_NOWAIT), usleep(20000);
    assert_gone("u-keep");
    json_decref(keep);
}

/* Runs last: every pod deleted, nothing of any left. */
static void test_delete_everything_leaves_nothing(void **state)
{
    static const char *const names[] = {"hi", "crash", "never", "oom", "sec", "nosec", "probe"};
    size_t i;
    char key[64], uid[64];
    live(state);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(key, sizeof key, "k/%s", names[i]);
        snprintf(uid, sizeof uid, "u-%s", names[i]);
        delete_pod(key, pod_json(names[i], uid, "Always", NULL, NULL), 0);
    }
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(key, sizeof key, "k/%s", names[i]);
        snprintf(uid, sizeof uid, "u-%s", names[i]);
        wait_for(is_removed, key, 30000, "removal");
        assert_gone(uid);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_runs_and_its_log_has_its_output),
        cmocka_unit_test(test_exit_1_under_always_crash_loops),
        cmocka_unit_test(test_exit_1_under_never_fails_the_pod),
        cmocka_unit_test(test_memory_limit_oom_killed),
        cmocka_unit_test(test_secret_volume_and_env),
        cmocka_unit_test(test_missing_secret_is_create_container_config_error),
        cmocka_unit_test(test_probes_readiness_and_liveness),
        cmocka_unit_test(test_delete_sigterm_grace_and_nothing_left),
        cmocka_unit_test(test_adoption_keeps_running_containers_and_cleans_gone_pods),
        cmocka_unit_test(test_delete_everything_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
