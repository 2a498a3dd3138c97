/* Linearizability of a read/write/cas register, one key at a time.
 *
 * The search is Wing & Gong's with Lowe's just-in-time linearization, as
 * porcupine does it: the key's history is a doubly linked list of call and
 * return entries in real-time order. Walking from the head, a call entry is
 * an op that may be linearized now; if the model accepts it and the pair
 * (set of linearized ops, register value) was never seen, the op is lifted
 * out of the list (call and return) and the walk restarts at the head. A
 * return entry reached means its op had to be linearized already and was
 * not: backtrack, undoing the most recent lift. The memo of seen pairs is
 * what keeps this from being exponential on ordinary histories.
 *
 * Indeterminate (info) ops, as in Knossos: their return is at infinity, so
 * they have a call entry and no return entry. They are linearized whenever
 * the model allows, anywhere after their invocation; and the search
 * succeeds once every ok op is linearized, so an info op may also never
 * happen. */
#include "jepsen/checker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_STATES 1000000
#define DEFAULT_WINDOW     24
#define WINDOW_BEFORE      3 /* completed writes shown before the stuck op */

/* ---- value interning: canonical JSON text <-> small ids, per key ---- */

struct intern {
    char **text; /* by id; id 0 is "null", the register's initial value */
    size_t n, cap;
    size_t *slot; /* hash slots: id + 1, 0 empty */
    size_t slots;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int intern_grow(struct intern *in)
{
    size_t ns = in->slots ? in->slots * 2 : 64;
    size_t *sl = calloc(ns, sizeof *sl);
    if (sl == NULL)
        return -1;
    for (size_t id = 0; id < in->n; id++) {
        size_t i = hash_str(in->text[id]) & (ns - 1);
        while (sl[i] != 0)
            i = (i + 1) & (ns - 1);
        sl[i] = id + 1;
    }
    free(in->slot);
    in->slot = sl;
    in->slots = ns;
    return 0;
}

/* The id of v (NULL: null). -1 on allocation failure. */
static long intern_id(struct intern *in, const json_t *v)
{
    char *t =
        v == NULL ? strdup("null") : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    size_t i;

    if (t == NULL)
        return -1;
    if ((in->n + 1) * 2 > in->slots && intern_grow(in) != 0)
        goto fail;
    i = hash_str(t) & (in->slots - 1);
    for (; in->slot[i] != 0; i = (i + 1) & (in->slots - 1)) {
        if (strcmp(in->text[in->slot[i] - 1], t) == 0) {
            free(t);
            return (long)(in->slot[i] - 1);
        }
    }
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 16;
        char **nt = realloc(in->text, cap * sizeof *nt);
        if (nt == NULL)
            goto fail;
        in->text = nt;
        in->cap = cap;
    }
    in->text[in->n] = t;
    in->slot[i] = ++in->n;
    return (long)(in->n - 1);
fail:
    free(t);
    return -1;
}

static void intern_close(struct intern *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->text[i]);
    free(in->text);
    free(in->slot);
}

/* ---- the search ---- */

struct lop {   /* an op of this key, as the model sees it */
    size_t op; /* index into the history's ops */
    enum jepsen_f f;
    long a, b;    /* read/write: a = value; cas: a = expected, b = new */
    bool ok;      /* must be linearized (else info: may be) */
    uint64_t zob; /* random bits: the memo's hash of a set is the XOR over it */
};

struct entry {
    size_t lop;
    bool call;
    size_t ev;           /* event index: real-time position */
    struct entry *match; /* call -> its return (NULL for info ops) */
    struct entry *prev, *next;
};

struct memo { /* open addressing over (bitset, value) */
    uint64_t *hash;
    size_t *off; /* word offset of the bitset in pool + 1; 0: empty */
    long *state;
    size_t slots, n;
    uint64_t *pool;
    size_t pool_n, pool_cap;
    size_t words;
};

struct frame {
    struct entry *e;
    long state;
};

