/* Set checker, after Jepsen's set and set-full: unique adds, reads of the
 * whole set, and one final read after the faults are healed. */
#include "jepsen/checker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct elem {
    char *text;     /* canonical JSON */
    bool attempted; /* some add invoked it */
    enum jepsen_type status;
    size_t acked;      /* ok add: completion event index; else JEPSEN_NONE */
    size_t seen_stamp; /* the last read (1-based) that contained it */
    bool in_final;
};

struct elems {
    struct elem *v;
    size_t n, cap;
    size_t *slot; /* index + 1; 0 empty */
    size_t slots;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int elems_grow(struct elems *m)
{
    size_t ns = m->slots ? m->slots * 2 : 256;
    size_t *sl = calloc(ns, sizeof *sl);
    if (sl == NULL)
        return -1;
    for (size_t k = 0; k < m->n; k++) {
        size_t i = hash_str(m->v[k].text) & (ns - 1);
        while (sl[i] != 0)
            i = (i + 1) & (ns - 1);
        sl[i] = k + 1;
    }
    free(m->slot);
    m->slot = sl;
    m->slots = ns;
    return 0;
}

/* The element for v, added (unattempted) when new; NULL out of memory. */
static struct elem *elems_get(struct elems *m, const json_t *v)
{
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    size_t i;

    if (t == NULL)
        return NULL;
    if ((m->n + 1) * 2 > m->slots && elems_grow(m) != 0)
        goto fail;
    for (i = hash_str(t) & (m->slots - 1); m->slot[i] != 0; i = (i + 1) & (m->slots - 1)) {
        if (strcmp(m->v[m->slot[i] - 1].text, t) == 0) {
            free(t);
            return &m->v[m->slot[i] - 1];
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct elem *nv = realloc(m->v, cap * sizeof *nv);
        if (nv == NULL)
            goto fail;
        m->v = nv;
        m->cap = cap;
    }
    m->v[m->n] = (struct elem){.text = t, .status = JEPSEN_FAIL, .acked = JEPSEN_NONE};
    m->slot[i] = ++m->n;
    return &m->v[m->n - 1];
fail:
    free(t);
    return NULL;
}

static void elems_close(struct elems *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].text);
    free(m->v);
    free(m->slot);
}

