/* The HPA's arithmetic (see sched/hpa_calc.h). Written after Kubernetes'
 * replica_calculator.go and horizontal.go, in our own words; the
 * comments say where we follow it and why. */
#include "sched/hpa_calc.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replica calculator ---- */

/* Utilization as Kubernetes computes it: integer percent of the summed
 * requests, over the pods that have both a metric (possibly a filled-in
 * one) and a request. */
static double usage_ratio(const int64_t *usage, const struct hpa_pod *pods, size_t n,
                          bool utilization, int64_t target, int32_t *util, int64_t *avg,
                          size_t *entries)
{
    int64_t total = 0, requests = 0;
    size_t cnt = 0, i;
    for (i = 0; i < n; i++) {
        if (usage[i] < 0)
            continue;
        total += usage[i];
        requests += pods[i].request_milli;
        cnt++;
    }
    *entries = cnt;
    *avg = cnt ? total / (int64_t)cnt : 0;
    if (utilization) {
        *util = requests > 0 ? (int32_t)(total * 100 / requests) : 0;
        return (double)*util / (double)target;
    }
    *util = -1;
    return (double)*avg / (double)target;
}

int hpa_calc_replicas(const struct hpa_pod *pods, size_t n, int32_t current, bool cpu,
                      bool utilization, int64_t target, struct hpa_proposal *out)
{
    /* usage[i]: the pod's metric in the calculation, -1 = not counted */
    int64_t *usage = NULL;
    size_t i, ready = 0, unready = 0, missing = 0, entries;
    double ratio, nratio;
    int32_t util, nutil;
    int64_t avg, navg;
    int rv = -1;

    memset(out, 0, sizeof *out);
    out->utilization = -1;
    if (n == 0) {
        snprintf(out->err, sizeof out->err,
                 "no pods returned by selector while calculating replica count");
        return -1;
    }
    if (target <= 0) {
        snprintf(out->err, sizeof out->err, "invalid target %lld", (long long)target);
        return -1;
    }
    /* calculatePodRequests: every pod (even ignored ones) must request
     * the resource when the target is a utilization */
    if (utilization)
        for (i = 0; i < n; i++)
            if (!pods[i].has_request) {
                snprintf(out->err, sizeof out->err,
                         "missing request for %s in container %s of Pod %s", cpu ? "cpu" : "memory",
                         pods[i].no_request_ctr ? pods[i].no_request_ctr : "",
                         pods[i].name ? pods[i].name : "");
                return -1;
            }
    usage = calloc(n, sizeof *usage);
    if (usage == NULL) {
        snprintf(out->err, sizeof out->err, "out of memory");
        return -1;
    }
    /* groupPods: ignored, unready (Pending; for cpu also not Ready),
     * missing a metric, ready */
    for (i = 0; i < n; i++) {
        usage[i] = -1;
        if (pods[i].ignored)
            continue;
        if (pods[i].pending) {
            unready++;
            continue;
        }
        if (!pods[i].has_metric) {
            missing++;
            continue;
        }
        if (cpu && !pods[i].ready) {
            unready++;
            continue;
        }
        usage[i] = pods[i].usage_milli;
        ready++;
    }
    if (ready == 0) {
        snprintf(out->err, sizeof out->err,
                 "did not receive metrics for targeted pods (pods might be unready)");
        goto out;
    }
    ratio = usage_ratio(usage, pods, n, utilization, target, &util, &avg, &entries);
    out->utilization = util;
    out->avg_milli = avg;
    rv = 0;
    if (!(unready > 0 && ratio > 1.0) && missing == 0) {
        if (fabs(1.0 - ratio) <= HPA_TOLERANCE)
            out->replicas = current;
        else
            out->replicas = (int32_t)ceil(ratio * (double)ready);
        goto out;
    }
    /* Missing metrics count as 100 % of the request (or the target when it
     * is higher) on a scale-down and as 0 on a scale-up; unready pods as 0
     * on a scale-up. That damps a scale in either direction. */
    for (i = 0; i < n; i++) {
        if (pods[i].ignored)
            continue;
        if (!pods[i].pending && !pods[i].has_metric) {
            if (ratio < 1.0)
                usage[i] = utilization ? pods[i].request_milli * (target > 100 ? target : 100) / 100
                                       : target;
            else if (ratio > 1.0)
                usage[i] = 0;
        } else if (ratio > 1.0 && (pods[i].pending || (cpu && !pods[i].ready))) {
            usage[i] = 0;
        }
    }
    nratio = usage_ratio(usage, pods, n, utilization, target, &nutil, &navg, &entries);
    if (fabs(1.0 - nratio) <= HPA_TOLERANCE || (ratio < 1.0 && nratio > 1.0) ||
        (ratio > 1.0 && nratio < 1.0)) {
        out->replicas = current; /* too small, or the direction would flip */
        goto out;
    }
    out->replicas = (int32_t)ceil(nratio * (double)entries);
    if ((nratio < 1.0 && out->replicas > current) || (nratio > 1.0 && out->replicas < current))
        out->replicas = current;
out:
    free(usage);
    return rv;
}

