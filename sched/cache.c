/* cache.c: the scheduler's view of the cluster, kept current by watch events.
 * Nodes sit in one array of slots (indices are stable: pods refer to their
 * node by slot, and a pick walks the array front to back); pods, nodes and
 * owners are found through open-addressing hash tables, so each event costs
 * O(1) besides parsing. Per node the cache keeps what filters and scores
 * read: requested totals, pod count, host ports in use, the pods themselves
 * (for anti-affinity); per owner (controller uid) how many of its pods each
 * node holds (for spreading). */
#include "sched/sched_core.h"

#include <stdlib.h>
#include <string.h>

/* ---- an open-addressing table of pointers, keyed by a 64-bit hash ---- */

struct mslot {
    uint64_t h;
    void *v; /* NULL: empty */
};
struct map {
    struct mslot *s;
    size_t cap, n; /* cap a power of two */
};
typedef bool (*map_eq_fn)(const void *v, const void *key);

static void *map_get(const struct map *m, uint64_t h, map_eq_fn eq, const void *key, size_t *at)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->s[i].v == NULL)
            return NULL;
        if (m->s[i].h == h && eq(m->s[i].v, key)) {
            if (at != NULL)
                *at = i;
            return m->s[i].v;
        }
    }
}

static void map_insert(struct map *m, uint64_t h, void *v)
{
    size_t i = h & (m->cap - 1);
    while (m->s[i].v != NULL)
        i = (i + 1) & (m->cap - 1);
    m->s[i].h = h;
    m->s[i].v = v;
    m->n++;
}

/* Adds v (its key absent). Keeps the load under 1/2: probes stay short. */
static int map_put(struct map *m, uint64_t h, void *v)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct map big = {calloc(m->cap ? m->cap * 2 : 64, sizeof *big.s), m->cap ? m->cap * 2 : 64,
                          0};
        if (big.s == NULL)
            return ERR_NOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->s[i].v != NULL)
                map_insert(&big, m->s[i].h, m->s[i].v);
        free(m->s);
        *m = big;
    }
    map_insert(m, h, v);
    return 0;
}

/* Removes slot i, shifting later entries of the run back (no tombstones). */
static void map_del_at(struct map *m, size_t i)
{
    size_t mask = m->cap - 1, j = i;
    m->s[i].v = NULL;
    m->n--;
    for (;;) {
        j = (j + 1) & mask;
        if (m->s[j].v == NULL)
            return;
        size_t home = m->s[j].h & mask;
        /* move j into the hole at i unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            m->s[i] = m->s[j];
            m->s[j].v = NULL;
            i = j;
        }
    }
}

/* ---- owners ---- */

struct owner_ent {
    int node; /* slot + 1; 0: empty */
    uint32_t count;
};
struct sched_owner {
    char *uid;
    uint64_t hash;
    size_t total;
    struct owner_ent *tab; /* per-node counts; zero counts stay until the owner goes */
    size_t cap, n;
};

struct sched_cache {
    struct sched_node *nodes;
    size_t n_slots, cap_slots;
    int *free_slots;
    size_t n_free;
    size_t n_present;
    struct map node_map;  /* name -> slot + 1 */
    struct map pod_map;   /* ns/name -> struct sched_pod * */
    struct map owner_map; /* uid -> struct sched_owner * */
    struct sched__scratch scratch;
};

static bool owner_eq(const void *v, const void *key)
{
    return strcmp(((const struct sched_owner *)v)->uid, key) == 0;
}

static struct sched_owner *owner_find(struct sched_cache *c, const char *uid, size_t *at)
{
    return map_get(&c->owner_map, sched__hash_str(uid), owner_eq, uid, at);
}

static struct owner_ent *owner_slot(struct sched_owner *o, int node)
{
    size_t mask = o->cap - 1;
    for (size_t i = ((uint64_t)node * 0x9E3779B97F4A7C15ULL >> 20) & mask;; i = (i + 1) & mask)
        if (o->tab[i].node == node + 1 || o->tab[i].node == 0)
            return &o->tab[i];
}

static int owner_add(struct sched_cache *c, const char *uid, int node, struct sched_owner **out)
{
    struct sched_owner *o = owner_find(c, uid, NULL);
    struct owner_ent *ent;
    if (o == NULL) {
        o = calloc(1, sizeof *o);
        if (o == NULL || (o->uid = strdup(uid)) == NULL) {
            free(o);
            return ERR_NOMEM;
        }
        o->hash = sched__hash_str(uid);
        if (map_put(&c->owner_map, o->hash, o) != 0) {
            free(o->uid);
            free(o);
            return ERR_NOMEM;
        }
    }
    if ((o->n + 1) * 2 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        struct owner_ent *old = o->tab;
        size_t old_cap = o->cap;
        o->tab = calloc(cap, sizeof *o->tab);
        if (o->tab == NULL) {
            o->tab = old;
            return ERR_NOMEM;
        }
        o->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].node != 0)
                *owner_slot(o, old[i].node - 1) = old[i];
        free(old);
    }
    ent = owner_slot(o, node);
    if (ent->node == 0) {
        ent->node = node + 1;
        o->n++;
    }
    ent->count++;
    o->total++;
    *out = o;
    return 0;
}

