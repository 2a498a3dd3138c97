/* History files: JSON lines to events, events to ops. */
#include "jepsen/checker.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"invoke", "ok", "fail", "info"};
static const char *const f_names[] = {"read", "write", "cas", "add"};

const char *jepsen_type_name(enum jepsen_type t)
{
    return (unsigned)t < 4 ? type_names[t] : "?";
}

const char *jepsen_f_name(enum jepsen_f f)
{
    return (unsigned)f < 4 ? f_names[f] : "?";
}

const char *jepsen_verdict_name(enum jepsen_verdict v)
{
    switch (v) {
    case JEPSEN_VALID:
        return "valid";
    case JEPSEN_INVALID:
        return "INVALID";
    case JEPSEN_UNKNOWN:
        return "unknown";
    }
    return "?";
}

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* Decodes one object into ev (which owns nothing yet on failure). */
static int decode_event(json_t *obj, size_t line, struct jepsen_event *ev, struct err *e)
{
    json_t *p = json_object_get(obj, "process"), *t = json_object_get(obj, "time_ns");
    json_t *k = json_object_get(obj, "key"), *v = json_object_get(obj, "value");
    const char *type = json_string_value(json_object_get(obj, "type"));
    const char *f = json_string_value(json_object_get(obj, "f"));
    int ti, fi;

    if (!json_is_object(obj))
        return err_setf(e, ERR_INVALID, "line %zu: not an object", line);
    if (!json_is_integer(p))
        return err_setf(e, ERR_INVALID, "line %zu: process: required integer", line);
    if (type == NULL || (ti = lookup(type, type_names, 4)) < 0)
        return err_setf(e, ERR_INVALID, "line %zu: type: must be invoke, ok, fail or info", line);
    if (f == NULL || (fi = lookup(f, f_names, 4)) < 0)
        return err_setf(e, ERR_INVALID, "line %zu: f: must be read, write, cas or add", line);
    if (k != NULL && !json_is_null(k) && !json_is_string(k))
        return err_setf(e, ERR_INVALID, "line %zu: key: must be a string", line);
    if (t != NULL && !json_is_null(t) && !json_is_integer(t))
        return err_setf(e, ERR_INVALID, "line %zu: time_ns: must be an integer", line);
    ev->process = (long)json_integer_value(p);
    ev->type = (enum jepsen_type)ti;
    ev->f = (enum jepsen_f)fi;
    ev->time_ns = json_integer_value(t);
    ev->line = line;
    ev->key = strdup(json_is_string(k) ? json_string_value(k) : "");
    if (ev->key == NULL)
        return err_setf(e, ERR_NOMEM, "line %zu: out of memory", line);
    ev->value = (v == NULL || json_is_null(v)) ? NULL : json_incref(v);
    return 0;
}

static int push_event(struct jepsen_history *h, const struct jepsen_event *ev, struct err *e)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct jepsen_event *ne = realloc(h->events, cap * sizeof *ne);
        if (ne == NULL)
            return err_setf(e, ERR_NOMEM, "history: out of memory");
        h->events = ne;
        h->cap = cap;
    }
    h->events[h->n++] = *ev;
    return 0;
}

int jepsen_history_parse(const char *text, size_t len, struct jepsen_history *h, struct err *e)
{
    size_t pos = 0, line = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        struct jepsen_event ev = {0};
        json_error_t jerr;
        json_t *obj;
        size_t i;
        int rv;

        line++;
        for (i = pos; i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'); i++)
            ;
        if (i == end) {
            pos = end + 1;
            continue;
        }
        obj = json_loadb(text + pos, end - pos, 0, &jerr);
        if (obj == NULL)
            return err_setf(e, ERR_INVALID, "line %zu: %s", line, jerr.text);
        rv = decode_event(obj, line, &ev, e);
        json_decref(obj);
        if (rv == 0)
            rv = push_event(h, &ev, e);
        if (rv != 0) {
            free(ev.key);
            json_decref(ev.value);
            return rv;
        }
        pos = end + 1;
    }
    return 0;
}

