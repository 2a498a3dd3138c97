/* placeholder: the job loop is not written yet */
#include "sched/internal.h"

struct sched_ctrl sched__ctrl_job = {"job", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
