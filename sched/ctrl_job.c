/* Job controller (kubernetes pkg/controller/job): runs pods from the Job's
 * template until spec.completions of them succeeded (NonIndexed; Indexed
 * gives each pod a completion index), at most spec.parallelism at a time,
 * recreating failed pods after an exponential back-off (10 s doubling, 6
 * min cap, reset by a success) until more than spec.backoffLimit failed;
 * activeDeadlineSeconds, suspend and ttlSecondsAfterFinished as kube.
 *
 * Counting: finished pods are kept and counted from the cache (the job
 * controller's behaviour before job-tracking finalizers). Pods are never
 * deleted once finished, so each counts exactly once and a new leader
 * recounts the same numbers; a pod someone deletes by hand after it
 * finished drops out of the counts, as it did in kube without tracking.
 * Active pods this controller deletes (failure, suspend, excess
 * parallelism) are not counted as failures.
 *
 * Finishing goes in two steps as kube 1.31 does: SuccessCriteriaMet or
 * FailureTarget first (active pods are deleted), then Complete or Failed
 * once no pod of the Job is left running or terminating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "sched/internal.h"

#define BURST         500 /* creates or deletes per sync */
#define BACKOFF_S     10  /* DefaultJobPodFailureBackOff */
#define BACKOFF_MAX_S 360 /* MaxJobPodFailureBackOff */
#define LABEL_UID     "batch.kubernetes.io/controller-uid"
#define LABEL_NAME    "batch.kubernetes.io/job-name"
#define ANN_INDEX     "batch.kubernetes.io/job-completion-index"
#define LABEL_INDEX   "batch.kubernetes.io/job-completion-index"

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void fmt_time(int64_t t, char buf[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* RFC 3339 (as the API writes it) to seconds; -1 when absent or bad */
static int64_t parse_time(const char *s)
{
    struct tm tm;
    const char *end;
    if (s == NULL)
        return -1;
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    return (int64_t)timegm(&tm);
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(o, a), b));
}

static const char *phase_of(const json_t *pod)
{
    const char *p = str_at(pod, "status", "phase");
    return p ? p : "";
}

/* ---- conditions ---- */

static json_t *cond_find(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static bool cond_true(const json_t *conds, const char *type)
{
    const char *st = json_string_value(json_object_get(cond_find(conds, type), "status"));
    return st != NULL && strcmp(st, "True") == 0;
}

/* kube's ensureJobConditionStatus: set type to status (adding it only when
 * True); reason, message and times change only with the status */
static void cond_ensure(json_t *conds, const char *type, const char *status, const char *reason,
                        const char *msg, const char *now)
{
    json_t *c = cond_find(conds, type);
    const char *have = json_string_value(json_object_get(c, "status"));
    if (c != NULL && have != NULL && strcmp(have, status) == 0)
        return;
    if (c == NULL && strcmp(status, "True") != 0)
        return;
    if (c == NULL) {
        c = json_object();
        json_array_append_new(conds, c);
    }
    json_object_set_new(c, "type", json_string(type));
    json_object_set_new(c, "status", json_string(status));
    json_object_set_new(c, "lastProbeTime", json_string(now));
    json_object_set_new(c, "lastTransitionTime", json_string(now));
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "message", json_string(msg));
}

/* the finished condition (Complete or Failed, True), or NULL */
static const json_t *job_finished(const json_t *job)
{
    const json_t *conds = json_object_get(json_object_get(job, "status"), "conditions");
    if (cond_true(conds, "Complete"))
        return cond_find(conds, "Complete");
    if (cond_true(conds, "Failed"))
        return cond_find(conds, "Failed");
    return NULL;
}

/* ---- events ---- */

