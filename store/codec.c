/* codec.c: the msgpack txn command (the Raft entry payload).
 *
 * Format, version 1: [1, [[kind, key:str, mod_rev:uint], ...],
 *                        [[kind, key:str, value:bin|nil], ...]]
 * The version comes first so a later format can be told apart. */
#include "store/store.h"

#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#define CMD_VERSION 1

static uint64_t be32(const unsigned char *p)
{
    return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* Size of the header at p (n bytes left) and, for containers, how many
 * elements follow; 0 if the header is truncated or invalid. */
static size_t mp_header(const unsigned char *p, size_t n, uint64_t *items, uint64_t *payload)
{
    static const unsigned char fixed[] = {/* 0xc0..0xdf: header bytes, 0 = special */
                                          1, 0, 1, 1, 2, 3, 5, 3,  4,  6, 5, 9, 2, 3, 5, 9,
                                          2, 3, 5, 9, 3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5};
    unsigned char b = p[0];
    size_t h;
    *items = 0;
    *payload = 0;
    if (b <= 0x7f || b >= 0xe0)
        return 1;
    if (b <= 0x9f) { /* fixmap 0x80.., fixarray 0x90.. */
        *items = (uint64_t)(b & 0x0f) * (b <= 0x8f ? 2 : 1);
        return 1;
    }
    if (b <= 0xbf) { /* fixstr */
        *payload = b & 0x1f;
        return 1;
    }
    h = fixed[b - 0xc0];
    if (h == 0 || h > n)
        return 0;
    switch (b) {
    case 0xc4: /* bin8, ext8, str8 */
    case 0xc7:
    case 0xd9:
        *payload = p[1];
        break;
    case 0xc5: /* bin16, ext16, str16 */
    case 0xc8:
    case 0xda:
        *payload = (uint64_t)p[1] << 8 | p[2];
        break;
    case 0xc6: /* bin32, ext32, str32 */
    case 0xc9:
    case 0xdb:
        *payload = be32(p + 1);
        break;
    case 0xdc: /* array16, array32, map16, map32 */
        *items = (uint64_t)p[1] << 8 | p[2];
        break;
    case 0xdd:
        *items = be32(p + 1);
        break;
    case 0xde:
        *items = 2 * ((uint64_t)p[1] << 8 | p[2]);
        break;
    case 0xdf:
        *items = 2 * be32(p + 1);
        break;
    }
    return h;
}

bool store__mp_is_bounded(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t pending = 1;
    size_t off = 0;
    while (pending > 0) {
        uint64_t items;
        uint64_t payload;
        size_t h;
        if (off >= len)
            return false;
        h = mp_header(p + off, len - off, &items, &payload);
        if (h == 0 || payload > len - off - h)
            return false;
        off += h + (size_t)payload;
        /* every element takes at least one byte */
        if (items > len - off)
            return false;
        pending = pending - 1 + items;
    }
    return off == len;
}

int store__mp_unpack(const void *data, size_t len, msgpack_unpacked *u, const char *what,
                     struct err *e)
{
    size_t off = 0;
    int rc;
    msgpack_unpacked_init(u);
    if (data == NULL || len == 0)
        return err_setf(e, ERR_INVALID, "%s: empty", what);
    if (!store__mp_is_bounded(data, len))
        return err_setf(e, ERR_INVALID, "%s: not one well-formed msgpack object", what);
    rc = msgpack_unpack_next(u, data, len, &off);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        return err_setf(e, ERR_NOMEM, "%s: out of memory", what);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != len)
        return err_setf(e, ERR_INVALID, "%s: malformed msgpack", what);
    return 0;
}

bool store__mp_array(const msgpack_object *o, uint32_t n)
{
    return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == n;
}

bool store__mp_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

/* ---- encode ---- */

static int pack_bytes(msgpack_packer *pk, bool str, const void *p, size_t n)
{
    int rc = str ? msgpack_pack_str(pk, n) : msgpack_pack_bin(pk, n);
    if (rc == 0 && n > 0)
        rc = str ? msgpack_pack_str_body(pk, p, n) : msgpack_pack_bin_body(pk, p, n);
    return rc;
}

static int pack_txn(msgpack_packer *pk, const struct store_txn *t)
{
    int rc = msgpack_pack_array(pk, 3);
    rc |= msgpack_pack_uint64(pk, CMD_VERSION);
    rc |= msgpack_pack_array(pk, t->n_cmps);
    for (size_t i = 0; i < t->n_cmps && rc == 0; i++) {
        const struct store_cmp *c = &t->cmps[i];
        rc |= msgpack_pack_array(pk, 3);
        rc |= msgpack_pack_uint64(pk, (uint64_t)c->kind);
        rc |= pack_bytes(pk, true, c->key, strlen(c->key));
        rc |= msgpack_pack_uint64(pk, c->kind == STORE_CMP_MOD_REV ? c->mod_rev : 0);
    }
    rc |= msgpack_pack_array(pk, t->n_ops);
    for (size_t i = 0; i < t->n_ops && rc == 0; i++) {
        const struct store_op *o = &t->ops[i];
        rc |= msgpack_pack_array(pk, 3);
        rc |= msgpack_pack_uint64(pk, (uint64_t)o->kind);
        rc |= pack_bytes(pk, true, o->key, strlen(o->key));
        if (o->kind == STORE_OP_PUT)
            rc |= pack_bytes(pk, false, o->value, o->value_len);
        else
            rc |= msgpack_pack_nil(pk);
    }
    return rc;
}

int store_txn_encode(const struct store_txn *t, void **data, size_t *len, struct err *e)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rv = store_txn_check(t, e);
    if (rv != 0)
        return rv;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (pack_txn(&pk, t) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return err_setf(e, ERR_NOMEM, "txn encode: out of memory");
    }
    *len = sb.size;
    *data = msgpack_sbuffer_release(&sb);
    return 0;
}

