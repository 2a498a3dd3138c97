/* pick.c: one scheduling decision. One pass over the node array runs the
 * filters (cheapest and most selective first within kube's order, each
 * skipped when neither the pod nor the node has anything it checks) and keeps
 * the feasible slots in scratch; a second pass over those scores them. No
 * allocation unless nothing fits, when the FitError text is built. */
#include "sched/sched_core.h"

#include <string.h>

static bool feasible(const struct sched_node *n, const struct sched_pod *p)
{
    if (!n->present)
        return false;
    if (n->unschedulable && !sched__fits_unschedulable(n, p))
        return false;
    if (n->n_hard_taints > 0 && sched__untolerated_taint(n, p) != NULL)
        return false;
    if ((p->n_node_selector > 0 || p->has_required) && !sched__fits_affinity(n, p))
        return false;
    if (p->n_ports > 0 && n->n_ports > 0 && !sched__fits_ports(n, p))
        return false;
    if (!sched__fits_resources(n, p))
        return false;
    if ((p->n_anti > 0 || n->n_anti_pods > 0) && sched__fits_anti_affinity(n, p) != 0)
        return false;
    return true;
}

/* splitmix64's finaliser: equal-score nodes in an order that depends on the
 * pod, so replicas do not all land on the first node, yet reproducibly. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

int sched_pick(struct sched_cache *c, const struct sched_pod *p, struct sched_pick *out,
               struct err *e)
{
    size_t n_slots, n_feas = 0;
    struct sched_node *nodes = sched__cache_nodes(c, &n_slots);
    struct sched__scratch *s = sched__cache_scratch(c);
    int64_t max_aff = 0, max_taint = 0, max_spread = 0, best = -1;
    uint64_t best_tie = 0;
    int best_slot = -1;

    out->node_name = NULL;
    out->score = 0;
    out->message[0] = '\0';
    for (size_t i = 0; i < n_slots; i++)
        if (feasible(&nodes[i], p))
            s->feasible[n_feas++] = (int)i;
    out->n_feasible = n_feas;
    if (n_feas == 0) {
        int rv = sched__fit_message(nodes, n_slots, p, out->message, sizeof out->message, e);
        if (rv != 0)
            return rv;
        return err_setf(e, ERR_NOTFOUND, "%s", out->message);
    }

    if (p->owner_uid != NULL)
        sched__owner_scatter(c, p->owner_uid, s->owner_count);
    for (size_t k = 0; k < n_feas; k++) {
        const struct sched_node *n = &nodes[s->feasible[k]];
        s->la[k] = sched__score_least_allocated(n, p);
        s->aff[k] = p->n_preferred > 0 ? sched__score_preferred_affinity(n, p) : 0;
        s->taint[k] = sched__count_prefer_no_schedule(n, p);
        s->spread[k] = p->owner_uid != NULL ? s->owner_count[s->feasible[k]] : 0;
        max_aff = s->aff[k] > max_aff ? s->aff[k] : max_aff;
        max_taint = s->taint[k] > max_taint ? s->taint[k] : max_taint;
        max_spread = s->spread[k] > max_spread ? s->spread[k] : max_spread;
    }
    if (p->owner_uid != NULL)
        sched__owner_unscatter(c, p->owner_uid, s->owner_count);

    for (size_t k = 0; k < n_feas; k++) {
        const struct sched_node *n = &nodes[s->feasible[k]];
        /* normalised as kube's DefaultNormalizeScore: affinity up to the
         * best node, taints and same-owner pods reversed (fewer is better) */
        int64_t aff = max_aff > 0 ? s->aff[k] * SCHED_MAX_NODE_SCORE / max_aff : 0;
        int64_t taint = max_taint > 0
                            ? SCHED_MAX_NODE_SCORE - s->taint[k] * SCHED_MAX_NODE_SCORE / max_taint
                            : SCHED_MAX_NODE_SCORE;
        int64_t spread = max_spread > 0
                             ? (max_spread - s->spread[k]) * SCHED_MAX_NODE_SCORE / max_spread
                             : SCHED_MAX_NODE_SCORE;
        int64_t total = SCHED_WEIGHT_LEAST_ALLOCATED * s->la[k] + SCHED_WEIGHT_NODE_AFFINITY * aff +
                        SCHED_WEIGHT_TAINT * taint + SCHED_WEIGHT_SPREAD * spread;
        uint64_t tie = mix(p->uid_hash ^ n->name_hash);
        if (total > best || (total == best && tie < best_tie)) {
            best = total;
            best_tie = tie;
            best_slot = s->feasible[k];
        }
    }
    out->node_name = nodes[best_slot].name;
    out->score = best;
    return 0;
}