static void enqueue_owner(struct sched *s, struct sched_ctrl *c, const json_t *pod)
{
    const json_t *meta = json_object_get(pod, "metadata");
    const json_t *refs = json_object_get(meta, "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        const char *k = json_string_value(json_object_get(r, "kind"));
        char key[STORE_KEY_MAX + 1];
        if (!json_is_true(json_object_get(r, "controller")) || k == NULL || strcmp(k, "Job") != 0)
            continue;
        if (sched__key_of(SK_JOB, json_string_value(json_object_get(meta, "namespace")),
                          json_string_value(json_object_get(r, "name")), key, sizeof key) == 0)
            sched__enqueue(s, c, key);
    }
}

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    if (kind == SK_JOB && obj != NULL)
        sched__enqueue(s, c, key);
    else if (kind == SK_POD)
        enqueue_owner(s, c, obj ? obj : old);
}

/* ---- the pods of a Job ---- */

struct job_pods {
    const json_t **active; /* running or pending, not being deleted */
    size_t n_active, cap;
    size_t ready, succeeded, failed, terminating;
    size_t fails_since_success; /* kube's backoff record */
    int64_t last_failure;       /* finish time of the newest failure, -1 none */
    unsigned char *index_done;  /* Indexed: per index, 1 succeeded, 2 active */
    json_int_t completions;
    bool indexed;
};

/* when a pod finished: its containers' finishedAt, else its Ready
 * condition's transition, else now (kube's getFinishedTime) */
static int64_t finished_at(const json_t *pod)
{
    const json_t *st = json_object_get(pod, "status");
    int64_t best = -1;
    size_t i;
    json_t *cs;
    json_array_foreach (json_object_get(st, "containerStatuses"), i, cs) {
        int64_t t = parse_time(json_string_value(json_object_get(
            json_object_get(json_object_get(cs, "state"), "terminated"), "finishedAt")));
        if (t > best)
            best = t;
    }
    if (best < 0)
        best = parse_time(json_string_value(json_object_get(
            cond_find(json_object_get(st, "conditions"), "Ready"), "lastTransitionTime")));
    return best < 0 ? now_s() : best;
}

static long pod_index(const json_t *pod)
{
    const char *v = str_at(json_object_get(pod, "metadata"), "annotations", ANN_INDEX);
    char *end;
    long i;
    if (v == NULL || *v == '\0')
        return -1;
    i = strtol(v, &end, 10);
    return *end == '\0' && i >= 0 ? i : -1;
}

struct finish {
    int64_t at;
    bool ok;
};

