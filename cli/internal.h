/* cli/internal.h: shared by the cli/ sources only. Client subcommands
 * (cli/client.c: transport and options; get.c, apply.c, describe.c,
 * scale.c: the commands), their pure parts (yaml.c: manifests and -o yaml;
 * manifest.c: objects from files; printer.c: tables and kubectl-style
 * names) and kubeconfig reading/writing (cli/kubeconfig.c). */
#ifndef SKIFF_CLI_INTERNAL_H
#define SKIFF_CLI_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/err.h"

struct api_kind; /* api/api.h */

#define CLI_DEFAULT_KUBECONFIG "/var/lib/skiff/admin.kubeconfig"

/* ---- client subcommands: each returns the process exit code ----
 * argv[0] is the subcommand itself ("get", "cluster", ...). */
int cli_get(int argc, char **argv);      /* skiff get KIND[,KIND] [NAME...] (cli/get.c) */
int cli_cluster(int argc, char **argv);  /* skiff cluster status [-o json] */
int cli_create(int argc, char **argv);   /* skiff create -f | configmap | namespace | secret */
int cli_delete(int argc, char **argv);   /* skiff delete -f | KIND NAME... (cli/apply.c) */
int cli_apply(int argc, char **argv);    /* skiff apply -f (server-side apply, cli/apply.c) */
int cli_describe(int argc, char **argv); /* skiff describe KIND NAME (cli/describe.c) */
int cli_scale(int argc, char **argv);    /* skiff scale KIND/NAME --replicas N (cli/scale.c) */
int cli_autoscale(int argc, char **argv); /* skiff autoscale KIND/NAME --max N (cli/autoscale.c) */
int cli_logs(int argc, char **argv);     /* skiff logs POD [-c C] [--tail N] [-p] (cli/logs.c) */
int cli_exec(int argc, char **argv);     /* skiff exec POD [-c C] -- CMD (cli/exec.c) */
int cli_image(int argc, char **argv);    /* skiff image import|ls|rm (cli/image.c) */
int cli_rollout(
    int argc,
    char **argv); /* skiff rollout status|history|undo|pause|resume|restart (cli/scale.c) */
int cli_token(int argc, char **argv); /* skiff token create|list|revoke */
int cli_up(int argc, char **argv);    /* skiff up / down: a local cluster in netns (cli/up.c) */
int cli_down(int argc, char **argv);
int cli_reset(int argc, char **argv); /* skiff reset: undo a node on its machine (cli/reset.c) */
/* "90s", "30m", "24h", "7d" or plain seconds (cli/daemon.c); -1 if malformed. */
int cli_parse_duration(const char *v, long *seconds);

/* ---- YAML (cli/yaml.c) ---- */

/* Nodes that alias expansion may add to one stream before it is refused
 * (a "billion laughs" bomb); plain nodes are bounded by the input size. */
#define CLI_YAML_ALIAS_NODES_MAX 100000

/* Parses a YAML stream (text, len bytes, borrowed; JSON is YAML too) into
 * *docs, a new JSON array with one element per non-empty document, in
 * order. name labels errors: ERR_INVALID "NAME:LINE:COL: <problem>" for
 * syntax errors, duplicate keys ("duplicate key "k" (first at L:C)"),
 * integers beyond int64, .inf/.nan, bad explicit tags, unknown anchors and
 * alias bombs. Non-string scalar keys become strings (1 -> "1"). */
int cli_yaml_load(const char *name, const char *text, size_t len, json_t **docs, struct err *e);
/* The same, and *lines (when lines is not NULL) a new JSON array of the
 * 1-based line where each kept document's content starts. */
int cli_yaml_load_lines(const char *name, const char *text, size_t len, json_t **docs,
                        json_t **lines, struct err *e);
