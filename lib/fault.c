#include "lib/fault.h"

struct fault {
    bool armed;
    int countdown;
    int repeat;
};

static struct fault sites[FAULT__COUNT];

void fault_arm(enum fault_site site, int countdown, int repeat)
{
    sites[site].armed = true;
    sites[site].countdown = countdown;
    sites[site].repeat = repeat;
}

void fault_reset(void)
{
    for (int i = 0; i < FAULT__COUNT; i++)
        sites[i].armed = false;
}

bool fault_tick(enum fault_site site)
{
    struct fault *f = &sites[site];
    if (!f->armed)
        return false;
    if (f->countdown > 0) {
        f->countdown--;
        return false;
    }
    if (f->repeat == 0) {
        f->armed = false;
        return true; /* the last failure */
    }
    if (f->repeat > 0)
        f->repeat--;
    return true;
}
