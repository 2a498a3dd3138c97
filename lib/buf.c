#include "lib/buf.h"

#include <stdlib.h>
#include <string.h>

void buf_append(struct buf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->max != 0) {
        if (b->len >= b->max)
            return;
        if (n > b->max - b->len)
            n = b->max - b->len;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

size_t buf_write_cb(char *p, size_t size, size_t n, void *data)
{
    struct buf *b = data;
    size_t add = size * n;
    if (b->oom || (b->max != 0 && add > b->max - (b->len < b->max ? b->len : b->max)))
        return 0;
    buf_append(b, p, add);
    return b->oom ? 0 : add;
}

void buf_close(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
