/* api/schema.h (api-internal): skiff's own type definitions of the
 * Kubernetes kinds it serves, as static C tables. One definition drives
 * three things, so they can never disagree:
 *   - decoding checks of request bodies (wrong types, unknown fields,
 *     required fields), api/schema.c;
 *   - the OpenAPI v3 documents kubectl reads (/openapi/v3), api/openapi.c;
 *   - strategic merge patch (merge keys and patch strategies of lists),
 *     api/patch.c.
 * Included by api/ sources only. Pure data and pure functions: any thread. */
#ifndef SKIFF_API_SCHEMA_H
#define SKIFF_API_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "lib/err.h"

enum {
    API_SCH_OBJECT = 1,    /* fields (properties), unknown fields are "unknown" */
    API_SCH_MAP,           /* string keys -> elem (additionalProperties) */
    API_SCH_ARRAY,         /* elem items */
    API_SCH_STRING,        /* format may say "date-time", "byte" */
    API_SCH_INTEGER,       /* JSON integer; format "int32" (range checked) or "int64" */
    API_SCH_NUMBER,        /* integer or real */
    API_SCH_BOOLEAN,       /* true/false */
    API_SCH_INT_OR_STRING, /* x-kubernetes-int-or-string (ports, maxSurge) */
    API_SCH_QUANTITY,      /* resource.Quantity: a string or a number ("100m", 2) */
    API_SCH_FREE,          /* any JSON value; x-kubernetes-preserve-unknown-fields */
};

/* field flags */
enum {
    API_SCH_REQUIRED = 1 << 0, /* missing (or null) -> "<path>: Required value" */
};

struct api_sch;

struct api_sch_field {
    const char *name;
    const struct api_sch *type;
    unsigned flags;
    /* For arrays (as the Kubernetes Go types' struct tags): the element key
     * strategic merge patch merges by (x-kubernetes-patch-merge-key, e.g.
     * "name" for containers, "containerPort" for ports) and the strategy
     * (x-kubernetes-patch-strategy: "merge", "replace", "retainKeys",
     * "merge,retainKeys"); NULL when the list is replaced as a whole. */
    const char *merge_key;
    const char *patch_strategy;
    const char *description; /* one line, for OpenAPI; may be NULL */
};

struct api_sch {
    const char *name;   /* component name ("io.k8s.api.core.v1.Container"); NULL when inline */
    int type;           /* API_SCH_* */
    const char *format; /* "int32", "int64", "date-time", "byte" or NULL */
    const struct api_sch_field *fields; /* OBJECT: array ended by a {NULL} entry */
    const struct api_sch *elem;         /* ARRAY, MAP */
    const char *description;
};

/* The root type of a kind (apiVersion, kind, metadata, spec, status, ...),
 * NULL for a kind skiff does not define. */
const struct api_sch *api__sch_kind(const struct api_kind *k);
/* autoscaling/v1 Scale and meta/v1 ListMeta (for /scale and the list kinds
 * in OpenAPI). */
extern const struct api_sch api__sch_scale;
extern const struct api_sch api__sch_list_meta;
/* Field `name` of an OBJECT schema, NULL when it has none (or s is not an
 * object). */
const struct api_sch_field *api__sch_field(const struct api_sch *s, const char *name);

/* What strategic merge and server-side apply need of one field of an
 * OBJECT schema, or of an entry of a MAP (type = elem): its type (NULL when
 * the schema does not know it: merge patch rules), merge key and patch
 * strategy. */
struct api_sch_finfo {
    const struct api_sch *type;
    const char *merge_key;
    const char *strategy;
};
struct api_sch_finfo api__sch_field_info(const struct api_sch *s, const char *name);
/* The strategy includes "merge" ("merge", "merge,retainKeys"). */
static inline bool api__sch_merges(const char *strategy)
{
    return strategy != NULL && strstr(strategy, "merge") != NULL;
}
/* A list merged element-wise by its merge key (containers by name). */
static inline bool api__sch_keyed(const struct api_sch_finfo *fi)
{
    return fi->type != NULL && fi->type->type == API_SCH_ARRAY && fi->merge_key != NULL &&
           (fi->strategy == NULL || api__sch_merges(fi->strategy));
}
/* A merge list without a key: a set of primitives (finalizers). */
static inline bool api__sch_set(const struct api_sch_finfo *fi)
{
    return fi->type != NULL && fi->type->type == API_SCH_ARRAY && fi->merge_key == NULL &&
           api__sch_merges(fi->strategy);
}

