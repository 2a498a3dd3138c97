/* Manifests, indexes and configs: OCI image-spec v1 and the docker v2
 * schema 2 equivalents (same shapes, other media types). Schema 1, foreign
 * and zstd layers are refused by name rather than half-supported. */
#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int media_kind(const char *mt)
{
    if (strcmp(mt, AGENT__MT_OCI_INDEX) == 0 || strcmp(mt, AGENT__MT_DOCKER_LIST) == 0)
        return AGENT__DOC_INDEX;
    if (strcmp(mt, AGENT__MT_OCI_MANIFEST) == 0 || strcmp(mt, AGENT__MT_DOCKER_MANIF) == 0)
        return AGENT__DOC_MANIFEST;
    return 0;
}

/* media types carried by generic transports: they say nothing of the kind */
static bool media_generic(const char *mt)
{
    return mt[0] == '\0' || strcmp(mt, "application/json") == 0 ||
           strcmp(mt, "application/octet-stream") == 0 || strcmp(mt, "text/plain") == 0;
}

int agent__doc_parse(const char *data, size_t n, const char *content_type, json_t **doc, int *kind,
                     struct err *e)
{
    char ct[128] = "";
    const char *mt;
    json_error_t jerr;
    json_t *d;
    int k_ct, k_doc;

    *doc = NULL;
    *kind = 0;
    if (content_type != NULL) {
        size_t len = strcspn(content_type, "; \t");
        if (len >= sizeof ct)
            len = sizeof ct - 1;
        memcpy(ct, content_type, len);
        ct[len] = '\0';
    }
    d = json_loadb(data, n, JSON_REJECT_DUPLICATES, &jerr);
    if (d == NULL)
        return err_setf(e, ERR_INVALID, "manifest: not JSON at byte %d: %s", jerr.position,
                        jerr.text);
    if (!json_is_object(d)) {
        json_decref(d);
        return err_setf(e, ERR_INVALID, "manifest: not a JSON object");
    }
    mt = json_string_value(json_object_get(d, "mediaType"));
    k_doc = mt ? media_kind(mt) : 0;
    k_ct = media_kind(ct);
    if (mt != NULL && k_doc == 0) {
        err_setf(e, ERR_INVALID, "manifest: unsupported media type %s", mt);
        goto bad;
    }
    if (k_ct == 0 && !media_generic(ct)) {
        err_setf(e, ERR_INVALID, "manifest: unsupported media type %s", ct);
        goto bad;
    }
    if (k_doc != 0 && k_ct != 0 && k_doc != k_ct) {
        err_setf(e, ERR_INVALID, "manifest: media type %s disagrees with content type %s", mt, ct);
        goto bad;
    }
    *kind = k_doc ? k_doc : k_ct;
    if (*kind == 0) {
        /* OCI allows mediaType to be absent: infer from the shape */
        if (json_is_array(json_object_get(d, "manifests")))
            *kind = AGENT__DOC_INDEX;
        else if (json_is_object(json_object_get(d, "config")))
            *kind = AGENT__DOC_MANIFEST;
        else {
            err_setf(e, ERR_INVALID, "manifest: neither an image index nor a manifest");
            goto bad;
        }
    }
    *doc = d;
    return 0;
bad:
    json_decref(d);
    return ERR_INVALID;
}