static int sample(char **arr, size_t *n, const char *text)
{
    if (*n >= JEPSEN_SET_SAMPLE)
        return 0;
    if ((arr[*n] = strdup(text)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

/* Adds: one element each. A repeated add of the same element keeps the
 * strongest outcome (ok over info over fail). */
static int note_add(struct elems *m, const struct jepsen_op *op, struct jepsen_set_result *r)
{
    struct elem *x = elems_get(m, op->value);
    if (x == NULL)
        return -1;
    r->attempted++;
    x->attempted = true;
    if (op->status == JEPSEN_OK) {
        r->acknowledged += x->status != JEPSEN_OK;
        if (x->acked == JEPSEN_NONE || op->complete < x->acked)
            x->acked = op->complete;
        x->status = JEPSEN_OK;
    } else if (op->status == JEPSEN_INFO && x->status == JEPSEN_FAIL) {
        x->status = JEPSEN_INFO;
    }
    return 0;
}

/* One ok read: marks its elements with stamp; counts unexpected ones. */
static int note_read(struct elems *m, const json_t *arr, size_t stamp, bool final,
                     struct jepsen_set_result *r)
{
    size_t i;
    json_t *v;

    json_array_foreach (arr, i, v) {
        struct elem *x = elems_get(m, v);
        if (x == NULL)
            return -1;
        if (!x->attempted && x->seen_stamp == 0) {
            r->unexpected++;
            if (sample(r->unexpected_sample, &r->unexpected_sample_n, x->text) != 0)
                return -1;
        }
        if (final && !x->in_final) {
            x->in_final = true;
            r->present++;
        }
        x->seen_stamp = stamp;
    }
    return 0;
}

static int check_reads(const struct jepsen_op *ops, size_t n, size_t final, struct elems *m,
                       struct jepsen_set_result *r)
{
    size_t stamp = 0;

    /* the final read first, so stale counts know what it holds */
    if (note_read(m, ops[final].value, ++stamp, true, r) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].f != JEPSEN_F_READ || ops[i].status != JEPSEN_OK || i == final)
            continue;
        if (note_read(m, ops[i].value, ++stamp, false, r) != 0)
            return -1;
        for (size_t k = 0; k < m->n; k++) {
            const struct elem *x = &m->v[k];
            if (x->in_final && x->acked != JEPSEN_NONE && x->acked < ops[i].invoke &&
                x->seen_stamp != stamp)
                r->stale++;
        }
    }
    return 0;
}

int jepsen_set_check(const struct jepsen_history *h, struct jepsen_set_result *r, struct err *e)
{
    struct jepsen_op *ops = NULL;
    struct elems m = {0};
    size_t n = 0, final = JEPSEN_NONE;
    int rv;

    memset(r, 0, sizeof *r);
    rv = jepsen_history_ops(h, &ops, &n, e);
    if (rv != 0)
        return rv;
    for (size_t i = 0; i < n; i++) {
        const struct jepsen_op *op = &ops[i];
        size_t line = h->events[op->invoke].line;
        if (op->f == JEPSEN_F_WRITE || op->f == JEPSEN_F_CAS) {
            rv = err_setf(e, ERR_INVALID, "line %zu: %s in a set history", line,
                          jepsen_f_name(op->f));
            goto out;
        }
        if (op->f == JEPSEN_F_ADD) {
            if (op->value == NULL) {
                rv = err_setf(e, ERR_INVALID, "line %zu: add value: required", line);
                goto out;
            }
            if (note_add(&m, op, r) != 0)
                goto nomem;
            continue;
        }
        if (op->status != JEPSEN_OK)
            continue;
        if (!json_is_array(op->value)) {
            rv = err_setf(e, ERR_INVALID, "line %zu: read value: must be an array",
                          h->events[op->complete].line);
            goto out;
        }
        r->reads++;
        final = i; /* ops are in invocation order: the last ok read wins */
    }
    if (final == JEPSEN_NONE) {
        r->verdict = JEPSEN_UNKNOWN;
        goto out;
    }
    if (check_reads(ops, n, final, &m, r) != 0)
        goto nomem;
    for (size_t k = 0; k < m.n; k++) {
        const struct elem *x = &m.v[k];
        if (x->status == JEPSEN_OK && !x->in_final && x->acked < ops[final].invoke) {
            r->lost++;
            if (sample(r->lost_sample, &r->lost_sample_n, x->text) != 0)
                goto nomem;
        }
        if (x->status == JEPSEN_INFO && x->in_final)
            r->recovered++;
    }
    r->verdict = (r->lost || r->unexpected || r->stale) ? JEPSEN_INVALID : JEPSEN_VALID;
    goto out;
nomem:
    rv = err_setf(e, ERR_NOMEM, "set: out of memory");
out:
    elems_close(&m);
    free(ops);
    if (rv != 0)
        jepsen_set_result_close(r);
    return rv;
}

void jepsen_set_result_close(struct jepsen_set_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->lost_sample_n; i++)
        free(r->lost_sample[i]);
    for (size_t i = 0; i < r->unexpected_sample_n; i++)
        free(r->unexpected_sample[i]);
    memset(r, 0, sizeof *r);
}

static void print_sample(const char *what, char *const *s, size_t n, size_t total, FILE *out)
{
    if (total == 0)
        return;
    fprintf(out, "%s (%zu):", what, total);
    for (size_t i = 0; i < n; i++)
        fprintf(out, " %s", s[i]);
    fprintf(out, "%s\n", total > n ? " ..." : "");
}

void jepsen_set_result_print(const struct jepsen_set_result *r, FILE *out)
{
    fprintf(out,
            "set: %s (attempted=%zu acknowledged=%zu present=%zu lost=%zu unexpected=%zu "
            "stale=%zu recovered=%zu reads=%zu)\n",
            jepsen_verdict_name(r->verdict), r->attempted, r->acknowledged, r->present, r->lost,
            r->unexpected, r->stale, r->recovered, r->reads);
    if (r->verdict == JEPSEN_UNKNOWN)
        fprintf(out, "no read succeeded: nothing to judge the adds against\n");
    print_sample("lost", r->lost_sample, r->lost_sample_n, r->lost, out);
    print_sample("unexpected", r->unexpected_sample, r->unexpected_sample_n, r->unexpected, out);
}