/* ---- decode ---- */

static bool is_str(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR;
}

/* Checks the shape of cmps or ops and adds the bytes they need to *size. */
static int check_items(const msgpack_object *arr, bool ops, size_t *size, struct err *e)
{
    const char *what = ops ? "ops" : "cmps";
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return err_setf(e, ERR_INVALID, "txn decode: %s: not an array", what);
    *size += arr->via.array.size * (ops ? sizeof(struct store_op) : sizeof(struct store_cmp));
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *it = &arr->via.array.ptr[i];
        const msgpack_object *x;
        uint64_t v;
        if (!store__mp_array(it, 3))
            return err_setf(e, ERR_INVALID, "txn decode: %s[%u]: not a 3-array", what, i);
        x = it->via.array.ptr;
        if (!store__mp_uint(&x[0], &v) || v > 255)
            return err_setf(e, ERR_INVALID, "txn decode: %s[%u].kind: bad", what, i);
        if (!is_str(&x[1]))
            return err_setf(e, ERR_INVALID, "txn decode: %s[%u].key: not a string", what, i);
        *size += x[1].via.str.size + 1;
        if (!ops && !store__mp_uint(&x[2], &v))
            return err_setf(e, ERR_INVALID, "txn decode: cmps[%u].mod_rev: bad", i);
        if (ops && x[2].type == MSGPACK_OBJECT_BIN)
            *size += x[2].via.bin.size;
        else if (ops && x[2].type != MSGPACK_OBJECT_NIL)
            return err_setf(e, ERR_INVALID, "txn decode: ops[%u].value: not bin or nil", i);
    }
    return 0;
}

/* Copies a msgpack string or bin into the arena; strings get a NUL. */
static char *take(char **arena, const char *p, size_t n, bool nul)
{
    char *out = *arena;
    if (n > 0)
        memcpy(out, p, n);
    if (nul)
        out[n++] = '\0';
    *arena += n;
    return out;
}

static void fill(const msgpack_object *cmps, const msgpack_object *ops, struct store_txn_owned *out)
{
    struct store_cmp *c = out->mem__;
    struct store_op *o = (struct store_op *)(c + cmps->via.array.size);
    char *arena = (char *)(o + ops->via.array.size);
    out->txn.cmps = c;
    out->txn.n_cmps = cmps->via.array.size;
    out->txn.ops = o;
    out->txn.n_ops = ops->via.array.size;
    for (uint32_t i = 0; i < cmps->via.array.size; i++) {
        const msgpack_object *x = cmps->via.array.ptr[i].via.array.ptr;
        c[i].kind = (int)x[0].via.u64;
        c[i].key = take(&arena, x[1].via.str.ptr, x[1].via.str.size, true);
        c[i].mod_rev = x[2].via.u64;
    }
    for (uint32_t i = 0; i < ops->via.array.size; i++) {
        const msgpack_object *x = ops->via.array.ptr[i].via.array.ptr;
        memset(&o[i], 0, sizeof o[i]);
        o[i].kind = (int)x[0].via.u64;
        o[i].key = take(&arena, x[1].via.str.ptr, x[1].via.str.size, true);
        if (x[2].type == MSGPACK_OBJECT_BIN) {
            o[i].value = take(&arena, x[2].via.bin.ptr, x[2].via.bin.size, false);
            o[i].value_len = x[2].via.bin.size;
        }
    }
}

/* A key with an embedded NUL would decode shorter than it was sent. */
static int check_no_nul(const msgpack_object *arr, const char *what, struct err *e)
{
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *k = &arr->via.array.ptr[i].via.array.ptr[1];
        if (k->via.str.size > 0 && memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL)
            return err_setf(e, ERR_INVALID, "txn decode: %s[%u].key: contains NUL", what, i);
    }
    return 0;
}

static int decode_obj(const msgpack_object *root, struct store_txn_owned *out, struct err *e)
{
    const msgpack_object *x;
    size_t size = 0;
    uint64_t ver;
    int rv;
    if (!store__mp_array(root, 3))
        return err_setf(e, ERR_INVALID, "txn decode: not a 3-array");
    x = root->via.array.ptr;
    if (!store__mp_uint(&x[0], &ver) || ver != CMD_VERSION)
        return err_setf(e, ERR_INVALID, "txn decode: version: unsupported");
    if ((rv = check_items(&x[1], false, &size, e)) != 0 ||
        (rv = check_items(&x[2], true, &size, e)) != 0 ||
        (rv = check_no_nul(&x[1], "cmps", e)) != 0 || (rv = check_no_nul(&x[2], "ops", e)) != 0)
        return rv;
    out->mem__ = malloc(size > 0 ? size : 1);
    if (out->mem__ == NULL)
        return err_setf(e, ERR_NOMEM, "txn decode: out of memory");
    fill(&x[1], &x[2], out);
    rv = store_txn_check(&out->txn, e);
    if (rv != 0) {
        store_txn_owned_close(out);
        return err_wrapf(e, "txn decode");
    }
    return 0;
}

int store_txn_decode(const void *data, size_t len, struct store_txn_owned *out, struct err *e)
{
    msgpack_unpacked u;
    int rv;
    memset(out, 0, sizeof *out);
    rv = store__mp_unpack(data, len, &u, "txn decode", e);
    if (rv == 0)
        rv = decode_obj(&u.data, out, e);
    msgpack_unpacked_destroy(&u);
    return rv;
}

void store_txn_owned_close(struct store_txn_owned *t)
{
    if (t == NULL)
        return;
    free(t->mem__);
    memset(t, 0, sizeof *t);
}
