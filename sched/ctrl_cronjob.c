/* CronJob controller (kubernetes pkg/controller/cronjob, the v2 loop):
 * creates a Job from spec.jobTemplate at each time spec.schedule names (in
 * spec.timeZone, UTC by default), honouring suspend,
 * startingDeadlineSeconds and concurrencyPolicy (Allow, Forbid, Replace),
 * keeps status.active / lastScheduleTime / lastSuccessfulTime, and deletes
 * the oldest finished Jobs beyond the history limits.
 *
 * A Job is named <cronjob>-<scheduled time in minutes since the epoch>, as
 * kube names it: two leaders (or one that forgot its status write) can
 * never start the same scheduled run twice, since the second create finds
 * the name taken. A new leader catches up like kube: of the runs missed
 * since lastScheduleTime (or creation) only the most recent is started,
 * and more than 100 missed runs are logged as a warning.
 *
 * One difference: kube puts a Job in status.active from the create
 * response; skiff's writes go through Raft and the Job's uid is chosen
 * inside the write, so an unfinished Job we own joins status.active when
 * the watch shows it (the create's expectation holds the CronJob until
 * then, so Forbid cannot start a second run in between). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "sched/cron.h"
#include "sched/internal.h"

#define ANN_SCHEDULED "batch.kubernetes.io/cronjob-scheduled-timestamp"
#define NEXT_DELTA_MS 100 /* kube's nextScheduleDelta: wake just after the minute */
#define MANY_MISSED   100
#define MAX_STEPS     100000 /* next() calls per catch-up, whatever the schedule */

struct zone {
    struct zone *next;
    char *name;
    int rv; /* 0, or why it failed to load (not retried until leadership changes) */
    struct sched_tz tz;
};

struct cj_state {
    struct zone *zones; /* loaded time zones by name */
    json_t *armed;      /* cronjob key -> wall second of the requeue already armed */
};

static void cj_start(struct sched *s, struct sched_ctrl *c)
{
    struct cj_state *st = calloc(1, sizeof *st);
    (void)s;
    if (st != NULL && (st->armed = json_object()) == NULL) {
        free(st);
        st = NULL;
    }
    c->state = st;
}

static void cj_stop(struct sched *s, struct sched_ctrl *c)
{
    struct cj_state *st = c->state;
    (void)s;
    if (st == NULL)
        return;
    while (st->zones != NULL) {
        struct zone *z = st->zones;
        st->zones = z->next;
        sched__tz_close(&z->tz);
        free(z->name);
        free(z);
    }
    json_decref(st->armed);
    free(st);
    c->state = NULL;
}

/* The zone by name, loaded once per leadership term (a blocking read of a
 * few KB, done once). NULL with *rv set when it is unknown. */
static const struct sched_tz *zone_get(struct cj_state *st, const char *name, struct err *e)
{
    struct zone *z;
    for (z = st->zones; z != NULL; z = z->next)
        if (strcmp(z->name, name) == 0)
            break;
    if (z == NULL) {
        z = calloc(1, sizeof *z);
        if (z == NULL || (z->name = strdup(name)) == NULL) {
            free(z);
            err_setf(e, ERR_NOMEM, "out of memory");
            return NULL;
        }
        z->rv = sched__tz_load(name, &z->tz, e);
        z->next = st->zones;
        st->zones = z;
        if (z->rv != 0)
            return NULL;
    }
    if (z->rv != 0) {
        err_setf(e, z->rv, "unknown time zone %s", name);
        return NULL;
    }
    return &z->tz;
}

/* ---- small helpers ---- */

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(o, a), b));
}

static int64_t parse_time(const char *s)
{
    struct tm tm;
    if (s == NULL)
        return -1;
    memset(&tm, 0, sizeof tm);
    if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
        return -1;
    return (int64_t)timegm(&tm);
}