static int finish_cmp(const void *a, const void *b)
{
    const struct finish *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

static bool add_active(struct job_pods *p, const json_t *pod)
{
    if (p->n_active == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        const json_t **na = realloc(p->active, nc * sizeof *na);
        if (na == NULL)
            return false;
        p->active = na;
        p->cap = nc;
    }
    p->active[p->n_active++] = pod;
    return true;
}

/* Pods controlled by the Job and matching its selector (the controller-uid
 * label when the API did not generate spec.selector). */
static int collect(struct sched *s, const json_t *job, const char *uid, struct job_pods *p)
{
    const json_t *spec = json_object_get(job, "spec"), *sel = json_object_get(spec, "selector");
    json_t *owned = sched__owned(s, uid), *kindv;
    struct finish *fin = NULL;
    size_t n_fin = 0, cap_fin = 0;
    const char *pkey;

    memset(p, 0, sizeof *p);
    p->last_failure = -1;
    p->completions = json_integer_value(json_object_get(spec, "completions"));
    p->indexed = json_is_integer(json_object_get(spec, "completions")) &&
                 str_at(job, "spec", "completionMode") != NULL &&
                 strcmp(str_at(job, "spec", "completionMode"), "Indexed") == 0;
    if (p->indexed && p->completions > 0) {
        p->index_done = calloc((size_t)p->completions, 1);
        if (p->index_done == NULL)
            return ERR_NOMEM;
    }
    json_object_foreach (owned, pkey, kindv) {
        const json_t *pod, *labels;
        const char *ph, *cu;
        long idx;
        if (json_integer_value(kindv) != SK_POD || (pod = sched__get(s, SK_POD, pkey)) == NULL)
            continue;
        cu = sched__controller_uid(pod);
        labels = json_object_get(json_object_get(pod, "metadata"), "labels");
        if (cu == NULL || strcmp(cu, uid) != 0)
            continue;
        if (sel != NULL ? !sched__selector_matches(sel, labels, false)
                        : !json_equal(json_object_get(labels, LABEL_UID),
                                      json_object_get(json_object_get(job, "metadata"), "uid")))
            continue;
        ph = phase_of(pod);
        idx = p->indexed ? pod_index(pod) : -1;
        if (idx >= p->completions)
            idx = -1;
        if (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0) {
            bool ok = ph[0] == 'S';
            if (ok && p->indexed) {
                /* an index counts once, however many pods succeeded for it */
                if (idx >= 0 && p->index_done[idx] != 1) {
                    p->index_done[idx] = 1;
                    p->succeeded++;
                }
            } else if (ok) {
                p->succeeded++;
            } else {
                p->failed++;
            }
            if (n_fin == cap_fin) {
                size_t nc = cap_fin ? cap_fin * 2 : 16;
                struct finish *nf = realloc(fin, nc * sizeof *nf);
                if (nf == NULL) {
                    free(fin);
                    return ERR_NOMEM;
                }
                fin = nf;
                cap_fin = nc;
            }
            fin[n_fin].at = finished_at(pod);
            fin[n_fin++].ok = ok;
        } else if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL) {
            p->terminating++;
        } else {
            if (!add_active(p, pod)) {
                free(fin);
                return ERR_NOMEM;
            }
            if (sched__pod_ready(pod))
                p->ready++;
            if (idx >= 0 && p->index_done[idx] == 0)
                p->index_done[idx] = 2;
        }
    }
    /* consecutive failures since the last success, in finishing order */
    if (n_fin > 1)
        qsort(fin, n_fin, sizeof *fin, finish_cmp);
    for (size_t i = 0; i < n_fin; i++) {
        if (fin[i].ok) {
            p->fails_since_success = 0;
        } else {
            p->fails_since_success++;
            p->last_failure = fin[i].at;
        }
    }
    free(fin);
    return 0;
}

static void pods_close(struct job_pods *p)
{
    free(p->active);
    free(p->index_done);
}

/* seconds until a replacement may be created (kube's getRemainingTime) */
static int64_t backoff_left(const struct job_pods *p, int64_t now)
{
    int64_t d = BACKOFF_S;
    if (p->fails_since_success == 0 || p->last_failure < 0)
        return 0;
    for (size_t i = 1; i < p->fails_since_success && d < BACKOFF_MAX_S; i++)
        d *= 2;
    if (d > BACKOFF_MAX_S)
        d = BACKOFF_MAX_S;
    return now - p->last_failure >= d ? 0 : d - (now - p->last_failure);
}

/* ---- writes ---- */

