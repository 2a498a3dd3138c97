/* Client subcommands: get, cluster status, create/delete configmap. They
 * talk HTTPS to any node's api/ like kubectl would, with the kubeconfig's
 * CA and bearer token. A CLI runs one request at a time, so libcurl's easy
 * interface is the right tool here (the daemon uses the multi interface). */
#include "cli/internal.h"

#include "api/api.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    const char *kubeconfig;
    const char *server;
    const char *ns;
    const char *output; /* NULL (table), json, yaml, wide */
    const char *selector;
    bool all_ns;
    const char *literals[64];
    size_t n_literals;
    const char *ttl;         /* token create */
    const char *description; /* token create */
};

struct client {
    struct cli_kubeconfig kc;
    char server[512]; /* "https://IP:PORT" without trailing slash */
};

struct resp {
    long status;
    char *body;
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    struct resp *r = data;
    char *b = realloc(r->body, r->len + size * n + 1);
    if (b == NULL)
        return 0;
    memcpy(b + r->len, p, size * n);
    r->len += size * n;
    b[r->len] = '\0';
    r->body = b;
    return size * n;
}

static int client_open(struct client *c, const struct opts *o, struct err *e)
{
    const char *path = o->kubeconfig ? o->kubeconfig : getenv("KUBECONFIG");
    const char *srv;
    size_t n;
    int rv;
    if (path == NULL || path[0] == '\0')
        path = CLI_DEFAULT_KUBECONFIG;
    rv = cli_kubeconfig_load(path, &c->kc, e);
    if (rv != 0)
        return rv;
    srv = o->server ? o->server : c->kc.server;
    if (strncmp(srv, "https://", 8) == 0)
        snprintf(c->server, sizeof c->server, "%s", srv);
    else
        snprintf(c->server, sizeof c->server, "https://%s", srv);
    n = strlen(c->server);
    if (n > 0 && c->server[n - 1] == '/')
        c->server[n - 1] = '\0';
    return 0;
}

static void client_close(struct client *c)
{
    cli_kubeconfig_close(&c->kc);
}

/* One request. Transport failures are errors (named for the operator);
 * any HTTP status is a response. */
