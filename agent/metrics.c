/* agent/metrics: cgroup and /proc sampling for metrics.k8s.io (see
 * agent/metrics.h). Rates need two cumulative samples, so the sampler keeps
 * the previous and the latest walk and nothing older: the API answers the
 * latest interval, as metrics-server does, and an HPA only ever asks for
 * "now". */
#include "agent/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

struct agent_metrics {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_work_t work;
    char node[128];
    char proc_root[512];
    int period_ms;
    struct agent__cg cg; /* read-only after new: the worker reads it too */
    bool have_cg;
    struct agent__metrics_raw *prev, *cur; /* loop thread */
    struct agent__metrics_raw *result;     /* worker -> after_work */
    struct err work_err;
    bool busy, closing, timer_closed;
};

/* ---- parsers ---- */

int agent__metrics_parse_cpuacct(const char *text, uint64_t *ns, struct err *e)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (end == text || errno != 0 || (*end != '\0' && *end != '\n'))
        return err_setf(e, ERR_INVALID, "cpuacct.usage: not a number");
    *ns = v;
    return 0;
}

int agent__metrics_parse_keyed(const char *text, const char *key, uint64_t *out, struct err *e)
{
    size_t kl = strlen(key);
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
            char *end;
            unsigned long long v;
            errno = 0;
            v = strtoull(p + kl + 1, &end, 10);
            if (end == p + kl + 1 || errno != 0)
                return err_setf(e, ERR_INVALID, "%s: not a number", key);
            *out = v;
            return 0;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return err_setf(e, ERR_NOTFOUND, "%s: missing", key);
}

int agent__metrics_parse_cpu_stat(const char *text, uint64_t *ns, struct err *e)
{
    uint64_t us;
    int rv = agent__metrics_parse_keyed(text, "usage_usec", &us, e);
    if (rv != 0)
        return rv == ERR_NOTFOUND ? err_setf(e, ERR_INVALID, "cpu.stat: no usage_usec") : rv;
    if (us > UINT64_MAX / 1000)
        return err_setf(e, ERR_INVALID, "cpu.stat: usage_usec out of range");
    *ns = us * 1000;
    return 0;
}

uint64_t agent__metrics_working_set(uint64_t usage, uint64_t inactive_file)
{
    return usage > inactive_file ? usage - inactive_file : 0;
}

int agent__metrics_parse_proc_stat(const char *text, long clk_tck, uint64_t *busy_ns,
                                   uint64_t *total_ns, struct err *e)
{
    unsigned long long v[10] = {0}, total = 0, idle;
    const char *p = text;
    char *end;
    int i;

    if (clk_tck <= 0 || strncmp(text, "cpu ", 4) != 0)
        return err_setf(e, ERR_INVALID, "stat: no cpu line");
    p += 4;
    /* user nice system idle iowait irq softirq steal guest guest_nice;
     * guest time is already counted in user, so only the first 8 add up */
    for (i = 0; i < 10; i++) {
        errno = 0;
        v[i] = strtoull(p, &end, 10);
        if (end == p || errno != 0)
            break;
        p = end;
    }
    if (i < 4)
        return err_setf(e, ERR_INVALID, "stat: cpu line has %d fields, want at least 4", i);
    for (int j = 0; j < i && j < 8; j++)
        total += v[j];
    idle = v[3] + v[4];
    /* ticks to ns: clk_tck divides 1e9 on every Linux (USER_HZ 100) */
    *busy_ns = (uint64_t)(total - idle) * (1000000000ull / (unsigned long long)clk_tck);
    *total_ns = (uint64_t)total * (1000000000ull / (unsigned long long)clk_tck);
    return 0;
}

int agent__metrics_parse_meminfo(const char *text, uint64_t *used_bytes, struct err *e)
{
    uint64_t total_kb = 0, avail_kb = 0;
    const char *p = text;
    bool t = false, a = false;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, "MemTotal:", 9) == 0)
            t = sscanf(p + 9, "%" SCNu64, &total_kb) == 1;
        else if (strncmp(p, "MemAvailable:", 13) == 0)
            a = sscanf(p + 13, "%" SCNu64, &avail_kb) == 1;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (!t || !a)
        return err_setf(e, ERR_INVALID, "meminfo: %s missing", t ? "MemAvailable" : "MemTotal");
    *used_bytes = total_kb > avail_kb ? (total_kb - avail_kb) * 1024 : 0;
    return 0;
}

/* ---- the walk (thread pool) ---- */

void agent__metrics_raw_free(struct agent__metrics_raw *r)
{
    if (r == NULL)
        return;
    free(r->ctrs);
    free(r);
}

