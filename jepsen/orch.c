/* The orchestrator checker: the converged state of a run, as every node
 * lists it, against the Kubernetes invariants and the client's history. */
#include "jepsen/checker.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);
    if (b != NULL)
        v = json_object_get(v, b);
    return json_string_value(v);
}

/* Records one problem: counted always, its text kept for the first few. */
static int problem(struct jepsen_orch_result *r, size_t *counter, struct err *e, const char *fmt,
                   ...)
{
    va_list ap;
    char *msg;
    int n;

    (*counter)++;
    r->problems++;
    if (r->n_sample >= JEPSEN_ORCH_SAMPLE)
        return 0;
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err_setf(e, ERR_NOMEM, "orch: out of memory");
    r->sample[r->n_sample++] = msg;
    return 0;
}

/* "ns/name" -> resourceVersion of every item of a list, as a JSON object
 * (new reference); NULL when the list is not a list. */
static json_t *rv_map(const json_t *list)
{
    const json_t *items = json_object_get(list, "items"), *it;
    json_t *m;
    size_t i;
    char id[512];

    if (!json_is_array(items))
        return NULL;
    m = json_object();
    json_array_foreach (items, i, it) {
        const char *ns = str_at(it, "metadata", "namespace");
        const char *name = str_at(it, "metadata", "name");
        const char *rv = str_at(it, "metadata", "resourceVersion");
        snprintf(id, sizeof id, "%s/%s", ns ? ns : "", name ? name : "?");
        json_object_set_new(m, id, json_string(rv ? rv : ""));
    }
    return m;
}

/* Every kind of view 0 against the same kind of every other view. */
static int check_agreement(const json_t *views, struct jepsen_orch_result *r, struct err *e)
{
    const json_t *lists0 = json_object_get(json_array_get(views, 0), "lists");
    const char *kind;
    const json_t *list0;
    int rv = 0;

    json_object_foreach ((json_t *)lists0, kind, list0) {
        json_t *m0 = rv_map(list0);
        for (size_t v = 0; v < json_array_size(views) && rv == 0; v++) {
            const json_t *view = json_array_get(views, v);
            const char *url = str_at(view, "url", NULL);
            json_t *mv = rv_map(json_object_get(json_object_get(view, "lists"), kind));
            const char *id;
            json_t *x;
            if (mv == NULL || m0 == NULL) {
                rv = problem(r, &r->unanswered, e, "%s: no %s list from %s", kind, kind,
                             mv == NULL ? (url ? url : "?")
                                        : str_at(json_array_get(views, 0), "url", NULL));
                json_decref(mv);
                continue;
            }
            if (v == 0) {
                json_decref(mv);
                continue;
            }
            json_object_foreach (mv, id, x) {
                const char *want = json_string_value(json_object_get(m0, id));
                if (want == NULL)
                    rv = problem(r, &r->disagree, e, "%s %s: listed by %s only", kind, id,
                                 url ? url : "?");
                else if (strcmp(want, json_string_value(x)) != 0)
                    rv = problem(r, &r->disagree, e,
                                 "%s %s: resourceVersion %s at %s, %s at the first node", kind, id,
                                 json_string_value(x), url ? url : "?", want);
                if (rv != 0)
                    break;
            }
            json_object_foreach (m0, id, x) {
                if (rv == 0 && json_object_get(mv, id) == NULL)
                    rv = problem(r, &r->disagree, e, "%s %s: missing at %s", kind, id,
                                 url ? url : "?");
            }
            json_decref(mv);
        }
        json_decref(m0);
        if (rv != 0)
            break;
    }
    return rv;
}

/* The name of obj's controller owner of the given kind, or NULL. */
static const char *owner_of(const json_t *obj, const char *kind)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), *ref;
    size_t i;
    json_array_foreach (refs, i, ref) {
        const char *k = str_at(ref, "kind", NULL);
        if (k != NULL && strcmp(k, kind) == 0)
            return str_at(ref, "name", NULL);
    }
    return NULL;
}