static int request(struct client *c, const char *method, const char *path, const char *body,
                   struct resp *r, struct err *e)
{
    char url[2048], errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = NULL;
    CURL *curl;
    CURLcode cc;
    int rv = 0;

    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "%s%s", c->server, path);
    curl = curl_easy_init();
    if (curl == NULL)
        return err_setf(e, ERR_NOMEM, "curl: init failed");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (c->kc.ca_pem != NULL) {
        struct curl_blob blob = {c->kc.ca_pem, c->kc.ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
    }
    h = curl_slist_append(h, "Accept: application/json");
    if (body != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    if (c->kc.token != NULL) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->kc.token);
        h = curl_slist_append(h, auth);
        memset(auth, 0, sizeof auth);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    cc = curl_easy_perform(curl);
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
        cc == CURLE_OPERATION_TIMEDOUT)
        rv = err_setf(e, ERR_UNAVAILABLE, "the server %s is unreachable: %s", c->server,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
             cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM)
        rv = err_setf(e, ERR_DENIED,
                      "TLS with %s failed (is the kubeconfig's CA this cluster's?): %s", c->server,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (cc != CURLE_OK)
        rv = err_setf(e, ERR_IO, "request to %s failed: %s", c->server,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    if (rv != 0) {
        free(r->body);
        r->body = NULL;
    }
    return rv;
}

/* kubectl's wording for server errors. */
static void print_server_error(const struct resp *r)
{
    json_t *st = r->body ? json_loads(r->body, 0, NULL) : NULL;
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *msg = json_string_value(json_object_get(st, "message"));
    if (r->status == 401)
        fprintf(stderr, "error: You must be logged in to the server (Unauthorized)\n");
    else if (msg != NULL)
        fprintf(stderr, "Error from server (%s): %s\n", reason ? reason : "Unknown", msg);
    else
        fprintf(stderr, "Error from server: HTTP %ld: %.200s\n", r->status, r->body ? r->body : "");
    json_decref(st);
}

/* Runs a request and parses the JSON answer; prints errors itself.
 * Returns the exit code (0 ok) and *out on success. */
static int call(const struct opts *o, const char *method, const char *path, const char *body,
                json_t **out)
{
    struct client c;
    struct resp r;
    struct err e;
    json_error_t je;
    int rv;

    memset(&c, 0, sizeof c);
    if (client_open(&c, o, &e) != 0) {
        fprintf(stderr, "error: %s\n", e.msg);
        return 1;
    }
    rv = request(&c, method, path, body, &r, &e);
    client_close(&c);
    if (rv != 0) {
        fprintf(stderr, "error: %s\n", e.msg);
        return 1;
    }
    if (r.status < 200 || r.status >= 300) {
        print_server_error(&r);
        free(r.body);
        return 1;
    }
    *out = json_loadb(r.body ? r.body : "", r.len, 0, &je);
    free(r.body);
    if (*out == NULL) {
        fprintf(stderr, "error: server answered invalid JSON: %s\n", je.text);
        return 1;
    }
    return 0;
}

/* ---- options ---- */

enum { OPT_KUBECONFIG = 1000, OPT_SERVER, OPT_FROM_LITERAL, OPT_TTL, OPT_DESCRIPTION };

static int parse_opts(int argc, char **argv, struct opts *o, char **pos, size_t *n_pos,
                      size_t max_pos, void (*usage)(FILE *))
{
    static const struct option longs[] = {
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"server", required_argument, NULL, OPT_SERVER},
        {"namespace", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"selector", required_argument, NULL, 'l'},
        {"all-namespaces", no_argument, NULL, 'A'},
        {"from-literal", required_argument, NULL, OPT_FROM_LITERAL},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"description", required_argument, NULL, OPT_DESCRIPTION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    memset(o, 0, sizeof *o);
    *n_pos = 0;
    optind = 0; /* GNU: full re-initialisation, as each subcommand parses anew */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "-n:o:l:Ah", longs, NULL)) != -1) {
        switch (ch) {
        case 1: /* positional, in order (the leading '-' in optstring) */
            if (*n_pos == max_pos) {
                fprintf(stderr, "error: unexpected argument %s\n", optarg);
                return 2;
            }
            pos[(*n_pos)++] = optarg;
            break;
        case OPT_KUBECONFIG:
            o->kubeconfig = optarg;
            break;
        case OPT_SERVER:
            o->server = optarg;
            break;
        case 'n':
            o->ns = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'l':
            o->selector = optarg;
            break;
        case 'A':
            o->all_ns = true;
            break;
        case OPT_FROM_LITERAL:
            if (o->n_literals == 64) {
                fprintf(stderr, "error: at most 64 --from-literal\n");
                return 2;
            }
            o->literals[o->n_literals++] = optarg;
            break;
        case OPT_TTL:
            o->ttl = optarg;
            break;
        case OPT_DESCRIPTION:
            o->description = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            fprintf(stderr, "error: unknown or incomplete option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (o->output != NULL && strcmp(o->output, "json") != 0 && strcmp(o->output, "yaml") != 0 &&
        strcmp(o->output, "wide") != 0) {
        fprintf(stderr, "error: -o %s: want json, yaml or wide\n", o->output);
        return 2;
    }
    return 0;
}

static const char *ns_of(const struct opts *o)
{
    return o->ns ? o->ns : "default";
}

static int print_structured(const struct opts *o, const json_t *j)
{
    struct err e;
    if (strcmp(o->output, "yaml") == 0) {
        if (cli_yaml_print(stdout, j, &e) != 0) {
            fprintf(stderr, "error: %s\n", e.msg);
            return 1;
        }
        return 0;
    }
    json_dumpf(j, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    return 0;
}

/* ---- tables ---- */

#define COLS_MAX 6

struct table {
    size_t n_cols, n_rows, cap;
    const char *head[COLS_MAX];
    char **cells; /* n_rows * n_cols, owned */
    size_t width[COLS_MAX];
};

static void table_add(struct table *t, const char **vals)
{
    size_t i;
    if (t->n_rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->n_cols * sizeof *c);
        if (c == NULL)
            return;
        t->cells = c;
        t->cap = cap;
    }
    for (i = 0; i < t->n_cols; i++) {
        char *v = strdup(vals[i] ? vals[i] : "<none>");
        size_t n = v ? strlen(v) : 0;
        t->cells[t->n_rows * t->n_cols + i] = v;
        if (n > t->width[i])
            t->width[i] = n;
    }
    t->n_rows++;
}

static void table_print(struct table *t)
{
    size_t r, i;
    for (i = 0; i < t->n_cols; i++)
        if (strlen(t->head[i]) > t->width[i])
            t->width[i] = strlen(t->head[i]);
    for (r = 0; r <= t->n_rows; r++) {
        for (i = 0; i < t->n_cols; i++) {
            const char *v = r == 0 ? t->head[i] : t->cells[(r - 1) * t->n_cols + i];
            if (i + 1 == t->n_cols)
                printf("%s\n", v ? v : "");
            else
                printf("%-*s   ", (int)t->width[i], v ? v : "");
        }
    }
    for (r = 0; r < t->n_rows * t->n_cols; r++)
        free(t->cells[r]);
    free(t->cells);
}

static const char *meta_str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static const char *node_ready(const json_t *node)
{
    json_t *conds = json_object_get(json_object_get(node, "status"), "conditions"), *c;
    size_t i;
    json_array_foreach (conds, i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type != NULL && strcmp(type, "Ready") == 0)
            return json_is_string(json_object_get(c, "status")) &&
                           strcmp(json_string_value(json_object_get(c, "status")), "True") == 0
                       ? "Ready"
                       : "NotReady";
    }
    return "Unknown";
}