/* ---- behavior rules ---- */

void hpa_rules_from(const json_t *behavior, bool up, int64_t default_down_window_ms,
                    struct hpa_rules *out)
{
    const json_t *r = json_object_get(behavior, up ? "scaleUp" : "scaleDown");
    const json_t *w = json_object_get(r, "stabilizationWindowSeconds");
    const json_t *pols = json_object_get(r, "policies");
    const char *sel = json_string_value(json_object_get(r, "selectPolicy"));
    size_t i;

    memset(out, 0, sizeof *out);
    out->window_ms =
        json_is_integer(w) ? json_integer_value(w) * 1000 : (up ? 0 : default_down_window_ms);
    out->select = HPA_SELECT_MAX;
    if (sel != NULL && strcmp(sel, "Min") == 0)
        out->select = HPA_SELECT_MIN;
    else if (sel != NULL && strcmp(sel, "Disabled") == 0)
        out->select = HPA_SELECT_DISABLED;
    for (i = 0; i < json_array_size(pols) && out->n < HPA_POLICIES_MAX; i++) {
        const json_t *p = json_array_get(pols, i);
        const char *type = json_string_value(json_object_get(p, "type"));
        json_int_t v = json_integer_value(json_object_get(p, "value"));
        json_int_t per = json_integer_value(json_object_get(p, "periodSeconds"));
        if (type == NULL || v <= 0 || per <= 0)
            continue;
        out->pol[out->n].pods = strcmp(type, "Pods") == 0;
        out->pol[out->n].value = (int32_t)v;
        out->pol[out->n].period_s = (int32_t)per;
        out->n++;
    }
    if (json_is_array(pols))
        return;
    /* the defaults of an unset list (api/defaults.c writes the same) */
    if (up) {
        out->pol[0] = (struct hpa_policy){true, 4, 15};
        out->pol[1] = (struct hpa_policy){false, 100, 15};
        out->n = 2;
    } else {
        out->pol[0] = (struct hpa_policy){false, 100, 15};
        out->n = 1;
    }
}

/* ---- history ---- */

static json_t *hist_list(json_t *hist, const char *name)
{
    json_t *a = json_object_get(hist, name);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(hist, name, a);
    }
    return a;
}

static int64_t ev_ms(const json_t *ev)
{
    return (int64_t)json_integer_value(json_array_get(ev, 0));
}

static int32_t ev_n(const json_t *ev)
{
    return (int32_t)json_integer_value(json_array_get(ev, 1));
}

static json_t *ev_new(int64_t ms, int32_t n)
{
    return json_pack("[I, i]", (json_int_t)ms, (int)n);
}

