/* fieldSelector: "metadata.name=x,spec.nodeName!=y". The apiserver accepts
 * a fixed set of fields per kind and answers 400 for others; we do the same
 * so a selector never silently selects everything. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const common_fields[] = {"metadata.name", "metadata.namespace", NULL};

struct kind_fields {
    const char *kind;
    const char *fields[8];
};

static const struct kind_fields per_kind[] = {
    {"Pod",
     {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
      "status.phase", "status.podIP", "status.nominatedNodeName", NULL}},
    {"Node", {"spec.unschedulable", NULL}},
    {"Secret", {"type", NULL}},
    {"Namespace", {"status.phase", NULL}},
    {"Job", {"status.successful", NULL}},
    {"ReplicaSet", {"status.replicas", NULL}},
};

static bool field_supported(const struct api_kind *k, const char *f)
{
    size_t i, j;
    for (i = 0; common_fields[i] != NULL; i++)
        if (strcmp(common_fields[i], f) == 0)
            return true;
    for (i = 0; i < sizeof per_kind / sizeof per_kind[0]; i++) {
        if (strcmp(per_kind[i].kind, k->kind) != 0)
            continue;
        for (j = 0; per_kind[i].fields[j] != NULL; j++)
            if (strcmp(per_kind[i].fields[j], f) == 0)
                return true;
    }
    return false;
}

void api__fieldsel_close(struct api_fieldsel *fs)
{
    size_t i;
    for (i = 0; i < fs->n; i++) {
        free(fs->reqs[i].field);
        free(fs->reqs[i].value);
    }
    fs->n = 0;
}

int api__fieldsel_parse(const struct api_kind *k, const char *s, struct api_fieldsel *out,
                        struct err *e)
{
    const char *p = s;
    memset(out, 0, sizeof *out);
    if (s == NULL || s[0] == '\0')
        return 0;
    while (*p != '\0') {
        const char *end = strchr(p, ','), *op;
        size_t len = end ? (size_t)(end - p) : strlen(p), flen, oplen;
        struct api_fieldsel_req *rq;
        bool neg;
        char *field;

        op = memchr(p, '=', len);
        if (op == NULL) {
            api__fieldsel_close(out);
            return err_setf(e, ERR_INVALID, "invalid field selector: %.*s: expected field=value",
                            (int)len, p);
        }
        neg = op > p && op[-1] == '!';
        flen = (size_t)(op - p) - (neg ? 1 : 0);
        oplen = (!neg && op + 1 < p + len && op[1] == '=') ? 2 : 1;
        if (out->n == API_FIELDSEL_MAX) {
            api__fieldsel_close(out);
            return err_setf(e, ERR_INVALID, "invalid field selector: more than %d requirements",
                            API_FIELDSEL_MAX);
        }
        field = strndup(p, flen);
        if (field == NULL) {
            api__fieldsel_close(out);
            return err_setf(e, ERR_NOMEM, "field selector: out of memory");
        }
        if (!field_supported(k, field)) {
            int rv = err_setf(e, ERR_INVALID, "field label not supported: %s", field);
            free(field);
            api__fieldsel_close(out);
            return rv;
        }
        rq = &out->reqs[out->n++];
        rq->field = field;
        rq->neg = neg;
        rq->value = strndup(op + oplen, len - (size_t)(op + oplen - p));
        if (rq->value == NULL) {
            api__fieldsel_close(out);
            return err_setf(e, ERR_NOMEM, "field selector: out of memory");
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* The value of a dotted path as the apiserver's field set renders it:
 * strings as they are, booleans "true"/"false", integers in decimal,
 * missing "". */
static void field_value(const json_t *obj, const char *path, char *buf, size_t size)
{
    char seg[64];
    const char *p = path;
    const json_t *v = obj;
    buf[0] = '\0';
    while (v != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof seg)
            return;
        memcpy(seg, p, n);
        seg[n] = '\0';
        v = json_object_get(v, seg);
        p += n;
        if (*p == '.')
            p++;
    }
    if (json_is_string(v))
        snprintf(buf, size, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    else if (v == NULL && strcmp(path, "spec.unschedulable") == 0)
        snprintf(buf, size, "false");
}

bool api__fieldsel_matches(const struct api_fieldsel *fs, const json_t *obj)
{
    char val[512];
    size_t i;
    for (i = 0; fs != NULL && i < fs->n; i++) {
        bool eq;
        field_value(obj, fs->reqs[i].field, val, sizeof val);
        eq = strcmp(val, fs->reqs[i].value) == 0;
        if (eq == fs->reqs[i].neg)
            return false;
    }
    return true;
}