static const char *node_ip(const json_t *node)
{
    json_t *addrs = json_object_get(json_object_get(node, "status"), "addresses"), *a;
    size_t i;
    json_array_foreach (addrs, i, a) {
        const char *type = json_string_value(json_object_get(a, "type"));
        if (type != NULL && strcmp(type, "InternalIP") == 0)
            return json_string_value(json_object_get(a, "address"));
    }
    return NULL;
}

static void print_items(const struct opts *o, bool nodes, json_t *items)
{
    struct table t;
    bool wide = o->output != NULL && strcmp(o->output, "wide") == 0;
    json_t *it;
    size_t i;

    memset(&t, 0, sizeof t);
    if (json_array_size(items) == 0) {
        if (nodes)
            fprintf(stderr, "No resources found\n");
        else
            fprintf(stderr, "No resources found in %s namespace.\n", ns_of(o));
        return;
    }
    if (o->all_ns && !nodes)
        t.head[t.n_cols++] = "NAMESPACE";
    t.head[t.n_cols++] = "NAME";
    if (nodes) {
        t.head[t.n_cols++] = "STATUS";
        t.head[t.n_cols++] = "AGE";
        if (wide)
            t.head[t.n_cols++] = "INTERNAL-IP";
    } else {
        t.head[t.n_cols++] = "DATA";
        t.head[t.n_cols++] = "AGE";
    }
    json_array_foreach (items, i, it) {
        const char *vals[COLS_MAX];
        char agebuf[32], data[24];
        size_t k = 0;
        api_age_format(meta_str(it, "creationTimestamp"), agebuf, sizeof agebuf);
        if (o->all_ns && !nodes)
            vals[k++] = meta_str(it, "namespace");
        vals[k++] = meta_str(it, "name");
        if (nodes) {
            vals[k++] = node_ready(it);
            vals[k++] = agebuf;
            if (wide)
                vals[k++] = node_ip(it);
        } else {
            snprintf(data, sizeof data, "%zu",
                     json_object_size(json_object_get(it, "data")) +
                         json_object_size(json_object_get(it, "binaryData")));
            vals[k++] = data;
            vals[k++] = agebuf;
        }
        table_add(&t, vals);
    }
    table_print(&t);
}