static void owner_free(struct sched_owner *o)
{
    if (o != NULL) {
        free(o->tab);
        free(o->uid);
        free(o);
    }
}

static void owner_remove(struct sched_cache *c, struct sched_owner *o, int node)
{
    size_t at;
    struct owner_ent *ent = owner_slot(o, node);
    if (ent->node != 0 && ent->count > 0)
        ent->count--;
    if (--o->total > 0)
        return;
    if (owner_find(c, o->uid, &at) == o)
        map_del_at(&c->owner_map, at);
    owner_free(o);
}

uint32_t sched__owner_scatter(struct sched_cache *c, const char *owner_uid, uint32_t *counts)
{
    struct sched_owner *o = owner_uid ? owner_find(c, owner_uid, NULL) : NULL;
    uint32_t max = 0;
    for (size_t i = 0; o != NULL && i < o->cap; i++) {
        if (o->tab[i].node == 0)
            continue;
        counts[o->tab[i].node - 1] = o->tab[i].count;
        max = o->tab[i].count > max ? o->tab[i].count : max;
    }
    return max;
}

void sched__owner_unscatter(struct sched_cache *c, const char *owner_uid, uint32_t *counts)
{
    struct sched_owner *o = owner_uid ? owner_find(c, owner_uid, NULL) : NULL;
    for (size_t i = 0; o != NULL && i < o->cap; i++)
        if (o->tab[i].node != 0)
            counts[o->tab[i].node - 1] = 0;
}

/* ---- cache lifecycle ---- */

int sched_cache_new(struct sched_cache **out, struct err *e)
{
    struct sched_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return err_setf(e, ERR_NOMEM, "sched cache: out of memory");
    *out = c;
    return 0;
}

static void node_data_free(struct sched_node *n)
{
    sched__arena_free(&n->arena);
    free(n->req_ext);
    n->req_ext = NULL;
    n->alloc_ext = NULL;
    n->n_ext = 0;
    n->labels = NULL, n->n_labels = 0;
    n->taints = NULL, n->n_taints = 0, n->n_hard_taints = 0, n->n_soft_taints = 0;
}

void sched_cache_free(struct sched_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->pod_map.cap; i++)
        sched_pod_free(c->pod_map.s[i].v);
    for (size_t i = 0; i < c->owner_map.cap; i++)
        owner_free(c->owner_map.s[i].v);
    for (size_t i = 0; i < c->n_slots; i++) {
        node_data_free(&c->nodes[i]);
        free(c->nodes[i].ports);
        free(c->nodes[i].name);
    }
    free(c->nodes);
    free(c->free_slots);
    free(c->node_map.s);
    free(c->pod_map.s);
    free(c->owner_map.s);
    free(c->scratch.feasible);
    free(c->scratch.la);
    free(c->scratch.aff);
    free(c->scratch.taint);
    free(c->scratch.spread);
    free(c->scratch.owner_count);
    free(c);
}

