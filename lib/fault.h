/* lib/fault: countdown fault injection at fallible boundaries, the shape of
 * canonical/raft's test_fault. A site fails once its countdown reaches 0,
 * `repeat` times (-1: for ever). Compiled in only with -DSKIFF_FAULTS (the
 * test build); in a release build FAULT_TICK is the constant 0. Tests arm a
 * site, sweep the countdown 0..N and assert a clean error, no leak and no
 * half-written state. Not thread-safe: loop-thread sites only. */
#ifndef SKIFF_LIB_FAULT_H
#define SKIFF_LIB_FAULT_H

#include <stdbool.h>

enum fault_site {
    FAULT_STORE_PUT = 0, /* store: an LMDB put/del inside an apply */
    FAULT_STORE_COMMIT,  /* store: the LMDB commit of an apply */
    FAULT__COUNT
};

/* Arms site: the (countdown+1)-th tick fails, then `repeat` more (-1 = all). */
void fault_arm(enum fault_site site, int countdown, int repeat);
/* Disarms every site. */
void fault_reset(void);
/* True when this tick of site must fail. */
bool fault_tick(enum fault_site site);

#ifdef SKIFF_FAULTS
#define FAULT_TICK(site) fault_tick(site)
#else
#define FAULT_TICK(site) false
#endif

#endif