/* ---- field errors, collected the way the apiserver reports them ---- */

#define API_FERRS_MAX 32 /* more are counted, not kept */

struct api_ferrs {
    char *msgs[API_FERRS_MAX]; /* "spec.replicas: Invalid value: -1: must be ..." */
    size_t n;
    size_t dropped;             /* errors beyond API_FERRS_MAX */
    char *warns[API_FERRS_MAX]; /* fieldValidation=Warn: `unknown field "spec.foo"` */
    size_t n_warns;
    bool decode; /* at least one error is a decoding error (wrong type,
                    unknown field under Strict): the reply is 400 BadRequest,
                    else 422 Invalid */
};

void api__ferrs_init(struct api_ferrs *fe);
void api__ferrs_close(struct api_ferrs *fe);
/* Adds "path: message" (printf-style message). decode: see above. */
void api__ferr_add(struct api_ferrs *fe, bool decode, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void api__ferr_warn(struct api_ferrs *fe, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The apiserver's message for the collected errors, malloc'ed:
 *   decode:  `<Kind> in version "<v>" cannot be handled as a <Kind>: strict
 *            decoding error: unknown field "spec.foo", unknown field "x"`
 *   invalid: `<Kind>[.<group>] "<name>" is invalid: <err>` for one error,
 *            `... is invalid: [<err>, <err>]` for several.
 * NULL on no memory. */
char *api__ferrs_message(const struct api_ferrs *fe, const struct api_kind *k, const char *name);

/* ---- decoding checks ---- */

enum {
    API_FV_STRICT = 0, /* unknown fields are errors (decode) */
    API_FV_WARN,       /* unknown fields are dropped, one warning each (the apiserver's default) */
    API_FV_IGNORE,     /* unknown fields are dropped silently */
};
/* ?fieldValidation= value to API_FV_*; NULL/"" -> API_FV_WARN; -1 when
 * unknown. */
int api__fv_parse(const char *s);

/* Checks obj (a whole object of kind s) against s, recursively:
 *   - a value of the wrong JSON type: decode error
 *     `spec.replicas: Invalid value: "two": spec.replicas in body must be of
 *     type integer: "string"`;
 *     int32 out of range likewise;
 *   - an unknown field: per mode (see API_FV_*); dropped fields are removed
 *     from obj, so nothing unknown is ever stored;
 *   - API_SCH_REQUIRED fields missing or null: `spec.selector: Required value`
 *     (not a decode error).
 * Paths are as the apiserver prints them: "spec.template.spec.containers[0].image",
 * map entries as "metadata.labels[app]". A JSON null is accepted anywhere a
 * field is optional (and means "unset"). Returns the number of errors
 * added. */
size_t api__sch_check(const struct api_sch *s, json_t *obj, int mode, struct api_ferrs *fe);

/* ---- OpenAPI v3 (api/openapi.c) ---- */

/* GET /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL":
 * "/openapi/v3/api/v1?hash=<H>"}, "apis/apps/v1": ...}} for every group
 * version in api_kinds. New reference or NULL. */
json_t *api__openapi_root(void);
/* The OpenAPI 3.0 document of one group version ("api/v1", "apis/apps/v1"):
 * paths for every resource of it with their operations (get, put, post,
 * delete, patch with x-kubernetes-group-version-kind and the query
 * parameters, fieldValidation and dryRun among them) and
 * components.schemas from the api_sch tables (with
 * x-kubernetes-patch-merge-key / x-kubernetes-patch-strategy,
 * x-kubernetes-group-version-kind on kind roots). NULL when gv is not one
 * of ours (or on no memory). */
json_t *api__openapi_doc(const char *gv);

#endif