/* ---- node slots ---- */

struct node_key {
    const struct sched_cache *c;
    const char *name;
};

static bool node_eq(const void *v, const void *key)
{
    const struct node_key *k = key;
    return strcmp(k->c->nodes[(intptr_t)v - 1].name, k->name) == 0;
}

static int node_find(struct sched_cache *c, const char *name)
{
    struct node_key k = {c, name};
    void *v = map_get(&c->node_map, sched__hash_str(name), node_eq, &k, NULL);
    return v == NULL ? -1 : (int)((intptr_t)v - 1);
}

static int grow_slots(struct sched_cache *c)
{
    size_t cap = c->cap_slots ? c->cap_slots * 2 : 64;
    struct sched_node *nodes = realloc(c->nodes, cap * sizeof *nodes);
    if (nodes == NULL)
        return ERR_NOMEM;
    c->nodes = nodes;
    int *fs = realloc(c->free_slots, cap * sizeof *fs);
    if (fs == NULL)
        return ERR_NOMEM;
    c->free_slots = fs;
    /* scratch grows with the slots so a pick never allocates */
    struct sched__scratch *s = &c->scratch;
    int *feas = realloc(s->feasible, cap * sizeof *feas);
    if (feas != NULL)
        s->feasible = feas;
    int64_t **arrs[] = {&s->la, &s->aff, &s->taint, &s->spread};
    bool ok = feas != NULL;
    for (size_t i = 0; i < 4; i++) {
        int64_t *a = realloc(*arrs[i], cap * sizeof *a);
        if (a != NULL)
            *arrs[i] = a;
        ok = ok && a != NULL;
    }
    uint32_t *oc = realloc(s->owner_count, cap * sizeof *oc);
    if (oc != NULL) {
        memset(oc + c->cap_slots, 0, (cap - c->cap_slots) * sizeof *oc);
        s->owner_count = oc;
    }
    if (!ok || oc == NULL)
        return ERR_NOMEM;
    c->cap_slots = cap;
    return 0;
}

/* A new slot for name (not present yet: a ghost until its object arrives). */
static int slot_new(struct sched_cache *c, const char *name, int *out)
{
    int idx;
    char *dup = strdup(name);
    if (dup == NULL)
        return ERR_NOMEM;
    if (c->n_free == 0 && c->n_slots == c->cap_slots && grow_slots(c) != 0) {
        free(dup);
        return ERR_NOMEM;
    }
    idx = c->n_free > 0 ? c->free_slots[--c->n_free] : (int)c->n_slots++;
    memset(&c->nodes[idx], 0, sizeof c->nodes[idx]);
    c->nodes[idx].name = dup;
    c->nodes[idx].name_hash = sched__hash_str(name);
    if (map_put(&c->node_map, c->nodes[idx].name_hash, (void *)(intptr_t)(idx + 1)) != 0) {
        free(dup);
        c->nodes[idx].name = NULL;
        c->free_slots[c->n_free++] = idx;
        return ERR_NOMEM;
    }
    *out = idx;
    return 0;
}

static void slot_release(struct sched_cache *c, int idx)
{
    struct sched_node *n = &c->nodes[idx];
    struct node_key k = {c, n->name};
    size_t at;
    if (map_get(&c->node_map, n->name_hash, node_eq, &k, &at) != NULL)
        map_del_at(&c->node_map, at);
    node_data_free(n);
    free(n->ports);
    free(n->name);
    memset(n, 0, sizeof *n);
    c->free_slots[c->n_free++] = idx;
}

static int node_ext_index(const struct sched_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_ext; i++)
        if (strcmp(n->alloc_ext[i].name, name) == 0)
            return (int)i;
    return -1;
}

int sched_cache_node_upsert(struct sched_cache *c, const json_t *node, struct err *warn,
                            struct err *e)
{
    struct sched_node parsed = {0};
    const char *name =
        json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
    int idx, rv;

