/* cache_parse.c: Kubernetes quantities, and v1 Pod / Node JSON reduced once to
 * the structs filters and scores read (sched_core.h). Everything a parsed
 * object points to lives in its arena, so freeing is one walk of chunks. */
#include "sched/sched_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct sched_chunk {
    struct sched_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN 1024

void *sched__arena_alloc(struct sched_arena *a, size_t size)
{
    struct sched_chunk *c = a->head;
    size = (size + 15) & ~(size_t)15;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *sched__arena_strdup(struct sched_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = sched__arena_alloc(a, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void sched__arena_free(struct sched_arena *a)
{
    struct sched_chunk *c = a->head, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

uint64_t sched__hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- quantities ---- */

typedef unsigned __int128 u128;

/* Decimal suffixes to a power of ten, binary ones to a power of two. */
static int parse_suffix(const char *s, int *exp10, int *exp2)
{
    static const struct {
        const char *s;
        int e10, e2;
    } tab[] = {{"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},
               {"k", 3, 0},   {"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},
               {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
               {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (strcmp(s, tab[i].s) == 0) {
            *exp10 += tab[i].e10;
            *exp2 = tab[i].e2;
            return 0;
        }
    }
    if (s[0] != 'e' && s[0] != 'E')
        return -1;
    /* decimal exponent: e or E then a signed integer */
    const char *p = s + 1;
    int sign = 1, v = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > 1000)
            return -1;
    }
    if (*p != '\0')
        return -1;
    *exp10 += sign * v;
    *exp2 = 0;
    return 0;
}

int sched_quantity_parse(const char *s, int scale, int64_t *out, struct err *e)
{
    const u128 mant_cap = (u128)1000000000000000000ULL * 1000000000000ULL; /* 10^30 */
    const char *p = s;
    u128 mant = 0;
    int exp10 = 0, exp2 = 0, digits = 0;
    bool neg = false, sticky = false; /* sticky: non-zero digits dropped */

    *out = 0;
    if (s == NULL || *s == '\0')
        return err_setf(e, ERR_INVALID, "quantity: empty");
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (mant < mant_cap)
            mant = mant * 10 + (u128)(*p - '0');
        else
            exp10++, sticky |= *p != '0';
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (mant < mant_cap)
                mant = mant * 10 + (u128)(*p - '0'), exp10--;
            else
                sticky |= *p != '0';
        }
    }
    if (digits == 0 || parse_suffix(p, &exp10, &exp2) != 0)
        return err_setf(e, ERR_INVALID, "quantity \"%.64s\": unable to parse", s);

    /* value in units of 10^scale = mant * 2^exp2 * 10^(exp10 - scale), rounded up */
    int e10 = exp10 - scale;
    for (int i = 0; i < exp2; i++) {
        if (mant >> 126 != 0)
            goto out_range;
        mant <<= 1;
    }
    if (e10 < 0) {
        u128 div = 1;
        bool tiny = false;
        for (int i = 0; i < -e10; i++) {
            if (div > mant) {
                tiny = true; /* divisor already exceeds the value: quotient 0 */
                break;
            }
            div *= 10;
        }
        if (tiny) {
            sticky |= mant != 0;
            mant = 0;
        } else {
            sticky |= mant % div != 0;
            mant /= div;
        }
    } else {
        for (int i = 0; i < e10 && mant != 0; i++) {
            if (mant > (u128)INT64_MAX)
                goto out_range;
            mant *= 10;
        }
    }
    if (sticky)
        mant += 1; /* round away from zero: Value()/MilliValue() round up */
    if (mant > (u128)INT64_MAX)
        goto out_range;
    *out = neg ? -(int64_t)mant : (int64_t)mant;
    return 0;
out_range:
    return err_setf(e, ERR_INVALID, "quantity \"%.64s\": out of range", s);
}

/* ---- shared JSON helpers ---- */

struct parse {
    struct sched_arena *a;
    struct err *warn;
    bool nomem;
};

static void warnf(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct parse *ps, const char *fmt, ...)
{
    va_list ap;
    if (ps->warn == NULL || ps->warn->code != 0)
        return; /* the first defect is enough for a log line */
    va_start(ap, fmt);
    ps->warn->code = ERR_INVALID;
    vsnprintf(ps->warn->msg, sizeof ps->warn->msg, fmt, ap);
    va_end(ap);
}

static const char *dup(struct parse *ps, const char *s)
{
    char *d;
    if (s == NULL)
        return NULL;
    d = sched__arena_strdup(ps->a, s);
    if (d == NULL)
        ps->nomem = true;
    return d;
}

static void *alloc(struct parse *ps, size_t n, size_t size)
{
    void *p;
    if (n == 0)
        return NULL;
    p = sched__arena_alloc(ps->a, n * size);
    if (p == NULL)
        ps->nomem = true;
    return p;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A map of strings (labels, nodeSelector, matchLabels); non-strings skipped. */
static struct sched_kv *parse_kvs(struct parse *ps, const json_t *obj, size_t *n)
{
    const char *k;
    json_t *v;
    struct sched_kv *kv;
    *n = 0;
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return NULL;
    kv = alloc(ps, json_object_size(obj), sizeof *kv);
    if (kv == NULL)
        return NULL;
    json_object_foreach ((json_t *)obj, k, v) {
        if (!json_is_string(v))
            continue;
        kv[*n].key = dup(ps, k);
        kv[*n].value = dup(ps, json_string_value(v));
        (*n)++;
    }
    return kv;
}

static int parse_op(const char *op)
{
    static const char *names[] = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"};
    for (int i = 0; op != NULL && i < 6; i++)
        if (strcmp(op, names[i]) == 0)
            return SCHED_OP_IN + i;
    return SCHED_OP_BAD;
}

static bool parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (s == NULL || *s == '\0')
        return false;
    v = strtoll(s, &end, 10);
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

static struct sched_expr *parse_exprs(struct parse *ps, const json_t *arr, const char *path,
                                      size_t *n)
{
    struct sched_expr *x;
    json_t *it;
    size_t i;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return NULL;
    x = alloc(ps, json_array_size(arr), sizeof *x);
    if (x == NULL)
        return NULL;
    json_array_foreach (arr, i, it) {
        json_t *vals = json_object_get(it, "values"), *v;
        struct sched_expr *ex = &x[(*n)++];
        size_t j;
        ex->key = dup(ps, jstr(it, "key") ? jstr(it, "key") : "");
        ex->op = parse_op(jstr(it, "operator"));
        if (ex->op == SCHED_OP_BAD)
            warnf(ps, "%s[%zu].operator: unsupported, matches nothing", path, i);
        if (json_is_array(vals) && json_array_size(vals) > 0) {
            ex->values = alloc(ps, json_array_size(vals), sizeof *ex->values);
            if (ex->values == NULL)
                return x;
            json_array_foreach (vals, j, v) {
                if (json_is_string(v))
                    ex->values[ex->n_values++] = dup(ps, json_string_value(v));
            }
        }
        if (ex->op == SCHED_OP_GT || ex->op == SCHED_OP_LT)
            ex->num_ok = ex->n_values == 1 && parse_int64(ex->values[0], &ex->num);
    }
    return x;
}

static void parse_node_term(struct parse *ps, const json_t *t, const char *path,
                            struct sched_node_term *out)
{
    out->exprs = parse_exprs(ps, json_object_get(t, "matchExpressions"), path, &out->n_exprs);
    out->fields = parse_exprs(ps, json_object_get(t, "matchFields"), path, &out->n_fields);
    for (size_t i = 0; i < out->n_fields; i++) {
        if (strcmp(out->fields[i].key, "metadata.name") != 0 ||
            (out->fields[i].op != SCHED_OP_IN && out->fields[i].op != SCHED_OP_NOT_IN)) {
            warnf(ps, "%s.matchFields[%zu]: only metadata.name In/NotIn is supported", path, i);
            out->fields[i].op = SCHED_OP_BAD;
        }
    }
}

/* ---- pods ---- */

struct res {
    int64_t cpu_m, mem, eph;
    struct sched_scalar ext[8];
    size_t n_ext;
};

static void res_add_ext(struct parse *ps, struct res *r, const char *name, int64_t v, bool max)
{
    for (size_t i = 0; i < r->n_ext; i++) {
        if (strcmp(r->ext[i].name, name) == 0) {
            r->ext[i].value =
                max ? (v > r->ext[i].value ? v : r->ext[i].value) : r->ext[i].value + v;
            return;
        }
    }
    if (r->n_ext == sizeof r->ext / sizeof r->ext[0]) {
        warnf(ps, "resources: more than %zu extended resources, %s ignored", r->n_ext, name);
        return;
    }
    r->ext[r->n_ext].name = name; /* borrowed from the pod JSON, copied by pod_fill */
    r->ext[r->n_ext++].value = v;
}

/* One request (resource name k, quantity v) added into r. */
static void parse_request(struct parse *ps, const char *k, const json_t *v, const char *path,
                          struct res *r)
{
    int64_t q = 0;
    bool cpu = strcmp(k, "cpu") == 0;
    struct err qe;
    if (!json_is_string(v) ||
        sched_quantity_parse(json_string_value(v), cpu ? -3 : 0, &q, &qe) != 0 || q < 0) {
        warnf(ps, "%s.%s: invalid quantity, counted as 0", path, k);
        return;
    }
    if (cpu)
        r->cpu_m += q;
    else if (strcmp(k, "memory") == 0)
        r->mem += q;
    else if (strcmp(k, "ephemeral-storage") == 0)
        r->eph += q;
    else if (strcmp(k, "pods") != 0)
        res_add_ext(ps, r, k, q, false);
}

/* Requests of one resources map into r (sum). */
static void parse_requests(struct parse *ps, const json_t *reqs, const char *path, struct res *r)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)reqs, k, v) {
        parse_request(ps, k, v, path, r);
    }
}

static void res_sum(struct parse *ps, struct res *a, const struct res *b)
{
    a->cpu_m += b->cpu_m, a->mem += b->mem, a->eph += b->eph;
    for (size_t i = 0; i < b->n_ext; i++)
        res_add_ext(ps, a, b->ext[i].name, b->ext[i].value, false);
}

static void res_max(struct parse *ps, struct res *a, const struct res *b)
{
    a->cpu_m = a->cpu_m > b->cpu_m ? a->cpu_m : b->cpu_m;
    a->mem = a->mem > b->mem ? a->mem : b->mem;
    a->eph = a->eph > b->eph ? a->eph : b->eph;
    for (size_t i = 0; i < b->n_ext; i++)
        res_add_ext(ps, a, b->ext[i].name, b->ext[i].value, true);
}

/* A container's requests; requests absent but limits present mean the limits
 * (the apiserver's defaulting; repeated in case an object skipped it). With
 * nonzero, cpu/memory left at 0 take the scoring defaults. */
static void container_requests(struct parse *ps, const json_t *c, const char *path, bool nonzero,
                               struct res *r)
{
    json_t *rs = json_object_get(c, "resources");
    json_t *req = json_object_get(rs, "requests"), *lim = json_object_get(rs, "limits");
    const char *k;
    json_t *v;
    memset(r, 0, sizeof *r);
    if (json_is_object(req))
        parse_requests(ps, req, path, r);
    if (json_is_object(lim)) {
        json_object_foreach (lim, k, v) {
            if (json_object_get(req, k) == NULL)
                parse_request(ps, k, v, path, r);
        }
    }
    if (nonzero) {
        if (json_object_get(req, "cpu") == NULL && json_object_get(lim, "cpu") == NULL)
            r->cpu_m = SCHED_NONZERO_CPU_M;
        if (json_object_get(req, "memory") == NULL && json_object_get(lim, "memory") == NULL)
            r->mem = SCHED_NONZERO_MEM;
    }
}

/* kube's computePodResourceRequest: sum of containers plus restartable
 * (sidecar) init containers, against the max over init containers, each init
 * container running beside the sidecars started before it; then overhead. */
static void pod_requests(struct parse *ps, const json_t *spec, bool nonzero, struct res *out)
{
    struct res sum = {0}, init_max = {0}, sidecars = {0}, one;
    json_t *cs = json_object_get(spec, "containers"), *c;
    size_t i;
    char path[64];
    json_array_foreach (cs, i, c) {
        snprintf(path, sizeof path, "spec.containers[%zu].resources", i);
        container_requests(ps, c, path, nonzero, &one);
        res_sum(ps, &sum, &one);
    }
    cs = json_object_get(spec, "initContainers");
    json_array_foreach (cs, i, c) {
        const char *rp = jstr(c, "restartPolicy");
        snprintf(path, sizeof path, "spec.initContainers[%zu].resources", i);
        container_requests(ps, c, path, nonzero, &one);
        if (rp != NULL && strcmp(rp, "Always") == 0) {
            res_sum(ps, &sidecars, &one);
            res_max(ps, &init_max, &sidecars);
        } else {
            res_sum(ps, &one, &sidecars);
            res_max(ps, &init_max, &one);
        }
    }
    res_sum(ps, &sum, &sidecars);
    res_max(ps, &sum, &init_max);
    if (json_is_object(json_object_get(spec, "overhead")))
        parse_requests(ps, json_object_get(spec, "overhead"), "spec.overhead", &sum);
    *out = sum;
}

static void pod_ports(struct parse *ps, struct sched_pod *p, const json_t *spec)
{
    json_t *cs = json_object_get(spec, "containers"), *c, *port;
    size_t i, j, n = 0;
    json_array_foreach (cs, i, c) {
        json_array_foreach (json_object_get(c, "ports"), j, port) {
            if (json_integer_value(json_object_get(port, "hostPort")) > 0)
                n++;
        }
    }
    if (n == 0 || (p->ports = alloc(ps, n, sizeof *p->ports)) == NULL)
        return;
    json_array_foreach (cs, i, c) {
        json_array_foreach (json_object_get(c, "ports"), j, port) {
            json_int_t hp = json_integer_value(json_object_get(port, "hostPort"));
            const char *proto = jstr(port, "protocol"), *ip = jstr(port, "hostIP");
            struct sched_port *sp;
            if (hp <= 0)
                continue;
            sp = &p->ports[p->n_ports++];
            sp->port = hp > 65535 ? 65535 : (int)hp;
            sp->proto = proto == NULL || strcmp(proto, "TCP") == 0 ? SCHED_PROTO_TCP
                        : strcmp(proto, "UDP") == 0                ? SCHED_PROTO_UDP
                                                                   : SCHED_PROTO_SCTP;
            sp->ip = dup(ps, ip != NULL && ip[0] != '\0' ? ip : "0.0.0.0");
        }
    }
}

static int parse_effect(const char *s)
{
    if (s == NULL)
        return 0;
    if (strcmp(s, "NoSchedule") == 0)
        return SCHED_EFFECT_NO_SCHEDULE;
    if (strcmp(s, "PreferNoSchedule") == 0)
        return SCHED_EFFECT_PREFER_NO_SCHEDULE;
    if (strcmp(s, "NoExecute") == 0)
        return SCHED_EFFECT_NO_EXECUTE;
    return 0;
}

static void pod_tolerations(struct parse *ps, struct sched_pod *p, const json_t *arr)
{
    json_t *t;
    size_t i;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return;
    if ((p->tols = alloc(ps, json_array_size(arr), sizeof *p->tols)) == NULL)
        return;
    json_array_foreach (arr, i, t) {
        struct sched_toleration *to = &p->tols[p->n_tols];
        const char *op = jstr(t, "operator"), *eff = jstr(t, "effect");
        if (!json_is_object(t))
            continue;
        to->key = dup(ps, jstr(t, "key") ? jstr(t, "key") : "");
        to->value = dup(ps, jstr(t, "value") ? jstr(t, "value") : "");
        to->exists = op != NULL && strcmp(op, "Exists") == 0;
        to->effect = parse_effect(eff);
        if (op != NULL && !to->exists && strcmp(op, "Equal") != 0 && op[0] != '\0') {
            warnf(ps, "spec.tolerations[%zu].operator: unsupported, ignored", i);
            continue;
        }
        if (eff != NULL && eff[0] != '\0' && to->effect == 0) {
            warnf(ps, "spec.tolerations[%zu].effect: unsupported, ignored", i);
            continue;
        }
        p->n_tols++;
    }
}

static struct sched_selector *parse_selector(struct parse *ps, const json_t *sel, const char *path)
{
    struct sched_selector *s;
    if (!json_is_object(sel))
        return NULL;
    if ((s = alloc(ps, 1, sizeof *s)) == NULL)
        return NULL;
    s->labels = parse_kvs(ps, json_object_get(sel, "matchLabels"), &s->n_labels);
    s->exprs = parse_exprs(ps, json_object_get(sel, "matchExpressions"), path, &s->n_exprs);
    for (size_t i = 0; i < s->n_exprs; i++) {
        if (s->exprs[i].op == SCHED_OP_GT || s->exprs[i].op == SCHED_OP_LT) {
            warnf(ps, "%s[%zu].operator: not valid in a label selector", path, i);
            s->exprs[i].op = SCHED_OP_BAD;
        }
    }
    return s;
}

static void pod_affinity(struct parse *ps, struct sched_pod *p, const json_t *aff)
{
    json_t *na = json_object_get(aff, "nodeAffinity"),
           *pa = json_object_get(aff, "podAntiAffinity");
    json_t *req = json_object_get(na, "requiredDuringSchedulingIgnoredDuringExecution");
    json_t *arr, *t;
    size_t i;
    char path[96];

    if (json_is_object(req)) {
        arr = json_object_get(req, "nodeSelectorTerms");
        p->has_required = true;
        p->required = alloc(ps, json_array_size(arr), sizeof *p->required);
        json_array_foreach (arr, i, t) {
            if (p->required == NULL)
                break;
            snprintf(path, sizeof path,
                     "spec.affinity.nodeAffinity.required.nodeSelectorTerms[%zu]", i);
            parse_node_term(ps, t, path, &p->required[p->n_required++]);
        }
    }
    arr = json_object_get(na, "preferredDuringSchedulingIgnoredDuringExecution");
    p->preferred = alloc(ps, json_array_size(arr), sizeof *p->preferred);
    json_array_foreach (arr, i, t) {
        struct sched_pref_term *pt;
        if (p->preferred == NULL)
            break;
        pt = &p->preferred[p->n_preferred++];
        pt->weight = json_integer_value(json_object_get(t, "weight"));
        snprintf(path, sizeof path, "spec.affinity.nodeAffinity.preferred[%zu].preference", i);
        parse_node_term(ps, json_object_get(t, "preference"), path, &pt->term);
    }

    arr = json_object_get(pa, "requiredDuringSchedulingIgnoredDuringExecution");
    p->anti = alloc(ps, json_array_size(arr), sizeof *p->anti);
    json_array_foreach (arr, i, t) {
        struct sched_pod_term *pt;
        const char *tk = jstr(t, "topologyKey");
        json_t *nss = json_object_get(t, "namespaces"), *ns;
        json_t *nsel = json_object_get(t, "namespaceSelector");
        size_t j;
        if (p->anti == NULL)
            break;
        pt = &p->anti[p->n_anti++];
        snprintf(path, sizeof path, "spec.affinity.podAntiAffinity.required[%zu]", i);
        pt->sel = parse_selector(ps, json_object_get(t, "labelSelector"), path);
        pt->hostname = tk != NULL && strcmp(tk, "kubernetes.io/hostname") == 0;
        if (!pt->hostname)
            warnf(ps, "%s.topologyKey: only kubernetes.io/hostname is enforced", path);
        pt->all_ns = json_is_object(nsel) && json_object_size(nsel) == 0;
        if (json_is_object(nsel) && json_object_size(nsel) > 0)
            warnf(ps, "%s.namespaceSelector: only {} is supported", path);
        pt->namespaces = alloc(ps, json_array_size(nss), sizeof *pt->namespaces);
        json_array_foreach (nss, j, ns) {
            if (pt->namespaces != NULL && json_is_string(ns))
                pt->namespaces[pt->n_namespaces++] = dup(ps, json_string_value(ns));
        }
    }
    if (json_object_get(json_object_get(aff, "podAffinity"),
                        "requiredDuringSchedulingIgnoredDuringExecution") != NULL)
        warnf(ps, "spec.affinity.podAffinity: not supported, ignored");
}

static int parse_phase(const char *s)
{
    if (s == NULL || strcmp(s, "Pending") == 0)
        return SCHED_PHASE_PENDING;
    if (strcmp(s, "Running") == 0)
        return SCHED_PHASE_RUNNING;
    if (strcmp(s, "Succeeded") == 0)
        return SCHED_PHASE_SUCCEEDED;
    if (strcmp(s, "Failed") == 0)
        return SCHED_PHASE_FAILED;
    return SCHED_PHASE_UNKNOWN;
}

static void pod_fill(struct parse *ps, struct sched_pod *p, const json_t *pod)
{
    json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
    json_t *owners = json_object_get(meta, "ownerReferences"), *o;
    const char *ns = jstr(meta, "namespace"), *rv = jstr(meta, "resourceVersion");
    const char *node = jstr(spec, "nodeName"), *pp = jstr(spec, "preemptionPolicy");
    struct res r, nz;
    size_t i;
    int64_t mod_rev;

    p->ns = dup(ps, ns != NULL && ns[0] != '\0' ? ns : "default");
    p->name = dup(ps, jstr(meta, "name"));
    p->uid = dup(ps, jstr(meta, "uid") ? jstr(meta, "uid") : "");
    p->uid_hash = sched__hash_str(jstr(meta, "uid") ? jstr(meta, "uid") : p->name ? p->name : "");
    if (rv != NULL && parse_int64(rv, &mod_rev) && mod_rev > 0)
        p->mod_rev = (uint64_t)mod_rev;
    p->node_name = node != NULL && node[0] != '\0' ? dup(ps, node) : NULL;
    p->phase = parse_phase(jstr(json_object_get(pod, "status"), "phase"));
    p->preempt_never = pp != NULL && strcmp(pp, "Never") == 0;
    p->labels = parse_kvs(ps, json_object_get(meta, "labels"), &p->n_labels);
    json_array_foreach (owners, i, o) {
        if (json_is_true(json_object_get(o, "controller")) && jstr(o, "uid") != NULL) {
            p->owner_uid = dup(ps, jstr(o, "uid"));
            break;
        }
    }

    pod_requests(ps, spec, false, &r);
    pod_requests(ps, spec, true, &nz);
    p->cpu_m = r.cpu_m, p->mem = r.mem, p->eph = r.eph;
    p->nz_cpu_m = nz.cpu_m, p->nz_mem = nz.mem;
    if (r.n_ext > 0 && (p->ext = alloc(ps, r.n_ext, sizeof *p->ext)) != NULL) {
        for (i = 0; i < r.n_ext; i++) {
            if (r.ext[i].value == 0)
                continue;
            p->ext[p->n_ext].name = dup(ps, r.ext[i].name);
            p->ext[p->n_ext++].value = r.ext[i].value;
        }
    }
    pod_ports(ps, p, spec);
    pod_tolerations(ps, p, json_object_get(spec, "tolerations"));
    p->node_selector = parse_kvs(ps, json_object_get(spec, "nodeSelector"), &p->n_node_selector);
    pod_affinity(ps, p, json_object_get(spec, "affinity"));
}

int sched_pod_parse(const json_t *pod, struct sched_pod **out, struct err *warn, struct err *e)
{
    struct sched_arena a = {NULL};
    struct parse ps = {.a = &a, .warn = warn};
    struct sched_pod *p;
    const char *name = jstr(json_object_get(pod, "metadata"), "name");

    if (!json_is_object(pod))
        return err_setf(e, ERR_INVALID, "pod: not an object");
    if (name == NULL || name[0] == '\0')
        return err_setf(e, ERR_INVALID, "pod: metadata.name: required");
    p = sched__arena_alloc(&a, sizeof *p);
    if (p == NULL)
        return err_setf(e, ERR_NOMEM, "pod %s: out of memory", name);
    pod_fill(&ps, p, pod);
    if (ps.nomem) {
        sched__arena_free(&a);
        return err_setf(e, ERR_NOMEM, "pod %s: out of memory", name);
    }
    /* the struct lives in its own arena: move the arena head into it */
    p->arena__ = a;
    p->node__ = -1;
    *out = p;
    return 0;
}

void sched_pod_free(struct sched_pod *p)
{
    if (p != NULL) {
        struct sched_arena a = p->arena__;
        sched__arena_free(&a);
    }
}

/* ---- nodes ---- */

static void node_allocatable(struct parse *ps, struct sched_node *n, const json_t *alloc_obj)
{
    const char *k;
    json_t *v;
    size_t n_ext = 0;
    json_object_foreach ((json_t *)alloc_obj, k, v) {
        int64_t q = 0;
        bool cpu = strcmp(k, "cpu") == 0;
        struct err qe;
        if (!json_is_string(v) ||
            sched_quantity_parse(json_string_value(v), cpu ? -3 : 0, &q, &qe) != 0 || q < 0) {
            warnf(ps, "status.allocatable.%s: invalid quantity, counted as 0", k);
            q = 0;
        }
        if (cpu)
            n->alloc_cpu_m = q;
        else if (strcmp(k, "memory") == 0)
            n->alloc_mem = q;
        else if (strcmp(k, "ephemeral-storage") == 0)
            n->alloc_eph = q;
        else if (strcmp(k, "pods") == 0)
            n->alloc_pods = q;
        else
            n_ext++;
    }
    if (n_ext == 0 || (n->alloc_ext = alloc(ps, n_ext, sizeof *n->alloc_ext)) == NULL)
        return;
    json_object_foreach ((json_t *)alloc_obj, k, v) {
        int64_t q = 0;
        struct err qe;
        if (strcmp(k, "cpu") == 0 || strcmp(k, "memory") == 0 ||
            strcmp(k, "ephemeral-storage") == 0 || strcmp(k, "pods") == 0)
            continue;
        if (json_is_string(v) && sched_quantity_parse(json_string_value(v), 0, &q, &qe) == 0 &&
            q < 0)
            q = 0;
        n->alloc_ext[n->n_ext].name = dup(ps, k);
        n->alloc_ext[n->n_ext++].value = q;
    }
}

static void node_taints(struct parse *ps, struct sched_node *n, const json_t *arr,
                        const char *ready)
{
    /* A node whose Ready condition is not True carries the taint the node
     * lifecycle controller would add (not-ready / unreachable NoSchedule),
     * so tolerating it (DaemonSets do) is what lets a pod on. */
    const char *synth = ready != NULL && strcmp(ready, "True") == 0 ? NULL
                        : ready != NULL && strcmp(ready, "Unknown") == 0
                            ? "node.kubernetes.io/unreachable"
                            : "node.kubernetes.io/not-ready";
    size_t cap = json_array_size(arr) + 1, i;
    json_t *t;
    n->taints = alloc(ps, cap, sizeof *n->taints);
    if (n->taints == NULL)
        return;
    json_array_foreach (arr, i, t) {
        struct sched_taint *ta = &n->taints[n->n_taints];
        const char *key = jstr(t, "key");
        if (key == NULL)
            continue;
        ta->key = dup(ps, key);
        ta->value = dup(ps, jstr(t, "value") ? jstr(t, "value") : "");
        ta->effect = parse_effect(jstr(t, "effect"));
        if (ta->effect == 0) {
            warnf(ps, "spec.taints[%zu].effect: unsupported, ignored", i);
            continue;
        }
        if (synth != NULL && strcmp(key, synth) == 0 && ta->effect == SCHED_EFFECT_NO_SCHEDULE)
            synth = NULL;
        n->n_taints++;
    }
    if (synth != NULL) {
        n->taints[n->n_taints].key = synth; /* static string */
        n->taints[n->n_taints].value = "";
        n->taints[n->n_taints++].effect = SCHED_EFFECT_NO_SCHEDULE;
    }
    for (i = 0; i < n->n_taints; i++) {
        if (n->taints[i].effect == SCHED_EFFECT_PREFER_NO_SCHEDULE)
            n->n_soft_taints++;
        else
            n->n_hard_taints++;
    }
}

int sched__node_parse(const json_t *node, struct sched_node *n, struct err *warn, struct err *e)
{
    struct parse ps = {.a = &n->arena, .warn = warn};
    json_t *meta = json_object_get(node, "metadata"), *spec = json_object_get(node, "spec");
    json_t *status = json_object_get(node, "status"), *conds, *c;
    json_t *al = json_object_get(status, "allocatable");
    const char *name = jstr(meta, "name"), *ready = NULL;
    size_t i;

    if (!json_is_object(node))
        return err_setf(e, ERR_INVALID, "node: not an object");
    if (name == NULL || name[0] == '\0')
        return err_setf(e, ERR_INVALID, "node: metadata.name: required");
    n->labels = parse_kvs(&ps, json_object_get(meta, "labels"), &n->n_labels);
    n->unschedulable = json_is_true(json_object_get(spec, "unschedulable"));
    /* kubelet reports both; a node that only reports capacity is taken at it */
    if (!json_is_object(al))
        al = json_object_get(status, "capacity");
    if (json_is_object(al))
        node_allocatable(&ps, n, al);
    conds = json_object_get(status, "conditions");
    json_array_foreach (conds, i, c) {
        if (jstr(c, "type") != NULL && strcmp(jstr(c, "type"), "Ready") == 0)
            ready = jstr(c, "status");
    }
    node_taints(&ps, n, json_object_get(spec, "taints"), ready);
    if (ps.nomem)
        return err_setf(e, ERR_NOMEM, "node %s: out of memory", name);
    return 0;
}
