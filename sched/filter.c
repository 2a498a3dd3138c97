/* filter.c: the filters, in kube-scheduler's default-profile order
 * (NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
 * NodeResourcesFit, InterPodAffinity), and the FitError text built from them
 * when no node admits a pod. The checks are plain loops over small arrays:
 * labels, taints and ports per node are few, so a linear scan beats hashing. */
#include "sched/sched_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- label and field matching ---- */

static const char *label_get(const struct sched_kv *l, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].key, key) == 0)
            return l[i].value;
    return NULL;
}

static bool in_values(const struct sched_expr *x, const char *v)
{
    for (size_t i = 0; i < x->n_values; i++)
        if (strcmp(x->values[i], v) == 0)
            return true;
    return false;
}

/* One requirement against the value of its key (NULL: the key is absent). */
static bool expr_matches(const struct sched_expr *x, const char *v)
{
    int64_t num;
    char *end;
    switch (x->op) {
    case SCHED_OP_IN:
        return v != NULL && in_values(x, v);
    case SCHED_OP_NOT_IN:
        return v == NULL || !in_values(x, v);
    case SCHED_OP_EXISTS:
        return v != NULL;
    case SCHED_OP_DOES_NOT_EXIST:
        return v == NULL;
    case SCHED_OP_GT:
    case SCHED_OP_LT:
        if (v == NULL || !x->num_ok || *v == '\0')
            return false;
        num = strtoll(v, &end, 10);
        if (*end != '\0')
            return false;
        return x->op == SCHED_OP_GT ? num > x->num : num < x->num;
    default:
        return false;
    }
}

bool sched__labels_match_selector(const struct sched_kv *labels, size_t n_labels,
                                  const struct sched_selector *sel)
{
    if (sel == NULL)
        return false;
    for (size_t i = 0; i < sel->n_labels; i++) {
        const char *v = label_get(labels, n_labels, sel->labels[i].key);
        if (v == NULL || strcmp(v, sel->labels[i].value) != 0)
            return false;
    }
    for (size_t i = 0; i < sel->n_exprs; i++)
        if (!expr_matches(&sel->exprs[i], label_get(labels, n_labels, sel->exprs[i].key)))
            return false;
    return true;
}

bool sched__node_term_matches(const struct sched_node *n, const struct sched_node_term *t)
{
    if (t->n_exprs == 0 && t->n_fields == 0)
        return false; /* an empty term selects nothing */
    for (size_t i = 0; i < t->n_exprs; i++)
        if (!expr_matches(&t->exprs[i], label_get(n->labels, n->n_labels, t->exprs[i].key)))
            return false;
    for (size_t i = 0; i < t->n_fields; i++)
        if (!expr_matches(&t->fields[i], n->name))
            return false;
    return true;
}

/* ---- taints ---- */

static bool tolerates(const struct sched_toleration *to, const struct sched_taint *t)
{
    if (to->effect != 0 && to->effect != t->effect)
        return false;
    if (to->key[0] != '\0' && strcmp(to->key, t->key) != 0)
        return false;
    return to->exists || strcmp(to->value, t->value) == 0;
}

static bool tolerated(const struct sched_pod *p, const struct sched_taint *t)
{
    for (size_t i = 0; i < p->n_tols; i++)
        if (tolerates(&p->tols[i], t))
            return true;
    return false;
}

bool sched__fits_unschedulable(const struct sched_node *n, const struct sched_pod *p)
{
    static const struct sched_taint unsched = {"node.kubernetes.io/unschedulable", "",
                                               SCHED_EFFECT_NO_SCHEDULE};
    return !n->unschedulable || tolerated(p, &unsched);
}

const struct sched_taint *sched__untolerated_taint(const struct sched_node *n,
                                                   const struct sched_pod *p)
{
    if (n->n_hard_taints == 0)
        return NULL;
    for (size_t i = 0; i < n->n_taints; i++) {
        const struct sched_taint *t = &n->taints[i];
        if (t->effect != SCHED_EFFECT_PREFER_NO_SCHEDULE && !tolerated(p, t))
            return t;
    }
    return NULL;
}

/* ---- node affinity, ports, resources ---- */

bool sched__fits_affinity(const struct sched_node *n, const struct sched_pod *p)
{
    for (size_t i = 0; i < p->n_node_selector; i++) {
        const char *v = label_get(n->labels, n->n_labels, p->node_selector[i].key);
        if (v == NULL || strcmp(v, p->node_selector[i].value) != 0)
            return false;
    }
    if (!p->has_required)
        return true;
    for (size_t i = 0; i < p->n_required; i++)
        if (sched__node_term_matches(n, &p->required[i]))
            return true;
    return false;
}