struct search {
    struct lop *lops;
    size_t n;
    struct entry *entries; /* head sentinel at [0] */
    uint64_t *bits;
    uint64_t bits_hash;
    struct memo memo;
    struct frame *stack;
    size_t depth;
    /* the furthest return entry the search had to back off from */
    struct entry *stuck;
    long stuck_state;
};

static bool step(const struct lop *l, long state, long *next)
{
    switch (l->f) {
    case JEPSEN_F_READ:
        *next = state;
        return state == l->a;
    case JEPSEN_F_WRITE:
        *next = l->a;
        return true;
    case JEPSEN_F_CAS:
        *next = l->b;
        return state == l->a;
    default:
        return false;
    }
}

static int memo_grow(struct memo *m)
{
    size_t ns = m->slots ? m->slots * 2 : 1024;
    uint64_t *h = calloc(ns, sizeof *h);
    size_t *off = calloc(ns, sizeof *off);
    long *st = calloc(ns, sizeof *st);
    if (h == NULL || off == NULL || st == NULL) {
        free(h);
        free(off);
        free(st);
        return -1;
    }
    for (size_t i = 0; i < m->slots; i++) {
        if (m->off[i] == 0)
            continue;
        size_t j = m->hash[i] & (ns - 1);
        while (off[j] != 0)
            j = (j + 1) & (ns - 1);
        h[j] = m->hash[i];
        off[j] = m->off[i];
        st[j] = m->state[i];
    }
    free(m->hash);
    free(m->off);
    free(m->state);
    m->hash = h;
    m->off = off;
    m->state = st;
    m->slots = ns;
    return 0;
}