/* Writes j (borrowed) as one YAML document the way kubectl -o yaml does:
 * block style, keys in j's order, strings quoted only when a reader would
 * take them for something else ("true", "123", "", "yes"), multi-line
 * strings as literal blocks. ERR_IO when out fails. */
int cli_yaml_dump(const json_t *j, FILE *out, struct err *e);

/* ---- kinds and kubectl-style names (cli/printer.c) ---- */

/* kubectl's "resource.group" for messages: "deployment.apps", "configmap". */
void cli__kind_ref(const struct api_kind *k, char *buf, size_t size);
/* "deployment.apps/nginx", "service/web" (-o name, apply/create output). */
void cli__kind_name(const struct api_kind *k, const char *name, char *buf, size_t size);
/* The kinds a user's type argument names: one word, a comma list, or
 * "all" (every kind with in_all). At most max kinds, in the order given;
 * ERR_INVALID "the server doesn't have a resource type "x"". */
int cli__kinds_parse(const char *arg, const struct api_kind **out, size_t max, size_t *n,
                     struct err *e);

/* kubectl rollout status for a Deployment (borrowed): 1 rolled out, 0 still
 * going, -1 failed (progress deadline exceeded); msg gets kubectl's line
 * ("Waiting for deployment "x" rollout to finish: 1 of 2 updated replicas
 * are available...", "deployment "x" successfully rolled out"). */
int cli__rollout_status(const json_t *deploy, char *msg, size_t size);

/* ---- tables (cli/printer.c) ---- */

struct cli_print_opts {
    bool wide;               /* every column, not only priority 0 */
    bool all_ns;             /* a NAMESPACE column first */
    bool show_labels;        /* a LABELS column last */
    bool no_headers;         /* rows only */
    const char *name_prefix; /* put before each name ("deployment.apps/"), or NULL */
};

#define CLI_TAB_COLS_MAX 32

/* Rows of a meta.k8s.io/v1 Table as text, with kubectl's layout: upper-case
 * headers, columns separated by 3 spaces and padded to the widest cell
 * seen so far (widths only grow, so watch rows line up with the first
 * table). */
struct cli_tab {
    struct cli_print_opts o;
    size_t n_cols;
    int src[CLI_TAB_COLS_MAX];    /* index in row.cells, or a CLI_TAB_COL_* */
    char *head[CLI_TAB_COLS_MAX]; /* owned */
    size_t width[CLI_TAB_COLS_MAX];
    char **cells; /* n_rows * n_cols, owned */
    size_t n_rows, cap;
    bool header_done;
};
enum { CLI_TAB_COL_NAMESPACE = -1, CLI_TAB_COL_LABELS = -2 };

/* Chooses the columns from table's columnDefinitions (borrowed) and o.
 * ERR_INVALID when table is not a Table. Close with cli__tab_close. */
int cli__tab_init(struct cli_tab *t, const json_t *table, const struct cli_print_opts *o,
                  struct err *e);
/* Buffers table's rows (a Table with the same columns). */
int cli__tab_add(struct cli_tab *t, const json_t *table, struct err *e);
/* Prints the header (once, unless no_headers) and the buffered rows, then
 * forgets the rows. */
void cli__tab_print(struct cli_tab *t, FILE *out);
void cli__tab_close(struct cli_tab *t);

/* ---- manifests (cli/manifest.c) ---- */

/* One object from a manifest. */
struct cli_obj {
    json_t *obj;                 /* owned; NULL when error[] is set */
    const struct api_kind *kind; /* from apiVersion + kind; NULL when error[] is set */
    char where[192];             /* "FILE (document 2, line 14)" for messages */
    char error[320];             /* why this document cannot be used, or "" */
};

struct cli_objs {
    struct cli_obj *v;
    size_t n, cap;
};

/* Appends the objects of parsed documents (docs, lines from
 * cli_yaml_load_lines; borrowed) read from file: a v1 List expands to its
 * items; each object is checked for a known apiVersion/kind and a
 * metadata.name. A bad object becomes an entry with error[] set
 * ("FILE: document 2: unknown kind "Deploymnt" in apiVersion "apps/v1""),
 * so callers report it and go on. Fails only for ERR_NOMEM. */
