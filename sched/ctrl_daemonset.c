/* placeholder: the daemonset loop is not written yet */
#include "sched/internal.h"

struct sched_ctrl sched__ctrl_daemonset = {"daemonset", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
