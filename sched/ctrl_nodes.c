/* placeholder: the nodes loop is not written yet */
#include "sched/internal.h"

struct sched_ctrl sched__ctrl_nodes = {"nodes", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
