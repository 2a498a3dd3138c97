/* placeholder: the deployment loop is not written yet */
#include "sched/internal.h"

struct sched_ctrl sched__ctrl_deployment = {"deployment", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
