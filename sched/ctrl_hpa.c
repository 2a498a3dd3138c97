/* HorizontalPodAutoscaler controller (autoscaling/v2, Resource metrics):
 * every hpa_sync_ms each HPA resolves its target (any cached kind with a
 * /scale subresource: Deployment, ReplicaSet), fetches the metrics of the
 * target's pods from the metrics source (sched_config.pod_metrics, a
 * BLOCKING call, so on a uv work thread; the answer comes back on the
 * loop), computes the replicas as Kubernetes does (sched/hpa_calc.c),
 * writes the target's spec.replicas and the HPA's status with the
 * conditions AbleToScale / ScalingActive / ScalingLimited.
 *
 * The recommendation history and recent scale events that stabilisation
 * and the behavior policies need are kept in memory and written with the
 * status into the annotation HPA_HISTORY_ANNOTATION: a new leader reads it
 * back and goes on with the same window instead of scaling down at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "sched/hpa_calc.h"
#include "sched/internal.h"

#define EVENTS_KEEP_MS (1800LL * 1000) /* the longest policy period the API allows */

/* One per leadership term: work still on the thread pool when leadership
 * ends holds a reference and finds dead set. */
struct hpa_state {
    json_t *mem; /* HPA store key -> {"hist": {...}, "next": mono ms, "busy": bool} */
    bool dead;
    unsigned refs;
};

struct fetch {
    uv_work_t req;
    struct hpa_state *st;
    struct sched *s;
    struct sched_ctrl *c;
    sched_pod_metrics_fn fn;
    void *fn_data;
    char *ns, *selector, *key;
    json_t *result;
    int rv;
    struct err e;
};

