/* placeholder: the gc loop is not written yet */
#include "sched/internal.h"

struct sched_ctrl sched__ctrl_gc = {"gc", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
