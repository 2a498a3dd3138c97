/* The client half of the skiff command: options shared by every client
 * subcommand, the kubeconfig lookup, HTTPS requests and watch streams, and
 * the small commands (cluster status, token). They talk to any node's api/
 * like kubectl would, with the kubeconfig's CA and bearer token. A CLI runs
 * one request at a time, so libcurl's easy interface is the right tool here
 * (the daemon uses the multi interface); one handle is kept for the whole
 * command so its requests share a kept-alive TLS connection. */
#include "cli/internal.h"

#include "api/api.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli__fail(const char *fmt, ...)
{
    va_list ap;
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* ---- options ---- */

enum {
    OPT_KUBECONFIG = 1000,
    OPT_FROM_LITERAL,
    OPT_FROM_FILE,
    OPT_TTL,
    OPT_DESCRIPTION,
    OPT_FIELD_SELECTOR,
    OPT_NO_HEADERS,
    OPT_SHOW_LABELS,
    OPT_DRY_RUN,
    OPT_FORCE_CONFLICTS,
    OPT_SERVER_SIDE,
    OPT_CASCADE,
    OPT_IGNORE_NOT_FOUND,
    OPT_ALL,
    OPT_REPLICAS,
    OPT_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_TYPE,
    OPT_VALIDATE,
};

static const struct option longs[] = {
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"server", required_argument, NULL, 's'},
    {"namespace", required_argument, NULL, 'n'},
    {"output", required_argument, NULL, 'o'},
    {"selector", required_argument, NULL, 'l'},
    {"field-selector", required_argument, NULL, OPT_FIELD_SELECTOR},
    {"all-namespaces", no_argument, NULL, 'A'},
    {"watch", no_argument, NULL, 'w'},
    {"no-headers", no_argument, NULL, OPT_NO_HEADERS},
    {"show-labels", no_argument, NULL, OPT_SHOW_LABELS},
    {"filename", required_argument, NULL, 'f'},
    {"dry-run", optional_argument, NULL, OPT_DRY_RUN},
    {"force-conflicts", no_argument, NULL, OPT_FORCE_CONFLICTS},
    {"server-side", optional_argument, NULL, OPT_SERVER_SIDE},
    {"validate", optional_argument, NULL, OPT_VALIDATE},
    {"from-literal", required_argument, NULL, OPT_FROM_LITERAL},
    {"from-file", required_argument, NULL, OPT_FROM_FILE},
    {"cascade", optional_argument, NULL, OPT_CASCADE},
    {"ignore-not-found", no_argument, NULL, OPT_IGNORE_NOT_FOUND},
    {"all", no_argument, NULL, OPT_ALL},
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"description", required_argument, NULL, OPT_DESCRIPTION},
    {"type", required_argument, NULL, OPT_TYPE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int add_list(const char **list, size_t *n, size_t max, const char *flag, const char *v)
{
    if (*n == max) {
        fprintf(stderr, "error: at most %zu %s\n", max, flag);
        return 2;
    }
    list[(*n)++] = v;
    return 0;
}

static int set_flag(struct cli_opts *o, int ch, const char *arg)
{
    switch (ch) {
    case OPT_KUBECONFIG:
        o->kubeconfig = arg;
        break;
    case 's':
        o->server = arg;
        break;
    case 'n':
        o->ns = arg;
        break;
    case 'o':
        o->output = arg;
        break;
    case 'l':
        o->selector = arg;
        break;
    case OPT_FIELD_SELECTOR:
        o->field_selector = arg;
        break;
    case 'A':
        o->all_ns = true;
        break;
    case 'w':
        o->watch = true;
        break;
    case OPT_NO_HEADERS:
        o->no_headers = true;
        break;
    case OPT_SHOW_LABELS:
        o->show_labels = true;
        break;
    case 'f':
        return add_list(o->files, &o->n_files, CLI_FILES_MAX, "-f", arg);
    case OPT_DRY_RUN:
        o->dry_run = arg ? arg : "client";
        break;
    case OPT_FORCE_CONFLICTS:
        o->force_conflicts = true;
        break;
    case OPT_SERVER_SIDE:
    case OPT_VALIDATE:
        break; /* server-side apply is the only mode; the server validates */
    case OPT_FROM_LITERAL:
        return add_list(o->literals, &o->n_literals, CLI_LITERALS_MAX, "--from-literal", arg);
    case OPT_FROM_FILE:
        return add_list(o->from_files, &o->n_from_files, CLI_LITERALS_MAX, "--from-file", arg);
    case OPT_CASCADE:
        o->cascade = arg ? arg : "background";
        break;
    case OPT_IGNORE_NOT_FOUND:
        o->ignore_not_found = true;
        break;
    case OPT_ALL:
        o->all = true;
        break;
    case OPT_REPLICAS:
        o->replicas = arg;
        break;
    case OPT_TIMEOUT:
        o->timeout = arg;
        break;
    case OPT_REQUEST_TIMEOUT:
        o->request_timeout = arg;
        break;
    case OPT_TTL:
        o->ttl = arg;
        break;
    case OPT_DESCRIPTION:
        o->description = arg;
        break;
    case OPT_TYPE:
        o->type = arg;
        break;
    default:
        return 2;
    }
    return 0;
}

int cli__parse(int argc, char **argv, struct cli_opts *o, char **pos, size_t *n_pos, size_t max_pos,
               void (*usage)(FILE *))
{
    int ch, rv;
    memset(o, 0, sizeof *o);
    *n_pos = 0;
    optind = 0; /* GNU: full re-initialisation, as each subcommand parses anew */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "-n:o:l:Ahs:wf:", longs, NULL)) != -1) {
        if (ch == 1) { /* positional, in order (the leading '-' in optstring) */
            if (*n_pos == max_pos) {
                fprintf(stderr, "error: unexpected argument %s\n", optarg);
                return 2;
            }
            pos[(*n_pos)++] = optarg;
            continue;
        }
        if (ch == 'h') {
            usage(stdout);
            return -1;
        }
        rv = ch == '?' || ch == ':' ? 2 : set_flag(o, ch, optarg);
        if (rv != 0) {
            fprintf(stderr, "error: unknown or incomplete option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (o->output != NULL && strcmp(o->output, "json") != 0 && strcmp(o->output, "yaml") != 0 &&
        strcmp(o->output, "wide") != 0 && strcmp(o->output, "name") != 0) {
        fprintf(stderr,
                "error: unable to match a printer suitable for the output format \"%s\", "
                "allowed formats are: json,name,wide,yaml\n",
                o->output);
        return 2;
    }
    if (o->dry_run != NULL && strcmp(o->dry_run, "none") == 0)
        o->dry_run = NULL;
    if (o->dry_run != NULL && strcmp(o->dry_run, "server") != 0) {
        fprintf(stderr, "error: --dry-run=%s: only --dry-run=server (or none) is supported\n",
                o->dry_run);
        return 2;
    }
    return 0;
}

/* ---- kubeconfig and client ---- */

static bool readable(const char *path)
{
    return path != NULL && path[0] != '\0' && access(path, R_OK) == 0;
}

/* kubectl's order: --kubeconfig, $KUBECONFIG (the first file of a
 * colon-separated list that exists), ~/.kube/config; then skiff's admin
 * kubeconfig, where 'skiff init' writes it. */
static void kubeconfig_path(const struct cli_opts *o, char *buf, size_t size)
{
    const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
    if (o->kubeconfig != NULL) {
        snprintf(buf, size, "%s", o->kubeconfig);
        return;
    }
    if (env != NULL && env[0] != '\0') {
        const char *p = env;
        while (*p != '\0') {
            size_t n = strcspn(p, ":");
            snprintf(buf, size, "%.*s", (int)n, p);
            if (readable(buf))
                return;
            p += n;
            if (*p == ':')
                p++;
        }
        snprintf(buf, size, "%.*s", (int)strcspn(env, ":"), env);
        return;
    }
    if (home != NULL) {
        snprintf(buf, size, "%s/.kube/config", home);
        if (readable(buf))
            return;
    }
    snprintf(buf, size, "%s", CLI_DEFAULT_KUBECONFIG);
}

/* contexts[name == context].context.namespace, if set. cli_kubeconfig does
 * not keep it, so read the file once more with the manifest reader; any
 * problem just means "no namespace" (the load above already succeeded). */
static void context_namespace(const char *path, const char *context, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    char text[65536];
    size_t n;
    json_t *docs, *ctx;
    struct err e;
    size_t i;
    buf[0] = '\0';
    if (f == NULL)
        return;
    n = fread(text, 1, sizeof text, f);
    fclose(f);
    if (n == sizeof text || cli_yaml_load(path, text, n, &docs, &e) != 0)
        return;
    json_array_foreach (json_object_get(json_array_get(docs, 0), "contexts"), i, ctx) {
        const char *name = json_string_value(json_object_get(ctx, "name"));
        const char *ns =
            json_string_value(json_object_get(json_object_get(ctx, "context"), "namespace"));
        if (name != NULL && context != NULL && strcmp(name, context) == 0 && ns != NULL)
            snprintf(buf, size, "%s", ns);
    }
    json_decref(docs);
}

int cli__client_open(struct cli_client *c, const struct cli_opts *o, struct err *e)
{
    char path[4096];
    const char *srv;
    size_t n;
    int rv;

    memset(c, 0, sizeof *c);
    if (o->request_timeout != NULL && strcmp(o->request_timeout, "0") != 0) {
        long s;
        if (cli_parse_duration(o->request_timeout, &s) != 0)
            return err_setf(e, ERR_INVALID,
                            "--request-timeout: want a duration like 30s or 5m, got \"%s\"",
                            o->request_timeout);
        c->request_timeout_ms = s * 1000;
    }
    kubeconfig_path(o, path, sizeof path);
    rv = cli_kubeconfig_load(path, &c->kc, e);
    if (rv != 0)
        return rv;
    context_namespace(path, c->kc.context, c->ctx_ns, sizeof c->ctx_ns);
    srv = o->server ? o->server : c->kc.server;
    if (strncmp(srv, "https://", 8) == 0)
        snprintf(c->server, sizeof c->server, "%s", srv);
    else
        snprintf(c->server, sizeof c->server, "https://%s", srv);
    n = strlen(c->server);
    if (n > 0 && c->server[n - 1] == '/')
        c->server[n - 1] = '\0';
    c->curl = curl_easy_init();
    if (c->curl == NULL)
        return err_setf(e, ERR_NOMEM, "curl: init failed");
    return 0;
}

void cli__client_close(struct cli_client *c)
{
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
    cli_kubeconfig_close(&c->kc);
}

const char *cli__ns(const struct cli_client *c, const struct cli_opts *o)
{
    if (o->ns != NULL && o->ns[0] != '\0')
        return o->ns;
    return c->ctx_ns[0] != '\0' ? c->ctx_ns : "default";
}

/* ---- requests ---- */

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    struct cli_resp *r = data;
    char *b = realloc(r->body, r->len + size * n + 1);
    if (b == NULL)
        return 0;
    memcpy(b + r->len, p, size * n);
    r->len += size * n;
    b[r->len] = '\0';
    r->body = b;
    return size * n;
}

