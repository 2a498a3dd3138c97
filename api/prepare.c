/* Objects written by skiff itself (controllers, the scheduler, agents) go
 * through the same preparation as the API's create and update: system
 * fields, defaults, validation. The REST handler keeps its own copy of the
 * steps interleaved with its replies; these are the reply-free forms. */
#include "api/api.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/schema.h"
#include "api/validate.h"

static int check(const struct api_kind *k, json_t *obj, const json_t *old, struct err *e)
{
    struct api_ferrs fe;
    const struct api_sch *sch = api__sch_kind(k);
    int rv = 0;
    api__ferrs_init(&fe);
    if (sch != NULL)
        api__sch_check(sch, obj, API_FV_STRICT, &fe);
    if (fe.n == 0)
        api__validate(k, obj, old, &fe);
    if (fe.n > 0) {
        char *msg = api__ferrs_message(
            &fe, k, json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
        rv = err_setf(e, ERR_INVALID, "%s", msg ? msg : "invalid object");
        free(msg);
    }
    api__ferrs_close(&fe);
    return rv;
}

static int gen_name(json_t *meta, struct err *e)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    const char *prefix = json_string_value(json_object_get(meta, "generateName"));
    unsigned char rnd[5];
    char name[254];
    size_t n, i;
    if (json_string_length(json_object_get(meta, "name")) > 0 || prefix == NULL)
        return 0;
    n = strlen(prefix) > 248 ? 248 : strlen(prefix);
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return err_setf(e, ERR_IO, "generateName: RAND_bytes failed");
    memcpy(name, prefix, n);
    for (i = 0; i < 5; i++)
        name[n + i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
    name[n + 5] = '\0';
    json_object_set_new(meta, "name", json_string(name));
    return 0;
}

int api_object_prepare_create(const struct api_kind *k, const char *ns, json_t *obj, struct err *e)
{
    char uid[37], now[21], apiv[64];
    json_t *meta = json_object_get(obj, "metadata");
    int rv;
    if (!json_is_object(obj))
        return err_setf(e, ERR_INVALID, "%s: not an object", k->kind);
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(obj, "metadata", meta);
    }
    rv = gen_name(meta, e);
    if (rv == 0)
        rv = api__uuid(uid, e);
    if (rv != 0)
        return rv;
    api__now_rfc3339(now);
    api_kind_api_version(k, apiv, sizeof apiv);
    json_object_set_new(obj, "kind", json_string(k->kind));
    json_object_set_new(obj, "apiVersion", json_string(apiv));
    if (k->namespaced)
        json_object_set_new(meta, "namespace", json_string(ns ? ns : "default"));
    else
        json_object_del(meta, "namespace");
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(now));
    json_object_del(meta, "resourceVersion");
    if (json_object_get(obj, "spec") != NULL)
        json_object_set_new(meta, "generation", json_integer(1));
    api__defaults(k, obj);
    return check(k, obj, NULL, e);
}

int api_object_prepare_update(const struct api_kind *k, const json_t *old, json_t *obj,
                              struct err *e)
{
    static const char *const keep[] = {"uid", "creationTimestamp", "namespace", "name"};
    json_t *meta = json_object_get(obj, "metadata");
    const json_t *old_meta = json_object_get(old, "metadata");
    bool changed = false;
    const char *key;
    json_t *v;
    if (!json_is_object(meta))
        return err_setf(e, ERR_INVALID, "%s: metadata: required", k->kind);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *ov = json_object_get(old_meta, keep[i]);
        if (ov != NULL)
            json_object_set(meta, keep[i], ov);
    }
    json_object_del(meta, "resourceVersion");
    api__defaults(k, obj);
    json_object_foreach (obj, key, v) {
        if (strcmp(key, "metadata") != 0 && strcmp(key, "status") != 0 &&
            !json_equal(v, json_object_get(old, key)))
            changed = true;
    }
    if (changed && json_object_get(obj, "spec") != NULL)
        json_object_set_new(
            meta, "generation",
            json_integer(json_integer_value(json_object_get(old_meta, "generation")) + 1));
    return check(k, obj, old, e);
}
