/* agent/pods: the pod driver's loop side (see agent/pods.h). Each pod is a
 * small state machine advanced by sync(): on agent__pods_set, when a job
 * comes back, and on a housekeeping tick that runs restarts due after their
 * back-off, probes, the grace deadline of stopping containers and log
 * rotation. A status is computed after every step and reported only when
 * it differs from the last one reported. */
#include "agent/pods.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/queue.h"

#define KEY_MAX          512
#define BACKOFF_FACTOR   30               /* max = 30 x base: 10 s .. 5 min */
#define BACKOFF_RESET_MS (10 * 60 * 1000) /* a container that ran this long starts afresh */
#define CONFIG_RETRY_MS  2000             /* missing Secret/ConfigMap: look again */
#define ROTATE_EVERY_MS  10000
#define PULL_ERR_SHOW_MS 1000 /* ErrImagePull, then ImagePullBackOff */
#define REFRESH_EVERY_MS 1000 /* Secret/ConfigMap volumes compared with the replica */
#define IMAGE_GC_EVERY_MS (5 * 60 * 1000)

enum { PROBE_LIVE = 0, PROBE_READY, PROBE_STARTUP, N_PROBES };
static const char *const probe_keys[N_PROBES] = {"livenessProbe", "readinessProbe", "startupProbe"};

enum {
    PS_WAIT = 0, /* the adoption scan is still running */
    PS_NEW,      /* to set up (sandbox, volumes) or adopt */
    PS_SETUP,    /* setup job in flight */
    PS_UP,       /* containers run */
    PS_FINISHED, /* first seen finished: nothing to run */
    PS_TEARDOWN, /* teardown job in flight */
    PS_DONE,     /* torn down, waiting for its last job/handle to free it */
};

struct probe {
    const json_t *spec; /* in pod->obj0 */
    uint64_t next_ms;
    int succ, fail;
    bool busy;
};

struct pod;

struct ctr {
    struct pod *pod;
    const json_t *spec; /* in pod->obj0 */
    bool init;
    size_t idx;
    char id[160];
    struct agent__ctr_obs o;
    pid_t pid;
    int pidfd;
    uv_poll_t poll;
    bool polling, poll_closing;
    bool busy;       /* launch or finish in flight */
    bool killing;    /* a runc kill in flight */
    bool done;       /* terminated for good */
    bool ran_before; /* an instance ran: the next one counts as a restart */
    bool term_sent, kill_sent;
    uint64_t kill_at_ms; /* SIGKILL after this, once term_sent */
    int crashes, image_fails;
    uint64_t next_start_ms, run_start_ms, pull_failed_ms;
    struct probe pr[N_PROBES];
};

struct pod {
    struct agent_pods *p;
    queue link;
    char key[KEY_MAX];
    char uid[64], ns[64], name[256], hostname[64];
    char ip[16]; /* from the pod network, "" before (or without one) */
    json_t *vol_rv; /* Secret/ConfigMap volume name -> resourceVersion projected */
    bool refreshing;
    json_t *obj0; /* the pod as first seen: its spec is what runs */
    json_t *obj;  /* the latest */
    bool gone, deleting, stopping, busy;
    uint64_t stop_at_ms, grace_ms, retry_ms;
    int stage;
    struct agent__sandbox sb;
    struct ctr *c; /* init containers first, then containers */
    size_t n_init, n;
    char start_time[32];
    json_t *reported; /* last status given to the callback (or the pod's own) */
    int refs;         /* jobs and handles in flight */
};

struct agent_pods {
    uv_loop_t *loop;
    struct agent__pods_rt rt;
    char node[256], node_ip[64];
    struct agent_image_registry *regs;
    char **reg_strs;
    size_t n_regs;
    agent_pods_lookup_cb lookup;
    void *lookup_data;
    agent_pods_dns_cb net_dns;
    agent_pods_services_cb services;
    void *net_data;
    agent_pods_status_cb cb;
    void *data;
    uint64_t backoff_base_ms, log_max_bytes, next_rotate_ms, next_refresh_ms, next_gc_ms;
    bool gc_running;
    struct agent_image_gc_opts gc;
    queue pods;
    uv_timer_t tick;
    json_t *found; /* the scan's uids; NULL until it is back */
    bool synced, closing, rotating, orphans_done;
    int jobs; /* all jobs in flight, and open handles besides tick */
    void (*close_cb)(void *);
    void *close_data;
    bool tick_closed;
};

struct job {
    uv_work_t req;
    struct agent_pods *p;
    struct pod *pod;
    struct ctr *c;
    int kind;
    /* inputs/outputs by kind */
    struct agent__launch *launch;
    struct agent__finish *finish;
    struct agent__setup *setup;
    char uid[64], id[160];
    int sig;
    const json_t *probe; /* owned copy */
    int probe_kind;
    char netns[PATH_MAX];
    bool ok;
    char msg[256];
    json_t *found;
    char (*logs)[PATH_MAX];
    size_t n_logs;
    json_t *gc_pods; /* J_GC: the pods whose images stay */
    struct agent_image_gc_result gc;
    int rv;
    struct err err;
};

enum {
    J_SCAN = 1,
    J_SETUP,
    J_LAUNCH,
    J_FINISH,
    J_KILL,
    J_TEARDOWN,
    J_PROBE,
    J_ROTATE,
    J_REFRESH,
    J_GC
};

static void sync_pod(struct pod *pod);
static void emit(struct pod *pod);
static void maybe_free(struct pod *pod);
static void maybe_closed(struct agent_pods *p);
static void clean_orphans(struct agent_pods *p);

static uint64_t now_ms(struct agent_pods *p)
{
    uv_update_time(p->loop);
    return uv_now(p->loop);
}

/* ------------------------------------------------------------------ */
/* jobs                                                                */

static void work(uv_work_t *req)
{
    struct job *j = req->data;
    const struct agent__pods_rt *rt = &j->p->rt;
    size_t i;
    switch (j->kind) {
    case J_SCAN:
        j->rv = agent__scan_run(rt, &j->found, &j->err);
        break;
    case J_SETUP:
        agent__setup_run(j->setup);
        break;
    case J_LAUNCH:
        agent__launch_run(j->launch);
        break;
    case J_FINISH:
        agent__finish_run(j->finish);
        break;
    case J_KILL:
        j->rv = agent__runc_kill(&rt->runc, j->id, j->sig, j->sig == SIGKILL, &j->err);
        break;
    case J_TEARDOWN:
        j->rv = agent__teardown_run(rt, j->uid, &j->err);
        break;
    case J_PROBE:
        j->rv = agent__probe_run(j->probe, &rt->runc, j->id, j->netns[0] ? j->netns : NULL, &j->ok,
                                 j->msg, sizeof j->msg, &j->err);
        break;
    case J_REFRESH:
        agent__refresh_run(j->setup);
        break;
    case J_GC: {
        const char **v = NULL;
        size_t n = 0;
        j->rv = agent_image_gc_in_use(j->gc_pods, &v, &n, &j->err);
        if (j->rv == 0)
            j->rv = agent_image_gc_disk(rt->images, v, n, &j->p->gc, &j->gc, &j->err);
        free(v);
        break;
    }
    case J_ROTATE:
        for (i = 0; i < j->n_logs; i++) {
            bool rotated;
            struct err e;
            if (agent__log_rotate(j->logs[i], j->p->log_max_bytes, &rotated, &e) != 0)
                LOG_WARN("agent", "log_rotate_failed", "err=\"%s\"", e.msg);
        }
        break;
    }
}

static void after_work(uv_work_t *req, int status);

static struct job *job_new(struct agent_pods *p, struct pod *pod, struct ctr *c, int kind)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->req.data = j;
    j->p = p;
    j->pod = pod;
    j->c = c;
    j->kind = kind;
    return j;
}

static void job_free(struct job *j)
{
    agent__launch_free(j->launch);
    if (j->finish != NULL)
        json_decref(j->finish->last);
    free(j->finish);
    agent__setup_free(j->setup);
    json_decref((json_t *)j->probe);
    json_decref(j->found);
    json_decref(j->gc_pods);
    free(j->logs);
    free(j);
}

static bool job_submit(struct job *j)
{
    if (uv_queue_work(j->p->loop, &j->req, work, after_work) != 0) {
        job_free(j);
        return false;
    }
    j->p->jobs++;
    if (j->pod != NULL)
        j->pod->refs++;
    return true;
}

/* ------------------------------------------------------------------ */
/* pods and containers                                                 */

static const char *policy_of(const struct pod *pod)
{
    const char *s =
        json_string_value(json_object_get(json_object_get(pod->obj0, "spec"), "restartPolicy"));
    return s ? s : "Always";
}

static bool host_network(const struct pod *pod)
{
    return json_is_true(json_object_get(json_object_get(pod->obj0, "spec"), "hostNetwork"));
}

static const char *pod_ip(const struct pod *pod)
{
    return host_network(pod) ? pod->p->node_ip : pod->ip;
}

