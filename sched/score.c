/* score.c: the raw per-node scores; pick normalises them over the feasible
 * nodes and weighs them (SCHED_WEIGHT_*), as kube-scheduler's plugins do. */
#include "sched/sched_core.h"

#include <string.h>

/* NodeResourcesFit LeastAllocated for one resource: the share left free
 * after placing the pod, 0..100; 0 when it would not fit. */
static int64_t least(int64_t requested, int64_t capacity)
{
    if (capacity <= 0 || requested > capacity)
        return 0;
    return (capacity - requested) * SCHED_MAX_NODE_SCORE / capacity;
}

int64_t sched__score_least_allocated(const struct sched_node *n, const struct sched_pod *p)
{
    /* cpu and memory, weight 1 each; non-zero requests, so empty pods count */
    return (least(n->nz_cpu_m + p->nz_cpu_m, n->alloc_cpu_m) +
            least(n->nz_mem + p->nz_mem, n->alloc_mem)) /
           2;
}

int64_t sched__score_preferred_affinity(const struct sched_node *n, const struct sched_pod *p)
{
    int64_t sum = 0;
    for (size_t i = 0; i < p->n_preferred; i++)
        if (p->preferred[i].weight > 0 && sched__node_term_matches(n, &p->preferred[i].term))
            sum += p->preferred[i].weight;
    return sum;
}

int64_t sched__count_prefer_no_schedule(const struct sched_node *n, const struct sched_pod *p)
{
    int64_t count = 0;
    if (n->n_soft_taints == 0)
        return 0;
    for (size_t i = 0; i < n->n_taints; i++) {
        const struct sched_taint *t = &n->taints[i];
        bool ok = false;
        if (t->effect != SCHED_EFFECT_PREFER_NO_SCHEDULE)
            continue;
        /* only tolerations for PreferNoSchedule (or every effect) count */
        for (size_t j = 0; j < p->n_tols && !ok; j++) {
            const struct sched_toleration *to = &p->tols[j];
            if (to->effect != 0 && to->effect != SCHED_EFFECT_PREFER_NO_SCHEDULE)
                continue;
            ok = (to->key[0] == '\0' || strcmp(to->key, t->key) == 0) &&
                 (to->exists || strcmp(to->value, t->value) == 0);
        }
        count += !ok;
    }
    return count;
}