/* Options every request shares; returns the header list to free. */
static struct curl_slist *setup(struct cli_client *c, CURL *curl, const char *method,
                                const char *path, const char *ctype, const char *accept,
                                char *errbuf)
{
    char url[4096], hdr[1024];
    struct curl_slist *h = NULL;
    snprintf(url, sizeof url, "%s%s", c->server, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (c->kc.ca_pem != NULL) {
        struct curl_blob blob = {c->kc.ca_pem, c->kc.ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (c->kc.cert_pem != NULL && c->kc.key_pem != NULL) {
        struct curl_blob cert = {c->kc.cert_pem, c->kc.cert_len, CURL_BLOB_COPY};
        struct curl_blob key = {c->kc.key_pem, c->kc.key_len, CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    snprintf(hdr, sizeof hdr, "Accept: %s", accept ? accept : "application/json");
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof hdr, "Content-Type: %s", ctype ? ctype : "application/json");
    h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "User-Agent: skiff-cli/0.1.0");
    if (c->kc.token != NULL) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", c->kc.token);
        h = curl_slist_append(h, hdr);
        memset(hdr, 0, sizeof hdr);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    return h;
}

static int transport_error(const struct cli_client *c, CURLcode cc, const char *errbuf,
                           struct err *e)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
        cc == CURLE_OPERATION_TIMEDOUT)
        return err_setf(e, ERR_UNAVAILABLE, "the server %s is unreachable: %s", c->server, why);
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
        cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM)
        return err_setf(e, ERR_DENIED,
                        "TLS with %s failed (is the kubeconfig's CA this cluster's?): %s",
                        c->server, why);
    return err_setf(e, ERR_IO, "request to %s failed: %s", c->server, why);
}