    rv = sched__node_parse(node, &parsed, warn, e);
    if (rv != 0)
        goto out_free;
    if (parsed.n_ext > 0 &&
        (parsed.req_ext = calloc(parsed.n_ext, sizeof *parsed.req_ext)) == NULL) {
        rv = err_setf(e, ERR_NOMEM, "node %s: out of memory", name);
        goto out_free;
    }
    idx = node_find(c, name);
    if (idx < 0 && (rv = slot_new(c, name, &idx)) != 0) {
        rv = err_setf(e, rv, "node %s: out of memory", name);
        goto out_free;
    }
    struct sched_node *n = &c->nodes[idx];
    /* the object's part is replaced; what the pods put there stays */
    node_data_free(n);
    n->alloc_cpu_m = parsed.alloc_cpu_m, n->alloc_mem = parsed.alloc_mem;
    n->alloc_eph = parsed.alloc_eph, n->alloc_pods = parsed.alloc_pods;
    n->alloc_ext = parsed.alloc_ext, n->req_ext = parsed.req_ext, n->n_ext = parsed.n_ext;
    n->labels = parsed.labels, n->n_labels = parsed.n_labels;
    n->taints = parsed.taints, n->n_taints = parsed.n_taints;
    n->n_hard_taints = parsed.n_hard_taints, n->n_soft_taints = parsed.n_soft_taints;
    n->unschedulable = parsed.unschedulable;
    n->arena = parsed.arena;
    if (!n->present)
        c->n_present++;
    n->present = true;
    /* extended resources advertised may have changed: recount them */
    for (struct sched_pod *p = n->pods; p != NULL; p = p->next__)
        for (size_t i = 0; i < p->n_ext; i++) {
            int x = node_ext_index(n, p->ext[i].name);
            if (x >= 0)
                n->req_ext[x] += p->ext[i].value;
        }
    return 0;
out_free:
    free(parsed.req_ext);
    sched__arena_free(&parsed.arena);
    return rv;
}

void sched_cache_node_remove(struct sched_cache *c, const char *name)
{
    int idx = node_find(c, name);
    if (idx < 0 || !c->nodes[idx].present)
        return;
    c->nodes[idx].present = false;
    c->n_present--;
    if (c->nodes[idx].pods == NULL)
        slot_release(c, idx);
    else
        node_data_free(&c->nodes[idx]); /* a ghost: its pods keep their counts */
}

/* ---- counting pods on nodes ---- */

static bool port_same(const struct sched_port_use *u, const struct sched_port *p)
{
    return u->port == p->port && u->proto == p->proto && strcmp(u->ip, p->ip) == 0;
}

static int ports_add(struct sched_node *n, const struct sched_pod *p)
{
    for (size_t i = 0; i < p->n_ports; i++) {
        size_t j;
        for (j = 0; j < n->n_ports && !port_same(&n->ports[j], &p->ports[i]); j++)
            ;
        if (j < n->n_ports) {
            n->ports[j].refs++;
            continue;
        }
        if (n->n_ports == n->cap_ports) {
            size_t cap = n->cap_ports ? n->cap_ports * 2 : 4;
            struct sched_port_use *u = realloc(n->ports, cap * sizeof *u);
            if (u == NULL)
                return ERR_NOMEM;
            n->ports = u;
            n->cap_ports = cap;
        }
        n->ports[n->n_ports++] =
            (struct sched_port_use){p->ports[i].port, p->ports[i].proto, p->ports[i].ip, 1};
    }
    return 0;
}

static void ports_remove(struct sched_node *n, const struct sched_pod *p)
{
    for (size_t i = 0; i < p->n_ports; i++) {
        for (size_t j = 0; j < n->n_ports; j++) {
            if (!port_same(&n->ports[j], &p->ports[i]))
                continue;
            if (--n->ports[j].refs == 0)
                n->ports[j] = n->ports[--n->n_ports];
            else if (n->ports[j].ip == p->ports[i].ip) {
                /* the ip string belongs to the leaving pod: borrow another user's */
                for (struct sched_pod *q = n->pods; q != NULL; q = q->next__)
                    for (size_t k = 0; q != p && k < q->n_ports; k++)
                        if (port_same(&n->ports[j], &q->ports[k]))
                            n->ports[j].ip = q->ports[k].ip;
            }
            break;
        }
    }
}