json_t *hpa_hist_parse(const char *text)
{
    static const char *const lists[] = {"rec", "up", "down"};
    json_t *in = text ? json_loads(text, 0, NULL) : NULL, *out = json_object();
    size_t l, i;
    for (l = 0; out != NULL && l < 3; l++) {
        json_t *dst = hist_list(out, lists[l]), *src = json_object_get(in, lists[l]), *ev;
        json_array_foreach (src, i, ev)
            if (json_array_size(ev) == 2 && json_is_integer(json_array_get(ev, 0)) &&
                json_is_integer(json_array_get(ev, 1)) && json_array_size(dst) < 1024)
                json_array_append_new(dst, ev_new(ev_ms(ev), ev_n(ev)));
    }
    json_decref(in);
    return out;
}

void hpa_record_initial(json_t *hist, int64_t now_ms, int32_t current)
{
    json_t *rec = hist_list(hist, "rec");
    if (json_array_size(rec) == 0)
        json_array_append_new(rec, ev_new(now_ms, current));
}

/* changes recorded in list within the last period_s */
static int32_t change_in_period(json_t *list, int64_t now_ms, int32_t period_s)
{
    int64_t cutoff = now_ms - (int64_t)period_s * 1000;
    int32_t sum = 0;
    size_t i;
    json_t *ev;
    json_array_foreach (list, i, ev)
        if (ev_ms(ev) > cutoff)
            sum += ev_n(ev);
    return sum;
}

static void prune(json_t *list, int64_t cutoff)
{
    size_t i = 0;
    while (i < json_array_size(list)) {
        if (ev_ms(json_array_get(list, i)) <= cutoff)
            json_array_remove(list, i);
        else
            i++;
    }
}

void hpa_record_scale(json_t *hist, int64_t now_ms, int32_t current, int32_t desired,
                      int64_t keep_ms)
{
    json_t *up = hist_list(hist, "up"), *down = hist_list(hist, "down");
    prune(up, now_ms - keep_ms);
    prune(down, now_ms - keep_ms);
    if (desired > current)
        json_array_append_new(up, ev_new(now_ms, desired - current));
    else if (desired < current)
        json_array_append_new(down, ev_new(now_ms, current - desired));
}

/* ---- normalisation ---- */