static bool in_list(const json_t *list, const char *name)
{
    const json_t *it;
    size_t i;
    json_array_foreach (json_object_get(list, "items"), i, it) {
        const char *n = str_at(it, "metadata", "name");
        if (n != NULL && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/* Pods of one view: each Deployment has exactly spec.replicas live pods,
 * Running; every pod bound once, to a node that exists. */
static int check_pods(const json_t *lists, struct jepsen_orch_result *r, struct err *e)
{
    const json_t *deps = json_object_get(json_object_get(lists, "deployments"), "items");
    const json_t *rss = json_object_get(lists, "replicasets");
    const json_t *pods = json_object_get(json_object_get(lists, "pods"), "items");
    const json_t *nodes = json_object_get(lists, "nodes");
    json_t *uids = json_object(), *names = json_object(), *count = json_object();
    const json_t *it;
    size_t i;
    int rv = 0;

    if (uids == NULL || names == NULL || count == NULL) {
        rv = err_setf(e, ERR_NOMEM, "orch: out of memory");
        goto out;
    }
    json_array_foreach (pods, i, it) {
        const char *ns = str_at(it, "metadata", "namespace");
        const char *name = str_at(it, "metadata", "name");
        const char *uid = str_at(it, "metadata", "uid");
        const char *node = str_at(it, "spec", "nodeName");
        const char *phase = str_at(it, "status", "phase");
        bool terminating =
            json_object_get(json_object_get(it, "metadata"), "deletionTimestamp") != NULL;
        const char *rs = owner_of(it, "ReplicaSet");
        char id[512];

        snprintf(id, sizeof id, "%s/%s", ns ? ns : "", name ? name : "?");
        if (uid != NULL && json_object_get(uids, uid) != NULL)
            rv = problem(r, &r->bound_twice, e, "pod %s: uid %s listed twice", id, uid);
        else if (json_object_get(names, id) != NULL)
            rv = problem(r, &r->bound_twice, e, "pod %s: listed twice", id);
        if (rv != 0)
            goto out;
        json_object_set_new(uids, uid ? uid : id, json_true());
        json_object_set_new(names, id, json_true());
        r->pods++;
        if (node == NULL || node[0] == '\0')
            rv = problem(r, &r->unbound, e, "pod %s: not bound", id);
        else if (!in_list(nodes, node))
            rv = problem(r, &r->on_gone_node, e, "pod %s: bound to %s, not a node", id, node);
        if (rv != 0)
            goto out;
        /* after the faults are healed and the cluster converged, a pod
         * being deleted must be gone: one that stays is a delete the node
         * lost (fatal since the agent relists after a snapshot jump) */
        if (terminating &&
            (rv = problem(r, &r->terminating, e, "pod %s on %s: still terminating", id,
                          node ? node : "?")) != 0)
            goto out;
        if (terminating || rs == NULL)
            continue;
        /* the Deployment owning the pod's ReplicaSet */
        const json_t *rsi;
        size_t j;
        json_array_foreach (json_object_get(rss, "items"), j, rsi) {
            const char *rn = str_at(rsi, "metadata", "name");
            const char *dep = owner_of(rsi, "Deployment");
            if (rn == NULL || dep == NULL || strcmp(rn, rs) != 0)
                continue;
            if (phase == NULL || strcmp(phase, "Running") != 0) {
                rv = problem(r, &r->not_running, e, "pod %s of %s: phase %s", id, dep,
                             phase ? phase : "none");
                if (rv != 0)
                    goto out;
                break;
            }
            json_object_set_new(count, dep,
                                json_integer(json_integer_value(json_object_get(count, dep)) + 1));
            break;
        }
    }
    json_array_foreach (deps, i, it) {
        const char *name = str_at(it, "metadata", "name");
        const json_t *want = json_object_get(json_object_get(it, "spec"), "replicas");
        json_int_t have = json_integer_value(json_object_get(count, name ? name : ""));
        json_int_t n = json_is_integer(want) ? json_integer_value(want) : 1;
        r->deployments++;
        if (have != n && (rv = problem(r, &r->replicas_wrong, e,
                                       "deployment %s: %lld running pods, replicas %lld",
                                       name ? name : "?", (long long)have, (long long)n)) != 0)
            goto out;
    }
out:
    json_decref(uids);
    json_decref(names);
    json_decref(count);
    return rv;
}

/* Every Deployment an ok write acknowledged is listed. */
static int check_acknowledged(const struct jepsen_history *h, const json_t *lists,
                              struct jepsen_orch_result *r, struct err *e)
{
    json_t *seen = json_object();
    int rv = 0;

    if (seen == NULL)
        return err_setf(e, ERR_NOMEM, "orch: out of memory");
    for (size_t i = 0; i < h->n && rv == 0; i++) {
        const struct jepsen_event *ev = &h->events[i];
        if (ev->type != JEPSEN_OK || ev->f != JEPSEN_F_WRITE ||
            json_object_get(seen, ev->key) != NULL)
            continue;
        json_object_set_new(seen, ev->key, json_true());
        r->acknowledged++;
        if (!in_list(json_object_get(lists, "deployments"), ev->key))
            rv = problem(r, &r->missing_ack, e, "deployment %s: acknowledged (line %zu), absent",
                         ev->key, ev->line);
    }
    json_decref(seen);
    return rv;
}

int jepsen_orch_check(const struct jepsen_history *h, const json_t *state,
                      struct jepsen_orch_result *r, struct err *e)
{
    const json_t *views = json_object_get(state, "views"), *v;
    size_t i;
    int rv;

    memset(r, 0, sizeof *r);
    if (!json_is_array(views) || json_array_size(views) == 0)
        return err_setf(e, ERR_INVALID, "state: views: required non-empty array");
    json_array_foreach (views, i, v) {
        if (!json_is_object(json_object_get(v, "lists")))
            return err_setf(e, ERR_INVALID, "state: views[%zu].lists: required object", i);
    }
    r->views = json_array_size(views);
    rv = check_agreement(views, r, e);
    if (rv == 0)
        rv = check_pods(json_object_get(json_array_get(views, 0), "lists"), r, e);
    if (rv == 0 && h != NULL)
        rv = check_acknowledged(h, json_object_get(json_array_get(views, 0), "lists"), r, e);
    if (rv != 0) {
        jepsen_orch_result_close(r);
        return rv;
    }
    r->verdict = r->problems == 0 ? JEPSEN_VALID : JEPSEN_INVALID;
    return 0;
}

void jepsen_orch_result_close(struct jepsen_orch_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_sample; i++)
        free(r->sample[i]);
    r->n_sample = 0;
}

void jepsen_orch_result_print(const struct jepsen_orch_result *r, FILE *out)
{
    fprintf(out,
            "orch: %s: views=%zu deployments=%zu pods=%zu acknowledged=%zu problems=%zu "
            "(unanswered=%zu disagree=%zu replicas_wrong=%zu not_running=%zu unbound=%zu "
            "bound_twice=%zu on_gone_node=%zu missing_ack=%zu)\n",
            jepsen_verdict_name(r->verdict), r->views, r->deployments, r->pods, r->acknowledged,
            r->problems, r->unanswered, r->disagree, r->replicas_wrong, r->not_running, r->unbound,
            r->bound_twice, r->on_gone_node, r->missing_ack);
    if (r->terminating > 0)
        fprintf(out, "orch: %zu pods still terminating\n", r->terminating);
    for (size_t i = 0; i < r->n_sample; i++)
        fprintf(out, "  %s\n", r->sample[i]);
}
