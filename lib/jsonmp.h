/* lib/jsonmp: json_t (jansson) <-> msgpack (msgpack-c). skiff stores every
 * object as msgpack (store values, Raft entries) and speaks JSON on the wire;
 * this is the one codec between the two. Objects map to msgpack maps with
 * string keys, arrays to arrays, strings to str, integers to int, reals to
 * float64, true/false/null to bool/nil. Pure functions: any thread. */
#ifndef SKIFF_LIB_JSONMP_H
#define SKIFF_LIB_JSONMP_H

#include <jansson.h>
#include <stddef.h>

#include "lib/err.h"

/* Deepest nesting accepted by both directions (Kubernetes objects stay far
 * below; the bound keeps a hostile body from exhausting the stack). */
#define JSONMP_DEPTH_MAX 64

/* Encodes j (borrowed). On success *data is malloc'ed (free with free()) and
 * holds *len bytes. Errors: ERR_INVALID (too deep), ERR_NOMEM. */
int jsonmp_pack(const json_t *j, void **data, size_t *len, struct err *e);

/* Decodes exactly one msgpack value filling data[0..len). On success *out is
 * a new reference (json_decref it). Errors: ERR_INVALID naming what is wrong
 * (truncated, trailing bytes, non-string map key, bin/ext, integer beyond
 * int64, too deep), ERR_NOMEM. Never crashes on bad input. */
int jsonmp_unpack(const void *data, size_t len, json_t **out, struct err *e);

#endif