static int32_t imin(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static int32_t imax(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

/* Records desired among the recommendations: an entry older than both
 * windows is reused (the list stays as long as a window of syncs). */
static void record_rec(json_t *rec, int64_t now_ms, int64_t up_cut, int64_t down_cut,
                       int32_t desired)
{
    size_t i;
    json_t *ev;
    json_array_foreach (rec, i, ev) {
        if (ev_ms(ev) < up_cut && ev_ms(ev) < down_cut) {
            json_array_set_new(rec, i, ev_new(now_ms, desired));
            return;
        }
    }
    json_array_append_new(rec, ev_new(now_ms, desired));
}

static void limit_within(int32_t desired, int32_t lo, int32_t hi, const char *hi_reason,
                         const char *hi_msg, const char *lo_reason, const char *lo_msg,
                         struct hpa_normalized *out)
{
    if (desired < lo) {
        out->replicas = lo;
        out->limit_reason = lo_reason;
        out->limit_msg = lo_msg;
    } else if (desired > hi) {
        out->replicas = hi;
        out->limit_reason = hi_reason;
        out->limit_msg = hi_msg;
    } else {
        out->replicas = desired;
        out->limit_reason = "DesiredWithinRange";
        out->limit_msg = "the desired count is within the acceptable range";
    }
}

#define MSG_TOO_MANY  "the desired replica count is more than the maximum replica count"
#define MSG_TOO_FEW   "the desired replica count is less than the minimum replica count"
#define MSG_UP_RATE   "the desired replica count is increasing faster than the maximum scale rate"
#define MSG_DOWN_RATE "the desired replica count is decreasing faster than the maximum scale rate"
#define MSG_DOWN_STAB                                                                              \
    "recent recommendations were higher than current one, applying the highest recent "            \
    "recommendation"
#define MSG_UP_STAB                                                                                \
    "recent recommendations were lower than current one, applying the lowest recent "              \
    "recommendation"
#define MSG_READY "recommended size matches current size"

static int32_t rate_limit(const struct hpa_rules *r, bool up, json_t *ups, json_t *downs,
                          int64_t now_ms, int32_t current)
{
    int32_t result;
    size_t i;
    bool take_max;
    if (r->select == HPA_SELECT_DISABLED)
        return current;
    /* up: Max picks the largest proposal; down: Max picks the smallest
     * (the largest change) */
    take_max = up ? r->select == HPA_SELECT_MAX : r->select == HPA_SELECT_MIN;
    result = take_max ? INT32_MIN : INT32_MAX;
    for (i = 0; i < r->n; i++) {
        const struct hpa_policy *p = &r->pol[i];
        int32_t start = current - change_in_period(ups, now_ms, p->period_s) +
                        change_in_period(downs, now_ms, p->period_s);
        int32_t proposed;
        if (up)
            proposed = p->pods ? start + p->value
                               : (int32_t)ceil((double)start * (1.0 + p->value / 100.0));
        else
            proposed =
                p->pods ? start - p->value : (int32_t)((double)start * (1.0 - p->value / 100.0));
        result = take_max ? imax(result, proposed) : imin(result, proposed);
    }
    if (r->n == 0)
        result = current;
    return result;
}

void hpa_normalize(json_t *hist, int64_t now_ms, bool has_behavior, const struct hpa_rules *up,
                   const struct hpa_rules *down, int64_t default_down_window_ms, int32_t min,
                   int32_t max, int32_t current, int32_t desired, struct hpa_normalized *out)
{
    json_t *rec = hist_list(hist, "rec"), *ups = hist_list(hist, "up");
    json_t *downs = hist_list(hist, "down"), *ev;
    int32_t stabilized, up_rec = desired, down_rec = desired;
    int64_t up_cut, down_cut;
    size_t i;

    memset(out, 0, sizeof *out);
    if (!has_behavior) {
        /* stabilizeRecommendation: the highest recommendation of the
         * window, then convertDesiredReplicasWithRules */
        down_cut = now_ms - default_down_window_ms;
        stabilized = desired;
        json_array_foreach (rec, i, ev)
            if (ev_ms(ev) >= down_cut)
                stabilized = imax(stabilized, ev_n(ev));
        record_rec(rec, now_ms, down_cut, down_cut, desired);
        out->able_reason = stabilized != desired ? "ScaleDownStabilized" : "ReadyForNewScale";
        out->able_msg = stabilized != desired ? MSG_DOWN_STAB : MSG_READY;
        {
            int32_t up_limit = imax(2 * current, 4);
            if (max > up_limit)
                limit_within(stabilized, min, up_limit, "ScaleUpLimit", MSG_UP_RATE,
                             "TooFewReplicas", MSG_TOO_FEW, out);
            else
                limit_within(stabilized, min, max, "TooManyReplicas", MSG_TOO_MANY,
                             "TooFewReplicas", MSG_TOO_FEW, out);
        }
        out->limited = out->replicas != stabilized;
        return;
    }

    /* stabilizeRecommendationWithBehaviors: the lowest recommendation of
     * the up window and the highest of the down window bound the result */
    up_cut = now_ms - up->window_ms;
    down_cut = now_ms - down->window_ms;
    json_array_foreach (rec, i, ev) {
        if (ev_ms(ev) > up_cut)
            up_rec = imin(up_rec, ev_n(ev));
        if (ev_ms(ev) > down_cut)
            down_rec = imax(down_rec, ev_n(ev));
    }
    stabilized = current;
    if (stabilized < up_rec)
        stabilized = up_rec;
    if (stabilized > down_rec)
        stabilized = down_rec;
    record_rec(rec, now_ms, up_cut, down_cut, desired);
    if (stabilized != desired) {
        out->able_reason = desired >= current ? "ScaleUpStabilized" : "ScaleDownStabilized";
        out->able_msg = desired >= current ? MSG_UP_STAB : MSG_DOWN_STAB;
    } else {
        out->able_reason = "ReadyForNewScale";
        out->able_msg = MSG_READY;
    }

    /* convertDesiredReplicasWithBehaviorRate */
    if (stabilized > current) {
        int32_t limit = imax(rate_limit(up, true, ups, downs, now_ms, current), current);
        if (max > limit)
            limit_within(stabilized, INT32_MIN, limit, "ScaleUpLimit", MSG_UP_RATE, NULL, NULL,
                         out);
        else
            limit_within(stabilized, INT32_MIN, max, "TooManyReplicas", MSG_TOO_MANY, NULL, NULL,
                         out);
    } else if (stabilized < current) {
        int32_t limit = imin(rate_limit(down, false, ups, downs, now_ms, current), current);
        if (min < limit)
            limit_within(stabilized, limit, INT32_MAX, NULL, NULL, "ScaleDownLimit", MSG_DOWN_RATE,
                         out);
        else
            limit_within(stabilized, min, INT32_MAX, NULL, NULL, "TooFewReplicas", MSG_TOO_FEW,
                         out);
    } else {
        out->replicas = stabilized;
        out->limit_reason = "DesiredWithinRange";
        out->limit_msg = "the desired count is within the acceptable range";
    }
    out->limited = out->replicas != stabilized;
}

/* ---- quantities ---- */

bool hpa_qty_milli(const json_t *q, int64_t *out)
{
    const char *s, *p;
    char *end;
    long double v, mult = 1;
    if (json_is_integer(q)) {
        *out = (int64_t)json_integer_value(q) * 1000;
        return true;
    }
    if (json_is_real(q)) {
        *out = (int64_t)ceill((long double)json_real_value(q) * 1000);
        return true;
    }
    s = json_string_value(q);
    if (s == NULL || s[0] == '\0')
        return false;
    for (p = s; *p; p++)
        if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '+' || *p == '-'))
            break;
    if (p == s)
        return false;
    {
        char num[64];
        if ((size_t)(p - s) >= sizeof num)
            return false;
        memcpy(num, s, (size_t)(p - s));
        num[p - s] = '\0';
        v = strtold(num, &end);
        if (*end != '\0')
            return false;
    }
    if (strcmp(p, "") == 0)
        mult = 1;
    else if (strcmp(p, "n") == 0)
        mult = 1e-9L;
    else if (strcmp(p, "u") == 0)
        mult = 1e-6L;
    else if (strcmp(p, "m") == 0)
        mult = 1e-3L;
    else if (strcmp(p, "k") == 0)
        mult = 1e3L;
    else if (strcmp(p, "M") == 0)
        mult = 1e6L;
    else if (strcmp(p, "G") == 0)
        mult = 1e9L;
    else if (strcmp(p, "T") == 0)
        mult = 1e12L;
    else if (strcmp(p, "P") == 0)
        mult = 1e15L;
    else if (strcmp(p, "Ki") == 0)
        mult = 1024.0L;
    else if (strcmp(p, "Mi") == 0)
        mult = 1048576.0L;
    else if (strcmp(p, "Gi") == 0)
        mult = 1073741824.0L;
    else if (strcmp(p, "Ti") == 0)
        mult = 1099511627776.0L;
    else if (strcmp(p, "Pi") == 0)
        mult = 1125899906842624.0L;
    else if ((p[0] == 'e' || p[0] == 'E') && p[1] != '\0') {
        long ex = strtol(p + 1, &end, 10);
        if (*end != '\0' || ex < -18 || ex > 18)
            return false;
        mult = powl(10.0L, (long double)ex);
    } else
        return false;
    v = v * mult * 1000.0L;
    if (v > (long double)INT64_MAX / 2 || v < -(long double)INT64_MAX / 2)
        return false;
    /* round up like MilliValue, but forgive binary noise (0.1 * 1000) */
    *out = (int64_t)ceill(v - 1e-6L);
    return true;
}
