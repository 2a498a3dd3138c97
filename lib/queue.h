/* lib/queue: intrusive doubly-linked circular queue, the shape libuv and
 * canonical/raft use. A queue head and a link are both `queue` (two
 * pointers); QUEUE_DATA recovers the owner from its link. Header-only. */
#ifndef SKIFF_LIB_QUEUE_H
#define SKIFF_LIB_QUEUE_H

#include <stddef.h>

typedef void *queue[2];

#define QUEUE__NEXT(q) (*(queue **)&((*(q))[0]))
#define QUEUE__PREV(q) (*(queue **)&((*(q))[1]))

#define QUEUE_INIT(q)                                                                              \
    do {                                                                                           \
        QUEUE__NEXT(q) = (q);                                                                      \
        QUEUE__PREV(q) = (q);                                                                      \
    } while (0)

#define QUEUE_IS_EMPTY(q) ((const queue *)(q) == (const queue *)QUEUE__NEXT(q))
#define QUEUE_HEAD(q)     (QUEUE__NEXT(q))

#define QUEUE_PUSH(h, q)                                                                           \
    do {                                                                                           \
        QUEUE__NEXT(q) = (h);                                                                      \
        QUEUE__PREV(q) = QUEUE__PREV(h);                                                           \
        QUEUE__NEXT(QUEUE__PREV(q)) = (q);                                                         \
        QUEUE__PREV(h) = (q);                                                                      \
    } while (0)

/* Removing also re-initialises the link, so a second remove is harmless. */
#define QUEUE_REMOVE(q)                                                                            \
    do {                                                                                           \
        QUEUE__NEXT(QUEUE__PREV(q)) = QUEUE__NEXT(q);                                              \
        QUEUE__PREV(QUEUE__NEXT(q)) = QUEUE__PREV(q);                                              \
        QUEUE_INIT(q);                                                                             \
    } while (0)

#define QUEUE_FOREACH(q, h) for ((q) = QUEUE__NEXT(h); (q) != (h); (q) = QUEUE__NEXT(q))

#define QUEUE_DATA(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

#endif