static json_t *new_pod(const json_t *job, long index)
{
    const json_t *meta = json_object_get(job, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    char prefix[80], idx[24];
    json_t *pod, *pm, *labels, *anns;
    if (index >= 0)
        snprintf(prefix, sizeof prefix, "%.50s-%ld-", name, index);
    else
        snprintf(prefix, sizeof prefix, "%.57s-", name);
    pod = sched__pod_from_template(json_object_get(json_object_get(job, "spec"), "template"), job,
                                   SK_JOB, prefix);
    if (pod == NULL)
        return NULL;
    pm = json_object_get(pod, "metadata");
    labels = json_object_get(pm, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(pm, "labels", labels);
    }
    /* what the apiserver's generated selector would have put in the template */
    json_object_set(labels, LABEL_UID, json_object_get(meta, "uid"));
    json_object_set(labels, "controller-uid", json_object_get(meta, "uid"));
    json_object_set(labels, LABEL_NAME, json_object_get(meta, "name"));
    json_object_set(labels, "job-name", json_object_get(meta, "name"));
    if (index >= 0) {
        snprintf(idx, sizeof idx, "%ld", index);
        anns = json_object_get(pm, "annotations");
        if (!json_is_object(anns)) {
            anns = json_object();
            json_object_set_new(pm, "annotations", anns);
        }
        json_object_set_new(anns, ANN_INDEX, json_string(idx));
        json_object_set_new(labels, LABEL_INDEX, json_string(idx));
        /* Indexed pods get a stable hostname, as kube sets it */
        snprintf(prefix, sizeof prefix, "%.50s-%ld", name, index);
        json_object_set_new(json_object_get(pod, "spec"), "hostname", json_string(prefix));
    }
    return pod;
}

/* deletion order among active pods: unscheduled, pending, not ready first,
 * then the newest */
static int victim_rank(const json_t *pod)
{
    int r = 0;
    if (json_string_length(json_object_get(json_object_get(pod, "spec"), "nodeName")) > 0)
        r += 4;
    if (strcmp(phase_of(pod), "Running") == 0)
        r += 2;
    if (sched__pod_ready(pod))
        r += 1;
    return r;
}

static int victim_cmp(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    int rx = victim_rank(x), ry = victim_rank(y);
    const char *cx = str_at(x, "metadata", "creationTimestamp");
    const char *cy = str_at(y, "metadata", "creationTimestamp");
    if (rx != ry)
        return rx - ry;
    return -strcmp(cx ? cx : "", cy ? cy : "");
}

static void delete_active(struct sched *s, struct sched_ctrl *c, const char *uid, const char *key,
                          struct job_pods *p, size_t n)
{
    if (p->n_active > 1)
        qsort(p->active, p->n_active, sizeof *p->active, victim_cmp);
    for (size_t i = 0; i < n && i < p->n_active && i < BURST; i++)
        sched__delete(s, c, SK_POD, p->active[i], uid, false, key);
}

/* Creates up to want - active pods (Indexed: for the lowest indexes with
 * neither a success nor an active pod). */
static void create_pods(struct sched *s, struct sched_ctrl *c, const json_t *job, const char *uid,
                        const char *key, const struct job_pods *p, size_t n)
{
    const char *ns = str_at(job, "metadata", "namespace");
    long next = 0;
    if (n > BURST)
        n = BURST;
    for (size_t i = 0; i < n; i++) {
        long index = -1;
        json_t *pod;
        if (p->indexed) {
            while (next < p->completions && p->index_done[next] != 0)
                next++;
            if (next >= p->completions)
                return;
            index = next++;
        }
        pod = new_pod(job, index);
        if (pod == NULL || sched__create(s, c, SK_POD, ns, pod, uid, key) != 0)
            return;
    }
}

/* "0-2,4" for succeeded indexes, as kube's completedIndexes */
static json_t *completed_indexes(const struct job_pods *p)
{
    char buf[4096];
    size_t used = 0;
    json_int_t i = 0;
    buf[0] = '\0';
    while (i < p->completions) {
        json_int_t j;
        int w;
        if (p->index_done[i] != 1) {
            i++;
            continue;
        }
        for (j = i; j + 1 < p->completions && p->index_done[j + 1] == 1; j++)
            ;
        w = j > i
                ? snprintf(buf + used, sizeof buf - used, "%s%lld-%lld", used ? "," : "",
                           (long long)i, (long long)j)
                : snprintf(buf + used, sizeof buf - used, "%s%lld", used ? "," : "", (long long)i);
        if (w < 0 || (size_t)w >= sizeof buf - used)
            break; /* absurdly many ranges: the list is cut short */
        used += (size_t)w;
        i = j + 1;
    }
    return json_string(buf);
}

/* ---- sync ---- */

/* ttlSecondsAfterFinished: delete the Job that long after its finished
 * condition's transition (the TTL-after-finished controller's job) */
static void sync_finished(struct sched *s, struct sched_ctrl *c, const json_t *job, const char *key,
                          const json_t *cond)
{
    const json_t *ttl = json_object_get(json_object_get(job, "spec"), "ttlSecondsAfterFinished");
    int64_t done, now = now_s();
    if (!json_is_integer(ttl))
        return;
    done = parse_time(json_string_value(json_object_get(cond, "lastTransitionTime")));
    if (done < 0)
        done = now;
    if (now >= done + json_integer_value(ttl)) {
        LOG_INFO("sched", "job_ttl_expired", "job=%s/%s", str_at(job, "metadata", "namespace"),
                 str_at(job, "metadata", "name"));
        sched__delete(s, c, SK_JOB, job, NULL, false, NULL);
    } else {
        sched__enqueue_after(s, c, key,
                             (uint64_t)(done + json_integer_value(ttl) - now) * 1000 + 500);
    }
}

struct plan {
    json_t *status; /* the status to write */
    json_t *conds;  /* its conditions (borrowed from status) */
    char now[21];
};

static void job_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    json_t *job = sched__get(s, SK_JOB, key);
    const json_t *meta, *spec, *old_status, *fin, *ads;
    const char *uid;
    struct job_pods p;
    struct plan pl;
    bool suspended, failing, succeeding;
    json_int_t parallelism, backoff_limit;
    int64_t now = now_s(), start;

    if (job == NULL)
        return;
    meta = json_object_get(job, "metadata");
    spec = json_object_get(job, "spec");
    uid = json_string_value(json_object_get(meta, "uid"));
    if (uid == NULL || json_object_get(meta, "deletionTimestamp") != NULL ||
        !sched__settled(s, uid))
        return;
    if ((fin = job_finished(job)) != NULL) {
        sync_finished(s, c, job, key, fin);
        return;
    }
    if (collect(s, job, uid, &p) != 0) {
        pods_close(&p);
        sched__enqueue_after(s, c, key, 1000);
        return;
    }
    old_status = json_object_get(job, "status");
    pl.status = json_is_object(old_status) ? json_deep_copy(old_status) : json_object();
    pl.conds = json_object_get(pl.status, "conditions");
    if (!json_is_array(pl.conds)) {
        pl.conds = json_array();
        json_object_set_new(pl.status, "conditions", pl.conds);
    }
    fmt_time(now, pl.now);
    suspended = json_is_true(json_object_get(spec, "suspend"));
    parallelism = json_integer_value(json_object_get(spec, "parallelism"));
    backoff_limit = json_is_integer(json_object_get(spec, "backoffLimit"))
                        ? json_integer_value(json_object_get(spec, "backoffLimit"))
                        : 6;
    ads = json_object_get(spec, "activeDeadlineSeconds");

    /* suspend / resume (a resumed Job's deadline counts from the resume) */
    if (suspended) {
        cond_ensure(pl.conds, "Suspended", "True", "JobSuspended", "Job suspended", pl.now);
    } else if (cond_true(pl.conds, "Suspended")) {
        cond_ensure(pl.conds, "Suspended", "False", "JobResumed", "Job resumed", pl.now);
        json_object_set_new(pl.status, "startTime", json_string(pl.now));
    }
    if (!suspended && json_object_get(pl.status, "startTime") == NULL)
        json_object_set_new(pl.status, "startTime", json_string(pl.now));
    start = parse_time(json_string_value(json_object_get(pl.status, "startTime")));

    /* the decision, as syncJob takes it: failure first, then success */
    failing = cond_true(pl.conds, "FailureTarget");
    succeeding = cond_true(pl.conds, "SuccessCriteriaMet");
    if (!failing && !succeeding) {
        if ((json_int_t)p.failed > backoff_limit) {
            failing = true;
            cond_ensure(pl.conds, "FailureTarget", "True", "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit", pl.now);
        } else if (json_is_integer(ads) && !suspended && start >= 0 &&
                   now - start >= json_integer_value(ads)) {
            failing = true;
            cond_ensure(pl.conds, "FailureTarget", "True", "DeadlineExceeded",
                        "Job was active longer than specified deadline", pl.now);
        } else if (json_is_integer(json_object_get(spec, "completions"))
                       ? (json_int_t)p.succeeded >= p.completions
                       : (p.succeeded > 0 && p.n_active == 0)) {
            succeeding = true;
            cond_ensure(pl.conds, "SuccessCriteriaMet", "True", "CompletionsReached",
                        "Reached expected number of succeeded pods", pl.now);
        }
    }

    if (failing || succeeding) {
        /* finish: nothing of the Job may run on; the terminal condition
         * waits until every pod is gone or finished */
        delete_active(s, c, uid, key, &p, p.n_active);
        if (p.n_active == 0 && p.terminating == 0) {
            const json_t *why =
                cond_find(pl.conds, failing ? "FailureTarget" : "SuccessCriteriaMet");
            cond_ensure(pl.conds, failing ? "Failed" : "Complete", "True",
                        json_string_value(json_object_get(why, "reason")),
                        json_string_value(json_object_get(why, "message")), pl.now);
            if (!failing)
                json_object_set_new(pl.status, "completionTime", json_string(pl.now));
            LOG_INFO("sched", failing ? "job_failed" : "job_complete",
                     "job=%s/%s succeeded=%zu failed=%zu",
                     json_string_value(json_object_get(meta, "namespace")),
                     json_string_value(json_object_get(meta, "name")), p.succeeded, p.failed);
        }
    } else if (suspended) {
        delete_active(s, c, uid, key, &p, p.n_active);
        if (p.n_active == 0)
            json_object_del(pl.status, "startTime");
    } else {
        json_int_t want = parallelism;
        if (json_is_integer(json_object_get(spec, "completions"))) {
            json_int_t left = p.completions - (json_int_t)p.succeeded;
            if (want > left)
                want = left;
        } else if (p.succeeded > 0) {
            want = (json_int_t)p.n_active; /* one success: let the rest finish */
        }
        if (want < 0)
            want = 0;
        if ((json_int_t)p.n_active > want) {
            delete_active(s, c, uid, key, &p, p.n_active - (size_t)want);
        } else if ((json_int_t)p.n_active < want) {
            int64_t wait = backoff_left(&p, now);
            if (wait > 0)
                sched__enqueue_after(s, c, key, (uint64_t)wait * 1000 + 100);
            else
                create_pods(s, c, job, uid, key, &p, (size_t)(want - (json_int_t)p.n_active));
        }
        if (json_is_integer(ads) && start >= 0)
            sched__enqueue_after(s, c, key,
                                 (uint64_t)(start + json_integer_value(ads) - now > 0
                                                ? start + json_integer_value(ads) - now
                                                : 0) *
                                         1000 +
                                     100);
    }

    json_object_set_new(pl.status, "active", json_integer((json_int_t)p.n_active));
    json_object_set_new(pl.status, "ready", json_integer((json_int_t)p.ready));
    json_object_set_new(pl.status, "succeeded", json_integer((json_int_t)p.succeeded));
    json_object_set_new(pl.status, "failed", json_integer((json_int_t)p.failed));
    json_object_set_new(pl.status, "terminating", json_integer((json_int_t)p.terminating));
    if (p.indexed) {
        json_t *ci = completed_indexes(&p);
        if (json_string_length(ci) > 0)
            json_object_set(pl.status, "completedIndexes", ci);
        json_decref(ci);
    }
    if (json_array_size(pl.conds) == 0)
        json_object_del(pl.status, "conditions");
    if (!json_equal(pl.status, old_status)) {
        json_t *upd = json_deep_copy(job);
        if (upd != NULL) {
            json_object_set(upd, "status", pl.status);
            sched__update(s, c, SK_JOB, job, upd, key);
        }
    }
    json_decref(pl.status);
    pods_close(&p);
}

struct sched_ctrl sched__ctrl_job = {"job", NULL, NULL, on_event, job_sync, NULL, NULL, NULL};
