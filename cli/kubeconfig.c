/* kubeconfig files in kubectl's format, read and written with libyaml, and
 * JSON printed as YAML for -o yaml. */
#include "cli/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ---- reading ---- */

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    yaml_node_pair_t *p;
    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE)
        return NULL;
    return (const char *)n->data.scalar.value;
}

/* In a list of {name: X, <inner>: {...}}, the inner map of the entry named
 * name (or of the first entry when name is NULL). */
static yaml_node_t *named(yaml_document_t *d, yaml_node_t *root, const char *list,
                          const char *inner, const char *name, const char **found)
{
    yaml_node_t *seq = map_get(d, root, list);
    yaml_node_item_t *it;
    if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *entry = yaml_document_get_node(d, *it);
        const char *n = scalar(map_get(d, entry, "name"));
        if (n != NULL && (name == NULL || strcmp(n, name) == 0)) {
            *found = n;
            return map_get(d, entry, inner);
        }
    }
    return NULL;
}

static int b64_decode(const char *in, char **out, size_t *out_len)
{
    size_t n = strlen(in), i, j = 0;
    char *clean = malloc(n + 1);
    unsigned char *bin;
    int len;
    if (clean == NULL)
        return ERR_NOMEM;
    for (i = 0; i < n; i++) /* tolerate wrapped base64 */
        if (in[i] != '\n' && in[i] != '\r' && in[i] != ' ')
            clean[j++] = in[i];
    clean[j] = '\0';
    if (j == 0 || j % 4 != 0) {
        free(clean);
        return ERR_INVALID;
    }
    bin = malloc(j / 4 * 3 + 1);
    if (bin == NULL) {
        free(clean);
        return ERR_NOMEM;
    }
    len = EVP_DecodeBlock(bin, (unsigned char *)clean, (int)j);
    if (len >= 0) {
        if (clean[j - 1] == '=')
            len--;
        if (clean[j - 2] == '=')
            len--;
    }
    free(clean);
    if (len < 0) {
        free(bin);
        return ERR_INVALID;
    }
    bin[len] = '\0';
    *out = (char *)bin;
    *out_len = (size_t)len;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (f == NULL)
        return err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (n + 4096 + 1 > cap) {
            char *b = realloc(buf, cap = cap ? cap * 2 : 8192);
            if (b == NULL) {
                free(buf);
                fclose(f);
                return err_setf(e, ERR_NOMEM, "%s: out of memory", path);
            }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return err_setf(e, ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* users[].user.<field>-data (base64) or <field> (a file path). */
static int pem_field(yaml_document_t *d, yaml_node_t *user, const char *field, const char *uname,
                     char **out, size_t *len, struct err *e)
{
    char key[64];
    const char *v;
    snprintf(key, sizeof key, "%s-data", field);
    v = scalar(map_get(d, user, key));
    if (v != NULL) {
        if (b64_decode(v, out, len) != 0)
            return err_setf(e, ERR_INVALID, "users[%s].user.%s: not base64", uname, key);
        return 0;
    }
    v = scalar(map_get(d, user, field));
    if (v != NULL && read_file(v, out, len, e) != 0)
        return err_wrapf(e, "users[%s].user.%s", uname, field);
    return 0;
}

static int resolve(yaml_document_t *d, struct cli_kubeconfig *k, struct err *e)
{
    yaml_node_t *root = yaml_document_get_root_node(d), *ctx, *cluster, *user;
    const char *cur = scalar(map_get(d, root, "current-context")), *found = NULL;
    const char *cname, *uname, *v;
    char *ca_file;

    if (root == NULL || root->type != YAML_MAPPING_NODE)
        return err_setf(e, ERR_INVALID, "kubeconfig: not a YAML mapping");
    if (cur != NULL && cur[0] == '\0')
        cur = NULL;
    ctx = named(d, root, "contexts", "context", cur, &found);
    if (ctx == NULL)
        return err_setf(e, ERR_INVALID, "contexts[%s]: not found", cur ? cur : "0");
    k->context = strdup(found);
    cname = scalar(map_get(d, ctx, "cluster"));
    uname = scalar(map_get(d, ctx, "user"));
    if (cname == NULL)
        return err_setf(e, ERR_INVALID, "contexts[%s].context.cluster: required", found);
    cluster = named(d, root, "clusters", "cluster", cname, &found);
    if (cluster == NULL)
        return err_setf(e, ERR_INVALID, "clusters[%s]: not found", cname);
    v = scalar(map_get(d, cluster, "server"));
    if (v == NULL || v[0] == '\0')
        return err_setf(e, ERR_INVALID, "clusters[%s].cluster.server: required", cname);
    k->server = strdup(v);
    v = scalar(map_get(d, cluster, "certificate-authority-data"));
    if (v != NULL) {
        if (b64_decode(v, &k->ca_pem, &k->ca_len) != 0)
            return err_setf(e, ERR_INVALID,
                            "clusters[%s].cluster.certificate-authority-data: not base64", cname);
    } else if ((v = scalar(map_get(d, cluster, "certificate-authority"))) != NULL) {
        int rv = read_file(v, &ca_file, &k->ca_len, e);
        if (rv != 0)
            return err_wrapf(e, "clusters[%s].cluster.certificate-authority", cname);
        k->ca_pem = ca_file;
    }
    if (uname != NULL) {
        user = named(d, root, "users", "user", uname, &found);
        if (user == NULL)
            return err_setf(e, ERR_INVALID, "users[%s]: not found", uname);
        v = scalar(map_get(d, user, "token"));
        if (v != NULL)
            k->token = strdup(v);
        if (pem_field(d, user, "client-certificate", uname, &k->cert_pem, &k->cert_len, e) != 0 ||
            pem_field(d, user, "client-key", uname, &k->key_pem, &k->key_len, e) != 0)
            return e->code;
        if ((k->cert_pem == NULL) != (k->key_pem == NULL))
            return err_setf(e, ERR_INVALID,
                            "users[%s].user: client-certificate and client-key go together", uname);
    }
    return 0;
}

int cli_kubeconfig_parse(const char *yaml, size_t len, struct cli_kubeconfig *out, struct err *e)
{
    yaml_parser_t p;
    yaml_document_t d;
    int rv;

    memset(out, 0, sizeof *out);
    if (!yaml_parser_initialize(&p))
        return err_setf(e, ERR_NOMEM, "kubeconfig: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&p, &d)) {
        rv = err_setf(e, ERR_INVALID, "kubeconfig: line %zu: %s", p.problem_mark.line + 1,
                      p.problem ? p.problem : "invalid YAML");
        yaml_parser_delete(&p);
        return rv;
    }
    rv = resolve(&d, out, e);
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    if (rv == 0 && (out->server == NULL || out->context == NULL))
        rv = err_setf(e, ERR_NOMEM, "kubeconfig: out of memory");
    if (rv != 0)
        cli_kubeconfig_close(out);
    return rv;
}

int cli_kubeconfig_load(const char *path, struct cli_kubeconfig *out, struct err *e)
{
    char *buf;
    size_t len;
    int rv = read_file(path, &buf, &len, e);
    if (rv != 0)
        return err_wrapf(e, "kubeconfig");
    rv = cli_kubeconfig_parse(buf, len, out, e);
    free(buf);
    if (rv != 0)
        err_wrapf(e, "%s", path);
    return rv;
}

void cli_kubeconfig_close(struct cli_kubeconfig *k)
{
    if (k == NULL)
        return;
    free(k->server);
    if (k->ca_pem != NULL)
        memset(k->ca_pem, 0, k->ca_len);
    free(k->ca_pem);
    if (k->token != NULL)
        memset(k->token, 0, strlen(k->token));
    free(k->token);
    free(k->cert_pem);
    if (k->key_pem != NULL)
        OPENSSL_cleanse(k->key_pem, k->key_len);
    free(k->key_pem);
    free(k->context);
    memset(k, 0, sizeof *k);
}

/* ---- writing ---- */

static int add_scalar(yaml_document_t *d, const char *s)
{
    return yaml_document_add_scalar(d, NULL, (yaml_char_t *)s, -1, YAML_ANY_SCALAR_STYLE);
}

static void add_pair(yaml_document_t *d, int map, const char *k, int v)
{
    yaml_document_append_mapping_pair(d, map, add_scalar(d, k), v);
}

/* [{name: name, <inner>: inner_map}] */
static int named_list(yaml_document_t *d, const char *name, const char *inner, int inner_map)
{
    int seq = yaml_document_add_sequence(d, NULL, YAML_BLOCK_SEQUENCE_STYLE);
    int entry = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);
    add_pair(d, entry, "name", add_scalar(d, name));
    add_pair(d, entry, inner, inner_map);
    yaml_document_append_sequence_item(d, seq, entry);
    return seq;
}

static int build_kubeconfig(yaml_document_t *d, const char *server, const char *ca_b64,
                            const char *token, const char *cert_b64, const char *key_b64)
{
    int root, cluster, user, ctx;
    if (!yaml_document_initialize(d, NULL, NULL, NULL, 1, 1))
        return ERR_NOMEM;
    root = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);
    add_pair(d, root, "apiVersion", add_scalar(d, "v1"));
    add_pair(d, root, "kind", add_scalar(d, "Config"));
    cluster = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);
    add_pair(d, cluster, "server", add_scalar(d, server));
    add_pair(d, cluster, "certificate-authority-data", add_scalar(d, ca_b64));
    add_pair(d, root, "clusters", named_list(d, "skiff", "cluster", cluster));
    user = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);
    add_pair(d, user, "token", add_scalar(d, token));
    if (cert_b64 != NULL && key_b64 != NULL) {
        add_pair(d, user, "client-certificate-data", add_scalar(d, cert_b64));
        add_pair(d, user, "client-key-data", add_scalar(d, key_b64));
    }
    add_pair(d, root, "users", named_list(d, "admin", "user", user));
    ctx = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);
    add_pair(d, ctx, "cluster", add_scalar(d, "skiff"));
    add_pair(d, ctx, "user", add_scalar(d, "admin"));
    add_pair(d, root, "contexts", named_list(d, "skiff-admin", "context", ctx));
    add_pair(d, root, "current-context", add_scalar(d, "skiff-admin"));
    return 0;
}