/* ---- skiff get ---- */

static void get_usage(FILE *f)
{
    fprintf(f, "usage: skiff get nodes|configmaps [NAME] [options]\n"
               "\n"
               "options:\n"
               "  -n, --namespace NS      namespace (configmaps; default \"default\")\n"
               "  -A, --all-namespaces    list configmaps of every namespace\n"
               "  -l, --selector SEL      label selector (k=v, k!=v, k, !k, k in (a,b))\n"
               "  -o, --output FMT        json, yaml or wide\n"
               "      --kubeconfig FILE   default $KUBECONFIG, then " CLI_DEFAULT_KUBECONFIG "\n"
               "      --server IP:PORT    talk to this node instead of the kubeconfig's\n");
}

static bool is_nodes(const char *s)
{
    return strcmp(s, "nodes") == 0 || strcmp(s, "node") == 0 || strcmp(s, "no") == 0;
}

static bool is_configmaps(const char *s)
{
    return strcmp(s, "configmaps") == 0 || strcmp(s, "configmap") == 0 || strcmp(s, "cm") == 0;
}

int cli_get(int argc, char **argv)
{
    char *pos[2], path[1024];
    size_t n_pos;
    struct opts o;
    json_t *j;
    bool nodes;
    int rv = parse_opts(argc, argv, &o, pos, &n_pos, 2, get_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos == 0) {
        get_usage(stderr);
        return 2;
    }
    nodes = is_nodes(pos[0]);
    if (!nodes && !is_configmaps(pos[0])) {
        fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", pos[0]);
        return 1;
    }
    if (nodes)
        snprintf(path, sizeof path, "/api/v1/nodes%s%s", n_pos > 1 ? "/" : "",
                 n_pos > 1 ? pos[1] : "");
    else if (o.all_ns && n_pos == 1)
        snprintf(path, sizeof path, "/api/v1/configmaps");
    else
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps%s%s", ns_of(&o),
                 n_pos > 1 ? "/" : "", n_pos > 1 ? pos[1] : "");
    if (o.selector != NULL && n_pos == 1) {
        char *esc = curl_easy_escape(NULL, o.selector, 0);
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "?labelSelector=%s", esc ? esc : "");
        curl_free(esc);
    }
    rv = call(&o, "GET", path, NULL, &j);
    if (rv != 0)
        return rv;
    if (o.output != NULL && strcmp(o.output, "wide") != 0) {
        rv = print_structured(&o, j);
    } else if (n_pos > 1) {
        json_t *items = json_array();
        json_array_append(items, j);
        print_items(&o, nodes, items);
        json_decref(items);
    } else {
        print_items(&o, nodes, json_object_get(j, "items"));
    }
    json_decref(j);
    return rv;
}

/* ---- skiff cluster status ---- */

static void cluster_usage(FILE *f)
{
    fprintf(f, "usage: skiff cluster status [-o json] [--kubeconfig FILE] [--server IP:PORT]\n"
               "\n"
               "Shows the Raft members as this node sees them: role, address, whether the\n"
               "leader reaches them, and the leader, term, commit/applied index and store\n"
               "revision.\n");
}

