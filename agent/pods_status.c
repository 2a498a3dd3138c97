/* agent/pods_status: a pod's v1 PodStatus from what the driver observed of
 * its containers (a pure function, as kubelet's generateAPIPodStatus), and
 * the restart back-off schedule. */
#include "agent/pods.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void agent__now_rfc3339(char buf[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint64_t agent__backoff_ms(uint64_t base_ms, uint64_t max_ms, int crashes)
{
    uint64_t d = base_ms;
    int i;
    /* kubelet restarts at once after the first crash, then waits 10 s, 20 s,
     * ... (flowcontrol.Backoff: no entry yet means no back-off) */
    if (crashes <= 1)
        return 0;
    for (i = 2; i < crashes && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

static const char *policy_of(const json_t *pod)
{
    const char *p =
        json_string_value(json_object_get(json_object_get(pod, "spec"), "restartPolicy"));
    return p ? p : "Always";
}

/* Init containers all done (terminated with 0)? */
static bool initialized(const struct agent__pod_obs *o)
{
    size_t i;
    for (i = 0; i < o->n_init; i++) {
        const struct agent__ctr_obs *c = o->init[i];
        if (c->state != AGENT_CS_TERMINATED || c->term.exit_code != 0)
            return false;
    }
    return true;
}

/* An init container failed for good: terminated non-zero under Never. */
static bool init_failed(const struct agent__pod_obs *o)
{
    size_t i;
    if (strcmp(policy_of(o->pod), "Never") != 0)
        return false;
    for (i = 0; i < o->n_init; i++) {
        const struct agent__ctr_obs *c = o->init[i];
        if (c->state == AGENT_CS_TERMINATED && c->term.exit_code != 0)
            return true;
    }
    return false;
}

const char *agent__pod_phase(const struct agent__pod_obs *o)
{
    const char *policy = policy_of(o->pod);
    size_t i, running = 0, waiting = 0, stopped = 0, succeeded = 0;

    if (init_failed(o))
        return "Failed";
    if (!initialized(o))
        return "Pending";
    for (i = 0; i < o->n_ctrs; i++) {
        const struct agent__ctr_obs *c = o->ctrs[i];
        if (c->state == AGENT_CS_RUNNING) {
            running++;
        } else if (c->state == AGENT_CS_TERMINATED) {
            stopped++;
            succeeded += c->term.exit_code == 0;
        } else if (c->has_last) {
            stopped++; /* waiting to restart after it ran: kubelet counts it stopped */
        } else {
            waiting++;
        }
    }
    if (waiting > 0)
        return "Pending";
    if (running > 0)
        return "Running";
    if (stopped == 0)
        return "Pending";
    if (strcmp(policy, "Always") == 0)
        return "Running";
    if (stopped == succeeded)
        return "Succeeded";
    if (strcmp(policy, "OnFailure") == 0)
        return "Running";
    return "Failed";
}

static json_t *term_json(const struct agent__term *t)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "exitCode", t->exit_code, "reason", t->reason,
                          "startedAt", t->started_at, "finishedAt", t->finished_at);
    if (o == NULL)
        return NULL;
    if (t->signal != 0)
        json_object_set_new(o, "signal", json_integer(t->signal));
    if (t->message[0] != '\0')
        json_object_set_new(o, "message", json_string(t->message));
    if (t->container_id[0] != '\0')
        json_object_set_new(o, "containerID", json_string(t->container_id));
    if (t->started_at[0] == '\0')
        json_object_set_new(o, "startedAt", json_null());
    return o;
}

static json_t *ctr_json(const struct agent__ctr_obs *c)
{
    json_t *state, *o;
    if (c->state == AGENT_CS_RUNNING)
        state = json_pack("{s:{s:s}}", "running", "startedAt", c->started_at);
    else if (c->state == AGENT_CS_TERMINATED)
        state = json_pack("{s:o}", "terminated", term_json(&c->term));
    else if (c->message[0] != '\0')
        state = json_pack("{s:{s:s, s:s}}", "waiting", "reason", c->reason, "message", c->message);
    else
        state = json_pack("{s:{s:s}}", "waiting", "reason", c->reason);
    o = json_pack(
        "{s:s, s:o, s:o, s:b, s:i, s:s, s:s, s:b}", "name", c->name, "state", state, "lastState",
        c->has_last ? json_pack("{s:o}", "terminated", term_json(&c->last)) : json_object(),
        "ready", c->ready, "restartCount", c->restarts, "image", c->image ? c->image : "",
        "imageID", c->image_id, "started", c->started);
    if (o != NULL && c->container_id[0] != '\0')
        json_object_set_new(o, "containerID", json_string(c->container_id));
    return o;
}

/* A condition, keeping the previous lastTransitionTime when its status did
 * not change (so an unchanged pod yields an equal status). */
static json_t *condition(const struct agent__pod_obs *o, const char *type, bool ok,
                         const char *reason)
{
    const char *st = ok ? "True" : "False", *since = o->now;
    json_t *c, *pc;
    size_t i;
    json_array_foreach (json_object_get(o->prev, "conditions"), i, pc) {
        const char *t = json_string_value(json_object_get(pc, "type"));
        const char *s = json_string_value(json_object_get(pc, "status"));
        const char *ts = json_string_value(json_object_get(pc, "lastTransitionTime"));
        if (t && s && ts && strcmp(t, type) == 0 && strcmp(s, st) == 0)
            since = ts;
    }
    c = json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", st, "lastProbeTime",
                  "lastTransitionTime", since);
    if (c != NULL && !ok && reason != NULL)
        json_object_set_new(c, "reason", json_string(reason));
    return c;
}

static json_t *statuses(const struct agent__ctr_obs *const *v, size_t n)
{
    json_t *a = json_array();
    size_t i;
    for (i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, ctr_json(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *agent__pod_status(const struct agent__pod_obs *o)
{
    const char *phase = agent__pod_phase(o);
    bool init = initialized(o), ready = o->n_ctrs > 0;
    const char *qos = json_string_value(json_object_get(o->prev, "qosClass"));
    json_t *st;
    size_t i;

    for (i = 0; i < o->n_ctrs; i++)
        ready = ready && o->ctrs[i]->ready;
    /* a finished pod is not ready, whatever its containers last said */
    if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)
        ready = false;
    st = json_pack("{s:s, s:[o, o, o, o], s:o, s:o}", "phase", phase, "conditions",
                   condition(o, "PodScheduled", true, NULL),
                   condition(o, "Initialized", init, "ContainersNotInitialized"),
                   condition(o, "ContainersReady", ready, "ContainersNotReady"),
                   condition(o, "Ready", ready, "ContainersNotReady"), "containerStatuses",
                   statuses(o->ctrs, o->n_ctrs), "initContainerStatuses",
                   statuses(o->init, o->n_init));
    if (st == NULL)
        return NULL;
    if (o->n_init == 0)
        json_object_del(st, "initContainerStatuses");
    if (o->host_ip != NULL && o->host_ip[0] != '\0')
        json_object_set_new(st, "hostIP", json_string(o->host_ip));
    if (o->pod_ip != NULL && o->pod_ip[0] != '\0') {
        json_object_set_new(st, "podIP", json_string(o->pod_ip));
        json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", o->pod_ip));
    }
    if (o->start_time != NULL && o->start_time[0] != '\0')
        json_object_set_new(st, "startTime", json_string(o->start_time));
    if (qos != NULL)
        json_object_set_new(st, "qosClass", json_string(qos));
    return st;
}