int cli__objs_add_docs(struct cli_objs *o, const char *file, const json_t *docs,
                       const json_t *lines, struct err *e);
/* Reads path: a file, a directory (every *.yaml, *.yml, *.json in it,
 * sorted by name, not recursive) or "-" (stdin), and appends its objects.
 * ERR_IO/ERR_INVALID (unreadable file, YAML syntax) stop the whole read. */
int cli__objs_read(struct cli_objs *o, const char *path, struct err *e);
void cli__objs_free(struct cli_objs *o);

/* The namespace an object goes to, kubectl's rules: flag_ns (-n; NULL when
 * not given), else metadata.namespace, else ctx_ns (the kubeconfig
 * context's; NULL when none), else "default". "" for cluster-scoped kinds.
 * ERR_INVALID with kubectl's message when -n and metadata.namespace
 * disagree. */
int cli__object_namespace(const struct api_kind *k, const json_t *obj, const char *flag_ns,
                          const char *ctx_ns, char *buf, size_t size, struct err *e);

/* ---- kubeconfig (kubectl's format) ---- */

struct cli_kubeconfig {
    char *server; /* "https://IP:PORT" */
    char *ca_pem; /* decoded certificate-authority-data, or the certificate-authority file */
    size_t ca_len;
    char *token;    /* users[].user.token; NULL when absent */
    char *context;  /* the context used */
    char *cert_pem; /* users[].user.client-certificate-data (decoded) or -certificate file */
    size_t cert_len;
    char *key_pem; /* users[].user.client-key-data (decoded) or client-key file; wiped on close */
    size_t key_len;
};

/* Parses a kubeconfig (YAML text, borrowed) and resolves current-context
 * (or the first context when none is set) to its cluster and user.
 * ERR_INVALID naming the missing or bad field ("clusters[local].server:
 * required"). On success close with cli_kubeconfig_close. */
int cli_kubeconfig_parse(const char *yaml, size_t len, struct cli_kubeconfig *out, struct err *e);
/* Reads path and parses it; ERR_IO naming the path. */
int cli_kubeconfig_load(const char *path, struct cli_kubeconfig *out, struct err *e);
void cli_kubeconfig_close(struct cli_kubeconfig *k);

/* Writes an admin kubeconfig (cluster "skiff", user "admin", context
 * "skiff-admin") for server ("IP:PORT" or "https://IP:PORT"), the CA
 * certificate PEM, the bearer token and (when not NULL) a client
 * certificate and key PEM. Mode 0600, written to a temporary file then
 * renamed over path, so a reader never sees half a file. ERR_IO naming
 * path. */
int cli_kubeconfig_write(const char *path, const char *server, const char *ca_pem,
                         const char *token, const char *cert_pem, const char *key_pem,
                         struct err *e);

/* Prints j as YAML (kubectl -o yaml) to f. */
int cli_yaml_print(FILE *f, const json_t *j, struct err *e);

/* ---- transport and options (cli/client.c) ---- */

#define CLI_FILES_MAX    32
#define CLI_LITERALS_MAX 64

/* Every flag of every client command; each command reads the ones its
 * usage lists. */
struct cli_opts {
    const char *kubeconfig;
    const char *server;
    const char *ns;
    const char *output; /* NULL (table), json, yaml, wide, name */
    const char *selector;
    const char *field_selector;
    const char *cascade;         /* background|foreground|orphan */
    const char *dry_run;         /* "server" or NULL */
    const char *replicas;        /* scale */
    const char *timeout;         /* rollout status */
    const char *request_timeout; /* every request; watches end after it */
    const char *ttl;             /* token create */
    const char *description;     /* token create */
    const char *type;            /* create secret --type */
    bool all_ns, watch, no_headers, show_labels, all, ignore_not_found, force_conflicts;
    const char *files[CLI_FILES_MAX];
    size_t n_files;
    const char *literals[CLI_LITERALS_MAX];
    size_t n_literals;
    const char *from_files[CLI_LITERALS_MAX];
    size_t n_from_files;
};