bool sched__fits_ports(const struct sched_node *n, const struct sched_pod *p)
{
    for (size_t i = 0; i < p->n_ports; i++) {
        const struct sched_port *want = &p->ports[i];
        for (size_t j = 0; j < n->n_ports; j++) {
            const struct sched_port_use *u = &n->ports[j];
            if (u->port != want->port || u->proto != want->proto)
                continue;
            /* 0.0.0.0 takes the port on every address */
            if (strcmp(u->ip, "0.0.0.0") == 0 || strcmp(want->ip, "0.0.0.0") == 0 ||
                strcmp(u->ip, want->ip) == 0)
                return false;
        }
    }
    return true;
}

static int64_t ext_alloc(const struct sched_node *n, const char *name, int64_t *req)
{
    for (size_t i = 0; i < n->n_ext; i++) {
        if (strcmp(n->alloc_ext[i].name, name) == 0) {
            *req = n->req_ext[i];
            return n->alloc_ext[i].value;
        }
    }
    *req = 0;
    return 0;
}

/* kube's fitsRequest: each reason the node cannot hold the pod, in its order
 * (pods, cpu, memory, ephemeral-storage, extended), into reasons[] (up to
 * max, the strings in bufs). Returns how many. */
static size_t resource_reasons(const struct sched_node *n, const struct sched_pod *p,
                               char (*bufs)[128], size_t max)
{
    size_t k = 0;
#define REASON(...) (k < max ? (void)snprintf(bufs[k++], 128, __VA_ARGS__) : (void)0)
    if (n->n_pods + 1 > n->alloc_pods)
        REASON("Too many pods");
    if (p->cpu_m > 0 && p->cpu_m > n->alloc_cpu_m - n->req_cpu_m)
        REASON("Insufficient cpu");
    if (p->mem > 0 && p->mem > n->alloc_mem - n->req_mem)
        REASON("Insufficient memory");
    if (p->eph > 0 && p->eph > n->alloc_eph - n->req_eph)
        REASON("Insufficient ephemeral-storage");
    for (size_t i = 0; i < p->n_ext; i++) {
        int64_t req, al = ext_alloc(n, p->ext[i].name, &req);
        if (p->ext[i].value > al - req)
            REASON("Insufficient %s", p->ext[i].name);
    }
#undef REASON
    return k;
}

bool sched__fits_resources(const struct sched_node *n, const struct sched_pod *p)
{
    if (n->n_pods + 1 > n->alloc_pods ||
        (p->cpu_m > 0 && p->cpu_m > n->alloc_cpu_m - n->req_cpu_m) ||
        (p->mem > 0 && p->mem > n->alloc_mem - n->req_mem) ||
        (p->eph > 0 && p->eph > n->alloc_eph - n->req_eph))
        return false;
    for (size_t i = 0; i < p->n_ext; i++) {
        int64_t req, al = ext_alloc(n, p->ext[i].name, &req);
        if (p->ext[i].value > al - req)
            return false;
    }
    return true;
}

/* ---- pod anti-affinity (topologyKey kubernetes.io/hostname) ---- */

/* Does pod q fall under term, written in a pod of namespace term_ns? */
static bool term_selects(const struct sched_pod_term *t, const char *term_ns,
                         const struct sched_pod *q)
{
    if (!t->all_ns) {
        bool in = false;
        if (t->n_namespaces == 0)
            in = strcmp(q->ns, term_ns) == 0;
        for (size_t i = 0; i < t->n_namespaces && !in; i++)
            in = strcmp(q->ns, t->namespaces[i]) == 0;
        if (!in)
            return false;
    }
    return sched__labels_match_selector(q->labels, q->n_labels, t->sel);
}

int sched__fits_anti_affinity(const struct sched_node *n, const struct sched_pod *p)
{
    /* kube checks the existing pods' rules first */
    if (n->n_anti_pods > 0) {
        for (const struct sched_pod *q = n->pods; q != NULL; q = q->next__)
            for (size_t i = 0; i < q->n_anti; i++)
                if (q != p && q->anti[i].hostname && term_selects(&q->anti[i], q->ns, p))
                    return 2;
    }
    for (size_t i = 0; i < p->n_anti; i++) {
        if (!p->anti[i].hostname)
            continue;
        for (const struct sched_pod *q = n->pods; q != NULL; q = q->next__)
            if (q != p && term_selects(&p->anti[i], p->ns, q))
                return 1;
    }
    return 0;
}

/* ---- the FitError message ---- */

#define NODE_REASONS_MAX 8

/* Why n rejects p: the reasons of the first failing filter (several only for
 * resources). *unresolvable: preemption could not help (kube's
 * UnschedulableAndUnresolvable). Returns the count (0: n admits p). */