int agent__index_select(const json_t *index, const char *os, const char *arch,
                        char digest[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    const json_t *list = json_object_get(index, "manifests"), *m;
    char seen[160] = "";
    size_t i, used = 0;

    if (!json_is_array(list))
        return err_setf(e, ERR_INVALID, "index: manifests: required array");
    json_array_foreach (list, i, m) {
        const json_t *pf = json_object_get(m, "platform");
        const char *mos = json_string_value(json_object_get(pf, "os"));
        const char *march = json_string_value(json_object_get(pf, "architecture"));
        const char *d = json_string_value(json_object_get(m, "digest"));
        const char *mt = json_string_value(json_object_get(m, "mediaType"));
        if (!json_is_object(m))
            return err_setf(e, ERR_INVALID, "index: manifests[%zu]: not an object", i);
        if (mos == NULL || march == NULL)
            continue;
        if (strcmp(mos, os) == 0 && strcmp(march, arch) == 0) {
            if (!agent__digest_valid(d))
                return err_setf(e, ERR_INVALID, "index: manifests[%zu].digest: bad digest", i);
            if (mt != NULL && media_kind(mt) != AGENT__DOC_MANIFEST)
                return err_setf(e, ERR_INVALID,
                                "index: manifests[%zu].mediaType: %s is not an image manifest", i,
                                mt);
            memcpy(digest, d, AGENT_IMAGE_DIGEST_SIZE);
            return 0;
        }
        if (used < sizeof seen - 1) {
            int k =
                snprintf(seen + used, sizeof seen - used, "%s%s/%s", used ? ", " : "", mos, march);
            used = k > 0 ? used + (size_t)k : used;
            if (used >= sizeof seen)
                used = sizeof seen - 1;
        }
    }
    return err_setf(e, ERR_NOTFOUND, "index: no manifest for %s/%s (has: %s)", os, arch,
                    seen[0] ? seen : "none");
}

static int descriptor(const json_t *d, const char *what, char digest[AGENT_IMAGE_DIGEST_SIZE],
                      char mt[128], int64_t *size, struct err *e)
{
    const char *dig = json_string_value(json_object_get(d, "digest"));
    const char *m = json_string_value(json_object_get(d, "mediaType"));
    const json_t *sz = json_object_get(d, "size");
    if (!json_is_object(d))
        return err_setf(e, ERR_INVALID, "manifest: %s: required object", what);
    if (!agent__digest_valid(dig))
        return err_setf(e, ERR_INVALID, "manifest: %s.digest: want sha256:<64 hex>", what);
    if (m == NULL || strlen(m) >= 128)
        return err_setf(e, ERR_INVALID, "manifest: %s.mediaType: required string", what);
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return err_setf(e, ERR_INVALID, "manifest: %s.size: required integer >= 0", what);
    memcpy(digest, dig, AGENT_IMAGE_DIGEST_SIZE);
    snprintf(mt, 128, "%s", m);
    *size = json_integer_value(sz);
    return 0;
}

static bool layer_type_ok(const char *mt)
{
    return strcmp(mt, AGENT__MT_OCI_LAYER) == 0 || strcmp(mt, AGENT__MT_OCI_LAYER_GZ) == 0 ||
           strcmp(mt, AGENT__MT_DOCKER_LAYER) == 0;
}

int agent__manifest_parse(const json_t *doc, struct agent__manifest *m, struct err *e)
{
    const json_t *layers = json_object_get(doc, "layers"), *l;
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    size_t i;
    int rv;

    memset(m, 0, sizeof *m);
    if (json_integer_value(json_object_get(doc, "schemaVersion")) != 2)
        return err_setf(e, ERR_INVALID, "manifest: schemaVersion: want 2");
    snprintf(m->media_type, sizeof m->media_type, "%s", mt ? mt : AGENT__MT_OCI_MANIFEST);
    rv = descriptor(json_object_get(doc, "config"), "config", m->config, m->config_media_type,
                    &m->config_size, e);
    if (rv != 0)
        return rv;
    if (strcmp(m->config_media_type, AGENT__MT_OCI_CONFIG) != 0 &&
        strcmp(m->config_media_type, AGENT__MT_DOCKER_CONFIG) != 0)
        return err_setf(e, ERR_INVALID, "manifest: config.mediaType: %s is not a container image",
                        m->config_media_type);
    if (!json_is_array(layers))
        return err_setf(e, ERR_INVALID, "manifest: layers: required array");
    if (json_array_size(layers) > 512)
        return err_setf(e, ERR_INVALID, "manifest: layers: more than 512");
    m->layers = calloc(json_array_size(layers) + 1, sizeof *m->layers);
    if (m->layers == NULL)
        return err_setf(e, ERR_NOMEM, "manifest: out of memory");
    json_array_foreach (layers, i, l) {
        char what[32];
        struct agent__layer_desc *d = &m->layers[i];
        snprintf(what, sizeof what, "layers[%zu]", i);
        rv = descriptor(l, what, d->digest, d->media_type, &d->size, e);
        if (rv != 0)
            goto bad;
        if (!layer_type_ok(d->media_type)) {
            rv = err_setf(e, ERR_INVALID,
                          "manifest: %s.mediaType: unsupported %s (want tar or tar+gzip)", what,
                          d->media_type);
            goto bad;
        }
        m->n_layers++;
    }
    return 0;
bad:
    agent__manifest_close(m);
    return rv;
}

void agent__manifest_close(struct agent__manifest *m)
{
    free(m->layers);
    m->layers = NULL;
    m->n_layers = 0;
}

int agent__config_apply(const json_t *config, struct agent__manifest *m, struct err *e)
{
    const json_t *rootfs = json_object_get(config, "rootfs");
    const json_t *ids = json_object_get(rootfs, "diff_ids"), *id;
    const char *type = json_string_value(json_object_get(rootfs, "type"));
    size_t i;

    if (!json_is_object(config))
        return err_setf(e, ERR_INVALID, "config: not a JSON object");
    if (type == NULL || strcmp(type, "layers") != 0)
        return err_setf(e, ERR_INVALID, "config: rootfs.type: want \"layers\"");
    if (!json_is_array(ids) || json_array_size(ids) != m->n_layers)
        return err_setf(e, ERR_INVALID, "config: rootfs.diff_ids: want %zu entries, one per layer",
                        m->n_layers);
    json_array_foreach (ids, i, id) {
        if (!agent__digest_valid(json_string_value(id)))
            return err_setf(e, ERR_INVALID, "config: rootfs.diff_ids[%zu]: want sha256:<64 hex>",
                            i);
        memcpy(m->layers[i].diff_id, json_string_value(id), AGENT_IMAGE_DIGEST_SIZE);
    }
    return 0;
}