static int emit_document(FILE *f, yaml_document_t *d)
{
    yaml_emitter_t em;
    int ok;
    if (!yaml_emitter_initialize(&em)) {
        yaml_document_delete(d);
        return ERR_NOMEM;
    }
    yaml_emitter_set_output_file(&em, f);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* never fold long base64 lines */
    ok = yaml_emitter_open(&em) && yaml_emitter_dump(&em, d) && yaml_emitter_close(&em);
    /* yaml_emitter_dump deletes the document, successful or not */
    yaml_emitter_delete(&em);
    return ok ? 0 : ERR_IO;
}

static char *b64_encode(const char *s)
{
    size_t n = strlen(s);
    char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    if (b64 != NULL)
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)s, (int)n);
    return b64;
}

int cli_kubeconfig_write(const char *path, const char *server, const char *ca_pem,
                         const char *token, const char *cert_pem, const char *key_pem,
                         struct err *e)
{
    char url[512], tmp[4096];
    size_t n = strlen(ca_pem);
    char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    char *cert_b64, *key_b64;
    yaml_document_t d;
    FILE *f;
    int fd, rv;

    if (b64 == NULL)
        return err_setf(e, ERR_NOMEM, "kubeconfig: out of memory");
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)ca_pem, (int)n);
    if (strncmp(server, "https://", 8) == 0)
        snprintf(url, sizeof url, "%s", server);
    else
        snprintf(url, sizeof url, "https://%s", server);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        free(b64);
        return err_setf(e, ERR_INVALID, "kubeconfig %s: path too long", path);
    }
    cert_b64 = cert_pem ? b64_encode(cert_pem) : NULL;
    key_b64 = key_pem ? b64_encode(key_pem) : NULL;
    rv = (cert_pem && !cert_b64) || (key_pem && !key_b64)
             ? ERR_NOMEM
             : build_kubeconfig(&d, url, b64, token, cert_b64, key_b64);
    free(b64);
    free(cert_b64);
    if (key_b64 != NULL)
        OPENSSL_cleanse(key_b64, strlen(key_b64));
    free(key_b64);
    if (rv != 0)
        return err_setf(e, rv, "kubeconfig: out of memory");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        rv = err_setf(e, ERR_IO, "kubeconfig %s: open: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        yaml_document_delete(&d);
        return rv;
    }
    rv = emit_document(f, &d);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rv = ERR_IO;
    if (fclose(f) != 0)
        rv = ERR_IO;
    if (rv != 0) {
        unlink(tmp);
        return err_setf(e, ERR_IO, "kubeconfig %s: write failed", tmp);
    }
    if (rename(tmp, path) != 0) {
        rv = err_setf(e, ERR_IO, "kubeconfig %s: rename: %s", path, strerror(errno));
        unlink(tmp);
        return rv;
    }
    return 0;
}

