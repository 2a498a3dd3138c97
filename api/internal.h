/* api/internal.h: shared by the api/ sources only. The request object handlers see,
 * the route table, reply helpers, and the pure pieces (Status, selectors,
 * continue tokens, validation) that the unit tests drive directly. */
#ifndef SKIFF_API_INTERNAL_H
#define SKIFF_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "consensus/consensus.h"
#include "lib/err.h"
#include "store/store.h"

#define API_CAPS_MAX       8
#define API_WARNINGS_MAX   16
#define API_QUERY_MAX      32
#define API_LIST_LIMIT_MAX 10000 /* a larger ?limit is clamped, as the apiserver does */

/* ---- requests and handlers ---- */

struct api_req;
struct api__watch;

/* A handler answers exactly once, now or later, with one api_reply_* call.
 * It may start one async operation at a time (api_req_propose,
 * api_req_status). */
typedef void (*api_handler_fn)(struct api_req *r);
/* Completion of an async operation. Not called when the client went away or
 * the api is closing: the request is then released without it. */
typedef void (*api_done_fn)(struct api_req *r, int status);

struct api_query_param {
    char *key;   /* percent-decoded, NUL-terminated */
    char *value; /* "" when the parameter had no '=' */
};

struct api_req {
    struct api *api;
    struct cons *cons;
    struct store *store;            /* cons_store(cons): the local replica */
    const char *method;             /* "GET", "POST", ... */
    const char *path;               /* normalised path, no query */
    const char *caps[API_CAPS_MAX]; /* the {} segments of the route, in order */
    size_t n_caps;
    struct api_query_param query[API_QUERY_MAX];
    size_t n_query;
    const char *body; /* raw request body (may hold NULs), body_len bytes */
    size_t body_len;
    json_t *json;                           /* parsed body (routes without API_ROUTE_RAW_BODY and a
                                               non-empty body); owned by the request: borrow it */
    const char *identity;                   /* "admin", or "system:anonymous" on no-auth routes */
    const char *accept;                     /* the Accept header, "" when absent */
    const char *content_type;               /* the Content-Type header, "" when absent */
    const char *user_agent;                 /* the User-Agent header, "" when absent */
    const char *warnings[API_WARNINGS_MAX]; /* "Warning: 299 - ..." headers of the reply */
    size_t n_warnings;
    void *data; /* the handler's; memory from api_req_alloc is freed for it */
    void (*cleanup)(struct api_req *r); /* the handler's, run when the request is freed */
    union {
        struct cons_propose propose;
        struct cons_status_req status;
    } op; /* the one async operation in flight */

    /* private to api/server.c and api/watch.c */
    void *h2o__; /* h2o_req_t *, NULL once the client went away */
    int refs__;  /* 1 for the h2o request + 1 while an op is in flight */
    bool replied__;
    bool orphan__; /* the api closed: never call back into the handler */
    api_done_fn done__;
    struct api__watch *watch__;
    const struct api_route *route__; /* matched route, kept across the auth barrier */
    void *arena__;                   /* list of api_req_alloc blocks */
    uint64_t start_ns__;             /* uv_hrtime at arrival (latency metric) */
    struct api_req *next__, *prev__; /* api's live requests */
};

/* Per-request memory, freed with the request (zeroed). NULL on no memory. */
void *api_req_alloc(struct api_req *r, size_t size);
char *api_req_strdup(struct api_req *r, const char *s);
/* A query parameter's value, or NULL when absent. Borrowed from r. */
const char *api_req_query(const struct api_req *r, const char *key);

/* Proposes txn (copied: free it on return) through consensus; done(r,
 * status) runs later with r->op.propose filled (result, err). Returns 0 or
 * an error (then done never runs and the caller must still reply). */
int api_req_propose(struct api_req *r, const struct store_txn *txn, api_done_fn done,
                    struct err *e);
/* Linearizable read: done(r, status) runs once the local replica has applied
 * everything the leader had committed when this was called (cons_barrier;
 * result in r->op.propose). Same return contract as api_req_propose. */
int api_req_barrier(struct api_req *r, api_done_fn done, struct err *e);
/* Runs fn(r) on the libuv thread pool (blocking work: files, a request to
 * another node), then done(r, status) on the loop. fn may touch only
 * r->data and what it owns. Same return contract as api_req_propose. */
