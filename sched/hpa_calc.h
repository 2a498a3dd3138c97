/* sched/hpa_calc.h (sched-internal): the Horizontal Pod Autoscaler's
 * arithmetic, kept pure (no cache, no clock, no I/O) so it can be tested
 * on its own: the replica calculator for Resource metrics (Kubernetes'
 * pkg/controller/podautoscaler/replica_calculator.go), the normalisation
 * of a recommendation (stabilisation windows, behavior policies, min/max)
 * and the history both need. The history is a JSON object the controller
 * keeps in memory and in an annotation of the HPA, so a new leader resumes
 * with the same stabilisation window instead of flapping:
 *   {"rec": [[unix_ms, replicas], ...],   recommendations
 *    "up": [[unix_ms, added], ...],        scale-up events
 *    "down": [[unix_ms, removed], ...]}    scale-down events
 * Every function here is pure and thread-agnostic. */
#ifndef SKIFF_SCHED_HPA_CALC_H
#define SKIFF_SCHED_HPA_CALC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HPA_TOLERANCE          0.1 /* |1 - ratio| within this: no change */
#define HPA_POLICIES_MAX       8
#define HPA_HISTORY_ANNOTATION "autoscaling.skiff.io/history"

/* One pod of the target, as the calculator sees it. */
struct hpa_pod {
    const char *name;
    bool ignored;               /* being deleted or Failed: left out entirely */
    bool pending;               /* phase Pending: unready */
    bool ready;                 /* Ready condition True */
    bool has_metric;            /* the metrics source reported it */
    int64_t usage_milli;        /* sum over its containers (cpu millicores, memory milli-bytes) */
    bool has_request;           /* every container requests the resource */
    int64_t request_milli;      /* sum of the requests when has_request */
    const char *no_request_ctr; /* the first container without a request (message) */
};

struct hpa_proposal {
    int32_t replicas;    /* the metric's proposal */
    int32_t utilization; /* percent of requests (Utilization targets), else -1 */
    int64_t avg_milli;   /* average usage per pod with a metric */
    char err[256];       /* why there is no proposal */
};

/* Replicas for one Resource metric. utilization: target is a percentage of
 * the requests (averageUtilization), else an average value per pod in
 * milli-units (averageValue). cpu: unready pods are only those of resource
 * "cpu" (as Kubernetes; a memory metric counts Pending pods only). 0, or -1
 * with out->err set to the message Kubernetes gives ("missing request for
 * cpu in container web of Pod web-1", "did not receive metrics for targeted
 * pods (pods might be unready)", "no pods returned by selector while
 * calculating replica count"). */
int hpa_calc_replicas(const struct hpa_pod *pods, size_t n, int32_t current, bool cpu,
                      bool utilization, int64_t target, struct hpa_proposal *out);

enum { HPA_SELECT_MAX, HPA_SELECT_MIN, HPA_SELECT_DISABLED };

struct hpa_policy {
    bool pods; /* Pods (else Percent) */
    int32_t value;
    int32_t period_s;
};

struct hpa_rules {
    int64_t window_ms;
    int select; /* HPA_SELECT_* */
    size_t n;
    struct hpa_policy pol[HPA_POLICIES_MAX];
};

/* The rules of spec.behavior.<dir> (dir "scaleUp"/"scaleDown"), with the
 * Kubernetes defaults for what is unset; a scaleDown without a window gets
 * default_down_window_ms. */
void hpa_rules_from(const json_t *behavior, bool up, int64_t default_down_window_ms,
                    struct hpa_rules *out);

struct hpa_normalized {
    int32_t replicas;
    const char *able_reason; /* AbleToScale True: ReadyForNewScale, Scale{Up,Down}Stabilized */
    const char *able_msg;
    bool limited; /* ScalingLimited True */
    const char *limit_reason;
    const char *limit_msg;
};

/* Normalises desired (the metrics' proposal) for an HPA at current
 * replicas: records it in hist["rec"], applies the stabilisation windows
 * and (with a behavior) the rate policies from hist's scale events, then
 * min/max. Without a behavior (has_behavior false) it is Kubernetes'
 * older path: a scale-down window of default_down_window_ms and a scale-up
 * limit of max(2 * current, 4). */
void hpa_normalize(json_t *hist, int64_t now_ms, bool has_behavior, const struct hpa_rules *up,
                   const struct hpa_rules *down, int64_t default_down_window_ms, int32_t min,
                   int32_t max, int32_t current, int32_t desired, struct hpa_normalized *out);

/* Records "at least current replicas" when hist has no recommendation yet
 * (Kubernetes' recordInitialRecommendation: a controller that just started
 * does not scale down before a window has passed). */
void hpa_record_initial(json_t *hist, int64_t now_ms, int32_t current);

/* Records a scale from current to desired (a scale event for the
 * policies) and drops history older than keep_ms. */
void hpa_record_scale(json_t *hist, int64_t now_ms, int32_t current, int32_t desired,
                      int64_t keep_ms);

/* A new, well-formed history: hist parsed from the annotation text (NULL
 * or garbage give an empty one), entries of the wrong shape dropped. */
json_t *hpa_hist_parse(const char *text);

/* resource.Quantity ("100m", "0.5", "128Mi", "123456n", 2) as milli-units,
 * rounded up as Quantity.MilliValue does. false when unparsable. */
bool hpa_qty_milli(const json_t *q, int64_t *out);

#endif
