/* The scheduler's share of /metrics. Only the leader schedules, so on a
 * follower the histogram holds what this node measured while it led (or
 * nothing): sum the series over the cluster. */
#include "sched/sched.h"

#include "lib/buf.h"
#include "lib/prom.h"
#include "sched/internal.h"

void sched_prom_write(void *sched, struct buf *out)
{
    struct sched *s = sched;
    prom_family(out, "skiff_scheduler_bind_duration_seconds", "histogram",
                "Time from a pending pod first seen by the scheduler (on the leader) to its "
                "binding applied in the leader's replica.");
    prom_hist_write(out, "skiff_scheduler_bind_duration_seconds", NULL, 0, sched__bind_latency(s));
}