int api_req_work(struct api_req *r, void (*fn)(struct api_req *r), api_done_fn done, struct err *e);
/* cons_status into r->op.status, then done(r, status). */
int api_req_status(struct api_req *r, api_done_fn done, struct err *e);

/* Adds a Warning header (299) to the reply; msg is copied. Beyond
 * API_WARNINGS_MAX they are dropped. */
void api_req_warn(struct api_req *r, const char *msg);

/* Replies. Exactly one per request; they release what the reply does not
 * need. body is stolen (json_decref'ed by the call). */
void api_reply_json(struct api_req *r, int http_status, json_t *body);
void api_reply_raw(struct api_req *r, int http_status, const char *content_type, const void *body,
                   size_t len);
/* A Kubernetes Status for an ERR_ code (see api__status_http). */
void api_reply_error(struct api_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, from a filled struct err. */
void api_reply_err(struct api_req *r, const struct err *e);
/* A Status with an explicit HTTP code and reason ("Invalid", "Gone", ...). */
void api_reply_status(struct api_req *r, int http_status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- routes ---- */

enum {
    API_ROUTE_NOAUTH = 1 << 0,   /* served without a bearer token */
    API_ROUTE_RAW_BODY = 1 << 1, /* do not parse the body as JSON */
};

/* pattern: literal segments and "{}" for one non-empty segment, e.g.
 * "/api/v1/namespaces/{}/configmaps/{}". method NULL matches any method. */
struct api_route {
    const char *method;
    const char *pattern;
    unsigned flags;
    api_handler_fn fn;
};

/* Adds a route checked before the built-in ones (later api/join.c,
 * api/tokens.c). rt is borrowed and must outlive a (use a static). At most
 * 32 extra routes: ERR_NOMEM beyond. */
int api_route_add(struct api *a, const struct api_route *rt, struct err *e);

/* Built-in table (api/routes.c), terminated by a zero entry. */
extern const struct api_route api__routes[];

/* Matches path against pattern; on success fills caps (pointers into the
 * copies written to buf, NUL-terminated) and returns true. */
bool api__route_match(const char *pattern, const char *path, char *buf, size_t buf_size,
                      const char **caps, size_t *n_caps);
/* Finds the route for method+path. *method_ok false when the path matched
 * some route but not with this method (405). */
const struct api_route *api__route_find(struct api *a, const char *method, const char *path,
                                        char *buf, size_t buf_size, const char **caps,
                                        size_t *n_caps, bool *method_ok);

/* Percent-decodes src[0..len) into a new malloc'ed string ('+' stays '+', as
 * Kubernetes clients encode spaces as %20). NULL on bad escapes or memory. */
char *api__percent_decode(const char *src, size_t len);

/* ---- Status objects and the error table (api/status.c) ---- */

/* HTTP status and Kubernetes reason for an ERR_ code. */
int api__status_http(int code);
const char *api__status_reason(int code);
/* {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 *  "message":msg,"reason":reason,"code":http}. New reference or NULL. */
json_t *api__status_json(int http_status, const char *reason, const char *msg);
/* {"kind":"Status",...,"status":"Success","code":200} with details. */
json_t *api__status_success(const char *kind, const char *name);

/* ---- label selectors (api/selector.c) ---- */

enum {
    API_SEL_EQ = 1, /* k=v, k==v */
    API_SEL_NE,     /* k!=v */
    API_SEL_EXISTS, /* k */
    API_SEL_ABSENT, /* !k */
    API_SEL_IN,     /* k in (a,b) */
    API_SEL_NOTIN,  /* k notin (a,b) */
};
#define API_SEL_VALUES_MAX 16
struct api_sel_req {
    int op;
    char *key;
    char *values[API_SEL_VALUES_MAX];
    size_t n_values;
};
struct api_selector {
    struct api_sel_req *reqs;
    size_t n;
};
/* Parses a labelSelector ("" or NULL selects everything). ERR_INVALID with
 * a message naming the offending part. On success close with
 * api__selector_close. */
int api__selector_parse(const char *s, struct api_selector *out, struct err *e);
void api__selector_close(struct api_selector *sel);
/* labels: a JSON object of string values, or NULL (no labels). */
bool api__selector_matches(const struct api_selector *sel, const json_t *labels);

/* ---- field selectors (api/fieldsel.c) ---- */

#define API_FIELDSEL_MAX 8
struct api_fieldsel_req {
    char *field, *value;
    bool neg; /* != */
};
struct api_fieldsel {
    struct api_fieldsel_req reqs[API_FIELDSEL_MAX];
    size_t n;
};
/* Parses a fieldSelector for kind k: "=", "==" and "!=" over the fields the
 * apiserver supports for it (metadata.name, metadata.namespace, and e.g.
 * spec.nodeName and status.phase of Pods). ERR_INVALID "field label not
 * supported: x". Close with api__fieldsel_close. */
int api__fieldsel_parse(const struct api_kind *k, const char *s, struct api_fieldsel *out,
                        struct err *e);
void api__fieldsel_close(struct api_fieldsel *fs);
bool api__fieldsel_matches(const struct api_fieldsel *fs, const json_t *obj);

/* ---- continue tokens (api/cont.c) ---- */

/* Opaque list continuation: base64 of {"v":1,"p":prefix,"k":last key}
 * (prefix included so a token is refused on another list). *out is
 * malloc'ed. */
int api__continue_encode(const char *prefix, const char *last_key, char **out, struct err *e);
/* Decodes tok and checks it belongs to prefix; *last_key is malloc'ed.
 * ERR_INVALID "continue: ..." on anything malformed or foreign. */
int api__continue_decode(const char *tok, const char *prefix, char **last_key, struct err *e);

/* ---- objects (api/object.c) ---- */

/* Random UUID v4 (OpenSSL RAND_bytes) into buf[37]. */
int api__uuid(char buf[37], struct err *e);
/* Now as RFC 3339 UTC with seconds ("2024-05-01T10:00:00Z") into buf[21]. */
void api__now_rfc3339(char buf[21]);
/* Decodes a stored value and sets metadata.resourceVersion to rev. *out new
 * reference. ERR_INVALID when the value is not a msgpack object. */
int api__object_decode(const void *value, size_t len, uint64_t rev, json_t **out, struct err *e);
/* DNS-1123 checks; return NULL when valid, else the Kubernetes message. */
const char *api__dns1123_subdomain_error(const char *s);
const char *api__dns1123_label_error(const char *s);

/* ---- server-side printing (api/table.c) ---- */

/* accept (an Accept header) lists application/json;as=Table;v=v1;
 * g=meta.k8s.io, in any position and parameter order. */
bool api__accept_table(const char *accept);
/* A meta.k8s.io/v1 Table of items (a JSON array of objects of `kind`,
 * borrowed) with the apiserver's printer columns for that kind (NAME and AGE
 * for a kind it has no printer for). list_meta
 * (borrowed, may be NULL) becomes the Table's metadata (resourceVersion,
 * continue). include is ?includeObject: "None", "Object" or NULL/"Metadata"
 * (rows[].object a PartialObjectMetadata). *out is a new reference;
 * ERR_NOMEM. */
int api__table_build(const char *kind, const json_t *items, json_t *list_meta, const char *include,
                     json_t **out, struct err *e);

/* ---- watch (api/watch.c) ---- */

/* Serves ?watch=1 on a list URL of kind k (query: resourceVersion,
 * labelSelector, fieldSelector, timeoutSeconds, allowWatchBookmarks) over
 * the store prefix. The stream is the reply. */
void api__watch_serve(struct api_req *r, const struct api_kind *k, const char *prefix);
/* Ends a watch from api_close (flushes and closes the stream). */
void api__watch_shutdown(struct api_req *r);
/* Pool disposal of a watching request: stop the store watch and timers. */
void api__watch_dispose(struct api_req *r);

/* ---- handlers ---- */
void api__h_version(struct api_req *r);
void api__h_healthz(struct api_req *r);
void api__h_readyz(struct api_req *r);
void api__h_ca(struct api_req *r);
void api__h_cluster_status(struct api_req *r);
/* True for the admin identity; otherwise replies 403 and returns false. */
bool api__is_admin(struct api_req *r);

/* every kind (api/h_resource.c) */
void api__h_resource(struct api_req *r);
/* discovery (api/discovery.c) */
void api__h_api_versions(struct api_req *r);
void api__h_api_v1(struct api_req *r);
void api__h_apis(struct api_req *r);
void api__h_api_group(struct api_req *r);
void api__h_api_group_version(struct api_req *r);
void api__h_openapi_v3(struct api_req *r);
void api__h_openapi_v3_doc(struct api_req *r);

/* Read-only accessors to the api for handlers. */
const char *api__node_name(const struct api *a);
const char *api__ca_pem(const struct api *a); /* NULL without ca_file */
const char *api__cert_file(const struct api *a);
const char *api__key_file(const struct api *a);
int api__log_path(const struct api *a, const char *ns, const char *pod, const char *uid,
                  const char *ctr, int restart, char *buf, size_t size);
/* GET .../pods/NAME/log (api/h_logs.c) */
void api__pod_log(struct api_req *r, const char *ns, const char *name);
/* The Pod ns/name from the local replica (*pod, owned) and the container a
 * request names (want; NULL or "": the pod's only container), as *ctr
 * (borrowed from *pod). On failure answers the request (404, or 400 with
 * the apiserver's message: "a container name must be specified for pod X,
 * choose one of: [a b]", "container c is not valid for pod X") and returns
 * non-zero with *pod NULL. */
int api__pod_container(struct api_req *r, const char *ns, const char *name, const char *want,
                       json_t **pod, const char **ctr);
/* logs?follow=true (api/h_logs_follow.c): where a local follow goes on. */
struct api__follow_src {
    char ns[256], name[256], uid[128], ctr[256];
    long restart; /* the run whose file is being read */
    long offset;  /* bytes of it already sent */
};
/* Streams initial (len bytes, copied) then the file as it grows; the
 * stream is the reply. */
void api__follow_local(struct api_req *r, const struct api__follow_src *src, const char *initial,
                       size_t len);
/* Streams the answer of url (the pod's node's follow) through; strings
 * copied. The stream, or the upstream's error, is the reply. */
void api__follow_forward(struct api_req *r, const char *url, const char *cert, const char *key,
                         const char *ca_pem);
/* The api_config exec hook: false when this node has none. */
bool api__exec_hook(const struct api *a, api_exec_fn *fn, void **data);
/* The loop the api runs on (timers of streaming handlers). */
uv_loop_t *api__loop(const struct api *a);
/* Registers POST .../pods/NAME/exec (api/h_exec.c); api_new calls it. */
int api__exec_routes_add(struct api *a, struct err *e);

/* ---- /metrics (api/h_prom.c): counters kept in struct api ---- */
#define API_PROM_SOURCES_MAX 8
#define API_PROM_SERIES_MAX  64 /* (verb, code) pairs; later ones count as code 0 */
enum {
    API_VERB_GET,
    API_VERB_LIST,
    API_VERB_WATCH,
    API_VERB_POST,
    API_VERB_PUT,
    API_VERB_PATCH,
    API_VERB_DELETE,
    API_VERB_OTHER,
    API_VERB__COUNT
};
struct api__prom {
    struct {
        api_prom_fn fn;
        void *data;
    } src[API_PROM_SOURCES_MAX];
    size_t n_src;
    struct {
        int verb, code;
        uint64_t n;
    } reqs[API_PROM_SERIES_MAX];
    size_t n_reqs;
    struct prom_hist latency[API_VERB__COUNT]; /* zeroed: default buckets */
};
/* The api's metrics state (api/server.c owns the memory). */
struct api__prom *api__prom(struct api *a);
/* Open watch streams right now. */
size_t api__watch_count(struct api *a);
/* Counts a reply (api_reply_raw calls it; a watch stream when it ends). */
void api__prom_observe(struct api_req *r, int http_status);
/* The apiserver's verb of a request: API_VERB_LIST for a GET of a known
 * kind's collection, API_VERB_WATCH for ?watch=1|true (watch: the value of
 * that parameter or NULL), else the HTTP method. Its label: "GET", "LIST"... */
int api__prom_verb(const char *method, const char *path, const char *watch);
const char *api__prom_verb_name(int verb);
/* Registers GET /metrics; api_new calls it. */
int api__prom_routes_add(struct api *a, struct err *e);

/* ---- join and tokens (api/join.c) ---- */

/* The cluster CA certificate file this api serves (borrowed). */
const char *api__ca_file(struct api *a);
/* Registers the join and token routes; api_new calls it. */
int api__join_routes_add(struct api *a, struct err *e);

/* ---- autoscaling/v1 HorizontalPodAutoscaler (api/h_hpa_v1.c) ---- */

/* v1 (targetCPUUtilizationPercentage) -> v2 and back; new references
 * (NULL on no memory), the argument borrowed. */
json_t *api__hpa_v1_to_v2(const json_t *v1);
json_t *api__hpa_v2_to_v1(const json_t *v2);
/* Registers POST and GET of v1 HPAs; api_new calls it. */
int api__hpa_v1_routes_add(struct api *a, struct err *e);

#endif