int cli_cluster(int argc, char **argv)
{
    char *pos[1];
    size_t n_pos, i;
    struct opts o;
    struct table t;
    json_t *j, *m;
    int rv = parse_opts(argc, argv, &o, pos, &n_pos, 1, cluster_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos != 1 || strcmp(pos[0], "status") != 0) {
        cluster_usage(stderr);
        return 2;
    }
    rv = call(&o, "GET", "/skiff/v1/cluster/status", NULL, &j);
    if (rv != 0)
        return rv;
    if (o.output != NULL && strcmp(o.output, "wide") != 0) {
        rv = print_structured(&o, j);
        json_decref(j);
        return rv;
    }
    memset(&t, 0, sizeof t);
    t.n_cols = 5;
    t.head[0] = "NAME";
    t.head[1] = "ROLE";
    t.head[2] = "ADDRESS";
    t.head[3] = "REACHABLE";
    t.head[4] = "LEADER";
    json_array_foreach (json_object_get(j, "members"), i, m) {
        const char *vals[5] = {
            json_string_value(json_object_get(m, "name")),
            json_string_value(json_object_get(m, "role")),
            json_string_value(json_object_get(m, "address")),
            json_is_true(json_object_get(m, "reachable")) ? "yes" : "no",
            json_is_true(json_object_get(m, "leader")) ? "*" : "",
        };
        table_add(&t, vals);
    }
    table_print(&t);
    printf("\nleader:   %s\n", json_string_length(json_object_get(j, "leader")) > 0
                                   ? json_string_value(json_object_get(j, "leader"))
                                   : "<none>");
    printf("term:     %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(j, "term")));
    printf("commit:   %" JSON_INTEGER_FORMAT "\n",
           json_integer_value(json_object_get(j, "commitIndex")));
    printf("applied:  %" JSON_INTEGER_FORMAT "\n",
           json_integer_value(json_object_get(j, "appliedIndex")));
    printf("revision: %" JSON_INTEGER_FORMAT "\n",
           json_integer_value(json_object_get(j, "revision")));
    json_decref(j);
    return 0;
}

/* ---- skiff create / delete configmap ---- */

static void create_usage(FILE *f)
{
    fprintf(f, "usage: skiff create configmap NAME [--from-literal KEY=VALUE ...] [-n NS]\n"
               "                    [--kubeconfig FILE] [--server IP:PORT] [-o json|yaml]\n");
}

int cli_create(int argc, char **argv)
{
    char *pos[2], path[1024], *body;
    size_t n_pos, i;
    struct opts o;
    json_t *obj, *data, *j;
    int rv = parse_opts(argc, argv, &o, pos, &n_pos, 2, create_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos != 2 || !is_configmaps(pos[0])) {
        create_usage(stderr);
        return 2;
    }
    data = json_object();
    for (i = 0; i < o.n_literals; i++) {
        const char *eq = strchr(o.literals[i], '=');
        char key[256];
        if (eq == NULL || eq == o.literals[i] || (size_t)(eq - o.literals[i]) >= sizeof key) {
            fprintf(stderr, "error: --from-literal %s: want KEY=VALUE\n", o.literals[i]);
            json_decref(data);
            return 2;
        }
        memcpy(key, o.literals[i], (size_t)(eq - o.literals[i]));
        key[eq - o.literals[i]] = '\0';
        json_object_set_new(data, key, json_string(eq + 1));
    }
    obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "v1", "kind", "ConfigMap",
                    "metadata", "name", pos[1], "namespace", ns_of(&o), "data", data);
    body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (body == NULL) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps", ns_of(&o));
    rv = call(&o, "POST", path, body, &j);
    free(body);
    if (rv != 0)
        return rv;
    if (o.output != NULL && strcmp(o.output, "wide") != 0)
        rv = print_structured(&o, j);
    else
        printf("configmap/%s created\n", meta_str(j, "name") ? meta_str(j, "name") : pos[1]);
    json_decref(j);
    return rv;
}

static void delete_usage(FILE *f)
{
    fprintf(f, "usage: skiff delete configmap NAME [-n NS] [--kubeconfig FILE] [--server "
               "IP:PORT]\n");
}