static void pod_uncount(struct sched_cache *c, struct sched_pod *p)
{
    struct sched_node *n;
    if (p->node__ < 0)
        return;
    n = &c->nodes[p->node__];
    n->req_cpu_m -= p->cpu_m, n->req_mem -= p->mem, n->req_eph -= p->eph, n->n_pods--;
    n->nz_cpu_m -= p->nz_cpu_m, n->nz_mem -= p->nz_mem;
    for (size_t i = 0; i < p->n_ext; i++) {
        int x = node_ext_index(n, p->ext[i].name);
        if (x >= 0)
            n->req_ext[x] -= p->ext[i].value;
    }
    ports_remove(n, p);
    if (p->n_anti > 0)
        n->n_anti_pods--;
    if (p->owner__ != NULL)
        owner_remove(c, p->owner__, p->node__);
    if (p->prev__ != NULL)
        p->prev__->next__ = p->next__;
    else
        n->pods = p->next__;
    if (p->next__ != NULL)
        p->next__->prev__ = p->prev__;
    p->prev__ = p->next__ = NULL;
    p->owner__ = NULL;
    if (!n->present && n->pods == NULL)
        slot_release(c, p->node__);
    p->node__ = -1;
}

/* Counts p on node_name (a ghost slot if the node is unknown). */
static int pod_count(struct sched_cache *c, struct sched_pod *p, const char *node_name)
{
    int idx = node_find(c, node_name), rv;
    struct sched_node *n;
    if (idx < 0 && (rv = slot_new(c, node_name, &idx)) != 0)
        return rv;
    n = &c->nodes[idx];
    if ((rv = ports_add(n, p)) != 0)
        goto out_release;
    if (p->owner_uid != NULL && (rv = owner_add(c, p->owner_uid, idx, &p->owner__)) != 0) {
        ports_remove(n, p);
        goto out_release;
    }
    n->req_cpu_m += p->cpu_m, n->req_mem += p->mem, n->req_eph += p->eph, n->n_pods++;
    n->nz_cpu_m += p->nz_cpu_m, n->nz_mem += p->nz_mem;
    for (size_t i = 0; i < p->n_ext; i++) {
        int x = node_ext_index(n, p->ext[i].name);
        if (x >= 0)
            n->req_ext[x] += p->ext[i].value;
    }
    if (p->n_anti > 0)
        n->n_anti_pods++;
    p->prev__ = NULL;
    p->next__ = n->pods;
    if (n->pods != NULL)
        n->pods->prev__ = p;
    n->pods = p;
    p->node__ = idx;
    return 0;
out_release:
    if (!n->present && n->pods == NULL)
        slot_release(c, idx);
    return rv;
}

static bool pod_terminal(const struct sched_pod *p)
{
    return p->phase == SCHED_PHASE_SUCCEEDED || p->phase == SCHED_PHASE_FAILED;
}

/* ---- pods ---- */

struct pod_key {
    const char *ns, *name;
};

static uint64_t pod_hash(const char *ns, const char *name)
{
    return sched__hash_str(ns) * 31 ^ sched__hash_str(name);
}

static bool pod_eq(const void *v, const void *key)
{
    const struct sched_pod *p = v;
    const struct pod_key *k = key;
    return strcmp(p->name, k->name) == 0 && strcmp(p->ns, k->ns) == 0;
}

static struct sched_pod *pod_find(struct sched_cache *c, const char *ns, const char *name,
                                  size_t *at)
{
    struct pod_key k = {ns, name};
    return map_get(&c->pod_map, pod_hash(ns, name), pod_eq, &k, at);
}