static void state_unref(struct hpa_state *st)
{
    if (--st->refs > 0)
        return;
    json_decref(st->mem);
    free(st);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned sync_ms(struct sched *s)
{
    unsigned v = sched__config(s)->hpa_sync_ms;
    return v ? v : SCHED_HPA_SYNC_MS;
}

static int64_t down_window_ms(struct sched *s)
{
    unsigned v = sched__config(s)->hpa_downscale_window_ms;
    return v ? (int64_t)v : SCHED_HPA_DOWNSCALE_WIN_MS;
}

/* The in-memory entry of an HPA, created from its annotation the first
 * time this leader sees it. */
static json_t *mem_of(struct hpa_state *st, const char *key, const json_t *hpa)
{
    json_t *m = json_object_get(st->mem, key);
    if (m == NULL) {
        const char *text = json_string_value(
            json_object_get(json_object_get(json_object_get(hpa, "metadata"), "annotations"),
                            HPA_HISTORY_ANNOTATION));
        m = json_pack("{s:o, s:I, s:b}", "hist", hpa_hist_parse(text), "next", (json_int_t)0,
                      "busy", 0);
        if (m == NULL || json_object_set_new(st->mem, key, m) != 0)
            return NULL;
    }
    return m;
}

/* ---- small JSON helpers ---- */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const json_t *jget2(const json_t *o, const char *a, const char *b)
{
    return json_object_get(json_object_get(o, a), b);
}

/* "200m", "2", "128974848", "2M": NewMilliQuantity(v, DecimalSI).String() */
static void fmt_milli(char *buf, size_t size, int64_t v)
{
    static const char *const sfx[] = {"", "k", "M", "G", "T", "P", "E"};
    size_t i = 0;
    if (v % 1000 != 0) {
        snprintf(buf, size, "%lldm", (long long)v);
        return;
    }
    v /= 1000;
    while (v != 0 && v % 1000 == 0 && i < 6) {
        v /= 1000;
        i++;
    }
    snprintf(buf, size, "%lld%s", (long long)v, sfx[i]);
}

/* A label selector as the metrics API's labelSelector takes it. */
static char *selector_string(const json_t *sel)
{
    const json_t *ml = json_object_get(sel, "matchLabels"),
                 *me = json_object_get(sel, "matchExpressions");
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    const char *k;
    json_t *v, *x;
    size_t i, j;
    bool first = true;
    if (f == NULL)
        return NULL;
    json_object_foreach ((json_t *)ml, k, v) {
        fprintf(f, "%s%s=%s", first ? "" : ",", k,
                json_string_value(v) ? json_string_value(v) : "");
        first = false;
    }
    json_array_foreach (me, i, x) {
        const char *key = jstr(x, "key"), *op = jstr(x, "operator");
        const json_t *vals = json_object_get(x, "values");
        if (key == NULL || op == NULL)
            continue;
        fprintf(f, "%s", first ? "" : ",");
        first = false;
        if (strcmp(op, "Exists") == 0) {
            fprintf(f, "%s", key);
        } else if (strcmp(op, "DoesNotExist") == 0) {
            fprintf(f, "!%s", key);
        } else {
            fprintf(f, "%s %s (", key, strcmp(op, "In") == 0 ? "in" : "notin");
            json_array_foreach (vals, j, v)
                fprintf(f, "%s%s", j ? "," : "", json_string_value(v) ? json_string_value(v) : "");
            fprintf(f, ")");
        }
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Sets condition type on the conditions array, keeping
 * lastTransitionTime when the status does not change (setCondition). */
static void set_cond(json_t *conds, const char *type, bool status, const char *reason,
                     const char *msg, const char *now)
{
    const char *st = status ? "True" : "False";
    json_t *c;
    size_t i;
    json_array_foreach (conds, i, c) {
        if (jstr(c, "type") == NULL || strcmp(jstr(c, "type"), type) != 0)
            continue;
        if (jstr(c, "status") == NULL || strcmp(jstr(c, "status"), st) != 0)
            json_object_set_new(c, "lastTransitionTime", json_string(now));
        json_object_set_new(c, "status", json_string(st));
        json_object_set_new(c, "reason", json_string(reason));
        json_object_set_new(c, "message", json_string(msg));
        return;
    }
    json_array_append_new(conds,
                          json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", st,
                                    "lastTransitionTime", now, "reason", reason, "message", msg));
}

/* The target's cached kind: any kind skiff caches with a /scale
 * subresource, in the group the reference names. -1 when none. */
static int target_kind(const json_t *ref, char *why, size_t size)
{
    const char *kind = jstr(ref, "kind"), *apiv = jstr(ref, "apiVersion");
    char group[64] = "";
    if (apiv != NULL && strchr(apiv, '/') != NULL)
        snprintf(group, sizeof group, "%.*s", (int)(strchr(apiv, '/') - apiv), apiv);
    for (int k = 0; kind != NULL && k < SK__COUNT; k++) {
        const struct api_kind *ak = sched__kind(k);
        if (ak != NULL && strcmp(ak->kind, kind) == 0 && (ak->subresources & API_SUB_SCALE) &&
            (apiv == NULL || strcmp(ak->group, group) == 0))
            return k;
    }
    snprintf(why, size, "no matches for kind \"%s\" in group \"%s\"", kind ? kind : "", group);
    return -1;
}

/* ---- one reconcile, with the metrics (or the error) in hand ---- */

struct metric_eval {
    json_t *statuses; /* currentMetrics */
    int32_t proposal; /* max over valid metrics */
    const char *name; /* the metric that proposed it ("cpu resource utilization ...") */
    size_t invalid;
    char first_err[400];
};

static void pod_usage(const json_t *pm, const char *res, json_t *usage)
{
    const char *name = json_string_value(jget2(pm, "metadata", "name"));
    const json_t *ctrs = json_object_get(pm, "containers"), *c;
    int64_t sum = 0, v;
    size_t i;
    if (name == NULL || json_array_size(ctrs) == 0)
        return;
    json_array_foreach (ctrs, i, c)
        if (!hpa_qty_milli(jget2(c, "usage", res), &v))
            return; /* a container without the resource: the pod has no metric */
        else
            sum += v;
    json_object_set_new(usage, name, json_integer((json_int_t)sum));
}

static void eval_metric(const json_t *spec_m, const json_t *pods, const json_t *metrics,
                        const char *fetch_err, int32_t current, struct metric_eval *ev)
{
    const json_t *res = json_object_get(spec_m, "resource"), *t = json_object_get(res, "target");
    const char *rname = jstr(res, "name");
    bool util = json_object_get(t, "averageValue") == NULL;
    const json_t *au = json_object_get(t, "averageUtilization");
    int64_t target = 0;
    struct hpa_pod *hp = NULL;
    struct hpa_proposal prop;
    json_t *usage = json_object(), *pm, *pod;
    const char *pkey;
    size_t n = 0, i;
    char err[300], q[32];

    err[0] = '\0';
    if (rname == NULL || (strcmp(rname, "cpu") != 0 && strcmp(rname, "memory") != 0)) {
        snprintf(err, sizeof err, "unsupported metric source");
        goto out;
    }
    if (util && !json_is_integer(au)) {
        snprintf(err, sizeof err,
                 "invalid resource metric source: neither an average utilization "
                 "target nor an average value (usage) target was set");
        goto out;
    }
    if (util)
        target = json_integer_value(au);
    else if (!hpa_qty_milli(json_object_get(t, "averageValue"), &target))
        target = 0;
    if (fetch_err != NULL) {
        snprintf(err, sizeof err, "failed to get %s %s: unable to get metrics for resource %s: %s",
                 rname, util ? "utilization" : "usage", rname, fetch_err);
        goto out;
    }
    json_array_foreach (json_object_get(metrics, "items"), i, pm)
        pod_usage(pm, rname, usage);
    if (json_object_size(usage) == 0) {
        snprintf(err, sizeof err,
                 "failed to get %s %s: unable to get metrics for resource %s: no metrics returned "
                 "from resource metrics API",
                 rname, util ? "utilization" : "usage", rname);
        goto out;
    }
    hp = calloc(json_object_size(pods) + 1, sizeof *hp);
    if (hp == NULL) {
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    json_object_foreach ((json_t *)pods, pkey, pod) {
        const json_t *meta = json_object_get(pod, "metadata"), *ctr;
        const char *phase = json_string_value(jget2(pod, "status", "phase"));
        struct hpa_pod *p = &hp[n++];
        p->name = jstr(meta, "name");
        p->ignored = json_object_get(meta, "deletionTimestamp") != NULL ||
                     (phase != NULL && strcmp(phase, "Failed") == 0);
        p->pending = phase == NULL || strcmp(phase, "Pending") == 0;
        p->ready = sched__pod_ready(pod);
        p->has_metric = p->name != NULL && json_object_get(usage, p->name) != NULL;
        p->usage_milli = p->has_metric ? json_integer_value(json_object_get(usage, p->name)) : 0;
        p->has_request = true;
        json_array_foreach (jget2(pod, "spec", "containers"), i, ctr) {
            int64_t r;
            const json_t *req = json_object_get(jget2(ctr, "resources", "requests"), rname);
            if (req == NULL || !hpa_qty_milli(req, &r)) {
                if (p->has_request)
                    p->no_request_ctr = jstr(ctr, "name");
                p->has_request = false;
            } else {
                p->request_milli += r;
            }
        }
    }
    if (hpa_calc_replicas(hp, n, current, strcmp(rname, "cpu") == 0, util, target, &prop) != 0) {
        snprintf(err, sizeof err, "failed to get %s %s: %s", rname, util ? "utilization" : "usage",
                 prop.err);
        goto out;
    }
    {
        json_t *cur = json_object();
        fmt_milli(q, sizeof q, prop.avg_milli);
        json_object_set_new(cur, "averageValue", json_string(q));
        if (util)
            json_object_set_new(cur, "averageUtilization", json_integer(prop.utilization));
        json_array_append_new(ev->statuses, json_pack("{s:s, s:{s:s, s:o}}", "type", "Resource",
                                                      "resource", "name", rname, "current", cur));
    }
    if (ev->proposal == 0 || prop.replicas > ev->proposal) {
        ev->proposal = prop.replicas;
        ev->name =
            strcmp(rname, "cpu") == 0
                ? (util ? "cpu resource utilization (percentage of request)" : "cpu resource")
                : (util ? "memory resource utilization (percentage of request)"
                        : "memory resource");
    }
out:
    if (err[0] != '\0') {
        if (ev->invalid == 0)
            snprintf(ev->first_err, sizeof ev->first_err, "%s", err);
        ev->invalid++;
    }
    free(hp);
    json_decref(usage);
}

/* The target's pods: active selector matches in its namespace. */
static json_t *target_pods(struct sched *s, const char *ns, const json_t *sel)
{
    json_t *out = json_object(), *pod;
    const char *key;
    json_object_foreach (sched__objs(s, SK_POD), key, pod) {
        const json_t *meta = json_object_get(pod, "metadata");
        if (jstr(meta, "namespace") == NULL || strcmp(jstr(meta, "namespace"), ns) != 0)
            continue;
        if (sched__selector_matches(sel, json_object_get(meta, "labels"), false))
            json_object_set(out, key, pod);
    }
    return out;
}

static void write_hpa(struct sched *s, struct sched_ctrl *c, const json_t *hpa, json_t *status,
                      const json_t *hist)
{
    json_t *upd, *ann;
    char *text = json_dumps(hist, JSON_COMPACT);
    const char *old_text = jstr(jget2(hpa, "metadata", "annotations"), HPA_HISTORY_ANNOTATION);
    bool same_hist = text != NULL && old_text != NULL && strcmp(text, old_text) == 0;
    /* a required field of the status (0 until the HPA has computed one) */
    if (!json_is_integer(json_object_get(status, "desiredReplicas")))
        json_object_set_new(status, "desiredReplicas", json_integer(0));
    if (json_equal(status, json_object_get(hpa, "status")) && (same_hist || text == NULL)) {
        free(text);
        return;
    }
    upd = json_deep_copy(hpa);
    if (upd == NULL) {
        free(text);
        return;
    }
    json_object_set(upd, "status", status);
    if (text != NULL) {
        json_t *meta = json_object_get(upd, "metadata");
        ann = json_object_get(meta, "annotations");
        if (!json_is_object(ann)) {
            ann = json_object();
            json_object_set_new(meta, "annotations", ann);
        }
        json_object_set_new(ann, HPA_HISTORY_ANNOTATION, json_string(text));
    }
    free(text);
    sched__update(s, c, SK_HPA, hpa, upd, NULL);
}

static void reconcile(struct sched *s, struct sched_ctrl *c, const char *key, const json_t *metrics,
                      const char *fetch_err)
{
    struct hpa_state *st = c->state;
    const json_t *hpa = sched__get(s, SK_HPA, key), *meta, *spec, *ref, *target;
    json_t *m, *hist, *status, *conds, *pods = NULL, *spec_m;
    const char *ns;
    int tk;
    char why[300], msg[512], now[21], tkey[STORE_KEY_MAX + 1];
    json_int_t minr, maxr, current, desired = 0;
    bool rescale = true;
    struct metric_eval ev = {0};
    size_t i;

    if (hpa == NULL || st == NULL || (m = mem_of(st, key, hpa)) == NULL)
        return;
    meta = json_object_get(hpa, "metadata");
    spec = json_object_get(hpa, "spec");
    ref = json_object_get(spec, "scaleTargetRef");
    ns = jstr(meta, "namespace");
    hist = json_object_get(m, "hist");
    sched__now_rfc3339(s, now);
    status = json_is_object(json_object_get(hpa, "status"))
                 ? json_deep_copy(json_object_get(hpa, "status"))
                 : json_object();
    if (status == NULL)
        return;
    conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }

    tk = target_kind(ref, why, sizeof why);
    target = NULL;
    if (tk >= 0 && ns != NULL && sched__key_of(tk, ns, jstr(ref, "name"), tkey, sizeof tkey) == 0)
        target = sched__get(s, tk, tkey);
    if (tk >= 0 && target == NULL) {
        const struct api_kind *ak = sched__kind(tk);
        snprintf(why, sizeof why, "%s%s%s \"%s\" not found", ak->resource, ak->group[0] ? "." : "",
                 ak->group, jstr(ref, "name") ? jstr(ref, "name") : "");
    }
    if (target == NULL) {
        /* only AbleToScale changes: the rest of the status stays as it was */
        snprintf(msg, sizeof msg,
                 "the HPA controller was unable to get the target's current scale: %s", why);
        set_cond(conds, "AbleToScale", false, "FailedGetScale", msg, now);
        write_hpa(s, c, hpa, status, hist);
        json_decref(status);
        return;
    }
    set_cond(conds, "AbleToScale", true, "SucceededGetScale",
             "the HPA controller was able to get the target's current scale", now);
    current = json_is_integer(jget2(target, "spec", "replicas"))
                  ? json_integer_value(jget2(target, "spec", "replicas"))
                  : 1;
    minr = json_is_integer(json_object_get(spec, "minReplicas"))
               ? json_integer_value(json_object_get(spec, "minReplicas"))
               : 1;
    maxr = json_integer_value(json_object_get(spec, "maxReplicas"));
    hpa_record_initial(hist, wall_ms(), (int32_t)current);

    if (current == 0 && minr != 0) {
        desired = 0;
        rescale = false;
        set_cond(conds, "ScalingActive", false, "ScalingDisabled",
                 "scaling is disabled since the replica count of the target is zero", now);
    } else if (current > maxr) {
        desired = maxr;
    } else if (current < minr) {
        desired = minr;
    } else {
        struct hpa_rules up, down;
        struct hpa_normalized norm;
        const json_t *beh = json_object_get(spec, "behavior");
        ev.statuses = json_array();
        pods = target_pods(s, ns, jget2(target, "spec", "selector"));
        json_array_foreach (json_object_get(spec, "metrics"), i, spec_m)
            eval_metric(spec_m, pods, metrics, fetch_err, (int32_t)current, &ev);
        if (ev.invalid >= json_array_size(json_object_get(spec, "metrics")) ||
            (ev.invalid > 0 && ev.proposal < current)) {
            snprintf(msg, sizeof msg, "the HPA was unable to compute the replica count: %s",
                     ev.first_err);
            set_cond(conds, "ScalingActive", false, "FailedGetResourceMetric", msg, now);
            json_object_set_new(status, "currentReplicas", json_integer(current));
            json_object_set(status, "currentMetrics", ev.statuses);
            if (json_array_size(ev.statuses) == 0)
                json_object_del(status, "currentMetrics");
            if (json_object_get(status, "desiredReplicas") == NULL)
                json_object_set_new(status, "desiredReplicas", json_integer(current));
            write_hpa(s, c, hpa, status, hist);
            goto out;
        }
        snprintf(msg, sizeof msg,
                 "the HPA was able to successfully calculate a replica count from %s", ev.name);
        set_cond(conds, "ScalingActive", true, "ValidMetricFound", msg, now);
        hpa_rules_from(beh, true, down_window_ms(s), &up);
        hpa_rules_from(beh, false, down_window_ms(s), &down);
        hpa_normalize(hist, wall_ms(), json_is_object(beh), &up, &down, down_window_ms(s),
                      (int32_t)minr, (int32_t)maxr, (int32_t)current, ev.proposal, &norm);
        set_cond(conds, "AbleToScale", true, norm.able_reason, norm.able_msg, now);
        set_cond(conds, "ScalingLimited", norm.limited, norm.limit_reason, norm.limit_msg, now);
        desired = norm.replicas;
        rescale = desired != current;
    }

    if (rescale) {
        json_t *upd = json_deep_copy(target);
        if (upd == NULL)
            goto out;
        json_object_set_new(json_object_get(upd, "spec"), "replicas", json_integer(desired));
        if (sched__update(s, c, tk, target, upd, NULL) != 0)
            goto out; /* logged by sched; the next sync tries again */
        snprintf(msg, sizeof msg, "the HPA controller was able to update the target scale to %lld",
                 (long long)desired);
        set_cond(conds, "AbleToScale", true, "SucceededRescale", msg, now);
        hpa_record_scale(hist, wall_ms(), (int32_t)current, (int32_t)desired, EVENTS_KEEP_MS);
        json_object_set_new(status, "lastScaleTime", json_string(now));
        LOG_INFO("sched", "hpa_rescale", "hpa=%s target=%s from=%lld to=%lld", key, tkey,
                 (long long)current, (long long)desired);
    } else {
        desired = current;
    }
    json_object_set_new(status, "currentReplicas", json_integer(current));
    json_object_set_new(status, "desiredReplicas", json_integer(desired));
    if (ev.statuses != NULL && json_array_size(ev.statuses) > 0)
        json_object_set(status, "currentMetrics", ev.statuses);
    if (json_object_get(meta, "generation") != NULL)
        json_object_set(status, "observedGeneration", json_object_get(meta, "generation"));
    write_hpa(s, c, hpa, status, hist);
out:
    json_decref(ev.statuses);
    json_decref(pods);
    json_decref(status);
}

/* ---- metrics on the thread pool ---- */

static void fetch_work(uv_work_t *req)
{
    struct fetch *f = req->data;
    f->rv = f->fn(f->fn_data, f->ns, f->selector, &f->result, &f->e);
}

static void fetch_free(struct fetch *f)
{
    json_decref(f->result);
    free(f->ns);
    free(f->selector);
    free(f->key);
    state_unref(f->st);
    free(f);
}

static void fetch_done(uv_work_t *req, int status)
{
    struct fetch *f = req->data;
    json_t *m;
    if (f->st->dead) {
        fetch_free(f);
        return;
    }
    m = json_object_get(f->st->mem, f->key);
    if (m != NULL)
        json_object_set_new(m, "busy", json_false());
    if (status != 0)
        reconcile(f->s, f->c, f->key, NULL, "canceled");
    else
        reconcile(f->s, f->c, f->key, f->rv == 0 ? f->result : NULL,
                  f->rv == 0 ? NULL : (f->e.msg[0] ? f->e.msg : "metrics unavailable"));
    fetch_free(f);
}

/* ---- the controller ---- */

static void hpa_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    struct hpa_state *st = c->state;
    const struct sched_config *cfg = sched__config(s);
    const json_t *hpa = sched__get(s, SK_HPA, key), *ref, *target = NULL;
    json_t *m;
    struct fetch *f;
    char why[300], tkey[STORE_KEY_MAX + 1];
    const char *ns;
    uint64_t now = sched__now_ms(s);
    int tk;

    if (st == NULL)
        return;
    if (hpa == NULL) {
        json_object_del(st->mem, key);
        return;
    }
    m = mem_of(st, key, hpa);
    if (m == NULL || json_is_true(json_object_get(m, "busy")))
        return;
    if ((uint64_t)json_integer_value(json_object_get(m, "next")) > now)
        return;
    json_object_set_new(m, "next", json_integer((json_int_t)(now + sync_ms(s))));
    ns = jstr(json_object_get(hpa, "metadata"), "namespace");
    ref = jget2(hpa, "spec", "scaleTargetRef");
    tk = target_kind(ref, why, sizeof why);
    if (tk >= 0 && ns != NULL && sched__key_of(tk, ns, jstr(ref, "name"), tkey, sizeof tkey) == 0)
        target = sched__get(s, tk, tkey);
    if (target == NULL || cfg->pod_metrics == NULL) {
        /* nothing to measure: reconcile says why at once */
        reconcile(s, c, key, NULL, "no metrics source configured");
        return;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return;
    f->req.data = f;
    f->st = st;
    f->s = s;
    f->c = c;
    f->fn = cfg->pod_metrics;
    f->fn_data = cfg->pod_metrics_data;
    f->ns = strdup(ns);
    f->selector = selector_string(jget2(target, "spec", "selector"));
    f->key = strdup(key);
    if (f->ns == NULL || f->selector == NULL || f->key == NULL) {
        free(f->ns);
        free(f->selector);
        free(f->key);
        free(f);
        return;
    }
    st->refs++;
    if (uv_queue_work(sched__loop(s), &f->req, fetch_work, fetch_done) != 0) {
        fetch_free(f); /* drops the reference taken above */
        return;
    }
    json_object_set_new(m, "busy", json_true());
}

static void hpa_on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                         const json_t *old, const json_t *obj)
{
    struct hpa_state *st = c->state;
    json_t *m;
    if (kind != SK_HPA || st == NULL)
        return;
    if (obj == NULL) {
        json_object_del(st->mem, key);
        return;
    }
    /* new HPA or a changed spec: measure now (our own status writes keep
     * the generation and wait for the next period) */
    if (old == NULL ||
        !json_equal(jget2(old, "metadata", "generation"), jget2(obj, "metadata", "generation"))) {
        m = json_object_get(st->mem, key);
        if (m != NULL)
            json_object_set_new(m, "next", json_integer(0));
        sched__enqueue(s, c, key);
    }
}

static void hpa_tick(struct sched *s, struct sched_ctrl *c)
{
    struct hpa_state *st = c->state;
    uint64_t now = sched__now_ms(s);
    const char *key;
    json_t *hpa;
    if (st == NULL)
        return;
    json_object_foreach (sched__objs(s, SK_HPA), key, hpa) {
        json_t *m = json_object_get(st->mem, key);
        if (m == NULL || (uint64_t)json_integer_value(json_object_get(m, "next")) <= now)
            sched__enqueue(s, c, key);
    }
}

static void hpa_start(struct sched *s, struct sched_ctrl *c)
{
    struct hpa_state *st = calloc(1, sizeof *st);
    (void)s;
    if (st == NULL)
        return;
    st->mem = json_object();
    st->refs = 1;
    if (st->mem == NULL) {
        free(st);
        return;
    }
    c->state = st;
}

static void hpa_stop(struct sched *s, struct sched_ctrl *c)
{
    struct hpa_state *st = c->state;
    (void)s;
    if (st == NULL)
        return;
    st->dead = true;
    c->state = NULL;
    state_unref(st);
}

struct sched_ctrl sched__ctrl_hpa = {"hpa",    hpa_start, hpa_stop, hpa_on_event,
                                     hpa_sync, hpa_tick,  NULL,     NULL};