int cli_delete(int argc, char **argv)
{
    char *pos[2], path[1024];
    size_t n_pos;
    struct opts o;
    json_t *j;
    int rv = parse_opts(argc, argv, &o, pos, &n_pos, 2, delete_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos != 2 || !is_configmaps(pos[0])) {
        delete_usage(stderr);
        return 2;
    }
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps/%s", ns_of(&o), pos[1]);
    rv = call(&o, "DELETE", path, NULL, &j);
    if (rv != 0)
        return rv;
    printf("configmap \"%s\" deleted\n", pos[1]);
    json_decref(j);
    return 0;
}

/* ---- skiff token ---- */

static void token_usage(FILE *f)
{
    fprintf(f, "usage: skiff token create [--ttl DURATION] [--description TEXT] [-o json]\n"
               "       skiff token list [-o json]\n"
               "       skiff token revoke ID\n"
               "Join tokens (SKF1.<CA hash>.<secret>) let new machines join with 'skiff join'.\n"
               "The secret is shown once, at creation; list shows ids, expiry and state.\n"
               "  --ttl DURATION   lifetime, e.g. 30m, 24h, 7d (default 24h)\n"
               "common: --kubeconfig FILE, --server IP:PORT\n");
}

static int token_create(const struct opts *o)
{
    long ttl = 24 * 3600;
    json_t *req, *j;
    char *body;
    int rv;
    if (o->ttl != NULL && cli_parse_duration(o->ttl, &ttl) != 0) {
        fprintf(stderr, "error: --ttl: want a duration like 24h or 30m, got \"%s\"\n", o->ttl);
        return 2;
    }
    req = json_pack("{s:I, s:s}", "ttlSeconds", (json_int_t)ttl, "description",
                    o->description ? o->description : "");
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    rv = call(o, "POST", "/skiff/v1/tokens", body, &j);
    free(body);
    if (rv != 0)
        return rv;
    if (o->output != NULL)
        rv = print_structured(o, j);
    else
        printf("%s\n", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    return rv;
}

static int token_list(const struct opts *o)
{
    json_t *j, *it;
    size_t i;
    struct table t;
    int rv = call(o, "GET", "/skiff/v1/tokens", NULL, &j);
    if (rv != 0)
        return rv;
    if (o->output != NULL) {
        rv = print_structured(o, j);
        json_decref(j);
        return rv;
    }
    memset(&t, 0, sizeof t);
    t.n_cols = 4;
    t.head[0] = "ID";
    t.head[1] = "EXPIRES";
    t.head[2] = "STATE";
    t.head[3] = "DESCRIPTION";
    json_array_foreach (json_object_get(j, "items"), i, it) {
        const char *state = json_is_true(json_object_get(it, "revoked"))   ? "revoked"
                            : json_is_true(json_object_get(it, "expired")) ? "expired"
                                                                           : "valid";
        const char *row[] = {json_string_value(json_object_get(it, "id")),
                             json_string_value(json_object_get(it, "expires")), state,
                             json_string_value(json_object_get(it, "description"))};
        table_add(&t, row);
    }
    table_print(&t);
    json_decref(j);
    return 0;
}

int cli_token(int argc, char **argv)
{
    char *pos[2], path[256];
    size_t n_pos;
    struct opts o;
    json_t *j;
    int rv = parse_opts(argc, argv, &o, pos, &n_pos, 2, token_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos == 1 && strcmp(pos[0], "create") == 0)
        return token_create(&o);
    if (n_pos == 1 && strcmp(pos[0], "list") == 0)
        return token_list(&o);
    if (n_pos == 2 && strcmp(pos[0], "revoke") == 0) {
        snprintf(path, sizeof path, "/skiff/v1/tokens/%s", pos[1]);
        rv = call(&o, "DELETE", path, NULL, &j);
        if (rv != 0)
            return rv;
        printf("token %s revoked\n", pos[1]);
        json_decref(j);
        return 0;
    }
    token_usage(stderr);
    return 2;
}
