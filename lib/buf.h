/* lib/buf: a growable byte buffer, always NUL-terminated, with an optional
 * cap (bytes past it are dropped, as output read from a child process must
 * be bounded). Allocation failure sets oom and turns further appends into
 * no-ops, so callers check once at the end. Any thread. */
#ifndef SKIFF_LIB_BUF_H
#define SKIFF_LIB_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *p; /* NULL until the first append; owned: buf_close */
    size_t len, cap;
    size_t max; /* bytes kept; 0 = unbounded */
    bool oom;
};

/* Appends s[0..n) (up to max); p stays NUL-terminated. */
void buf_append(struct buf *b, const void *s, size_t n);
/* For libcurl's CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA a struct buf:
 * appends size*n bytes and returns that count, or returns 0 (libcurl then
 * stops the transfer with CURLE_WRITE_ERROR) when they would not all fit
 * under max or memory ran out: a body is kept whole or not at all. Plain C
 * types, so lib/ needs no curl header. */
size_t buf_write_cb(char *p, size_t size, size_t n, void *b);
/* Frees p and zeroes b. */
void buf_close(struct buf *b);

#endif