/* Does the pod get the cluster DNS in its resolv.conf? (kubelet's
 * dnsPolicy: ClusterFirst, the default, unless on the host network, where
 * only ClusterFirstWithHostNet asks for it.) */
static bool cluster_dns(const struct pod *pod)
{
    const char *pol =
        json_string_value(json_object_get(json_object_get(pod->obj0, "spec"), "dnsPolicy"));
    if (pol != NULL && strcmp(pol, "ClusterFirstWithHostNet") == 0)
        return true;
    return !host_network(pod) && (pol == NULL || strcmp(pol, "ClusterFirst") == 0);
}

static struct pod *find(struct agent_pods *p, const char *key)
{
    queue *q;
    QUEUE_FOREACH (q, &p->pods) {
        struct pod *pod = QUEUE_DATA(q, struct pod, link);
        if (strcmp(pod->key, key) == 0)
            return pod;
    }
    return NULL;
}

static void set_waiting(struct ctr *c, const char *reason, const char *msg)
{
    c->o.state = AGENT_CS_WAITING;
    snprintf(c->o.reason, sizeof c->o.reason, "%s", reason);
    snprintf(c->o.message, sizeof c->o.message, "%s", msg ? msg : "");
    c->o.ready = c->o.started = false;
}

static void hostname_of(struct pod *pod)
{
    const json_t *spec = json_object_get(pod->obj0, "spec");
    const char *h = json_string_value(json_object_get(spec, "hostname"));
    size_t n;
    snprintf(pod->hostname, sizeof pod->hostname, "%s", h ? h : pod->name);
    /* kubelet truncates to 63 and trims a trailing '-' or '.' */
    n = strlen(pod->hostname);
    while (n > 0 && (pod->hostname[n - 1] == '-' || pod->hostname[n - 1] == '.'))
        pod->hostname[--n] = '\0';
}

static uint64_t grace_ms_of(const json_t *pod)
{
    const json_t *md = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
    const json_t *g = json_object_get(md, "deletionGracePeriodSeconds");
    if (!json_is_integer(g))
        g = json_object_get(spec, "terminationGracePeriodSeconds");
    if (!json_is_integer(g))
        return 30000;
    return json_integer_value(g) > 0 ? (uint64_t)json_integer_value(g) * 1000 : 0;
}

