#include "lib/jsonmp.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int pack_value(msgpack_packer *pk, const json_t *j, int depth, struct err *e)
{
    const char *key;
    json_t *v;
    size_t i;

    if (depth > JSONMP_DEPTH_MAX)
        return err_setf(e, ERR_INVALID, "json: nested deeper than %d", JSONMP_DEPTH_MAX);
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach ((json_t *)j, key, v) {
            size_t n = strlen(key);
            int rv;
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, key, n);
            rv = pack_value(pk, v, depth + 1, e);
            if (rv != 0)
                return rv;
        }
        return 0;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach (j, i, v) {
            int rv = pack_value(pk, v, depth + 1, e);
            if (rv != 0)
                return rv;
        }
        return 0;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, json_string_value(j), n);
        return 0;
    }
    case JSON_INTEGER:
        msgpack_pack_int64(pk, (int64_t)json_integer_value(j));
        return 0;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        return 0;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return 0;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return 0;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        return 0;
    }
    return err_setf(e, ERR_INVALID, "json: unknown value type");
}

int jsonmp_pack(const json_t *j, void **data, size_t *len, struct err *e)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rv;

    if (j == NULL)
        return err_setf(e, ERR_INVALID, "json: no value");
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rv = pack_value(&pk, j, 0, e);
    if (rv == 0 && sb.data == NULL) /* sbuffer allocation failed: nothing written */
        rv = err_setf(e, ERR_NOMEM, "msgpack: out of memory");
    if (rv != 0) {
        msgpack_sbuffer_destroy(&sb);
        return rv;
    }
    *data = sb.data; /* sbuffer memory is malloc'ed: the caller frees it */
    *len = sb.size;
    return 0;
}

static int to_json(const msgpack_object *o, int depth, json_t **out, struct err *e);

static int map_to_json(const msgpack_object_map *m, int depth, json_t **out, struct err *e)
{
    json_t *obj = json_object();
    uint32_t i;

    if (obj == NULL)
        return err_setf(e, ERR_NOMEM, "json: out of memory");
    for (i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        json_t *v;
        int rv;
        if (k->type != MSGPACK_OBJECT_STR) {
            json_decref(obj);
            return err_setf(e, ERR_INVALID, "msgpack: map key %u is not a string", i);
        }
        if (k->via.str.size > 0 && memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL) {
            json_decref(obj);
            return err_setf(e, ERR_INVALID, "msgpack: map key %u holds a NUL byte", i);
        }
        rv = to_json(&m->ptr[i].val, depth + 1, &v, e);
        if (rv != 0) {
            json_decref(obj);
            return rv;
        }
        /* setn_new takes v even on failure; it fails on bad UTF-8 or memory */
        if (json_object_setn_new(obj, k->via.str.size ? k->via.str.ptr : "", k->via.str.size, v) !=
            0) {
            json_decref(obj);
            return err_setf(e, ERR_INVALID, "msgpack: map key %u is not valid utf-8", i);
        }
    }
    *out = obj;
    return 0;
}

static int array_to_json(const msgpack_object_array *a, int depth, json_t **out, struct err *e)
{
    json_t *arr = json_array();
    uint32_t i;

    if (arr == NULL)
        return err_setf(e, ERR_NOMEM, "json: out of memory");
    for (i = 0; i < a->size; i++) {
        json_t *v;
        int rv = to_json(&a->ptr[i], depth + 1, &v, e);
        if (rv != 0) {
            json_decref(arr);
            return rv;
        }
        if (json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return err_setf(e, ERR_NOMEM, "json: out of memory");
        }
    }
    *out = arr;
    return 0;
}

static int to_json(const msgpack_object *o, int depth, json_t **out, struct err *e)
{
    json_t *j = NULL;

    if (depth > JSONMP_DEPTH_MAX)
        return err_setf(e, ERR_INVALID, "msgpack: nested deeper than %d", JSONMP_DEPTH_MAX);
    switch (o->type) {
    case MSGPACK_OBJECT_MAP:
        return map_to_json(&o->via.map, depth, out, e);
    case MSGPACK_OBJECT_ARRAY:
        return array_to_json(&o->via.array, depth, out, e);
    case MSGPACK_OBJECT_STR:
        /* msgpack-c leaves ptr NULL for an empty str */
        j = json_stringn(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
        if (j == NULL)
            return err_setf(e, ERR_INVALID, "msgpack: string is not valid utf-8");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return err_setf(e, ERR_INVALID, "msgpack: integer %llu beyond int64",
                            (unsigned long long)o->via.u64);
        j = json_integer((json_int_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_integer((json_int_t)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        j = json_real(o->via.f64);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        j = json_boolean(o->via.boolean);
        break;
    case MSGPACK_OBJECT_NIL:
        j = json_null();
        break;
    default: /* BIN and EXT have no JSON form */
        return err_setf(e, ERR_INVALID, "msgpack: unsupported type %d", (int)o->type);
    }
    if (j == NULL) /* json_real refuses NaN/inf; other failures are memory */
        return err_setf(e, ERR_INVALID, "msgpack: value has no json form");
    *out = j;
    return 0;
}

int jsonmp_unpack(const void *data, size_t len, json_t **out, struct err *e)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpack_return ur;
    int rv;

    if (data == NULL || len == 0)
        return err_setf(e, ERR_INVALID, "msgpack: empty input");
    msgpack_unpacked_init(&u);
    ur = msgpack_unpack_next(&u, data, len, &off);
    /* msgpack-c also reports nesting deeper than its fixed parse stack
     * (MSGPACK_EMBED_STACK_SIZE) as NOMEM: bad input must be ERR_INVALID, so
     * that wins over the (rare, and then fatal elsewhere) real shortage. */
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        rv = err_setf(e, ERR_INVALID, "msgpack: nested too deep (or out of memory)");
        goto out_destroy;
    }
    if (ur == MSGPACK_UNPACK_CONTINUE) {
        rv = err_setf(e, ERR_INVALID, "msgpack: truncated input");
        goto out_destroy;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS && ur != MSGPACK_UNPACK_EXTRA_BYTES) {
        rv = err_setf(e, ERR_INVALID, "msgpack: malformed input");
        goto out_destroy;
    }
    if (off != len) {
        rv = err_setf(e, ERR_INVALID, "msgpack: %zu trailing bytes", len - off);
        goto out_destroy;
    }
    rv = to_json(&u.data, 0, out, e);
out_destroy:
    msgpack_unpacked_destroy(&u);
    return rv;
}