/* ---- JSON as YAML ---- */

static int json_node(yaml_document_t *d, const json_t *j)
{
    char buf[64];
    const char *key;
    json_t *v;
    size_t i;
    int n;

    switch (json_typeof(j)) {
    case JSON_OBJECT:
        n = yaml_document_add_mapping(d, NULL, YAML_BLOCK_MAPPING_STYLE);
        json_object_foreach ((json_t *)j, key, v) {
            yaml_document_append_mapping_pair(d, n, add_scalar(d, key), json_node(d, v));
        }
        return n;
    case JSON_ARRAY:
        n = yaml_document_add_sequence(d, NULL, YAML_BLOCK_SEQUENCE_STYLE);
        json_array_foreach (j, i, v) {
            yaml_document_append_sequence_item(d, n, json_node(d, v));
        }
        return n;
    case JSON_STRING: {
        /* strings that would read back as another type get quoted */
        const char *s = json_string_value(j);
        yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
        char *end;
        if (s[0] == '\0' || strcmp(s, "true") == 0 || strcmp(s, "false") == 0 ||
            strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || (strtod(s, &end), *end == '\0'))
            style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
        if (strchr(s, '\n') != NULL)
            style = YAML_LITERAL_SCALAR_STYLE;
        return yaml_document_add_scalar(d, NULL, (yaml_char_t *)s, (int)json_string_length(j),
                                        style);
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return add_scalar(d, buf);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(j));
        return add_scalar(d, buf);
    case JSON_TRUE:
        return add_scalar(d, "true");
    case JSON_FALSE:
        return add_scalar(d, "false");
    default:
        return add_scalar(d, "null");
    }
}

int cli_yaml_print(FILE *f, const json_t *j, struct err *e)
{
    yaml_document_t d;
    if (!yaml_document_initialize(&d, NULL, NULL, NULL, 1, 1))
        return err_setf(e, ERR_NOMEM, "yaml: out of memory");
    json_node(&d, j);
    if (emit_document(f, &d) != 0)
        return err_setf(e, ERR_IO, "yaml: write failed");
    return 0;
}