int cli__request(struct cli_client *c, const char *method, const char *path, const char *ctype,
                 const char *accept, const char *body, struct cli_resp *r, struct err *e)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h;
    CURL *curl = c->curl;
    CURLcode cc;
    int rv = 0;

    memset(r, 0, sizeof *r);
    curl_easy_reset(curl); /* keeps the connection cache */
    h = setup(c, curl, method, path, ctype, accept, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     c->request_timeout_ms > 0 ? c->request_timeout_ms : 30000L);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    cc = curl_easy_perform(curl);
    if (cc != CURLE_OK)
        rv = transport_error(c, cc, errbuf, e);
    else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    if (rv != 0)
        cli__resp_free(r);
    return rv;
}

void cli__resp_free(struct cli_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

json_t *cli__resp_json(const struct cli_resp *r)
{
    return r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}

void cli__resp_reason(const struct cli_resp *r, char *buf, size_t size)
{
    json_t *st = cli__resp_json(r);
    const char *reason = json_string_value(json_object_get(st, "reason"));
    snprintf(buf, size, "%s", reason ? reason : "");
    json_decref(st);
}

/* kubectl's wording for server errors. */
void cli__print_server_error(const struct cli_resp *r, const char *context)
{
    json_t *st = cli__resp_json(r);
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *msg = json_string_value(json_object_get(st, "message"));
    const char *sep = context ? ": " : "";
    if (context == NULL)
        context = "";
    if (r->status == 401)
        fprintf(stderr, "error: You must be logged in to the server (Unauthorized)\n");
    else if (msg != NULL && reason != NULL && reason[0] != '\0')
        fprintf(stderr, "Error from server (%s): %s%s%s\n", reason, context, sep, msg);
    else if (msg != NULL)
        fprintf(stderr, "Error from server: %s%s%s\n", context, sep, msg);
    else
        fprintf(stderr, "Error from server: %s%sHTTP %ld: %.200s\n", context, sep, r->status,
                r->body ? r->body : "");
    json_decref(st);
}

int cli__call(struct cli_client *c, const char *method, const char *path, const char *ctype,
              const char *accept, const char *body, json_t **out)
{
    struct cli_resp r;
    struct err e;
    json_error_t je;

    if (cli__request(c, method, path, ctype, accept, body, &r, &e) != 0)
        return cli__fail("%s", e.msg);
    if (r.status < 200 || r.status >= 300) {
        cli__print_server_error(&r, NULL);
        cli__resp_free(&r);
        return 1;
    }
    *out = json_loadb(r.body ? r.body : "", r.len, 0, &je);
    cli__resp_free(&r);
    if (*out == NULL)
        return cli__fail("server answered invalid JSON: %s", je.text);
    return 0;
}

int cli__path_add_query(char *path, size_t size, const char *key, const char *value, struct err *e)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    size_t n = strlen(path);
    int w;
    if (esc == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    w = snprintf(path + n, size - n, "%s%s=%s", strchr(path, '?') ? "&" : "?", key, esc);
    curl_free(esc);
    if (w < 0 || (size_t)w >= size - n)
        return err_setf(e, ERR_INVALID, "%s: request path too long", key);
    return 0;
}

/* ---- watch streams ---- */

struct stream {
    CURL *curl;
    cli_line_cb cb;
    void *data;
    struct cli_resp *r; /* the body of a non-2xx answer */
    char *buf;          /* a partial line */
    size_t len, cap;
    bool stopped, failed;
};

static int stream_lines(struct stream *s)
{
    size_t start = 0, i;
    for (i = 0; i < s->len; i++) {
        if (s->buf[i] != '\n')
            continue;
        if (i > start && s->cb(s->data, s->buf + start, i - start) != 0) {
            s->stopped = true;
            return -1;
        }
        start = i + 1;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    return 0;
}

static size_t on_stream(char *p, size_t size, size_t n, void *data)
{
    struct stream *s = data;
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300)
        return on_body(p, size, n, s->r);
    if (s->len + size * n + 1 > s->cap) {
        size_t cap = (s->len + size * n + 1) * 2;
        char *b = realloc(s->buf, cap);
        if (b == NULL) {
            s->failed = true;
            return 0;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, size * n);
    s->len += size * n;
    if (stream_lines(s) != 0)
        return 0; /* the callback asked to stop: abort the transfer */
    return size * n;
}

/* The request went out (so a timeout is the watch's length, not an
 * unreachable server). */
static bool sent(CURL *curl)
{
    curl_off_t us = 0;
    return curl_easy_getinfo(curl, CURLINFO_PRETRANSFER_TIME_T, &us) == CURLE_OK && us > 0;
}

int cli__stream(struct cli_client *c, const char *path, long timeout_ms, cli_line_cb cb, void *data,
                struct cli_resp *r, bool *stopped, struct err *e)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct stream s;
    struct curl_slist *h;
    CURLcode cc;
    int rv = 0;

    memset(r, 0, sizeof *r);
    memset(&s, 0, sizeof s);
    *stopped = false;
    /* its own handle: the line callback may make requests on c->curl */
    s.curl = curl_easy_init();
    if (s.curl == NULL)
        return err_setf(e, ERR_NOMEM, "curl: init failed");
    s.cb = cb;
    s.data = data;
    s.r = r;
    h = setup(c, s.curl, "GET", path, NULL, NULL, errbuf);
    curl_easy_setopt(s.curl, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(s.curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.curl, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 0L);
    cc = curl_easy_perform(s.curl);
    curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (s.failed)
        rv = err_setf(e, ERR_NOMEM, "watch: out of memory");
    else if (cc == CURLE_WRITE_ERROR && s.stopped)
        rv = 0;
    else if (cc == CURLE_OPERATION_TIMEDOUT && timeout_ms > 0 && sent(s.curl) &&
             (r->status == 0 || (r->status >= 200 && r->status < 300)))
        rv = 0; /* the watch ran for the time asked (headers may come with the first event) */
    else if (cc != CURLE_OK)
        rv = transport_error(c, cc, errbuf, e);
    /* a last line without its newline */
    if (rv == 0 && !s.stopped && s.len > 0 && r->status >= 200 && r->status < 300 &&
        cb(data, s.buf, s.len) != 0)
        s.stopped = true;
    *stopped = s.stopped;
    curl_slist_free_all(h);
    curl_easy_cleanup(s.curl);
    free(s.buf);
    if (rv != 0)
        cli__resp_free(r);
    return rv;
}

int cli__print_structured(const char *output, const json_t *j)
{
    struct err e;
    if (strcmp(output, "yaml") == 0) {
        if (cli_yaml_dump(j, stdout, &e) != 0)
            return cli__fail("%s", e.msg);
        return 0;
    }
    json_dumpf(j, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    return 0;
}

/* ---- skiff cluster status ---- */

static void cluster_usage(FILE *f)
{
    fprintf(f, "usage: skiff cluster status [-o json|yaml] [--kubeconfig FILE] [-s IP:PORT]\n"
               "\n"
               "Shows the Raft members as this node sees them: role, address, whether the\n"
               "leader reaches them, and the leader, term, commit/applied index and store\n"
               "revision.\n");
}

/* Small fixed tables (cluster members, tokens) go through the Table printer
 * too, built here as a meta.k8s.io/v1 Table. */
static void print_rows(const char *const *cols, size_t n_cols, json_t *rows)
{
    struct cli_print_opts po = {0};
    struct cli_tab t;
    struct err e;
    json_t *table = json_pack("{s:[], s:o}", "columnDefinitions", "rows", rows);
    size_t i;
    for (i = 0; table != NULL && i < n_cols; i++)
        json_array_append_new(json_object_get(table, "columnDefinitions"),
                              json_pack("{s:s, s:i}", "name", cols[i], "priority", 0));
    if (table == NULL || cli__tab_init(&t, table, &po, &e) != 0) {
        json_decref(table);
        return;
    }
    if (cli__tab_add(&t, table, &e) == 0)
        cli__tab_print(&t, stdout);
    cli__tab_close(&t);
    json_decref(table);
}

static int cluster_print(const json_t *j)
{
    static const char *const cols[] = {"NAME", "ROLE", "ADDRESS", "REACHABLE", "LEADER"};
    json_t *rows = json_array(), *m;
    size_t i;
    json_array_foreach (json_object_get(j, "members"), i, m) {
        json_array_append_new(
            rows, json_pack("{s:[O?, O?, O?, s, s]}", "cells", json_object_get(m, "name"),
                            json_object_get(m, "role"), json_object_get(m, "address"),
                            json_is_true(json_object_get(m, "reachable")) ? "yes" : "no",
                            json_is_true(json_object_get(m, "leader")) ? "*" : ""));
    }
    print_rows(cols, 5, rows);
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
    return 0;
}

int cli_cluster(int argc, char **argv)
{
    char *pos[1];
    size_t n_pos;
    struct cli_opts o;
    struct cli_client c;
    struct err e;
    json_t *j;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 1, cluster_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos != 1 || strcmp(pos[0], "status") != 0) {
        cluster_usage(stderr);
        return 2;
    }
    if (cli__client_open(&c, &o, &e) != 0) {
        cli__client_close(&c);
        return cli__fail("%s", e.msg);
    }
    rv = cli__call(&c, "GET", "/skiff/v1/cluster/status", NULL, NULL, NULL, &j);
    cli__client_close(&c);
    if (rv != 0)
        return rv;
    if (o.output != NULL && strcmp(o.output, "wide") != 0 && strcmp(o.output, "name") != 0)
        rv = cli__print_structured(o.output, j);
    else
        rv = cluster_print(j);
    json_decref(j);
    return rv;
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
               "common: --kubeconfig FILE, -s/--server IP:PORT\n");
}

static int token_create(struct cli_client *c, const struct cli_opts *o)
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
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL)
        return cli__fail("out of memory");
    rv = cli__call(c, "POST", "/skiff/v1/tokens", NULL, NULL, body, &j);
    free(body);
    if (rv != 0)
        return rv;
    if (o->output != NULL && strcmp(o->output, "wide") != 0 && strcmp(o->output, "name") != 0)
        rv = cli__print_structured(o->output, j);
    else
        printf("%s\n", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    return rv;
}