static void fmt_utc(int64_t t, char buf[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* RFC 3339 in the zone's wall clock, as Go's time.Format(RFC3339) */
static void fmt_zoned(int64_t t, const struct sched_tz *tz, char buf[32])
{
    int32_t off = sched__tz_offset(tz, t);
    time_t tt = (time_t)(t + off);
    struct tm tm;
    int32_t a = off < 0 ? -off : off;
    if (off == 0) {
        fmt_utc(t, buf);
        return;
    }
    gmtime_r(&tt, &tm);
    strftime(buf, 20, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + 19, 13, "%c%02d:%02d", off < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "Complete" or "Failed" when the Job finished, else NULL */
static const char *job_finished(const json_t *job)
{
    const json_t *conds = json_object_get(json_object_get(job, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (t && st && strcmp(st, "True") == 0 &&
            (strcmp(t, "Complete") == 0 || strcmp(t, "Failed") == 0))
            return t;
    }
    return NULL;
}

/* ---- events ---- */

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    const json_t *o = obj ? obj : old;
    const json_t *meta = json_object_get(o, "metadata");
    size_t i;
    json_t *r;
    if (kind == SK_CRONJOB) {
        if (obj != NULL)
            sched__enqueue(s, c, key);
        else if (c->state != NULL)
            json_object_del(((struct cj_state *)c->state)->armed, key);
        return;
    }
    if (kind != SK_JOB)
        return;
    json_array_foreach (json_object_get(meta, "ownerReferences"), i, r) {
        const char *k = json_string_value(json_object_get(r, "kind"));
        char cj_key[STORE_KEY_MAX + 1];
        if (!json_is_true(json_object_get(r, "controller")) || k == NULL ||
            strcmp(k, "CronJob") != 0)
            continue;
        if (sched__key_of(SK_CRONJOB, json_string_value(json_object_get(meta, "namespace")),
                          json_string_value(json_object_get(r, "name")), cj_key,
                          sizeof cj_key) == 0)
            sched__enqueue(s, c, cj_key);
    }
}

/* ---- schedule arithmetic ---- */

/* kube's mostRecentScheduleTime: the latest fire time in (earliest, now],
 * or -1; *missed counts the fire times in that span (exactly up to
 * MANY_MISSED, then "more"). Walks forward from earliest; a long outage
 * jumps back from now in doubling windows instead of stepping through
 * every missed minute. */
static int64_t most_recent(const struct sched_cron *cr, const struct sched_tz *tz, int64_t earliest,
                           int64_t now, long *missed)
{
    int64_t recent = sched__cron_next(cr, tz, earliest), n;
    long steps = 0;
    *missed = 0;
    if (recent < 0 || recent > now)
        return -1;
    *missed = 1;
    while ((n = sched__cron_next(cr, tz, recent)) >= 0 && n <= now) {
        recent = n;
        if (++*missed > MANY_MISSED)
            break;
    }
    if (*missed <= MANY_MISSED)
        return recent;
    for (int64_t w = 60; now - w > recent; w *= 2) {
        n = sched__cron_next(cr, tz, now - w);
        if (n >= 0 && n <= now) {
            if (n > recent)
                recent = n;
            break;
        }
    }
    while ((n = sched__cron_next(cr, tz, recent)) >= 0 && n <= now && ++steps < MAX_STEPS)
        recent = n;
    return recent;
}

/* ---- status.active ---- */

static json_t *job_ref(const json_t *job)
{
    const json_t *m = json_object_get(job, "metadata");
    return json_pack("{s:s, s:O*, s:O*, s:O*, s:s, s:O*}", "kind", "Job", "namespace",
                     json_object_get(m, "namespace"), "name", json_object_get(m, "name"), "uid",
                     json_object_get(m, "uid"), "apiVersion", "batch/v1", "resourceVersion",
                     json_object_get(m, "resourceVersion"));
}

static bool active_has(const json_t *active, const char *field, const char *value)
{
    size_t i;
    json_t *r;
    json_array_foreach (active, i, r) {
        const char *v = json_string_value(json_object_get(r, field));
        if (v != NULL && value != NULL && strcmp(v, value) == 0)
            return true;
    }
    return false;
}

static void active_del(json_t *active, const char *uid)
{
    for (size_t i = json_array_size(active); i-- > 0;) {
        const char *v = json_string_value(json_object_get(json_array_get(active, i), "uid"));
        if (v != NULL && uid != NULL && strcmp(v, uid) == 0)
            json_array_remove(active, i);
    }
}

/* the Jobs this CronJob controls, not being deleted */
static json_t *owned_jobs(struct sched *s, const char *uid)
{
    json_t *out = json_array(), *kindv;
    const char *key;
    json_object_foreach (sched__owned(s, uid), key, kindv) {
        json_t *job;
        const char *cu;
        if (json_integer_value(kindv) != SK_JOB || (job = sched__get(s, SK_JOB, key)) == NULL)
            continue;
        cu = sched__controller_uid(job);
        if (cu == NULL || strcmp(cu, uid) != 0 ||
            json_object_get(json_object_get(job, "metadata"), "deletionTimestamp") != NULL)
            continue;
        json_array_append(out, job);
    }
    return out;
}

/* Brings status.active and lastSuccessfulTime in line with the Jobs. */
static void reconcile_active(json_t *status, const json_t *jobs)
{
    json_t *active = json_object_get(status, "active"), *job, *r;
    int64_t last_ok = parse_time(json_string_value(json_object_get(status, "lastSuccessfulTime")));
    size_t i;
    json_array_foreach (jobs, i, job) {
        const char *uid = str_at(job, "metadata", "uid");
        const char *fin = job_finished(job);
        if (fin == NULL) {
            if (!active_has(active, "uid", uid))
                json_array_append_new(active, job_ref(job));
            continue;
        }
        active_del(active, uid);
        if (strcmp(fin, "Complete") == 0) {
            const char *ct = str_at(job, "status", "completionTime");
            int64_t t = parse_time(ct);
            if (t > last_ok) {
                last_ok = t;
                json_object_set_new(status, "lastSuccessfulTime", json_string(ct));
            }
        }
    }
    /* references to Jobs that are gone */
    for (i = json_array_size(active); i-- > 0;) {
        size_t j;
        bool found = false;
        r = json_array_get(active, i);
        json_array_foreach (jobs, j, job)
            if (json_equal(json_object_get(r, "uid"),
                           json_object_get(json_object_get(job, "metadata"), "uid")))
                found = true;
        if (!found)
            json_array_remove(active, i);
    }
}

/* ---- history ---- */

static int by_start_time(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    const char *sx = str_at(x, "status", "startTime"), *sy = str_at(y, "status", "startTime");
    int64_t tx = parse_time(sx), ty = parse_time(sy);
    if ((tx < 0) != (ty < 0))
        return tx < 0 ? 1 : -1; /* never started: last */
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(str_at(x, "metadata", "name"), str_at(y, "metadata", "name"));
}

/* removeOldestJobs for one outcome: the oldest by start time go first */
static void trim_history(struct sched *s, struct sched_ctrl *c, const char *uid, const char *key,
                         const json_t *jobs, const char *outcome, const json_t *limit)
{
    const json_t **v;
    size_t n = 0, i;
    json_t *job;
    if (!json_is_integer(limit))
        return;
    v = calloc(json_array_size(jobs) + 1, sizeof *v);
    if (v == NULL)
        return;
    json_array_foreach (jobs, i, job) {
        const char *fin = job_finished(job);
        if (fin != NULL && strcmp(fin, outcome) == 0)
            v[n++] = job;
    }
    if ((json_int_t)n > json_integer_value(limit)) {
        size_t drop = n - (size_t)json_integer_value(limit);
        qsort(v, n, sizeof *v, by_start_time);
        for (i = 0; i < drop; i++) {
            LOG_INFO("sched", "cronjob_history_delete", "job=%s/%s outcome=%s",
                     str_at(v[i], "metadata", "namespace"), str_at(v[i], "metadata", "name"),
                     outcome);
            sched__delete(s, c, SK_JOB, v[i], uid, false, key);
        }
    }
    free(v);
}

/* ---- creating a run ---- */

static json_t *job_from_template(const json_t *cj, int64_t scheduled, const struct sched_tz *tz)
{
    const json_t *jt = json_object_get(json_object_get(cj, "spec"), "jobTemplate");
    const json_t *tm = json_object_get(jt, "metadata");
    char name[128], stamp[32];
    json_t *job, *meta, *anns;
    snprintf(name, sizeof name, "%s-%lld", str_at(cj, "metadata", "name"),
             (long long)(scheduled / 60));
    fmt_zoned(scheduled, tz, stamp);
    anns = json_is_object(json_object_get(tm, "annotations"))
               ? json_deep_copy(json_object_get(tm, "annotations"))
               : json_object();
    json_object_set_new(anns, ANN_SCHEDULED, json_string(stamp));
    job = json_pack("{s:s, s:s, s:{s:s, s:o}, s:O}", "apiVersion", "batch/v1", "kind", "Job",
                    "metadata", "name", name, "annotations", anns, "spec",
                    json_object_get(jt, "spec") ? json_object_get(jt, "spec") : json_null());
    if (job == NULL)
        return NULL;
    json_object_set_new(job, "spec", json_deep_copy(json_object_get(jt, "spec")));
    meta = json_object_get(job, "metadata");
    if (json_is_object(json_object_get(tm, "labels")))
        json_object_set_new(meta, "labels", json_deep_copy(json_object_get(tm, "labels")));
    json_object_set_new(meta, "ownerReferences",
                        json_pack("[o]", sched__owner_ref(cj, SK_CRONJOB)));
    return job;
}

/* Starts the run scheduled at `scheduled` unless policy or a run already
 * there says no; records it in status.lastScheduleTime. */
static void start_run(struct sched *s, struct sched_ctrl *c, const json_t *cj, const char *key,
                      json_t *status, const json_t *jobs, int64_t scheduled,
                      const struct sched_tz *tz)
{
    const json_t *spec = json_object_get(cj, "spec");
    const char *ns = str_at(cj, "metadata", "namespace"), *uid = str_at(cj, "metadata", "uid");
    const char *policy = json_string_value(json_object_get(spec, "concurrencyPolicy"));
    json_t *active = json_object_get(status, "active"), *job, *existing;
    char name[128], jkey[STORE_KEY_MAX + 1], stamp[21];
    size_t i;

    snprintf(name, sizeof name, "%s-%lld", str_at(cj, "metadata", "name"),
             (long long)(scheduled / 60));
    if (active_has(active, "name", name) ||
        parse_time(json_string_value(json_object_get(status, "lastScheduleTime"))) == scheduled)
        return; /* this time was already processed */
    if (policy != NULL && strcmp(policy, "Forbid") == 0 && json_array_size(active) > 0)
        return;
    fmt_utc(scheduled, stamp);
    if (sched__key_of(SK_JOB, ns, name, jkey, sizeof jkey) != 0)
        return;
    existing = sched__get(s, SK_JOB, jkey);
    if (existing != NULL) {
        /* created before a status write was lost (or by someone else):
         * the name is the lock, the run counts as started */
        json_object_set_new(status, "lastScheduleTime", json_string(stamp));
        return;
    }
    if (policy != NULL && strcmp(policy, "Replace") == 0) {
        json_array_foreach (jobs, i, job) {
            if (job_finished(job) != NULL)
                continue;
            LOG_INFO("sched", "cronjob_replace", "cronjob=%s/%s job=%s", ns,
                     str_at(cj, "metadata", "name"), str_at(job, "metadata", "name"));
            sched__delete(s, c, SK_JOB, job, uid, false, key);
            active_del(active, str_at(job, "metadata", "uid"));
        }
    }
    job = job_from_template(cj, scheduled, tz);
    if (job == NULL)
        return;
    LOG_INFO("sched", "cronjob_run", "cronjob=%s/%s job=%s scheduled=%s", ns,
             str_at(cj, "metadata", "name"), name, stamp);
    if (sched__create(s, c, SK_JOB, ns, job, uid, key) != 0)
        return;
    json_object_set_new(status, "lastScheduleTime", json_string(stamp));
}

/* ---- sync ---- */

static void requeue_at(struct sched *s, struct sched_ctrl *c, const char *key, int64_t when)
{
    struct cj_state *st = c->state;
    int64_t ms = when * 1000 + NEXT_DELTA_MS - now_ms();
    json_t *armed = json_object_get(st->armed, key);
    /* every Job event syncs the CronJob: arm one timer per fire time */
    if (armed != NULL && json_integer_value(armed) == when)
        return;
    json_object_set_new(st->armed, key, json_integer(when));
    sched__enqueue_after(s, c, key, ms > 0 ? (uint64_t)ms : 0);
}

/* The schedule's time zone: spec.timeZone, a TZ= prefix, or UTC. */
static int zone_of(struct cj_state *st, const json_t *spec, const struct sched_cron *cr,
                   const struct sched_tz **tz, struct err *e)
{
    const char *name = json_string_value(json_object_get(spec, "timeZone"));
    *tz = NULL;
    if (name == NULL && cr->tz[0] != '\0')
        name = cr->tz;
    if (name == NULL)
        return 0;
    *tz = zone_get(st, name, e);
    return *tz == NULL ? e->code : 0;
}

/* Starts the run due now, if any, and arms a requeue for the next one. */
static void schedule(struct sched *s, struct sched_ctrl *c, const json_t *cj, const char *key,
                     json_t *status, const json_t *jobs)
{
    const json_t *meta = json_object_get(cj, "metadata"), *spec = json_object_get(cj, "spec");
    const json_t *sds = json_object_get(spec, "startingDeadlineSeconds");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const struct sched_tz *tz;
    struct sched_cron cr;
    struct err e = {0};
    int64_t now = now_ms() / 1000, earliest, recent, next;
    long missed;

    if (sched__cron_parse(json_string_value(json_object_get(spec, "schedule")), &cr, &e) != 0 ||
        zone_of(c->state, spec, &cr, &tz, &e) != 0) {
        /* kube records an event and waits for the spec to change */
        LOG_WARN("sched", "cronjob_bad_schedule", "cronjob=%s/%s err=\"%s\"", ns, name, e.msg);
        return;
    }
    earliest = parse_time(json_string_value(json_object_get(status, "lastScheduleTime")));
    if (earliest < 0)
        earliest = parse_time(json_string_value(json_object_get(meta, "creationTimestamp")));
    if (earliest < 0)
        earliest = now;
    if (json_is_integer(sds) && now - json_integer_value(sds) > earliest)
        earliest = now - json_integer_value(sds);
    recent = most_recent(&cr, tz, earliest, now, &missed);
    if (missed > MANY_MISSED)
        LOG_WARN("sched", "cronjob_many_missed",
                 "cronjob=%s/%s missed=%ld+ msg=\"too many missed start times; set or decrease "
                 ".spec.startingDeadlineSeconds or check clock skew\"",
                 ns, name, missed - 1);
    if (recent >= 0) {
        if (json_is_integer(sds) && recent + json_integer_value(sds) < now)
            LOG_WARN("sched", "cronjob_missed_schedule", "cronjob=%s/%s scheduled=%lld", ns, name,
                     (long long)recent);
        else
            start_run(s, c, cj, key, status, jobs, recent, tz);
    }
    next = sched__cron_next(&cr, tz, now);
    if (next >= 0)
        requeue_at(s, c, key, next);
}

static void cj_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    json_t *cj = sched__get(s, SK_CRONJOB, key), *status, *jobs;
    const json_t *meta, *spec, *old_status;
    const char *uid;

    if (cj == NULL || c->state == NULL)
        return;
    meta = json_object_get(cj, "metadata");
    spec = json_object_get(cj, "spec");
    uid = json_string_value(json_object_get(meta, "uid"));
    if (uid == NULL || json_object_get(meta, "deletionTimestamp") != NULL ||
        !sched__settled(s, uid))
        return;
    old_status = json_object_get(cj, "status");
    status = json_is_object(old_status) ? json_deep_copy(old_status) : json_object();
    jobs = owned_jobs(s, uid);
    if (status == NULL || jobs == NULL)
        goto out;
    if (!json_is_array(json_object_get(status, "active")))
        json_object_set_new(status, "active", json_array());
    reconcile_active(status, jobs);
    if (!json_is_true(json_object_get(spec, "suspend")))
        schedule(s, c, cj, key, status, jobs);
    trim_history(s, c, uid, key, jobs, "Complete",
                 json_object_get(spec, "successfulJobsHistoryLimit"));
    trim_history(s, c, uid, key, jobs, "Failed", json_object_get(spec, "failedJobsHistoryLimit"));
    if (json_array_size(json_object_get(status, "active")) == 0)
        json_object_del(status, "active");
    if (!json_equal(status, old_status) && !(json_object_size(status) == 0 && old_status == NULL)) {
        json_t *upd = json_deep_copy(cj);
        if (upd != NULL) {
            json_object_set(upd, "status", status);
            sched__update(s, c, SK_CRONJOB, cj, upd, key);
        }
    }
out:
    json_decref(jobs);
    json_decref(status);
}

struct sched_ctrl sched__ctrl_cronjob = {"cronjob", cj_start, cj_stop, on_event,
                                         cj_sync,   NULL,     NULL,    NULL};