/* 1: inserted (new), 0: seen before, -1: out of memory. */
static int memo_add(struct memo *m, const uint64_t *bits, uint64_t bhash, long state)
{
    uint64_t h = (bhash ^ ((uint64_t)state * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
    size_t i;

    if ((m->n + 1) * 2 > m->slots && memo_grow(m) != 0)
        return -1;
    for (i = h & (m->slots - 1); m->off[i] != 0; i = (i + 1) & (m->slots - 1)) {
        if (m->hash[i] == h && m->state[i] == state &&
            memcmp(m->pool + m->off[i] - 1, bits, m->words * sizeof *bits) == 0)
            return 0;
    }
    if (m->pool_cap - m->pool_n < m->words) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : m->words * 1024;
        uint64_t *np = realloc(m->pool, cap * sizeof *np);
        if (np == NULL)
            return -1;
        m->pool = np;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_n, bits, m->words * sizeof *bits);
    m->hash[i] = h;
    m->off[i] = m->pool_n + 1;
    m->state[i] = state;
    m->pool_n += m->words;
    m->n++;
    return 1;
}

static void lift(struct entry *e)
{
    e->prev->next = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    if (e->match != NULL) {
        e->match->prev->next = e->match->next;
        if (e->match->next != NULL)
            e->match->next->prev = e->match->prev;
    }
}

/* Exactly the reverse of lift: the stack unlifts in reverse order. */
static void unlift(struct entry *e)
{
    if (e->match != NULL) {
        e->match->prev->next = e->match;
        if (e->match->next != NULL)
            e->match->next->prev = e->match;
    }
    e->prev->next = e;
    if (e->next != NULL)
        e->next->prev = e;
}

static void note_stuck(struct search *s, struct entry *e, long state)
{
    if (s->stuck == NULL || e->ev > s->stuck->ev) {
        s->stuck = e;
        s->stuck_state = state;
    }
}

/* Runs the search: JEPSEN_VALID / _INVALID / _UNKNOWN, or -1 out of memory. */
static int search_run(struct search *s, size_t max_states, size_t *states)
{
    struct entry *head = &s->entries[0], *e = head->next;
    size_t remaining = 0;
    long state = 0;

    for (size_t i = 0; i < s->n; i++)
        remaining += s->lops[i].ok;
    while (remaining > 0) {
        if (e != NULL && e->call) {
            const struct lop *l = &s->lops[e->lop];
            long next;
            if (step(l, state, &next)) {
                s->bits[e->lop / 64] |= 1ull << (e->lop % 64);
                s->bits_hash ^= l->zob;
                int added = memo_add(&s->memo, s->bits, s->bits_hash, next);
                if (added < 0)
                    return -1;
                if (added) {
                    if (++*states > max_states)
                        return JEPSEN_UNKNOWN;
                    s->stack[s->depth++] = (struct frame){e, state};
                    state = next;
                    remaining -= l->ok;
                    lift(e);
                    e = head->next;
                    continue;
                }
                s->bits[e->lop / 64] &= ~(1ull << (e->lop % 64));
                s->bits_hash ^= l->zob;
            }
            e = e->next;
            continue;
        }
        /* a return entry (or the end, which a pending ok op's return always
         * precedes): its op is not linearized yet, so back off */
        if (e != NULL)
            note_stuck(s, e, state);
        if (s->depth == 0)
            return JEPSEN_INVALID;
        struct frame f = s->stack[--s->depth];
        const struct lop *l = &s->lops[f.e->lop];
        state = f.state;
        remaining += l->ok;
        s->bits[f.e->lop / 64] &= ~(1ull << (f.e->lop % 64));
        s->bits_hash ^= l->zob;
        unlift(f.e);
        e = f.e->next;
    }
    return JEPSEN_VALID;
}

/* splitmix64: fixed seed, so a run is repeatable */
static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Model view of one op. 0, 1 (dropped: fail, info read) or an error. */
static int to_lop(const struct jepsen_history *h, const struct jepsen_op *op, size_t idx,
                  struct intern *in, struct lop *l, struct err *e)
{
    size_t line = h->events[op->invoke].line;
    if (op->f == JEPSEN_F_ADD)
        return err_setf(e, ERR_INVALID, "line %zu: add in a register history", line);
    if (op->status == JEPSEN_FAIL || (op->status != JEPSEN_OK && op->f == JEPSEN_F_READ))
        return 1;
    *l = (struct lop){.op = idx, .f = op->f, .ok = op->status == JEPSEN_OK};
    if (op->f == JEPSEN_F_CAS) {
        if (!json_is_array(op->value) || json_array_size(op->value) != 2)
            return err_setf(e, ERR_INVALID, "line %zu: cas value: must be [expected, new]", line);
        json_t *a = json_array_get(op->value, 0), *b = json_array_get(op->value, 1);
        l->a = intern_id(in, json_is_null(a) ? NULL : a);
        l->b = intern_id(in, json_is_null(b) ? NULL : b);
    } else {
        l->a = intern_id(in, op->value);
        l->b = 0;
    }
    if (l->a < 0 || l->b < 0)
        return err_setf(e, ERR_NOMEM, "out of memory");
    return 0;
}

static bool overlaps(const struct jepsen_op *a, const struct jepsen_op *b)
{
    return a->invoke <= b->complete && b->invoke <= a->complete;
}

static int cmp_invoke(const void *x, const void *y)
{
    const struct jepsen_op *a = x, *b = y;
    return a->invoke < b->invoke ? -1 : a->invoke > b->invoke;
}

static size_t dist(size_t a, size_t b)
{
    return a > b ? a - b : b - a;
}

/* The window around the stuck op: ops concurrent with it and the last few
 * writes completed before it began (what it could have observed). */
static int build_window(const struct jepsen_op *ops, const struct search *s, size_t cap,
                        struct jepsen_linear_result *r)
{
    const struct jepsen_op *st = &ops[s->lops[s->stuck->lop].op];
    size_t before = 0, n = 0;

    r->window = calloc(s->n, sizeof *r->window);
    if (r->window == NULL)
        return -1;
    for (size_t i = s->n; i-- > 0;) {
        const struct jepsen_op *o = &ops[s->lops[i].op];
        bool pick = overlaps(o, st);
        if (!pick && o->f != JEPSEN_F_READ && o->complete < st->invoke && before < WINDOW_BEFORE) {
            pick = true;
            before++;
        }
        if (pick)
            r->window[n++] = *o;
    }
    /* too many: keep those whose invocations are nearest the stuck op's */
    while (n > cap) {
        size_t far = 0;
        for (size_t i = 1; i < n; i++)
            if (dist(r->window[i].invoke, st->invoke) > dist(r->window[far].invoke, st->invoke))
                far = i;
        r->window[far] = r->window[--n];
    }
    qsort(r->window, n, sizeof *r->window, cmp_invoke);
    r->window_n = n;
    for (size_t i = 0; i < n; i++)
        if (r->window[i].invoke == st->invoke)
            r->stuck = i;
    return 0;
}

static void search_close(struct search *s)
{
    free(s->lops);
    free(s->entries);
    free(s->bits);
    free(s->stack);
    free(s->memo.hash);
    free(s->memo.off);
    free(s->memo.state);
    free(s->memo.pool);
}

/* Fills the entries (after the head): a call per op, a return per ok op.
 * check_key sorts them into event order and links them. */
static void fill_entries(struct search *s, const struct jepsen_op *ops)
{
    size_t ne = 1;

    for (size_t i = 0; i < s->n; i++) {
        const struct jepsen_op *o = &ops[s->lops[i].op];
        s->entries[ne++] = (struct entry){.lop = i, .call = true, .ev = o->invoke};
        if (s->lops[i].ok)
            s->entries[ne++] = (struct entry){.lop = i, .call = false, .ev = o->complete};
    }
}

static int cmp_entry(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    return a->ev < b->ev ? -1 : a->ev > b->ev;
}

/* Checks one key's ops (indices into ops). */
static int check_key(const struct jepsen_history *h, const struct jepsen_op *ops, const size_t *idx,
                     size_t n, const struct jepsen_linear_opts *o, struct jepsen_linear_result *r,
                     struct err *e)
{
    struct search s = {0};
    struct intern in = {0};
    size_t ne = 1, states = 0;
    uint64_t seed = 0x5eed;
    int rv = 0, verdict;

    if (intern_id(&in, NULL) != 0 || (s.lops = calloc(n + 1, sizeof *s.lops)) == NULL ||
        (s.entries = calloc(2 * n + 1, sizeof *s.entries)) == NULL ||
        (s.stack = calloc(n + 1, sizeof *s.stack)) == NULL ||
        (s.bits = calloc(n / 64 + 1, sizeof *s.bits)) == NULL) {
        rv = err_setf(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int k = to_lop(h, &ops[idx[i]], idx[i], &in, &s.lops[s.n], e);
        if (k < 0 || k > 1) {
            rv = k;
            goto out;
        }
        if (k == 0) {
            s.lops[s.n].zob = mix(&seed);
            ne += 1 + s.lops[s.n].ok;
            s.n++;
        }
    }
    s.memo.words = s.n / 64 + 1;
    fill_entries(&s, ops);
    /* entries of equal ev cannot happen (one event, one entry) */
    qsort(s.entries + 1, ne - 1, sizeof *s.entries, cmp_entry);
    {
        /* call -> return links, after the sort moved them */
        struct entry **call_of = calloc(s.n + 1, sizeof *call_of);
        if (call_of == NULL) {
            rv = err_setf(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 1; i < ne; i++) {
            struct entry *x = &s.entries[i];
            if (x->call)
                call_of[x->lop] = x;
            else
                call_of[x->lop]->match = x;
            x->prev = &s.entries[i - 1];
            x->next = i + 1 < ne ? &s.entries[i + 1] : NULL;
        }
        s.entries[0].next = ne > 1 ? &s.entries[1] : NULL;
        free(call_of);
    }
    verdict = search_run(&s, o->max_states, &states);
    r->states += states;
    if (verdict < 0) {
        rv = err_setf(e, ERR_NOMEM, "search: out of memory");
        goto out;
    }
    if (verdict == JEPSEN_VALID)
        goto out;
    r->verdict = (enum jepsen_verdict)verdict;
    r->key = strdup(ops[idx[0]].key);
    if (r->key == NULL) {
        rv = err_setf(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (verdict == JEPSEN_INVALID && s.stuck != NULL) {
        if (build_window(ops, &s, o->window_max, r) != 0) {
            rv = err_setf(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(r->stuck_state, sizeof r->stuck_state, "%s", in.text[s.stuck_state]);
    }
out:
    intern_close(&in);
    search_close(&s);
    return rv;
}

static int cmp_key_idx(const void *x, const void *y, void *arg)
{
    const struct jepsen_op *ops = arg;
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    int c = strcmp(ops[a].key, ops[b].key);
    return c != 0 ? c : (a < b ? -1 : a > b);
}

int jepsen_linear_check(const struct jepsen_history *h, const struct jepsen_linear_opts *opts,
                        struct jepsen_linear_result *r, struct err *e)
{
    struct jepsen_linear_opts o = opts != NULL ? *opts : (struct jepsen_linear_opts){0};
    struct jepsen_op *ops = NULL;
    size_t n = 0, *idx = NULL;
    int rv;

    memset(r, 0, sizeof *r);
    if (o.max_states == 0)
        o.max_states = DEFAULT_MAX_STATES;
    if (o.window_max == 0)
        o.window_max = DEFAULT_WINDOW;
    rv = jepsen_history_ops(h, &ops, &n, e);
    if (rv != 0)
        return rv;
    if (n > 0 && (idx = malloc(n * sizeof *idx)) == NULL) {
        rv = err_setf(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    /* group by key, keeping invocation order inside a key */
    qsort_r(idx, n, sizeof *idx, cmp_key_idx, ops);
    for (size_t i = 0; i < n && r->verdict == JEPSEN_VALID;) {
        size_t j = i;
        while (j < n && strcmp(ops[idx[j]].key, ops[idx[i]].key) == 0)
            j++;
        r->keys++;
        rv = check_key(h, ops, idx + i, j - i, &o, r, e);
        if (rv != 0) {
            err_wrapf(e, "key %s", ops[idx[i]].key);
            goto out;
        }
        i = j;
    }
out:
    free(idx);
    free(ops);
    if (rv != 0)
        jepsen_linear_result_close(r);
    return rv;
}

void jepsen_linear_result_close(struct jepsen_linear_result *r)
{
    if (r == NULL)
        return;
    free(r->key);
    free(r->window);
    memset(r, 0, sizeof *r);
}

static void print_op(const struct jepsen_history *h, const struct jepsen_op *op, bool mark,
                     FILE *out)
{
    char *v = op->value != NULL ? json_dumps(op->value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    fprintf(out, "  %s line %6zu", mark ? "=>" : "  ", h->events[op->invoke].line);
    if (op->complete != JEPSEN_NONE)
        fprintf(out, "-%-6zu", h->events[op->complete].line);
    else
        fprintf(out, "-%-6s", "never");
    fprintf(out, " process %-5ld %-5s %-5s %s\n", op->process, jepsen_f_name(op->f),
            jepsen_type_name(op->status), v != NULL ? v : "null");
    free(v);
}

void jepsen_linear_result_print(const struct jepsen_history *h,
                                const struct jepsen_linear_result *r, FILE *out)
{
    fprintf(out, "linearizable: %s (keys=%zu states=%zu)\n", jepsen_verdict_name(r->verdict),
            r->keys, r->states);
    if (r->verdict == JEPSEN_UNKNOWN)
        fprintf(out, "key %s: search budget exhausted\n", r->key ? r->key : "?");
    if (r->verdict != JEPSEN_INVALID)
        return;
    fprintf(out, "key %s: no linearization reaches the completion of the op marked =>\n",
            r->key ? r->key : "?");
    fprintf(out, "the furthest linearization before it leaves the register at %s\n",
            r->stuck_state);
    fprintf(out, "failing window (ops concurrent with it and the last writes before it):\n");
    for (size_t i = 0; i < r->window_n; i++)
        print_op(h, &r->window[i], i == r->stuck, out);
}