int sched_cache_pod_upsert_parsed(struct sched_cache *c, struct sched_pod *p, struct err *e)
{
    size_t at;
    struct sched_pod *old = pod_find(c, p->ns, p->name, &at);
    const char *where = p->node_name;
    bool assumed = false;
    int rv;

    if (old != NULL && old->assumed__ && where == NULL && strcmp(old->uid, p->uid) == 0) {
        /* not bound yet as far as this event knows: stay where assumed */
        where = c->nodes[old->node__].name;
        assumed = true;
    }
    /* count the new state first: on failure the old one stays intact */
    if (where != NULL && !pod_terminal(p) && (rv = pod_count(c, p, where)) != 0) {
        err_setf(e, rv, "pod %s/%s: out of memory", p->ns, p->name);
        sched_pod_free(p);
        return rv;
    }
    p->assumed__ = assumed && p->node__ >= 0;
    if (old != NULL) {
        pod_uncount(c, old);
        c->pod_map.s[at].v = p; /* same key, same hash */
        sched_pod_free(old);
        return 0;
    }
    if (map_put(&c->pod_map, pod_hash(p->ns, p->name), p) != 0) {
        pod_uncount(c, p);
        sched_pod_free(p);
        return err_setf(e, ERR_NOMEM, "pod: out of memory");
    }
    return 0;
}

int sched_cache_pod_upsert(struct sched_cache *c, const json_t *pod, struct err *warn,
                           struct err *e)
{
    struct sched_pod *p;
    int rv = sched_pod_parse(pod, &p, warn, e);
    if (rv != 0)
        return rv;
    return sched_cache_pod_upsert_parsed(c, p, e);
}

void sched_cache_pod_remove(struct sched_cache *c, const char *ns, const char *name)
{
    size_t at;
    struct sched_pod *p = pod_find(c, ns, name, &at);
    if (p == NULL)
        return;
    pod_uncount(c, p);
    map_del_at(&c->pod_map, at);
    sched_pod_free(p);
}

const struct sched_pod *sched_cache_pod_get(struct sched_cache *c, const char *ns, const char *name)
{
    return pod_find(c, ns, name, NULL);
}

const struct sched_node *sched_cache_node_get(struct sched_cache *c, const char *name)
{
    int idx = node_find(c, name);
    return idx < 0 ? NULL : &c->nodes[idx];
}

size_t sched_cache_node_count(struct sched_cache *c)
{
    return c->n_present;
}

size_t sched_cache_pod_count(struct sched_cache *c)
{
    return c->pod_map.n;
}

int sched_cache_assume(struct sched_cache *c, const char *ns, const char *name,
                       const char *node_name, struct err *e)
{
    struct sched_pod *p = pod_find(c, ns, name, NULL);
    int idx = node_find(c, node_name), rv;
    if (p == NULL)
        return err_setf(e, ERR_NOTFOUND, "pod %s/%s: not in the scheduler cache", ns, name);
    if (idx < 0 || !c->nodes[idx].present)
        return err_setf(e, ERR_NOTFOUND, "node %s: not in the scheduler cache", node_name);
    if (p->node_name != NULL || p->assumed__)
        return err_setf(e, ERR_CONFLICT, "pod %s/%s: already bound or assumed", ns, name);
    if (pod_terminal(p))
        return err_setf(e, ERR_CONFLICT, "pod %s/%s: already terminated", ns, name);
    if ((rv = pod_count(c, p, node_name)) != 0)
        return err_setf(e, rv, "pod %s/%s: out of memory", ns, name);
    p->assumed__ = true;
    return 0;
}

int sched_cache_forget(struct sched_cache *c, const char *ns, const char *name, struct err *e)
{
    struct sched_pod *p = pod_find(c, ns, name, NULL);
    if (p == NULL)
        return err_setf(e, ERR_NOTFOUND, "pod %s/%s: not in the scheduler cache", ns, name);
    if (!p->assumed__)
        return err_setf(e, ERR_CONFLICT, "pod %s/%s: not assumed", ns, name);
    pod_uncount(c, p);
    p->assumed__ = false;
    return 0;
}

struct sched_node *sched__cache_nodes(struct sched_cache *c, size_t *n_slots)
{
    *n_slots = c->n_slots;
    return c->nodes;
}

struct sched__scratch *sched__cache_scratch(struct sched_cache *c)
{
    return &c->scratch;
}