static int token_list(struct cli_client *c, const struct cli_opts *o)
{
    static const char *const cols[] = {"ID", "EXPIRES", "STATE", "DESCRIPTION"};
    json_t *j, *it, *rows;
    size_t i;
    int rv = cli__call(c, "GET", "/skiff/v1/tokens", NULL, NULL, NULL, &j);
    if (rv != 0)
        return rv;
    if (o->output != NULL && strcmp(o->output, "wide") != 0 && strcmp(o->output, "name") != 0) {
        rv = cli__print_structured(o->output, j);
        json_decref(j);
        return rv;
    }
    rows = json_array();
    json_array_foreach (json_object_get(j, "items"), i, it) {
        const char *state = json_is_true(json_object_get(it, "revoked"))   ? "revoked"
                            : json_is_true(json_object_get(it, "expired")) ? "expired"
                                                                           : "valid";
        json_array_append_new(rows,
                              json_pack("{s:[O?, O?, s, O?]}", "cells", json_object_get(it, "id"),
                                        json_object_get(it, "expires"), state,
                                        json_object_get(it, "description")));
    }
    print_rows(cols, 4, rows);
    json_decref(j);
    return 0;
}

int cli_token(int argc, char **argv)
{
    char *pos[2], path[256];
    size_t n_pos;
    struct cli_opts o;
    struct cli_client c;
    struct err e;
    json_t *j;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 2, token_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (!(n_pos == 1 && (strcmp(pos[0], "create") == 0 || strcmp(pos[0], "list") == 0)) &&
        !(n_pos == 2 && strcmp(pos[0], "revoke") == 0)) {
        token_usage(stderr);
        return 2;
    }
    if (cli__client_open(&c, &o, &e) != 0) {
        cli__client_close(&c);
        return cli__fail("%s", e.msg);
    }
    if (strcmp(pos[0], "create") == 0) {
        rv = token_create(&c, &o);
    } else if (strcmp(pos[0], "list") == 0) {
        rv = token_list(&c, &o);
    } else {
        snprintf(path, sizeof path, "/skiff/v1/tokens/%s", pos[1]);
        rv = cli__call(&c, "DELETE", path, NULL, NULL, NULL, &j);
        if (rv == 0) {
            printf("token %s revoked\n", pos[1]);
            json_decref(j);
        }
    }
    cli__client_close(&c);
    return rv;
}