struct cli_client {
    struct cli_kubeconfig kc;
    char server[512];        /* "https://IP:PORT" without trailing slash */
    char ctx_ns[256];        /* the kubeconfig context's namespace, or "" */
    long request_timeout_ms; /* 0: 30 s for plain requests, none for watches */
    void *curl;              /* CURL *, reused for keep-alive */
};

struct cli_resp {
    long status;
    char *body; /* NUL-terminated, owned */
    size_t len;
};

/* Parses argv (argv[0] is the subcommand) into o and the positional
 * arguments (up to max_pos, in order). Flags may follow positionals.
 * Returns 0, 2 on a usage error (printed with usage), or -1 after --help
 * (usage printed to stdout; the command exits 0). */
int cli__parse(int argc, char **argv, struct cli_opts *o, char **pos, size_t *n_pos, size_t max_pos,
               void (*usage)(FILE *));
/* Finds the kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config, then
 * CLI_DEFAULT_KUBECONFIG), loads it and applies --server. Close with
 * cli__client_close (also after a failure). */
int cli__client_open(struct cli_client *c, const struct cli_opts *o, struct err *e);
void cli__client_close(struct cli_client *c);
/* The namespace for namespaced commands: -n, else the context's, else
 * "default". */
const char *cli__ns(const struct cli_client *c, const struct cli_opts *o);
/* One request; ctype, accept and body may be NULL (JSON). Transport
 * failures are errors (ERR_UNAVAILABLE, ERR_DENIED, ERR_IO); any HTTP
 * status is a response in *r (free with cli__resp_free). */
int cli__request(struct cli_client *c, const char *method, const char *path, const char *ctype,
                 const char *accept, const char *body, struct cli_resp *r, struct err *e);
void cli__resp_free(struct cli_resp *r);
/* The body as JSON (new reference) or NULL. */
json_t *cli__resp_json(const struct cli_resp *r);
/* kubectl's "Error from server (Reason): [context: ]message" on stderr. */
void cli__print_server_error(const struct cli_resp *r, const char *context);
/* The reason of a Status body ("NotFound"), or "" */
void cli__resp_reason(const struct cli_resp *r, char *buf, size_t size);
/* A GET/POST/... that must answer 2xx with JSON: prints errors itself and
 * returns the exit code (0 with *out a new reference). */
int cli__call(struct cli_client *c, const char *method, const char *path, const char *ctype,
              const char *accept, const char *body, json_t **out);

/* Streams a GET (a watch) and calls cb for every complete line. cb returns
 * 0 to go on, anything else to stop (then cli__stream returns 0 and *stopped
 * is true). timeout_ms 0 = no limit; reaching it is not an error. The
 * status in *status; a non-2xx answer's body is in *r. */
typedef int (*cli_line_cb)(void *data, const char *line, size_t len);
int cli__stream(struct cli_client *c, const char *path, long timeout_ms, cli_line_cb cb, void *data,
                struct cli_resp *r, bool *stopped, struct err *e);
/* Appends "?k=v" or "&k=v" (v URL-escaped) to path. ERR_INVALID when it
 * does not fit. */
int cli__path_add_query(char *path, size_t size, const char *key, const char *value, struct err *e);
/* kubectl prints errors as "error: ..." and exits 1. */
int cli__fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* skiff create -f (cli/apply.c): the exit code. */
int cli__create_files(const struct cli_opts *o);
/* Prints j as YAML or JSON (o->output yaml|json). */
int cli__print_structured(const char *output, const json_t *j);

#endif
