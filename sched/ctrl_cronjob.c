/* placeholder: the cronjob loop is not written yet */
#include "sched/internal.h"

struct sched_ctrl sched__ctrl_cronjob = {"cronjob", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
