/* api: the Kubernetes-dialect HTTPS API every node serves. Owns the object
 * model (kinds, validation, defaults), the JSON <-> msgpack object codec on
 * the way to the store, the h2o server (REST, watch, auth) and the mapping of
 * skiff errors to HTTP and Kubernetes Status objects. Knows nothing of Raft
 * internals: writes become store txns proposed through consensus, reads and
 * watches come from the local replica (cons_store). Called by the daemon
 * (cli/); everything runs on the one loop thread. */
#ifndef SKIFF_API_API_H
#define SKIFF_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "lib/err.h"

#define API_DEFAULT_LISTEN     "0.0.0.0:6443"
#define API_IDLE_TIMEOUT_MS    2000       /* idle keep-alive connections close after this */
#define API_BODY_MAX_BYTES     (3u << 20) /* larger request bodies get 413 */
#define API_ADMIN_TOKEN_PREFIX "/skiff/admin-tokens/"  /* + sha256hex(token) */
#define API_NODE_PREFIX        "/registry/minions/"    /* + name (etcd layout) */
#define API_CONFIGMAP_PREFIX   "/registry/configmaps/" /* + ns/name */

struct api;

/* ---- the kinds skiff serves (api/kinds.c) ----
 * One table drives the routes, discovery, OpenAPI, the store layout and the
 * CLI's name resolution ("deploy", "deployments.apps", "Deployment"). */

enum {
    API_SUB_STATUS = 1 << 0, /* /status subresource */
    API_SUB_SCALE = 1 << 1,  /* /scale subresource (autoscaling/v1 Scale) */
};

struct api_kind {
    const char *group;          /* "" for the core group */
    const char *version;        /* "v1" */
    const char *kind;           /* "Deployment" */
    const char *list_kind;      /* "DeploymentList" */
    const char *resource;       /* plural, in URLs: "deployments" */
    const char *singular;       /* "deployment" */
    const char *short_names[3]; /* kubectl's: "deploy"; NULL-padded */
    const char *store_name;     /* /registry/<store_name>/: etcd's layout ("minions" for nodes) */
    bool namespaced;
    unsigned subresources; /* API_SUB_* */
    bool in_all;           /* in kubectl's "all" category */
};

/* Every kind, in discovery order; n in *count. Static storage. */
const struct api_kind *api_kinds(size_t *count);
/* By group and plural resource ("apps", "deployments"); NULL if unknown. */
const struct api_kind *api_kind_by_resource(const char *group, const char *resource);
/* By apiVersion ("apps/v1", "v1") and kind ("Deployment"); NULL if unknown. */
const struct api_kind *api_kind_by_kind(const char *api_version, const char *kind);
/* What a user types: plural, singular, short name or Kind, case-insensitive,
 * optionally qualified by group ("deployments.apps", "deploy"). NULL if no
 * kind matches. */
const struct api_kind *api_kind_lookup(const char *name);
/* "apps/v1" or "v1" into buf. */
void api_kind_api_version(const struct api_kind *k, char *buf, size_t size);
/* The URL path of a collection or an object: "/apis/apps/v1/namespaces/ns/
 * deployments[/name]" (ns ignored for cluster-scoped kinds; NULL ns on a
 * namespaced kind gives the all-namespaces list path; NULL name gives the
 * collection). ERR_INVALID when it does not fit. */
int api_kind_path(const struct api_kind *k, const char *ns, const char *name, char *buf,
                  size_t size, struct err *e);

/* Where this node's agent writes a container's log (restart = the
 * container's restart count): 0 and buf filled, else an ERR_ code. */
typedef int (*api_log_path_fn)(void *data, const char *ns, const char *pod, const char *uid,
                               const char *ctr, int restart, char *buf, size_t size);

/* What a command run by api_exec_fn did: out/err malloc'ed (free()), may
 * be NULL when empty; exit_code is the command's (-1 with timed_out). */
struct api_exec_result {
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
    int exit_code;
    bool timed_out;
};
/* Runs argv (NULL-terminated) in container ctr of the pod with uid on this
 * node, non-interactively, for at most timeout_ms. Blocking, called on the
 * thread pool (must be thread-safe). 0 and *res filled whatever the exit
 * code; ERR_NOTFOUND when that container is not running here. */
typedef int (*api_exec_fn)(void *data, const char *uid, const char *ctr, const char *const *argv,
                           int timeout_ms, struct api_exec_result *res, struct err *e);

/* This node's latest resource-usage samples (the shape of
 * agent_metrics_snapshot: {node: {cpu, memory, ts, window}, pods: {uid:
 * {ts, window, containers: {name: {cpu, memory}}}}}, cpu in nanocores,
 * memory in bytes, window in ms). Loop thread. A new reference, or NULL
 * when there is no sample yet. */
typedef json_t *(*api_metrics_fn)(void *data);

struct api_config {
    const char *listen;       /* "IP:PORT"; NULL = API_DEFAULT_LISTEN */
    const char *cert_file;    /* node certificate chain (PEM), signed by the cluster CA */
    const char *key_file;     /* its private key (PEM) */
    const char *ca_file;      /* cluster CA (PEM), served at GET /skiff/v1/ca */
    const char *node_name;    /* this node (logs, /version) */
    api_log_path_fn log_path; /* NULL: this node has no container logs */
    void *log_path_data;
    api_exec_fn exec; /* NULL: pods/NAME/exec on this node answers 400 */
    void *exec_data;
    api_metrics_fn metrics; /* NULL: this node samples no resource usage */
    void *metrics_data;
};