static size_t node_reasons(const struct sched_node *n, const struct sched_pod *p, char (*bufs)[128],
                           bool *unresolvable)
{
    const struct sched_taint *t;
    int anti;
    *unresolvable = true;
    if (!sched__fits_unschedulable(n, p)) {
        snprintf(bufs[0], 128, "node(s) were unschedulable");
        return 1;
    }
    if ((t = sched__untolerated_taint(n, p)) != NULL) {
        snprintf(bufs[0], 128, "node(s) had untolerated taint {%s: %s}", t->key, t->value);
        return 1;
    }
    if (!sched__fits_affinity(n, p)) {
        snprintf(bufs[0], 128, "node(s) didn't match Pod's node affinity/selector");
        return 1;
    }
    *unresolvable = false;
    if (!sched__fits_ports(n, p)) {
        snprintf(bufs[0], 128, "node(s) didn't have free ports for the requested pod ports");
        return 1;
    }
    size_t k = resource_reasons(n, p, bufs, NODE_REASONS_MAX);
    if (k > 0)
        return k;
    if ((anti = sched__fits_anti_affinity(n, p)) != 0) {
        snprintf(bufs[0], 128, "%s",
                 anti == 2 ? "node(s) didn't satisfy existing pods anti-affinity rules"
                           : "node(s) didn't match pod anti-affinity rules");
        return 1;
    }
    return 0;
}

struct hist {
    struct {
        char *text;
        size_t count;
    } * v;
    size_t n, cap;
};

static int hist_add(struct hist *h, const char *text, size_t count)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(h->v[i].text, text) == 0) {
            h->v[i].count += count;
            return 0;
        }
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        void *v = realloc(h->v, cap * sizeof *h->v);
        if (v == NULL)
            return ERR_NOMEM;
        h->v = v;
        h->cap = cap;
    }
    if ((h->v[h->n].text = strdup(text)) == NULL)
        return ERR_NOMEM;
    h->v[h->n++].count = count;
    return 0;
}

static void hist_free(struct hist *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i].text);
    free(h->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends to buf at *len, clamping at size (the text is then truncated). */
static void append(char *buf, size_t size, size_t *len, const char *s)
{
    int n = snprintf(buf + *len, size - *len, "%s", s);
    if (n > 0)
        *len = *len + (size_t)n >= size ? size - 1 : *len + (size_t)n;
}

/* "N reason, M reason" as FitError.Error: "%v %v" strings sorted bytewise
 * (so by count first, then text), joined with ", ". */
static int hist_join(const struct hist *h, char *buf, size_t size, size_t *len)
{
    char **lines = calloc(h->n ? h->n : 1, sizeof *lines);
    int rv = 0;
    if (lines == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < h->n; i++) {
        if (asprintf(&lines[i], "%zu %s", h->v[i].count, h->v[i].text) < 0) {
            lines[i] = NULL;
            rv = ERR_NOMEM;
            goto out;
        }
    }
    qsort(lines, h->n, sizeof *lines, cmp_str);
    for (size_t i = 0; i < h->n; i++) {
        if (i > 0)
            append(buf, size, len, ", ");
        append(buf, size, len, lines[i]);
    }
out:
    for (size_t i = 0; i < h->n; i++)
        free(lines[i]);
    free(lines);
    return rv;
}

int sched__fit_message(struct sched_node *nodes, size_t n_slots, const struct sched_pod *p,
                       char *buf, size_t size, struct err *e)
{
    struct hist reasons = {0}, preempt = {0};
    char bufs[NODE_REASONS_MAX][128], head[64];
    size_t n_present = 0, len = 0, unresolvable = 0, resolvable = 0;
    int rv = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n_slots; i++) {
        bool unres;
        size_t k;
        if (nodes[i].name == NULL || !nodes[i].present)
            continue;
        n_present++;
        k = node_reasons(&nodes[i], p, bufs, &unres);
        for (size_t j = 0; j < k && rv == 0; j++)
            rv = hist_add(&reasons, bufs[j], 1);
        if (k > 0)
            *(unres ? &unresolvable : &resolvable) += 1;
    }
    if (n_present == 0) {
        append(buf, size, &len, "no nodes available to schedule pods");
        goto out;
    }
    snprintf(head, sizeof head, "0/%zu nodes are available: ", n_present);
    append(buf, size, &len, head);
    if (rv == 0)
        rv = hist_join(&reasons, buf, size, &len);
    append(buf, size, &len, ".");
    /* DefaultPreemption's PostFilter: nobody has a lower priority to evict */
    if (p->preempt_never) {
        append(buf, size, &len, " preemption: not eligible due to preemptionPolicy=Never.");
        goto out;
    }
    if (rv == 0 && unresolvable > 0)
        rv = hist_add(&preempt, "Preemption is not helpful for scheduling", unresolvable);
    if (rv == 0 && resolvable > 0)
        rv = hist_add(&preempt, "No preemption victims found for incoming pod", resolvable);
    snprintf(head, sizeof head, " preemption: 0/%zu nodes are available: ", n_present);
    append(buf, size, &len, head);
    if (rv == 0)
        rv = hist_join(&preempt, buf, size, &len);
    append(buf, size, &len, ".");
out:
    hist_free(&reasons);
    hist_free(&preempt);
    if (rv != 0)
        return err_setf(e, rv, "pod %s/%s: fit message: out of memory", p->ns, p->name);
    return 0;
}