static int read_small(const char *path, char *buf, size_t cap)
{
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Mount point of the hierarchy with controller (v1), or the unified mount
 * (v2); NULL when absent. A hybrid's cgroup2 mount holds no controllers. */
static const char *hier(const struct agent__cg *cg, const char *controller, bool *v2)
{
    size_t cl = strlen(controller);
    *v2 = false;
    for (size_t i = 0; i < cg->n_v1; i++) {
        const char *o = cg->v1[i].opts;
        while (o != NULL && *o != '\0') {
            if (strncmp(o, controller, cl) == 0 && (o[cl] == ',' || o[cl] == '\0'))
                return cg->v1[i].mnt;
            o = strchr(o, ',');
            o = o ? o + 1 : NULL;
        }
    }
    if (cg->mode == AGENT_CG_V2) {
        *v2 = true;
        return cg->unified;
    }
    return NULL;
}

static void sample_ctr(const struct agent__cg *cg, const char *rel, struct agent__metrics_ctr *c,
                       bool *ok)
{
    char path[PATH_MAX], buf[8192];
    const char *m;
    uint64_t usage, inactive = 0;
    struct err e;
    bool v2;

    *ok = false;
    if ((m = hier(cg, "memory", &v2)) == NULL)
        return;
    if (snprintf(path, sizeof path, "%s/%s/%s", m, rel,
                 v2 ? "memory.current" : "memory.usage_in_bytes") >= (int)sizeof path ||
        read_small(path, buf, sizeof buf) != 0 || agent__metrics_parse_cpuacct(buf, &usage, &e))
        return; /* gone between readdir and here */
    if (snprintf(path, sizeof path, "%s/%s/memory.stat", m, rel) < (int)sizeof path &&
        read_small(path, buf, sizeof buf) == 0)
        agent__metrics_parse_keyed(buf, v2 ? "inactive_file" : "total_inactive_file", &inactive,
                                   &e);
    c->memory_bytes = agent__metrics_working_set(usage, inactive);
    c->has_cpu = false;
    if ((m = hier(cg, v2 ? "cpu" : "cpuacct", &v2)) != NULL &&
        snprintf(path, sizeof path, "%s/%s/%s", m, rel, v2 ? "cpu.stat" : "cpuacct.usage") <
            (int)sizeof path &&
        read_small(path, buf, sizeof buf) == 0)
        c->has_cpu = (v2 ? agent__metrics_parse_cpu_stat(buf, &c->cpu_ns, &e)
                         : agent__metrics_parse_cpuacct(buf, &c->cpu_ns, &e)) == 0;
    *ok = true;
}

static int add_ctr(struct agent__metrics_raw *r, const struct agent__metrics_ctr *c)
{
    if (r->n_ctrs == r->cap_ctrs) {
        size_t cap = r->cap_ctrs ? r->cap_ctrs * 2 : 16;
        struct agent__metrics_ctr *n = realloc(r->ctrs, cap * sizeof *n);
        if (n == NULL)
            return ERR_NOMEM;
        r->ctrs = n;
        r->cap_ctrs = cap;
    }
    r->ctrs[r->n_ctrs++] = *c;
    return 0;
}

/* The containers of one pod dir: every sub-directory. */
static int walk_pod(const struct agent__cg *cg, const char *mnt, const char *uid,
                    struct agent__metrics_raw *r)
{
    char dir[PATH_MAX], rel[PATH_MAX];
    struct dirent *de;
    DIR *d;
    int rv = 0;

    if (snprintf(dir, sizeof dir, "%s/%s/pod%s", mnt, cg->parent, uid) >= (int)sizeof dir ||
        (d = opendir(dir)) == NULL)
        return 0;
    while (rv == 0 && (de = readdir(d)) != NULL) {
        struct agent__metrics_ctr c;
        bool ok;
        if (de->d_type != DT_DIR || de->d_name[0] == '.' || strlen(de->d_name) >= sizeof c.name ||
            snprintf(rel, sizeof rel, "%s/pod%s/%s", cg->parent, uid, de->d_name) >=
                (int)sizeof rel)
            continue;
        memset(&c, 0, sizeof c);
        snprintf(c.uid, sizeof c.uid, "%s", uid);
        snprintf(c.name, sizeof c.name, "%s", de->d_name);
        sample_ctr(cg, rel, &c, &ok);
        if (ok)
            rv = add_ctr(r, &c);
    }
    closedir(d);
    return rv;
}

static int walk_cgroups(const struct agent__cg *cg, struct agent__metrics_raw *r)
{
    char dir[PATH_MAX];
    struct dirent *de;
    const char *mnt;
    bool v2;
    DIR *d;
    int rv = 0;

    if ((mnt = hier(cg, "memory", &v2)) == NULL ||
        snprintf(dir, sizeof dir, "%s/%s", mnt, cg->parent) >= (int)sizeof dir ||
        (d = opendir(dir)) == NULL)
        return 0; /* no pod has run here yet */
    while (rv == 0 && (de = readdir(d)) != NULL) {
        if (de->d_type != DT_DIR || strncmp(de->d_name, "pod", 3) != 0 || de->d_name[3] == '\0' ||
            strlen(de->d_name + 3) >= sizeof r->ctrs[0].uid)
            continue;
        rv = walk_pod(cg, mnt, de->d_name + 3, r);
    }
    closedir(d);
    return rv;
}

/* Several nodes on one machine (tests, demos) each report the machine: the
 * node's own share is not separable from /proc, and kubectl top nodes only
 * needs to list every node with a plausible figure. */
static void walk_node(const char *proc_root, struct agent__metrics_raw *r)
{
    char path[PATH_MAX], buf[16384];
    uint64_t total;
    struct err e;
    r->has_node = snprintf(path, sizeof path, "%s/stat", proc_root) < (int)sizeof path &&
                  read_small(path, buf, sizeof buf) == 0 &&
                  agent__metrics_parse_proc_stat(buf, sysconf(_SC_CLK_TCK), &r->node_busy_ns,
                                                 &total, &e) == 0 &&
                  snprintf(path, sizeof path, "%s/meminfo", proc_root) < (int)sizeof path &&
                  read_small(path, buf, sizeof buf) == 0 &&
                  agent__metrics_parse_meminfo(buf, &r->node_memory_bytes, &e) == 0;
}

int agent__metrics_walk(const struct agent__cg *cg, bool have_cg, const char *proc_root,
                        struct agent__metrics_raw **out, struct err *e)
{
    struct agent__metrics_raw *r = calloc(1, sizeof *r);
    struct timespec ts;

    *out = NULL;
    if (r == NULL)
        return err_setf(e, ERR_NOMEM, "metrics: out of memory");
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r->mono_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->wall_s = (int64_t)ts.tv_sec;
    walk_node(proc_root, r);
    if (have_cg && walk_cgroups(cg, r) != 0) {
        agent__metrics_raw_free(r);
        return err_setf(e, ERR_NOMEM, "metrics: out of memory");
    }
    *out = r;
    return 0;
}

/* ---- rates ---- */

static void rfc3339(int64_t s, char buf[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ns of CPU per ns of wall, in nanocores; a counter that went back (a
 * restarted container's fresh cgroup) has no rate */
static bool rate(uint64_t a, uint64_t b, int64_t window_ms, json_int_t *out)
{
    if (b < a || window_ms <= 0)
        return false;
    *out = (json_int_t)((double)(b - a) * 1000.0 / (double)window_ms);
    return true;
}

static const struct agent__metrics_ctr *find_ctr(const struct agent__metrics_raw *r,
                                                 const struct agent__metrics_ctr *c)
{
    /* O(n) per container: a node runs tens of containers, not thousands */
    for (size_t i = 0; i < r->n_ctrs; i++)
        if (strcmp(r->ctrs[i].uid, c->uid) == 0 && strcmp(r->ctrs[i].name, c->name) == 0)
            return &r->ctrs[i];
    return NULL;
}

static int add_pod_ctr(json_t *pods, const struct agent__metrics_ctr *c, json_int_t cpu,
                       const char *ts, int64_t window)
{
    json_t *pod = json_object_get(pods, c->uid), *ctrs;
    if (pod == NULL) {
        pod = json_pack("{s:s, s:I, s:{}}", "ts", ts, "window", (json_int_t)window, "containers");
        if (pod == NULL || json_object_set_new(pods, c->uid, pod) != 0)
            return ERR_NOMEM;
    }
    ctrs = json_object_get(pod, "containers");
    return json_object_set_new(
               ctrs, c->name,
               json_pack("{s:I, s:I}", "cpu", cpu, "memory", (json_int_t)c->memory_bytes)) == 0
               ? 0
               : ERR_NOMEM;
}

json_t *agent__metrics_rates(const char *node, const struct agent__metrics_raw *prev,
                             const struct agent__metrics_raw *cur)
{
    int64_t window;
    char ts[32];
    json_t *out, *pods;
    json_int_t cpu;

    if (prev == NULL || cur == NULL || (window = cur->mono_ms - prev->mono_ms) <= 0)
        return NULL;
    rfc3339(cur->wall_s, ts);
    out = json_object();
    pods = json_object();
    if (out == NULL || pods == NULL || json_object_set_new(out, "pods", pods) != 0) {
        json_decref(out);
        return NULL;
    }
    if (cur->has_node && prev->has_node &&
        rate(prev->node_busy_ns, cur->node_busy_ns, window, &cpu) &&
        json_object_set_new(out, "node",
                            json_pack("{s:s, s:I, s:I, s:s, s:I}", "name", node, "cpu", cpu,
                                      "memory", (json_int_t)cur->node_memory_bytes, "ts", ts,
                                      "window", (json_int_t)window)) != 0)
        goto fail;
    for (size_t i = 0; i < cur->n_ctrs; i++) {
        const struct agent__metrics_ctr *c = &cur->ctrs[i], *p = find_ctr(prev, c);
        if (p == NULL || !c->has_cpu || !p->has_cpu || !rate(p->cpu_ns, c->cpu_ns, window, &cpu))
            continue;
        if (add_pod_ctr(pods, c, cpu, ts, window) != 0)
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* ---- the sampler ---- */

static void work_fn(uv_work_t *w)
{
    struct agent_metrics *m = w->data;
    m->result = NULL;
    agent__metrics_walk(&m->cg, m->have_cg, m->proc_root, &m->result, &m->work_err);
}

static void maybe_free(struct agent_metrics *m)
{
    if (!m->closing || m->busy || !m->timer_closed)
        return;
    agent__metrics_raw_free(m->prev);
    agent__metrics_raw_free(m->cur);
    free(m);
}

static void after_work(uv_work_t *w, int status)
{
    struct agent_metrics *m = w->data;
    m->busy = false;
    if (status != 0 || m->result == NULL) {
        if (status == 0 && !m->closing)
            LOG_WARN("agent", "metrics_walk_failed", "node=%s err=\"%s\"", m->node,
                     m->work_err.msg);
        agent__metrics_raw_free(m->result);
    } else if (m->closing) {
        agent__metrics_raw_free(m->result);
    } else {
        agent__metrics_raw_free(m->prev);
        m->prev = m->cur;
        m->cur = m->result;
    }
    m->result = NULL;
    maybe_free(m);
}

static void on_tick(uv_timer_t *t)
{
    struct agent_metrics *m = t->data;
    if (m->busy || m->closing)
        return; /* a slow walk: skip a beat rather than queue walks */
    m->work.data = m;
    if (uv_queue_work(m->loop, &m->work, work_fn, after_work) == 0)
        m->busy = true;
}

int agent_metrics_new(uv_loop_t *loop, const struct agent_metrics_config *cfg,
                      struct agent_metrics **out, struct err *e)
{
    struct agent_metrics *m;
    struct err ce;
    int rv;

    *out = NULL;
    if (cfg->node_name == NULL || cfg->node_name[0] == '\0' ||
        strlen(cfg->node_name) >= sizeof m->node || strchr(cfg->node_name, '/') != NULL)
        return err_setf(e, ERR_INVALID, "metrics: node name: required, no '/', at most 127 bytes");
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return err_setf(e, ERR_NOMEM, "metrics: out of memory");
    m->loop = loop;
    snprintf(m->node, sizeof m->node, "%s", cfg->node_name);
    snprintf(m->proc_root, sizeof m->proc_root, "%s", cfg->proc_root ? cfg->proc_root : "/proc");
    m->period_ms = cfg->period_ms > 0 ? cfg->period_ms : AGENT_METRICS_PERIOD_MS;
    rv = cfg->mountinfo ? agent__cg_detect(cfg->mountinfo, m->node, &m->cg, &ce)
                        : agent__cg_init(&m->cg, m->node, &ce);
    m->have_cg = rv == 0;
    if (rv != 0) /* a container without cgroup mounts: node figures only */
        LOG_WARN("agent", "metrics_no_cgroups", "node=%s err=\"%s\"", m->node, ce.msg);
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    uv_timer_start(&m->timer, on_tick, 0, (uint64_t)m->period_ms);
    *out = m;
    return 0;
}

json_t *agent_metrics_snapshot(const struct agent_metrics *m)
{
    if (m == NULL)
        return NULL;
    return agent__metrics_rates(m->node, m->prev, m->cur);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct agent_metrics *m = h->data;
    m->timer_closed = true;
    maybe_free(m);
}

void agent_metrics_close(struct agent_metrics *m)
{
    if (m == NULL || m->closing)
        return;
    m->closing = true;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, on_timer_closed);
    /* a walk not yet started is dropped; one running finishes first */
    if (m->busy)
        (void)uv_cancel((uv_req_t *)&m->work); /* after_work runs either way */
}