/* Creates the API over c (borrowed; must outlive the api until api_close's
 * cb). Loads the certificate and key now, so a bad file fails here with
 * ERR_IO/ERR_INVALID naming the file. cfg strings are copied. Ignores
 * SIGPIPE process-wide (a peer closing mid-write must not kill the daemon).
 * On success *out is owned: api_close. */
int api_new(uv_loop_t *loop, struct cons *c, const struct api_config *cfg, struct api **out,
            struct err *e);

/* Binds and listens. ERR_IO naming the address when that fails (in use, bad
 * address), ERR_INVALID for an unparsable listen string. */
int api_start(struct api *a, struct err *e);

/* Open client connections and requests still tracked (diagnostics, e.g.
 * when a stop does not finish). */
void api_stats(struct api *a, size_t *conns, size_t *reqs, bool *listener_open);

/* The bound port (useful when listen used port 0); 0 before api_start. */
int api_port(struct api *a);

/* Closes the listener, ends every watch, answers requests still waiting for
 * consensus with 503, closes every connection and frees a. cb fires once,
 * later (never from inside this call), after every uv handle the api owns is
 * closed. Call it once, on a started or unstarted api. Proposals still in flight inside consensus
 * are left to finish on their own (their memory is freed when consensus
 * completes them, at the latest with ERR_SHUTDOWN from cons_close), so close
 * the api before consensus. */
typedef void (*api_close_cb)(void *data);
void api_close(struct api *a, api_close_cb cb, void *data);

/* ---- GET /metrics, Prometheus text (api/h_prom.c) ---- */

struct buf;
/* Appends a module's metric families (lib/prom.h writer) to out, at scrape
 * time, on the loop thread. For modules api cannot include (sched, agent). */
typedef void (*api_prom_fn)(void *data, struct buf *out);
/* Adds a source to /metrics. data is borrowed and must outlive a (the
 * daemon closes the api first). At most 8 sources: ERR_NOMEM beyond. */
int api_prom_add(struct api *a, api_prom_fn fn, void *data, struct err *e);

/* ---- object helpers (for skiff init / join, which are proposers too) ---- */

/* What the API does to an object it creates, for objects skiff writes
 * itself (controllers, scheduler, agents): kind, apiVersion, namespace
 * (ns, "default" when NULL), generateName, uid, creationTimestamp,
 * generation, Kubernetes defaults, then the decode checks and validation.
 * ERR_INVALID with the apiserver's message. */
int api_object_prepare_create(const struct api_kind *k, const char *ns, json_t *obj, struct err *e);
/* The same for an update of stored `old` into obj: identity fields carried
 * over, defaults, generation bumped when anything but metadata and status
 * changed, validation (immutability rules against old). */
int api_object_prepare_update(const struct api_kind *k, const json_t *old, json_t *obj,
                              struct err *e);

/* Builds a v1 Node object for a node named name (a DNS-1123 subdomain) with
 * the given InternalIP addresses (borrowed; "IP" or "IP:PORT", the port is
 * dropped). The proposer decides uid and creationTimestamp here; the node
 * starts Ready. On success *out is a new reference. ERR_INVALID names the
 * bad field. */
int api_node_build(const char *name, const char *const *addresses, size_t n_addresses, json_t **out,
                   struct err *e);

/* Store key of an object: "/registry/<resource>/<ns>/<name>", or without the
 * namespace part when ns is NULL (cluster-scoped; resource "minions" for
 * Nodes). ERR_INVALID if it does not fit key_size or STORE_KEY_MAX. */
int api_object_key(const char *resource, const char *ns, const char *name, char *key,
                   size_t key_size, struct err *e);

/* Decodes a stored value (msgpack) into the object with
 * metadata.resourceVersion = rev. *out is a new reference; ERR_INVALID when
 * the value is not an object with metadata. */
int api_object_decode(const void *value, size_t len, uint64_t rev, json_t **out, struct err *e);

/* Store value of an object: obj (borrowed) as msgpack, without
 * metadata.resourceVersion (that is the key's mod_rev, filled on reads).
 * On success *value is malloc'ed (free()). */
int api_object_encode(const json_t *obj, void **value, size_t *len, struct err *e);

/* Node object -> the store key (/registry/minions/<name>) and value, ready to
 * go into a store txn (compare ABSENT + put). *value is malloc'ed (free()). */
int api_node_kv(const json_t *node, char *key, size_t key_size, void **value, size_t *len,
                struct err *e);

/* A v1 Namespace object `name` (Active) -> its store key and value; init
 * creates default, kube-system, kube-public and kube-node-lease.
 * *value is malloc'ed (free()). */
int api_namespace_kv(const char *name, char *key, size_t key_size, void **value, size_t *len,
                     struct err *e);

/* The store key that makes token an admin bearer token:
 * API_ADMIN_TOKEN_PREFIX + sha256hex(token). The daemon puts any value
 * there at init (the token itself is never stored). */
int api_admin_token_key(const char *token, char *key, size_t key_size, struct err *e);

/* The Kubernetes AGE column: "5s", "3m", "2h", "4d" from an RFC3339 time;
 * "<unknown>" when unparsable. Used by table output (server and CLI). */
void api_age_format(const char *rfc3339, char *buf, size_t size);

/* ---- join tokens and the cluster CA (api/join.c) ---- */

#define API_TOKEN_PREFIX "/skiff/tokens/"    /* + token id -> record (hash, expiry, revoked) */
#define API_CA_KEY       "/skiff/pki/ca-key" /* the cluster CA private key (PEM) */

struct pki_token;
/* Store key and value of a join token record (only the secret's hash is
 * kept). *value is malloc'ed (free()). */
int api_token_kv(const struct pki_token *t, int64_t expires_unix, const char *description,
                 char *key, size_t key_size, void **value, size_t *len, struct err *e);

#endif