static struct pod *pod_new(struct agent_pods *p, const char *key, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata"), *spec = json_object_get(obj, "spec");
    const char *uid = json_string_value(json_object_get(md, "uid"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    const json_t *inits = json_object_get(spec, "initContainers");
    const json_t *ctrs = json_object_get(spec, "containers"), *v;
    const char *st;
    struct pod *pod;
    size_t i, k;

    if (uid == NULL || name == NULL || strlen(uid) >= sizeof pod->uid || strchr(uid, '_') != NULL ||
        strchr(uid, '/') != NULL || strlen(key) >= KEY_MAX) {
        LOG_WARN("agent", "pod_refused", "pod=%s err=\"metadata.uid: unusable\"", key);
        return NULL;
    }
    if ((pod = calloc(1, sizeof *pod)) == NULL)
        return NULL;
    pod->p = p;
    snprintf(pod->key, sizeof pod->key, "%s", key);
    snprintf(pod->uid, sizeof pod->uid, "%s", uid);
    snprintf(pod->ns, sizeof pod->ns, "%s", ns ? ns : "default");
    snprintf(pod->name, sizeof pod->name, "%s", name);
    pod->obj0 = json_deep_copy(obj);
    pod->obj = json_incref(pod->obj0);
    pod->n_init = json_array_size(inits);
    pod->n = pod->n_init + json_array_size(ctrs);
    pod->c = calloc(pod->n ? pod->n : 1, sizeof *pod->c);
    if (pod->obj0 == NULL || pod->c == NULL) {
        json_decref(pod->obj0);
        json_decref(pod->obj);
        free(pod->c);
        free(pod);
        return NULL;
    }
    hostname_of(pod);
    spec = json_object_get(pod->obj0, "spec");
    for (i = 0; i < pod->n; i++) {
        struct ctr *c = &pod->c[i];
        bool init = i < pod->n_init;
        v = json_array_get(json_object_get(spec, init ? "initContainers" : "containers"),
                           init ? i : i - pod->n_init);
        c->pod = pod;
        c->spec = v;
        c->init = init;
        c->idx = init ? i : i - pod->n_init;
        c->pidfd = -1;
        c->o.name = json_string_value(json_object_get(v, "name"));
        c->o.name = c->o.name ? c->o.name : "";
        c->o.image = json_string_value(json_object_get(v, "image"));
        snprintf(c->id, sizeof c->id, "%s_%s", uid, c->o.name);
        set_waiting(c, init || pod->n_init == 0 ? "ContainerCreating" : "PodInitializing", NULL);
        for (k = 0; k < N_PROBES; k++)
            c->pr[k].spec = json_object_get(v, probe_keys[k]);
    }
    pod->reported = json_deep_copy(json_object_get(obj, "status"));
    st = json_string_value(json_object_get(pod->reported, "startTime"));
    snprintf(pod->start_time, sizeof pod->start_time, "%s", st ? st : "");
    pod->stage = p->found ? PS_NEW : PS_WAIT;
    QUEUE_PUSH(&p->pods, &pod->link);
    return pod;
}

static void pod_free(struct pod *pod)
{
    QUEUE_REMOVE(&pod->link);
    json_decref(pod->obj0);
    json_decref(pod->obj);
    json_decref(pod->reported);
    json_decref(pod->vol_rv);
    free(pod->c);
    free(pod);
}

static void maybe_free(struct pod *pod)
{
    struct agent_pods *p = pod->p;
    if (pod->refs > 0)
        return;
    if (pod->stage == PS_DONE || p->closing)
        pod_free(pod);
    maybe_closed(p);
}

/* ------------------------------------------------------------------ */
/* status                                                              */

static void emit(struct pod *pod)
{
    struct agent_pods *p = pod->p;
    const struct agent__ctr_obs *init[64], *ctrs[64];
    const struct agent__ctr_obs **iv = init, **cv = ctrs;
    struct agent__pod_obs o = {0};
    char now[32];
    json_t *st, *copy;
    size_t i;

    if (p->closing || pod->gone || pod->stage == PS_WAIT || pod->stage == PS_FINISHED ||
        pod->stage == PS_DONE || p->cb == NULL)
        return;
    if (pod->n > 64) {
        iv = calloc(pod->n, sizeof *iv);
        cv = calloc(pod->n, sizeof *cv);
        if (iv == NULL || cv == NULL)
            goto out;
    }
    for (i = 0; i < pod->n_init; i++)
        iv[i] = &pod->c[i].o;
    for (i = pod->n_init; i < pod->n; i++)
        cv[i - pod->n_init] = &pod->c[i].o;
    agent__now_rfc3339(now);
    o.pod = pod->obj0;
    o.prev = pod->reported;
    o.init = iv;
    o.n_init = pod->n_init;
    o.ctrs = cv;
    o.n_ctrs = pod->n - pod->n_init;
    o.host_ip = p->node_ip;
    o.pod_ip = pod_ip(pod);
    o.start_time = pod->start_time;
    o.now = now;
    st = agent__pod_status(&o);
    if (st == NULL || json_equal(st, pod->reported)) {
        json_decref(st);
        goto out;
    }
    copy = json_deep_copy(st);
    json_decref(pod->reported);
    pod->reported = st;
    if (copy != NULL) {
        LOG_DEBUG("agent", "pod_status", "pod=%s/%s phase=%s", pod->ns, pod->name,
                  json_string_value(json_object_get(st, "phase")));
        p->cb(p->data, pod->key, copy);
    }
out:
    if (iv != init) {
        free(iv);
        free(cv);
    }
}

/* ------------------------------------------------------------------ */
/* container exits                                                     */

static void start_probes(struct ctr *c, uint64_t now)
{
    size_t k;
    for (k = 0; k < N_PROBES; k++) {
        json_int_t d = json_integer_value(json_object_get(c->pr[k].spec, "initialDelaySeconds"));
        c->pr[k].next_ms = now + (uint64_t)(d > 0 ? d * 1000 : 0);
        c->pr[k].succ = c->pr[k].fail = 0;
    }
    c->o.started = c->pr[PROBE_STARTUP].spec == NULL;
    c->o.ready = c->pr[PROBE_READY].spec == NULL && c->o.started;
}

static void on_poll_closed(uv_handle_t *h)
{
    struct ctr *c = h->data;
    struct pod *pod = c->pod;
    close(c->pidfd);
    c->pidfd = -1;
    c->poll_closing = false;
    pod->refs--;
    pod->p->jobs--;
    maybe_free(pod);
}

static void stop_poll(struct ctr *c)
{
    if (!c->polling)
        return;
    c->polling = false;
    c->poll_closing = true;
    uv_close((uv_handle_t *)&c->poll, on_poll_closed);
}

static void submit_finish(struct ctr *c)
{
    struct pod *pod = c->pod;
    struct job *j = job_new(pod->p, pod, c, J_FINISH);
    struct agent__finish *f = calloc(1, sizeof *f);
    if (j == NULL || f == NULL) {
        free(j);
        free(f);
        return; /* retried by the tick: the container still shows running */
    }
    f->rt = &pod->p->rt;
    snprintf(f->uid, sizeof f->uid, "%s", pod->uid);
    snprintf(f->ctr, sizeof f->ctr, "%s", c->o.name);
    snprintf(f->id, sizeof f->id, "%s", c->id);
    f->pid = c->pid;
    snprintf(f->started_at, sizeof f->started_at, "%s", c->o.started_at);
    f->restarts = c->o.restarts;
    snprintf(f->image_id, sizeof f->image_id, "%s", c->o.image_id);
    if (c->o.has_last)
        f->last = json_pack("{s:i, s:s, s:s, s:s}", "exitCode", c->o.last.exit_code, "reason",
                            c->o.last.reason, "startedAt", c->o.last.started_at, "finishedAt",
                            c->o.last.finished_at);
    j->finish = f;
    if (job_submit(j))
        c->busy = true;
}

static void on_exit_readable(uv_poll_t *h, int status, int events)
{
    struct ctr *c = h->data;
    (void)status;
    (void)events;
    stop_poll(c);
    if (!c->busy)
        submit_finish(c);
}

static void watch_exit(struct ctr *c)
{
    struct agent_pods *p = c->pod->p;
    struct err e;
    c->pidfd = agent__ctr_pidfd(c->pid, &e);
    if (c->pidfd < 0 || uv_poll_init(p->loop, &c->poll, c->pidfd) != 0) {
        if (c->pidfd >= 0)
            close(c->pidfd);
        c->pidfd = -1;
        submit_finish(c); /* gone already */
        return;
    }
    c->poll.data = c;
    uv_poll_start(&c->poll, UV_READABLE, on_exit_readable);
    c->polling = true;
    c->pod->refs++;
    p->jobs++;
}

/* Kubernetes' restart rules for a container that just terminated. */
static bool should_restart(const struct pod *pod, const struct ctr *c)
{
    const char *policy = policy_of(pod);
    if (pod->stopping)
        return false;
    if (c->init)
        return c->o.term.exit_code != 0 && strcmp(policy, "Never") != 0;
    if (strcmp(policy, "Always") == 0)
        return true;
    return strcmp(policy, "OnFailure") == 0 && c->o.term.exit_code != 0;
}

static void after_exit(struct ctr *c, uint64_t now)
{
    struct pod *pod = c->pod;
    struct agent_pods *p = pod->p;
    uint64_t delay;
    char msg[256];

    c->o.ready = c->o.started = false;
    c->term_sent = c->kill_sent = false;
    LOG_INFO("agent", "container_exited", "pod=%s/%s container=%s exit=%d reason=%s", pod->ns,
             pod->name, c->o.name, c->o.term.exit_code, c->o.term.reason);
    if (!should_restart(pod, c)) {
        c->done = true;
        return;
    }
    if (now - c->run_start_ms >= BACKOFF_RESET_MS)
        c->crashes = 0;
    c->crashes++;
    delay = agent__backoff_ms(p->backoff_base_ms, p->backoff_base_ms * BACKOFF_FACTOR, c->crashes);
    c->next_start_ms = now + delay;
    c->o.has_last = true;
    c->o.last = c->o.term;
    if (delay > 0) {
        snprintf(msg, sizeof msg, "back-off %llus restarting failed container=%s pod=%s_%s(%s)",
                 (unsigned long long)(delay + 999) / 1000, c->o.name, pod->name, pod->ns, pod->uid);
        set_waiting(c, "CrashLoopBackOff", msg);
    }
}

/* ------------------------------------------------------------------ */
/* launching a container                                               */

static int volume_source(const struct pod *pod, const char *name, const char *sub, char *buf,
                         size_t cap, bool *ro)
{
    const json_t *vols = json_object_get(json_object_get(pod->obj0, "spec"), "volumes"), *v;
    size_t i;
    json_array_foreach (vols, i, v) {
        const char *n = json_string_value(json_object_get(v, "name"));
        const json_t *hp = json_object_get(v, "hostPath");
        if (n == NULL || strcmp(n, name) != 0)
            continue;
        *ro = json_object_get(v, "secret") != NULL || json_object_get(v, "configMap") != NULL;
        if (hp != NULL)
            snprintf(buf, cap, "%s%s%s", json_string_value(json_object_get(hp, "path")),
                     sub[0] ? "/" : "", sub);
        else
            snprintf(buf, cap, "%s/pods/%s/volumes/%s%s%s", pod->p->rt.dir, pod->uid, name,
                     sub[0] ? "/" : "", sub);
        return 0;
    }
    return ERR_NOTFOUND;
}

static int mounts_of(struct ctr *c, struct agent__launch *l, struct err *e)
{
    const json_t *vms = json_object_get(c->spec, "volumeMounts"), *vm;
    size_t n = json_array_size(vms), i;
    l->mounts = calloc(n ? n : 1, sizeof *l->mounts);
    l->mount_strs = calloc(2 * n + 1, sizeof *l->mount_strs);
    if (l->mounts == NULL || l->mount_strs == NULL)
        return err_setf(e, ERR_NOMEM, "mounts: out of memory");
    json_array_foreach (vms, i, vm) {
        const char *name = json_string_value(json_object_get(vm, "name"));
        const char *path = json_string_value(json_object_get(vm, "mountPath"));
        const char *sub = json_string_value(json_object_get(vm, "subPath"));
        char src[PATH_MAX];
        bool ro = false;
        if (name == NULL || path == NULL)
            return err_setf(e, ERR_INVALID, "%s.volumeMounts[%zu]: name and mountPath required",
                            l->field, i);
        if (sub != NULL && (strstr(sub, "..") != NULL || sub[0] == '/'))
            return err_setf(e, ERR_INVALID, "%s.volumeMounts[%zu].subPath: must be relative",
                            l->field, i);
        if (volume_source(c->pod, name, sub ? sub : "", src, sizeof src, &ro) != 0)
            return err_setf(e, ERR_INVALID, "%s.volumeMounts[%zu].name: volume \"%s\" not found",
                            l->field, i, name);
        l->mount_strs[2 * i] = strdup(src);
        l->mount_strs[2 * i + 1] = strdup(path);
        l->n_mounts = i + 1;
        if (l->mount_strs[2 * i] == NULL || l->mount_strs[2 * i + 1] == NULL)
            return err_setf(e, ERR_NOMEM, "mounts: out of memory");
        l->mounts[i] =
            (struct agent__mount){l->mount_strs[2 * i], l->mount_strs[2 * i + 1],
                                  ro || json_is_true(json_object_get(vm, "readOnly")), false};
    }
    return 0;
}

static const char *pull_policy(const json_t *ctr)
{
    const char *p = json_string_value(json_object_get(ctr, "imagePullPolicy"));
    const char *img = json_string_value(json_object_get(ctr, "image"));
    const char *slash, *colon;
    if (p != NULL)
        return p;
    /* the API's default: Always for :latest or no tag, else IfNotPresent */
    if (img == NULL || strchr(img, '@') != NULL)
        return "IfNotPresent";
    slash = strrchr(img, '/');
    colon = strrchr(slash ? slash : img, ':');
    return colon == NULL || strcmp(colon, ":latest") == 0 ? "Always" : "IfNotPresent";
}

/* spec.imagePullSecrets: the credentials for this container's image, read
 * now from the replica (a missing Secret is skipped, as kubelet does). */
static int pull_cred(struct ctr *c, struct agent__launch *l, struct err *e)
{
    struct pod *pod = c->pod;
    const char *image = json_string_value(json_object_get(c->spec, "image"));
    char missing[256] = "";
    if (pod->p->lookup == NULL || image == NULL ||
        json_array_size(json_object_get(json_object_get(pod->obj0, "spec"), "imagePullSecrets")) ==
            0)
        return 0;
    if (agent__pullsecret_for_image(pod->obj0, image, pod->p->lookup, pod->p->lookup_data,
                                    &l->cred, &l->has_cred, missing, sizeof missing, e) != 0)
        return ERR_INVALID;
    if (missing[0] != '\0')
        LOG_WARN("agent", "pull_secret_missing", "pod=%s/%s secrets=\"%s\"", pod->ns, pod->name,
                 missing);
    return 0;
}

/* The service variables of the Services that exist now (kubelet's
 * getServiceEnvVarMap), after the container's own env, which wins. */
static int service_env(const struct pod *pod, struct agent__envset *env, struct err *e)
{
    const json_t *links =
        json_object_get(json_object_get(pod->obj0, "spec"), "enableServiceLinks");
    json_t *svcs;
    int rv;
    if (pod->p->services == NULL || json_is_false(links))
        return 0;
    if ((svcs = pod->p->services(pod->p->net_data, pod->ns)) == NULL)
        return 0;
    rv = agent__env_services(svcs, true, env, e);
    json_decref(svcs);
    return rv;
}

static void try_start(struct ctr *c, uint64_t now)
{
    struct pod *pod = c->pod;
    struct agent_pods *p = pod->p;
    struct agent__launch *l = calloc(1, sizeof *l);
    struct job *j;
    struct err e;

    if (l == NULL)
        return;
    l->rt = &p->rt;
    snprintf(l->field, sizeof l->field, "spec.%s[%zu]", c->init ? "initContainers" : "containers",
             c->idx);
    snprintf(l->uid, sizeof l->uid, "%s", pod->uid);
    snprintf(l->ctr, sizeof l->ctr, "%s", c->o.name);
    snprintf(l->id, sizeof l->id, "%s", c->id);
    snprintf(l->ns, sizeof l->ns, "%s", pod->ns);
    snprintf(l->name, sizeof l->name, "%s", pod->name);
    snprintf(l->policy, sizeof l->policy, "%s", pull_policy(c->spec));
    l->sb = pod->sb;
    l->restart = c->o.restarts + (c->ran_before ? 1 : 0);
    l->pod = json_deep_copy(pod->obj0);
    l->container = json_array_get(
        json_object_get(json_object_get(l->pod, "spec"), c->init ? "initContainers" : "containers"),
        c->idx);
    if (c->o.has_last)
        l->last = json_pack("{s:i, s:s, s:s, s:s}", "exitCode", c->o.last.exit_code, "reason",
                            c->o.last.reason, "startedAt", c->o.last.started_at, "finishedAt",
                            c->o.last.finished_at);
    if (l->pod == NULL) {
        agent__launch_free(l);
        return;
    }
    /* Secrets and ConfigMaps are read now, on the loop, from the replica */
    if (pull_cred(c, l, &e) != 0 ||
        agent__env_resolve(pod->obj, c->spec, l->field, p->lookup, p->lookup_data, pod_ip(pod),
                           p->node_ip, &l->env, &e) != 0 ||
        service_env(pod, &l->env, &e) != 0 || mounts_of(c, l, &e) != 0) {
        agent__launch_free(l);
        set_waiting(c, "CreateContainerConfigError", e.msg);
        c->next_start_ms = now + CONFIG_RETRY_MS;
        return;
    }
    if ((j = job_new(p, pod, c, J_LAUNCH)) == NULL) {
        agent__launch_free(l);
        return;
    }
    j->launch = l;
    if (!job_submit(j))
        return;
    c->busy = true;
    if (c->o.state != AGENT_CS_WAITING || strcmp(c->o.reason, "CrashLoopBackOff") == 0)
        set_waiting(c, "ContainerCreating", NULL);
}

static void launch_done(struct ctr *c, struct agent__launch *l, uint64_t now)
{
    struct pod *pod = c->pod;
    struct agent_pods *p = pod->p;
    uint64_t d;
    char msg[300];

    if (l->failed_at == 0) {
        if (c->ran_before)
            c->o.restarts++;
        c->ran_before = true;
        c->image_fails = 0;
        c->pid = l->pid;
        c->o.state = AGENT_CS_RUNNING;
        c->o.reason[0] = c->o.message[0] = '\0';
        snprintf(c->o.started_at, sizeof c->o.started_at, "%s", l->started_at);
        snprintf(c->o.image_id, sizeof c->o.image_id, "%s", l->image_id);
        snprintf(c->o.container_id, sizeof c->o.container_id, "runc://%s", c->id);
        c->run_start_ms = now;
        start_probes(c, now);
        LOG_INFO("agent", "container_started", "pod=%s/%s container=%s pid=%d restarts=%d", pod->ns,
                 pod->name, c->o.name, (int)c->pid, c->o.restarts);
        if (c->poll_closing)
            submit_finish(c); /* cannot happen in practice: the old poll closed long ago */
        else
            watch_exit(c);
        return;
    }
    LOG_WARN("agent", "container_start_failed", "pod=%s/%s container=%s err=\"%s\"", pod->ns,
             pod->name, c->o.name, l->err.msg);
    if (l->failed_at == AGENT_LAUNCH_IMAGE) {
        c->image_fails++;
        d = agent__backoff_ms(p->backoff_base_ms, p->backoff_base_ms * BACKOFF_FACTOR,
                              c->image_fails + 1);
        c->next_start_ms = now + d;
        c->pull_failed_ms = now;
        set_waiting(c,
                    strcmp(l->policy, "Never") == 0 && l->err.code == ERR_NOTFOUND
                        ? "ErrImageNeverPull"
                        : (l->err.code == ERR_INVALID && strstr(l->err.msg, "reference")
                               ? "InvalidImageName"
                               : "ErrImagePull"),
                    l->err.msg);
    } else if (l->failed_at == AGENT_LAUNCH_CONFIG) {
        c->next_start_ms = now + CONFIG_RETRY_MS;
        set_waiting(c, "CreateContainerConfigError", l->err.msg);
    } else {
        c->crashes++;
        d = agent__backoff_ms(p->backoff_base_ms, p->backoff_base_ms * BACKOFF_FACTOR,
                              c->crashes + 1);
        c->next_start_ms = now + d;
        snprintf(msg, sizeof msg, "%s", l->err.msg);
        set_waiting(c, "RunContainerError", msg);
    }
}

/* ------------------------------------------------------------------ */
/* setup, adoption, teardown                                           */

static int vol_type(const json_t *v, const json_t **src)
{
    const json_t *s;
    if ((s = json_object_get(v, "emptyDir")) != NULL) {
        const char *m = json_string_value(json_object_get(s, "medium"));
        *src = s;
        return m && strcmp(m, "Memory") == 0 ? AGENT_VOL_MEMORY : AGENT_VOL_EMPTY;
    }
    if ((*src = json_object_get(v, "hostPath")) != NULL)
        return AGENT_VOL_HOST;
    if ((*src = json_object_get(v, "secret")) != NULL)
        return AGENT_VOL_SECRET;
    if ((*src = json_object_get(v, "configMap")) != NULL)
        return AGENT_VOL_CONFIGMAP;
    return 0;
}

/* containers[].ports[].hostPort as CNI portMappings (kubelet's), NULL when
 * none: [{hostPort, containerPort, protocol ("tcp"/"udp"), hostIP}] */
static json_t *host_ports(const struct pod *pod)
{
    const json_t *ctrs = json_object_get(json_object_get(pod->obj0, "spec"), "containers"), *c, *pt;
    json_t *out = NULL;
    size_t i, k;
    json_array_foreach (ctrs, i, c)
        json_array_foreach (json_object_get(c, "ports"), k, pt) {
            json_int_t hp = json_integer_value(json_object_get(pt, "hostPort"));
            json_int_t cp = json_integer_value(json_object_get(pt, "containerPort"));
            const char *proto = json_string_value(json_object_get(pt, "protocol"));
            const char *hip = json_string_value(json_object_get(pt, "hostIP"));
            char lp[8];
            size_t n;
            if (hp <= 0 || hp > 65535 || cp <= 0 || cp > 65535)
                continue;
            snprintf(lp, sizeof lp, "%s", proto ? proto : "TCP");
            for (n = 0; lp[n]; n++)
                lp[n] = (char)tolower((unsigned char)lp[n]);
            if (out == NULL && (out = json_array()) == NULL)
                return NULL;
            json_array_append_new(out, json_pack("{s:I, s:I, s:s, s:s}", "hostPort", hp,
                                                 "containerPort", cp, "protocol", lp, "hostIP",
                                                 hip ? hip : ""));
        }
    return out;
}

/* The setup request: volumes with their Secrets/ConfigMaps from the
 * replica. ERR_NOTFOUND / ERR_INVALID name what is missing. */
static int setup_new(struct pod *pod, bool adopting, struct agent__setup **out, struct err *e)
{
    struct agent_pods *p = pod->p;
    const json_t *vols = json_object_get(json_object_get(pod->obj0, "spec"), "volumes"), *v;
    struct agent__setup *s = calloc(1, sizeof *s);
    size_t i, nv = json_array_size(vols);

    *out = NULL;
    if (s == NULL || (s->vols = calloc(nv ? nv : 1, sizeof *s->vols)) == NULL ||
        (s->ids = calloc(pod->n ? pod->n : 1, sizeof *s->ids)) == NULL) {
        agent__setup_free(s);
        return err_setf(e, ERR_NOMEM, "setup: out of memory");
    }
    s->rt = &p->rt;
    snprintf(s->uid, sizeof s->uid, "%s", pod->uid);
    snprintf(s->hostname, sizeof s->hostname, "%s", pod->hostname);
    snprintf(s->ns, sizeof s->ns, "%s", pod->ns);
    snprintf(s->name, sizeof s->name, "%s", pod->name);
    s->host_network = host_network(pod);
    s->attach = p->rt.net && !s->host_network;
    if (s->attach)
        s->port_mappings = host_ports(pod);
    if (p->rt.net && cluster_dns(pod) && p->net_dns(p->net_data) != NULL)
        snprintf(s->dns_ip, sizeof s->dns_ip, "%s", p->net_dns(p->net_data));
    for (i = 0; i < pod->n; i++)
        snprintf(s->ids[i], sizeof s->ids[i], "%s", pod->c[i].id);
    s->n_ids = pod->n;
    json_array_foreach (vols, i, v) {
        struct agent__vol *sv = &s->vols[i];
        const char *name = json_string_value(json_object_get(v, "name"));
        const json_t *src = NULL;
        s->n_vols = i + 1;
        sv->type = vol_type(v, &src);
        snprintf(sv->name, sizeof sv->name, "%s", name ? name : "");
        if (name == NULL || strchr(name, '/') != NULL || sv->type == 0) {
            agent__setup_free(s);
            return err_setf(e, ERR_INVALID, "spec.volumes[%zu]: unsupported volume type", i);
        }
        sv->src = json_deep_copy(src);
        if (sv->type == AGENT_VOL_SECRET || sv->type == AGENT_VOL_CONFIGMAP) {
            bool secret = sv->type == AGENT_VOL_SECRET;
            const char *on =
                json_string_value(json_object_get(src, secret ? "secretName" : "name"));
            const json_t *obj =
                p->lookup && on
                    ? p->lookup(p->lookup_data, secret ? "Secret" : "ConfigMap", pod->ns, on)
                    : NULL;
            if (obj == NULL && !adopting && !json_is_true(json_object_get(src, "optional"))) {
                err_setf(e, ERR_NOTFOUND, "%s \"%s\" not found", secret ? "secret" : "configmap",
                         on ? on : "");
                agent__setup_free(s);
                return ERR_NOTFOUND;
            }
            sv->obj = obj ? json_deep_copy(obj) : NULL;
        }
    }
    *out = s;
    return 0;
}

static void start_setup(struct pod *pod, uint64_t now)
{
    struct agent_pods *p = pod->p;
    bool adopting = json_object_get(p->found, pod->uid) != NULL;
    struct agent__setup *s;
    struct job *j;
    struct err e;
    size_t i;

    if (pod->start_time[0] == '\0')
        agent__now_rfc3339(pod->start_time);
    if (p->rt.net && !host_network(pod) && !adopting && p->net_dns(p->net_data) == NULL) {
        /* the leader has not given this node its pod CIDR yet */
        for (i = 0; i < pod->n; i++)
            if (i < pod->n_init || pod->n_init == 0)
                set_waiting(&pod->c[i], "ContainerCreating", "waiting for the node's pod network");
        pod->retry_ms = now + 500;
        return;
    }
    if (setup_new(pod, adopting, &s, &e) != 0) {
        for (i = 0; i < pod->n; i++)
            if (i < pod->n_init || pod->n_init == 0)
                set_waiting(&pod->c[i], "CreateContainerConfigError", e.msg);
        pod->retry_ms = now + CONFIG_RETRY_MS;
        return;
    }
    if ((j = job_new(p, pod, NULL, J_SETUP)) == NULL) {
        agent__setup_free(s);
        return;
    }
    j->setup = s;
    if (job_submit(j)) {
        pod->stage = PS_SETUP;
        pod->busy = true;
    }
}

/* A container found by the setup (adoption): its state.json and runc's. */
static void adopt_ctr(struct ctr *c, const struct agent__runc_state *rs, const json_t *f,
                      uint64_t now)
{
    const json_t *last = json_object_get(f, "lastState");
    const char *s;

    if (f != NULL) {
        c->ran_before = true;
        c->o.restarts = (int)json_integer_value(json_object_get(f, "restartCount"));
        s = json_string_value(json_object_get(f, "startedAt"));
        snprintf(c->o.started_at, sizeof c->o.started_at, "%s", s ? s : "");
        s = json_string_value(json_object_get(f, "imageID"));
        snprintf(c->o.image_id, sizeof c->o.image_id, "%s", s ? s : "");
        if (json_is_object(last)) {
            c->o.has_last = true;
            c->o.last.exit_code = (int)json_integer_value(json_object_get(last, "exitCode"));
            s = json_string_value(json_object_get(last, "reason"));
            snprintf(c->o.last.reason, sizeof c->o.last.reason, "%s", s ? s : "Error");
            s = json_string_value(json_object_get(last, "startedAt"));
            snprintf(c->o.last.started_at, sizeof c->o.last.started_at, "%s", s ? s : "");
            s = json_string_value(json_object_get(last, "finishedAt"));
            snprintf(c->o.last.finished_at, sizeof c->o.last.finished_at, "%s", s ? s : "");
        }
    }
    if (rs->status != AGENT_RUNC_UNKNOWN) {
        /* runc has it: running (adopted as is) or stopped (collected now) */
        c->o.state = AGENT_CS_RUNNING;
        c->o.reason[0] = c->o.message[0] = '\0';
        c->pid = rs->pid;
        c->run_start_ms = now;
        snprintf(c->o.container_id, sizeof c->o.container_id, "runc://%s", c->id);
        start_probes(c, now);
        if (rs->status == AGENT_RUNC_RUNNING || rs->status == AGENT_RUNC_PAUSED) {
            LOG_INFO("agent", "container_adopted", "pod=%s/%s container=%s pid=%d", c->pod->ns,
                     c->pod->name, c->o.name, (int)c->pid);
            watch_exit(c);
        } else {
            submit_finish(c);
        }
        return;
    }
    s = json_string_value(json_object_get(f, "state"));
    if (s != NULL && strcmp(s, "terminated") == 0) {
        c->o.state = AGENT_CS_TERMINATED;
        c->o.term.exit_code = (int)json_integer_value(json_object_get(f, "exitCode"));
        s = json_string_value(json_object_get(f, "reason"));
        snprintf(c->o.term.reason, sizeof c->o.term.reason, "%s", s ? s : "Error");
        snprintf(c->o.term.started_at, sizeof c->o.term.started_at, "%s", c->o.started_at);
        s = json_string_value(json_object_get(f, "finishedAt"));
        snprintf(c->o.term.finished_at, sizeof c->o.term.finished_at, "%s", s ? s : "");
        after_exit(c, now);
    }
}

/* The resourceVersions of the Secrets/ConfigMaps just projected. */
static void record_vol_rvs(struct pod *pod, const struct agent__setup *s)
{
    size_t i;
    if (pod->vol_rv == NULL && (pod->vol_rv = json_object()) == NULL)
        return;
    for (i = 0; i < s->n_vols; i++) {
        const char *rv = json_string_value(
            json_object_get(json_object_get(s->vols[i].obj, "metadata"), "resourceVersion"));
        if (s->vols[i].type == AGENT_VOL_SECRET || s->vols[i].type == AGENT_VOL_CONFIGMAP)
            json_object_set_new(pod->vol_rv, s->vols[i].name, json_string(rv ? rv : ""));
    }
}

static void setup_done(struct pod *pod, struct agent__setup *s, uint64_t now)
{
    struct agent_pods *p = pod->p;
    size_t i;

    pod->busy = false;
    if (s->rv != 0) {
        LOG_WARN("agent", "pod_setup_failed", "pod=%s/%s err=\"%s\"", pod->ns, pod->name,
                 s->err.msg);
        pod->stage = PS_NEW;
        pod->retry_ms = now + p->backoff_base_ms;
        for (i = 0; i < pod->n; i++)
            if (i < pod->n_init || pod->n_init == 0)
                set_waiting(&pod->c[i], "CreateContainerConfigError", s->err.msg);
        return;
    }
    pod->sb = s->sb;
    snprintf(pod->ip, sizeof pod->ip, "%s", s->pod_ip);
    if (!s->adopted)
        record_vol_rvs(pod, s); /* adopted: the first refresh check projects again */
    pod->stage = PS_UP;
    for (i = 0; i < pod->n; i++)
        if (!pod->c[i].init || pod->n_init == 0)
            set_waiting(&pod->c[i], pod->n_init ? "PodInitializing" : "ContainerCreating", NULL);
    if (!s->adopted) {
        LOG_INFO("agent", "pod_setup", "pod=%s/%s uid=%s", pod->ns, pod->name, pod->uid);
        return;
    }
    LOG_INFO("agent", "pod_adopted", "pod=%s/%s uid=%s", pod->ns, pod->name, pod->uid);
    for (i = 0; i < pod->n; i++)
        adopt_ctr(&pod->c[i], &s->states[i], s->files[i], now);
}

static void start_teardown(struct agent_pods *p, struct pod *pod, const char *uid)
{
    struct job *j = job_new(p, pod, NULL, J_TEARDOWN);
    if (j == NULL)
        return;
    snprintf(j->uid, sizeof j->uid, "%s", uid);
    if (job_submit(j) && pod != NULL) {
        pod->stage = PS_TEARDOWN;
        pod->busy = true;
    }
}

/* ------------------------------------------------------------------ */
/* stopping                                                            */

static void send_kill(struct ctr *c, int sig)
{
    struct job *j = job_new(c->pod->p, c->pod, c, J_KILL);
    if (j == NULL)
        return;
    snprintf(j->id, sizeof j->id, "%s", c->id);
    j->sig = sig;
    if (job_submit(j))
        c->killing = true;
}

/* SIGTERM now, SIGKILL at kill_at_ms (see tick) */
static void stop_ctr(struct ctr *c, uint64_t grace_ms, uint64_t now)
{
    if (c->o.state != AGENT_CS_RUNNING || c->term_sent || c->killing)
        return;
    c->term_sent = true;
    c->kill_at_ms = now + grace_ms;
    send_kill(c, grace_ms > 0 ? SIGTERM : SIGKILL);
    c->kill_sent = grace_ms == 0;
}

static void begin_stop(struct pod *pod, uint64_t now)
{
    size_t i;
    if (pod->stopping)
        return;
    pod->stopping = true;
    pod->grace_ms = grace_ms_of(pod->obj);
    pod->stop_at_ms = now;
    LOG_INFO("agent", "pod_stopping", "pod=%s/%s grace_ms=%llu", pod->ns, pod->name,
             (unsigned long long)pod->grace_ms);
    for (i = 0; i < pod->n; i++) {
        struct ctr *c = &pod->c[i];
        if (c->o.state == AGENT_CS_WAITING && !c->busy)
            c->done = true;
    }
}

/* ------------------------------------------------------------------ */
/* sync                                                                */

static void sync_stopping(struct pod *pod, uint64_t now)
{
    bool alive = false;
    size_t i;
    if (pod->busy)
        return;
    for (i = 0; i < pod->n; i++) {
        struct ctr *c = &pod->c[i];
        uint64_t left =
            pod->stop_at_ms + pod->grace_ms > now ? pod->stop_at_ms + pod->grace_ms - now : 0;
        if (c->o.state == AGENT_CS_RUNNING && !c->busy)
            stop_ctr(c, left, now);
        alive = alive || c->busy || c->killing || c->o.state == AGENT_CS_RUNNING;
    }
    if (alive || pod->stage == PS_TEARDOWN || pod->stage == PS_DONE || pod->stage == PS_WAIT)
        return;
    start_teardown(pod->p, pod, pod->uid);
}

static void sync_pod(struct pod *pod)
{
    struct agent_pods *p = pod->p;
    uint64_t now = now_ms(p);
    size_t i;

    if (p->closing || pod->stage == PS_WAIT)
        return;
    if (pod->stopping && pod->stage == PS_FINISHED)
        pod->stage = p->found ? PS_NEW : PS_WAIT; /* only to be torn down */
    if (pod->stage == PS_WAIT)
        return;
    if (pod->stopping) {
        sync_stopping(pod, now);
        emit(pod);
        return;
    }
    if (pod->stage == PS_NEW && !pod->busy && now >= pod->retry_ms)
        start_setup(pod, now);
    if (pod->stage != PS_UP) {
        emit(pod);
        return;
    }
    for (i = 0; i < pod->n_init; i++) {
        struct ctr *c = &pod->c[i];
        if (c->o.state == AGENT_CS_TERMINATED && c->o.term.exit_code == 0)
            continue;
        if (!c->busy && !c->done && c->o.state != AGENT_CS_RUNNING && now >= c->next_start_ms)
            try_start(c, now);
        emit(pod);
        return; /* init containers run one at a time, in order */
    }
    for (i = pod->n_init; i < pod->n; i++) {
        struct ctr *c = &pod->c[i];
        if (!c->busy && !c->done && c->o.state != AGENT_CS_RUNNING && now >= c->next_start_ms)
            try_start(c, now);
    }
    emit(pod);
}

/* ------------------------------------------------------------------ */
/* probes                                                              */

/* A probe's port may name one of the container's ports (httpGet.port,
 * tcpSocket.port: "http"): the number is put in its place here, where the
 * container spec is at hand. A name the container does not declare stays
 * a string, and the probe fails saying so. */
static void named_ports(json_t *probe, const json_t *ctr)
{
    static const char *const kinds[] = {"httpGet", "tcpSocket"};
    for (size_t i = 0; i < 2; i++) {
        json_t *h = json_object_get(probe, kinds[i]), *pt;
        const char *name = json_string_value(json_object_get(h, "port"));
        size_t k;
        if (name == NULL)
            continue;
        json_array_foreach (json_object_get(ctr, "ports"), k, pt) {
            const char *pn = json_string_value(json_object_get(pt, "name"));
            if (pn != NULL && strcmp(pn, name) == 0) {
                json_object_set(h, "port", json_object_get(pt, "containerPort"));
                break;
            }
        }
    }
}

static void run_probes(struct ctr *c, uint64_t now)
{
    struct pod *pod = c->pod;
    size_t k;
    if (c->o.state != AGENT_CS_RUNNING || c->busy || c->term_sent || pod->stopping)
        return;
    for (k = 0; k < N_PROBES; k++) {
        struct probe *pr = &c->pr[k];
        struct job *j;
        if (pr->spec == NULL || pr->busy || now < pr->next_ms)
            continue;
        /* liveness and readiness wait for the startup probe */
        if (k != PROBE_STARTUP && !c->o.started)
            continue;
        if (k == PROBE_STARTUP && c->o.started)
            continue;
        if ((j = job_new(pod->p, pod, c, J_PROBE)) == NULL)
            return;
        snprintf(j->id, sizeof j->id, "%s", c->id);
        {
            json_t *copy = json_deep_copy(pr->spec);
            named_ports(copy, c->spec);
            j->probe = copy;
        }
        j->probe_kind = (int)k;
        if (!host_network(pod))
            snprintf(j->netns, sizeof j->netns, "%s", pod->sb.netns);
        if (job_submit(j))
            pr->busy = true;
    }
}

static void probe_done(struct ctr *c, int k, bool ok, const char *msg, uint64_t now)
{
    struct pod *pod = c->pod;
    struct probe *pr = &c->pr[k];
    json_int_t period = json_integer_value(json_object_get(pr->spec, "periodSeconds"));
    json_int_t fth = json_integer_value(json_object_get(pr->spec, "failureThreshold"));
    json_int_t sth = json_integer_value(json_object_get(pr->spec, "successThreshold"));

    pr->busy = false;
    pr->next_ms = now + (uint64_t)(period > 0 ? period : 10) * 1000;
    if (c->o.state != AGENT_CS_RUNNING || c->term_sent)
        return;
    if (ok) {
        pr->fail = 0;
        pr->succ++;
    } else {
        pr->succ = 0;
        pr->fail++;
    }
    if (ok && pr->succ >= (sth > 0 ? sth : 1)) {
        if (k == PROBE_STARTUP) {
            c->o.started = true;
            c->o.ready = c->pr[PROBE_READY].spec == NULL;
        } else if (k == PROBE_READY) {
            c->o.ready = true;
        }
    }
    if (!ok && pr->fail >= (fth > 0 ? fth : 3)) {
        if (k == PROBE_READY) {
            c->o.ready = false;
        } else {
            json_int_t g =
                json_integer_value(json_object_get(pr->spec, "terminationGracePeriodSeconds"));
            LOG_INFO("agent", "probe_failed_restart", "pod=%s/%s container=%s probe=%s msg=\"%s\"",
                     pod->ns, pod->name, c->o.name, probe_keys[k], msg);
            stop_ctr(c, g > 0 ? (uint64_t)g * 1000 : grace_ms_of(pod->obj0), now);
        }
    }
}

/* ------------------------------------------------------------------ */
/* completions                                                         */

static void after_work(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct agent_pods *p = j->p;
    struct pod *pod = j->pod;
    struct ctr *c = j->c;
    uint64_t now = now_ms(p);

    (void)status;
    p->jobs--;
    if (pod != NULL)
        pod->refs--;
    if (p->closing) {
        /* what the job did stands (a started container is adopted next time) */
        job_free(j);
        if (pod != NULL)
            maybe_free(pod);
        else
            maybe_closed(p);
        return;
    }
    switch (j->kind) {
    case J_SCAN:
        if (j->rv != 0) {
            LOG_ERROR("agent", "scan_failed", "err=\"%s\"", j->err.msg);
            p->found = json_object();
        } else {
            p->found = j->found;
            j->found = NULL;
        }
        LOG_INFO("agent", "pods_scanned", "node=%s found=%zu", p->node, json_object_size(p->found));
        {
            queue *q;
            QUEUE_FOREACH (q, &p->pods) {
                struct pod *x = QUEUE_DATA(q, struct pod, link);
                if (x->stage == PS_WAIT)
                    x->stage = PS_NEW;
            }
        }
        break;
    case J_SETUP:
        setup_done(pod, j->setup, now);
        break;
    case J_LAUNCH:
        c->busy = false;
        launch_done(c, j->launch, now);
        break;
    case J_FINISH:
        c->busy = false;
        c->o.state = AGENT_CS_TERMINATED;
        c->o.term = j->finish->term;
        c->pid = 0;
        after_exit(c, now);
        break;
    case J_KILL:
        c->killing = false;
        break;
    case J_TEARDOWN:
        if (pod == NULL) {
            if (j->rv != 0)
                LOG_WARN("agent", "orphan_cleanup_failed", "uid=%s err=\"%s\"", j->uid, j->err.msg);
            else
                LOG_INFO("agent", "orphan_cleaned", "uid=%s", j->uid);
            break;
        }
        pod->busy = false;
        if (j->rv != 0) {
            LOG_WARN("agent", "pod_teardown_failed", "pod=%s/%s err=\"%s\"", pod->ns, pod->name,
                     j->err.msg);
            pod->stage = PS_UP; /* tried again on the next tick */
            break;
        }
        LOG_INFO("agent", "pod_removed", "pod=%s/%s uid=%s", pod->ns, pod->name, pod->uid);
        pod->stage = PS_DONE;
        if (!pod->gone && p->cb != NULL)
            p->cb(p->data, pod->key, NULL);
        break;
    case J_PROBE:
        if (j->rv != 0)
            LOG_WARN("agent", "probe_invalid", "pod=%s/%s container=%s err=\"%s\"", pod->ns,
                     pod->name, c->o.name, j->err.msg);
        probe_done(c, j->probe_kind, j->rv == 0 && j->ok, j->msg, now);
        break;
    case J_ROTATE:
        p->rotating = false;
        break;
    case J_REFRESH:
        pod->refreshing = false;
        if (j->setup->rv != 0) {
            LOG_WARN("agent", "volume_refresh_failed", "pod=%s/%s err=\"%s\"", pod->ns,
                     pod->name, j->setup->err.msg);
            break;
        }
        record_vol_rvs(pod, j->setup);
        LOG_INFO("agent", "volumes_refreshed", "pod=%s/%s volumes=%zu", pod->ns, pod->name,
                 j->setup->n_vols);
        break;
    case J_GC:
        p->gc_running = false;
        if (j->rv != 0)
            LOG_WARN("agent", "image_gc_failed", "err=\"%s\"", j->err.msg);
        else if (j->gc.ran)
            LOG_INFO("agent", "image_gc", "used_pct_before=%d used_pct_after=%d freed_bytes=%llu",
                     j->gc.used_pct_before, j->gc.used_pct_after,
                     (unsigned long long)j->gc.freed_bytes);
        break;
    }
    job_free(j);
    if (pod != NULL && pod->stage != PS_DONE)
        sync_pod(pod);
    if (pod != NULL)
        maybe_free(pod);
}

/* ------------------------------------------------------------------ */
/* tick                                                                */

static void rotate_logs(struct agent_pods *p, uint64_t now)
{
    struct job *j;
    size_t n = 0, cap = 0;
    queue *q;

    if (p->rotating || now < p->next_rotate_ms)
        return;
    p->next_rotate_ms = now + ROTATE_EVERY_MS;
    QUEUE_FOREACH (q, &p->pods)
        cap += QUEUE_DATA(q, struct pod, link)->n;
    if (cap == 0 || (j = job_new(p, NULL, NULL, J_ROTATE)) == NULL)
        return;
    if ((j->logs = calloc(cap, sizeof *j->logs)) == NULL) {
        free(j);
        return;
    }
    QUEUE_FOREACH (q, &p->pods) {
        struct pod *pod = QUEUE_DATA(q, struct pod, link);
        struct err e;
        size_t i;
        for (i = 0; i < pod->n; i++) {
            struct ctr *c = &pod->c[i];
            if (c->o.state == AGENT_CS_RUNNING &&
                agent__log_path(p->rt.dir, pod->ns, pod->name, pod->uid, c->o.name, c->o.restarts,
                                j->logs[n], sizeof j->logs[n], &e) == 0)
                n++;
        }
    }
    j->n_logs = n;
    if (n > 0 && job_submit(j))
        p->rotating = true;
    else if (n == 0)
        job_free(j);
}

/* Secret and ConfigMap volumes follow their objects (kubelet's periodic
 * sync): a pod whose projected resourceVersion differs from the replica's
 * gets its files replaced. A missing object leaves the files as they are. */
static void refresh_volumes(struct agent_pods *p, uint64_t now)
{
    queue *q;
    if (now < p->next_refresh_ms || p->lookup == NULL)
        return;
    p->next_refresh_ms = now + REFRESH_EVERY_MS;
    QUEUE_FOREACH (q, &p->pods) {
        struct pod *pod = QUEUE_DATA(q, struct pod, link);
        const json_t *vols = json_object_get(json_object_get(pod->obj0, "spec"), "volumes"), *v;
        struct agent__setup *s = NULL;
        struct job *j;
        size_t i, nv = json_array_size(vols);
        if (pod->stage != PS_UP || pod->stopping || pod->refreshing || pod->busy || nv == 0)
            continue;
        json_array_foreach (vols, i, v) {
            const json_t *src = NULL, *obj;
            int type = vol_type(v, &src);
            bool secret = type == AGENT_VOL_SECRET;
            const char *name = json_string_value(json_object_get(v, "name"));
            const char *on, *rv, *had;
            if (type != AGENT_VOL_SECRET && type != AGENT_VOL_CONFIGMAP)
                continue;
            on = json_string_value(json_object_get(src, secret ? "secretName" : "name"));
            obj = on ? p->lookup(p->lookup_data, secret ? "Secret" : "ConfigMap", pod->ns, on)
                     : NULL;
            if (obj == NULL || name == NULL)
                continue;
            rv = json_string_value(
                json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
            had = json_string_value(json_object_get(pod->vol_rv, name));
            if (had != NULL && rv != NULL && strcmp(had, rv) == 0)
                continue;
            if (s == NULL) {
                if ((s = calloc(1, sizeof *s)) == NULL ||
                    (s->vols = calloc(nv, sizeof *s->vols)) == NULL) {
                    agent__setup_free(s);
                    return;
                }
                s->rt = &p->rt;
                snprintf(s->uid, sizeof s->uid, "%s", pod->uid);
            }
            snprintf(s->vols[s->n_vols].name, sizeof s->vols[0].name, "%s", name);
            s->vols[s->n_vols].type = type;
            s->vols[s->n_vols].src = json_deep_copy(src);
            s->vols[s->n_vols].obj = json_deep_copy(obj);
            s->n_vols++;
        }
        if (s == NULL)
            continue;
        if ((j = job_new(p, pod, NULL, J_REFRESH)) == NULL) {
            agent__setup_free(s);
            continue;
        }
        j->setup = s;
        if (job_submit(j))
            pod->refreshing = true;
    }
}

/* Disk-pressure image GC (agent/image.h) every IMAGE_GC_EVERY_MS, keeping
 * every image a pod of this node names or runs. */
static void image_gc(struct agent_pods *p, uint64_t now)
{
    json_t *pods;
    struct job *j;
    queue *q;
    if (p->gc_running || now < p->next_gc_ms || !p->synced)
        return;
    p->next_gc_ms = now + IMAGE_GC_EVERY_MS;
    if ((pods = json_array()) == NULL || (j = job_new(p, NULL, NULL, J_GC)) == NULL) {
        json_decref(pods);
        return;
    }
    QUEUE_FOREACH (q, &p->pods) {
        struct pod *pod = QUEUE_DATA(q, struct pod, link);
        json_t *o = json_deep_copy(pod->obj0);
        if (o != NULL && pod->reported != NULL)
            json_object_set(o, "status", pod->reported);
        json_array_append_new(pods, o);
    }
    j->gc_pods = pods;
    if (job_submit(j))
        p->gc_running = true;
}

static void on_tick(uv_timer_t *t)
{
    struct agent_pods *p = t->data;
    uint64_t now = now_ms(p);
    queue *q, *next;

    for (q = QUEUE__NEXT(&p->pods); q != &p->pods; q = next) {
        struct pod *pod = QUEUE_DATA(q, struct pod, link);
        size_t i;
        next = QUEUE__NEXT(q);
        if (pod->stage == PS_DONE)
            continue;
        pod->refs++; /* sync may finish the pod: keep it until we are done */
        for (i = 0; i < pod->n; i++) {
            struct ctr *c = &pod->c[i];
            if (c->term_sent && !c->kill_sent && !c->killing && now >= c->kill_at_ms &&
                c->o.state == AGENT_CS_RUNNING) {
                c->kill_sent = true;
                send_kill(c, SIGKILL);
            }
            if (c->o.state == AGENT_CS_WAITING && strcmp(c->o.reason, "ErrImagePull") == 0 &&
                now >= c->pull_failed_ms + PULL_ERR_SHOW_MS && !c->busy)
                snprintf(c->o.reason, sizeof c->o.reason, "ImagePullBackOff");
            run_probes(c, now);
        }
        sync_pod(pod);
        pod->refs--;
        maybe_free(pod);
    }
    if (p->synced && p->found != NULL && !p->orphans_done)
        clean_orphans(p);
    rotate_logs(p, now);
    refresh_volumes(p, now);
    image_gc(p, now);
}

/* ------------------------------------------------------------------ */
/* public                                                              */

static int copy_regs(struct agent_pods *p, const struct agent_pods_config *cfg, struct err *e)
{
    size_t i, k;
    p->n_regs = cfg->n_registries;
    if (p->n_regs == 0)
        return 0;
    p->regs = calloc(p->n_regs, sizeof *p->regs);
    p->reg_strs = calloc(p->n_regs * 6, sizeof *p->reg_strs);
    if (p->regs == NULL || p->reg_strs == NULL)
        return err_setf(e, ERR_NOMEM, "pods: out of memory");
    for (i = 0; i < p->n_regs; i++) {
        const struct agent_image_registry *r = &cfg->registries[i];
        const char *src[6] = {r->host, r->endpoint, r->ca_file, r->username, r->password, NULL};
        const char **dst[6] = {&p->regs[i].host,     &p->regs[i].endpoint, &p->regs[i].ca_file,
                               &p->regs[i].username, &p->regs[i].password, NULL};
        p->regs[i].plain_http = r->plain_http;
        p->regs[i].insecure = r->insecure;
        for (k = 0; k < 5; k++) {
            if (src[k] == NULL)
                continue;
            if ((p->reg_strs[i * 6 + k] = strdup(src[k])) == NULL)
                return err_setf(e, ERR_NOMEM, "pods: out of memory");
            *dst[k] = p->reg_strs[i * 6 + k];
        }
    }
    return 0;
}

static void pods_free(struct agent_pods *p)
{
    size_t i;
    agent_image_store_free(p->rt.images);
    for (i = 0; p->reg_strs != NULL && i < p->n_regs * 6; i++)
        free(p->reg_strs[i]);
    free(p->reg_strs);
    free(p->regs);
    json_decref(p->found);
    free(p);
}

int agent__pods_new(uv_loop_t *loop, const struct agent_pods_config *cfg, agent_pods_status_cb cb,
                    void *data, struct agent_pods **out, struct err *e)
{
    struct agent_pods *p;
    char path[PATH_MAX];
    const char *env;
    struct job *j;
    int rv;

    *out = NULL;
    if (cfg->node_name == NULL || cfg->dir == NULL || cfg->dir[0] != '/')
        return err_setf(e, ERR_INVALID, "pods: node_name and an absolute dir required");
    if ((p = calloc(1, sizeof *p)) == NULL)
        return err_setf(e, ERR_NOMEM, "pods: out of memory");
    p->loop = loop;
    p->cb = cb;
    p->data = data;
    p->lookup = cfg->lookup;
    p->lookup_data = cfg->lookup_data;
    p->net_dns = cfg->net_dns;
    p->services = cfg->services;
    p->net_data = cfg->net_data;
    QUEUE_INIT(&p->pods);
    snprintf(p->node, sizeof p->node, "%s", cfg->node_name);
    snprintf(p->node_ip, sizeof p->node_ip, "%s", cfg->node_ip ? cfg->node_ip : "");
    env = getenv("SKIFF_AGENT_BACKOFF_MS");
    p->backoff_base_ms = cfg->backoff_base_ms > 0 ? (uint64_t)cfg->backoff_base_ms
                         : env && atoi(env) > 0   ? (uint64_t)atoi(env)
                                                  : 10000;
    p->log_max_bytes = cfg->log_max_bytes ? cfg->log_max_bytes : 10u << 20;
    p->gc.high_pct = cfg->image_gc_high_pct;
    p->gc.low_pct = cfg->image_gc_low_pct;
    /* the first GC a while after start-up, not in the middle of adoption */
    p->next_gc_ms = now_ms(p) + (cfg->image_gc_first_ms > 0 ? (uint64_t)cfg->image_gc_first_ms
                                                            : IMAGE_GC_EVERY_MS / 5);
    if (snprintf(p->rt.dir, sizeof p->rt.dir, "%s", cfg->dir) >= (int)sizeof p->rt.dir) {
        rv = err_setf(e, ERR_INVALID, "pods: dir too long");
        goto fail;
    }
    snprintf(p->rt.sbroot, sizeof p->rt.sbroot, "%s/sandboxes", cfg->dir);
    if (cfg->cni_conf_dir != NULL) {
        if (cfg->net_dns == NULL) {
            rv = err_setf(e, ERR_INVALID, "pods: pod network without net_dns");
            goto fail;
        }
        p->rt.net = true;
        snprintf(p->rt.cni_conf_dir, sizeof p->rt.cni_conf_dir, "%s", cfg->cni_conf_dir);
        snprintf(path, sizeof path, "%s/cni/cache", cfg->dir);
        if ((rv = agent__cni_init(&p->rt.cni, getenv("SKIFF_CNI_PATH"), path, 0, e)) != 0)
            goto fail;
    }
    snprintf(path, sizeof path, "%s/runc", cfg->dir);
    if ((rv = agent__runc_init(&p->rt.runc, cfg->runc_bin, cfg->runc_root ? cfg->runc_root : path,
                               0, e)) != 0 ||
        (rv = agent__cg_init(&p->rt.cg, cfg->node_name, e)) != 0 || (rv = copy_regs(p, cfg, e)))
        goto fail;
    /* setup at start-up (the loop does not run yet): dirs and the image index */
    mkdir(cfg->dir, 0755);
    snprintf(path, sizeof path, "%s/pods", cfg->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/logs", cfg->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/images", cfg->dir);
    if ((rv = agent_image_store_open(path, &p->rt.images, e)) != 0)
        goto fail;
    p->rt.pull.registries = p->regs;
    p->rt.pull.n_registries = p->n_regs;
    if ((j = job_new(p, NULL, NULL, J_SCAN)) == NULL || !job_submit(j)) {
        rv = err_setf(e, ERR_NOMEM, "pods: cannot queue the scan");
        goto fail;
    }
    uv_timer_init(loop, &p->tick);
    p->tick.data = p;
    uv_timer_start(&p->tick, on_tick, cfg->tick_ms > 0 ? (uint64_t)cfg->tick_ms : 100,
                   cfg->tick_ms > 0 ? (uint64_t)cfg->tick_ms : 100);
    *out = p;
    return 0;
fail:
    pods_free(p);
    return rv;
}

void agent__pods_set(struct agent_pods *p, const char *key, const json_t *obj)
{
    struct pod *pod = find(p, key);
    const json_t *md = json_object_get(obj, "metadata");
    const char *uid = json_string_value(json_object_get(md, "uid"));
    const char *phase = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
    uint64_t now = now_ms(p);

    if (p->closing)
        return;
    if (pod != NULL && (obj == NULL || uid == NULL || strcmp(uid, pod->uid) != 0)) {
        /* gone, or replaced by a pod of the same name: forget this one */
        pod->gone = true;
        pod->key[0] = '\0';
        begin_stop(pod, now);
        sync_pod(pod);
        pod = NULL;
    }
    if (obj == NULL)
        return;
    if (pod == NULL) {
        if ((pod = pod_new(p, key, obj)) == NULL)
            return;
        /* a pod that finished before we (re)started: nothing to run again */
        if (phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0))
            pod->stage = PS_FINISHED;
    } else {
        json_decref(pod->obj);
        pod->obj = json_deep_copy(obj);
        if (pod->obj == NULL)
            pod->obj = json_incref(pod->obj0);
    }
    if (json_object_get(md, "deletionTimestamp") != NULL)
        begin_stop(pod, now);
    sync_pod(pod);
}

void agent__pods_synced(struct agent_pods *p)
{
    p->synced = true;
}

/* orphans: run from the tick once the scan is back and agent.c synced */
static void clean_orphans(struct agent_pods *p)
{
    const char *uid;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(p->found, tmp, uid, v)
    {
        queue *q;
        bool wanted = false;
        QUEUE_FOREACH (q, &p->pods) {
            if (strcmp(QUEUE_DATA(q, struct pod, link)->uid, uid) == 0)
                wanted = true;
        }
        if (!wanted) {
            LOG_INFO("agent", "orphan_found", "node=%s uid=%s", p->node, uid);
            start_teardown(p, NULL, uid);
        }
    }
    p->orphans_done = true;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct agent_pods *p = h->data;
    p->tick_closed = true;
    maybe_closed(p);
}

static void maybe_closed(struct agent_pods *p)
{
    queue *q, *next;
    void (*cb)(void *);
    void *data;
    if (!p->closing || !p->tick_closed || p->jobs > 0)
        return;
    for (q = QUEUE__NEXT(&p->pods); q != &p->pods; q = next) {
        next = QUEUE__NEXT(q);
        pod_free(QUEUE_DATA(q, struct pod, link));
    }
    cb = p->close_cb;
    data = p->close_data;
    pods_free(p);
    if (cb != NULL)
        cb(data);
}

void agent__pods_close(struct agent_pods *p, void (*cb)(void *), void *data)
{
    queue *q;
    size_t i;
    p->closing = true;
    p->close_cb = cb;
    p->close_data = data;
    QUEUE_FOREACH (q, &p->pods) {
        struct pod *pod = QUEUE_DATA(q, struct pod, link);
        for (i = 0; i < pod->n; i++)
            stop_poll(&pod->c[i]);
    }
    uv_close((uv_handle_t *)&p->tick, on_tick_closed);
}