int jepsen_history_load(const char *path, struct jepsen_history *h, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    int rv = 0;

    if (f == NULL)
        return err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
    do {
        if (cap - len < 65536) {
            char *nb = realloc(buf, cap ? cap * 2 : 1 << 20);
            if (nb == NULL) {
                rv = err_setf(e, ERR_NOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = cap ? cap * 2 : 1 << 20;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (ferror(f)) {
        rv = err_setf(e, ERR_IO, "%s: read error", path);
        goto out;
    }
    rv = jepsen_history_parse(buf, len, h, e);
    if (rv != 0)
        err_wrapf(e, "%s", path);
out:
    free(buf);
    fclose(f);
    return rv;
}

void jepsen_history_close(struct jepsen_history *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->events[i].key);
        json_decref(h->events[i].value);
    }
    free(h->events);
    memset(h, 0, sizeof *h);
}

/* Open invocations by process: a small open-addressing map, since process
 * numbers grow without bound (a new one after every info). */
struct open_map {
    long *proc;
    size_t *op; /* index into ops + 1; 0: empty slot */
    size_t cap, n;
};

static size_t slot_of(const struct open_map *m, long p)
{
    size_t i = ((unsigned long)p * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    while (m->op[i] != 0 && m->proc[i] != p)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_grow(struct open_map *m)
{
    struct open_map nm = {0};
    nm.cap = m->cap ? m->cap * 2 : 64;
    nm.proc = calloc(nm.cap, sizeof *nm.proc);
    nm.op = calloc(nm.cap, sizeof *nm.op);
    if (nm.proc == NULL || nm.op == NULL) {
        free(nm.proc);
        free(nm.op);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->op[i] == 0)
            continue;
        size_t s = slot_of(&nm, m->proc[i]);
        nm.proc[s] = m->proc[i];
        nm.op[s] = m->op[i];
        nm.n++;
    }
    free(m->proc);
    free(m->op);
    *m = nm;
    return 0;
}

/* Removal by backward-shift keeps probe chains intact without tombstones. */
static void map_del(struct open_map *m, size_t i)
{
    size_t j = i;
    m->op[i] = 0;
    m->n--;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (m->op[j] == 0)
            return;
        size_t home = ((unsigned long)m->proc[j] * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
        /* j's entry may move to i when its home is not in (i, j] cyclically */
        bool in = i < j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in) {
            m->proc[i] = m->proc[j];
            m->op[i] = m->op[j];
            m->op[j] = 0;
            i = j;
        }
    }
}

static int complete_op(const struct jepsen_history *h, size_t i, struct jepsen_op *op,
                       struct err *e)
{
    const struct jepsen_event *ev = &h->events[i], *inv = &h->events[op->invoke];
    if (ev->f != inv->f || strcmp(ev->key, inv->key) != 0)
        return err_setf(e, ERR_INVALID,
                        "line %zu: process %ld: completion %s %s does not match invocation "
                        "%s %s of line %zu",
                        ev->line, ev->process, jepsen_f_name(ev->f), ev->key, jepsen_f_name(inv->f),
                        inv->key, inv->line);
    op->status = ev->type;
    op->complete = i;
    /* a read learns its value on completion; other ops carry it from the
     * invocation (a completion may repeat it, or omit it) */
    if (ev->type == JEPSEN_OK && ev->f == JEPSEN_F_READ)
        op->value = ev->value;
    return 0;
}

int jepsen_history_ops(const struct jepsen_history *h, struct jepsen_op **ops_out, size_t *n_out,
                       struct err *e)
{
    struct open_map m = {0};
    struct jepsen_op *ops = NULL;
    size_t n = 0, i, s;
    int rv = 0;

    *ops_out = NULL;
    *n_out = 0;
    if (h->n > 0 && (ops = calloc(h->n, sizeof *ops)) == NULL)
        return err_setf(e, ERR_NOMEM, "history: out of memory");
    if (map_grow(&m) != 0) {
        rv = err_setf(e, ERR_NOMEM, "history: out of memory");
        goto out;
    }
    for (i = 0; i < h->n; i++) {
        const struct jepsen_event *ev = &h->events[i];
        s = slot_of(&m, ev->process);
        if (ev->type == JEPSEN_INVOKE) {
            if (m.op[s] != 0) {
                rv = err_setf(e, ERR_INVALID,
                              "line %zu: process %ld invokes while its op of line %zu is open",
                              ev->line, ev->process, h->events[ops[m.op[s] - 1].invoke].line);
                goto out;
            }
            ops[n] = (struct jepsen_op){ev->process, ev->f, JEPSEN_INFO, ev->key,
                                        ev->value,   i,     JEPSEN_NONE};
            m.proc[s] = ev->process;
            m.op[s] = ++n;
            if (++m.n * 2 > m.cap && map_grow(&m) != 0) {
                rv = err_setf(e, ERR_NOMEM, "history: out of memory");
                goto out;
            }
            continue;
        }
        if (m.op[s] == 0) {
            rv = err_setf(e, ERR_INVALID, "line %zu: process %ld: %s without an invocation",
                          ev->line, ev->process, jepsen_type_name(ev->type));
            goto out;
        }
        rv = complete_op(h, i, &ops[m.op[s] - 1], e);
        if (rv != 0)
            goto out;
        map_del(&m, s);
    }
out:
    free(m.proc);
    free(m.op);
    if (rv != 0) {
        free(ops);
        return rv;
    }
    *ops_out = ops;
    *n_out = n;
    return 0;
}

void jepsen_ops_count(const struct jepsen_op *ops, size_t n, struct jepsen_counts *c)
{
    memset(c, 0, sizeof *c);
    c->ops = n;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].status == JEPSEN_OK)
            c->ok++;
        else if (ops[i].status == JEPSEN_FAIL)
            c->fail++;
        else
            c->info++;
    }
}
