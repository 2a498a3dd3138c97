/* placeholder: the endpoints loop is not written yet */
#include "sched/internal.h"

struct sched_ctrl sched__ctrl_endpoints = {"endpoints", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
