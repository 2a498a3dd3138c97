/* skiff create: from manifests (-f, see cli/apply.c) or kubectl's
 * generators for the objects people make by hand: configmap, namespace,
 * secret generic. */
#include "cli/internal.h"

#include "api/api.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define FROM_FILE_MAX_BYTES (1u << 20) /* the apiserver's limit on a ConfigMap/Secret */

static void create_usage(FILE *f)
{
    fprintf(f, "usage: skiff create -f FILE|DIR|- [-f ...] [-n NS] [--dry-run=server] [-o FMT]\n"
               "       skiff create configmap NAME [--from-literal K=V ...] "
               "[--from-file [KEY=]PATH ...]\n"
               "       skiff create secret generic NAME [--from-literal K=V ...] "
               "[--from-file [KEY=]PATH ...] [--type T]\n"
               "       skiff create namespace NAME\n"
               "\n"
               "options:\n"
               "  -f, --filename PATH       create every object of the manifests; repeatable\n"
               "  -n, --namespace NS        namespace (default: the context's, or \"default\")\n"
               "      --from-literal K=V    a data entry; repeatable\n"
               "      --from-file [K=]PATH  a data entry from a file (key: the file name)\n"
               "      --type T              secret type (default Opaque)\n"
               "      --dry-run=server      let the server check and answer, store nothing\n"
               "  -o, --output FMT          json, yaml or name instead of \"... created\"\n"
               "      --kubeconfig FILE     default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT      talk to this node instead of the kubeconfig's\n");
}

static char *b64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out != NULL)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static int read_small_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    if (f == NULL)
        return cli__fail("--from-file %s: %s", path, strerror(errno));
    buf = malloc(FROM_FILE_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return cli__fail("out of memory");
    }
    n = fread(buf, 1, FROM_FILE_MAX_BYTES + 1, f);
    fclose(f);
    if (n > FROM_FILE_MAX_BYTES) {
        free(buf);
        return cli__fail("--from-file %s: larger than 1 MiB", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* --from-literal and --from-file into data (strings; base64 for secrets)
 * and, for configmaps, binaryData for files that are not UTF-8. */
static int fill_data(const struct cli_opts *o, bool secret, json_t *data, json_t *binary)
{
    size_t i;
    for (i = 0; i < o->n_literals; i++) {
        const char *lit = o->literals[i], *eq = strchr(lit, '=');
        char key[254], *enc;
        if (eq == NULL || eq == lit || (size_t)(eq - lit) >= sizeof key)
            return cli__fail("invalid literal source %s, expected key=value", lit);
        snprintf(key, sizeof key, "%.*s", (int)(eq - lit), lit);
        if (json_object_get(data, key) != NULL)
            return cli__fail("cannot add key %s, another key by that name already exists", key);
        enc = secret ? b64(eq + 1, strlen(eq + 1)) : NULL;
        json_object_set_new(data, key, json_string(secret ? (enc ? enc : "") : eq + 1));
        free(enc);
    }
    for (i = 0; i < o->n_from_files; i++) {
        const char *src = o->from_files[i], *eq = strchr(src, '='), *path = eq ? eq + 1 : src;
        const char *base = strrchr(path, '/');
        char key[254], *text = NULL, *enc;
        size_t len = 0;
        json_t *s;
        snprintf(key, sizeof key, "%.*s",
                 eq ? (int)(eq - src) : (int)strlen(base ? base + 1 : path),
                 eq     ? src
                 : base ? base + 1
                        : path);
        if (key[0] == '\0')
            return cli__fail("--from-file %s: no key name", src);
        if (read_small_file(path, &text, &len) != 0)
            return 1;
        if (secret) {
            enc = b64(text, len);
            json_object_set_new(data, key, json_string(enc ? enc : ""));
            free(enc);
        } else if ((s = json_stringn(text, len)) != NULL) {
            json_object_set_new(data, key, s);
        } else { /* not UTF-8: binaryData, as kubectl does */
            enc = b64(text, len);
            json_object_set_new(binary, key, json_string(enc ? enc : ""));
            free(enc);
        }
        free(text);
    }
    return 0;
}

static json_t *build(const struct cli_opts *o, const char *what, const char *name, const char *ns)
{
    json_t *obj = NULL, *data = json_object(), *binary = json_object();
    if (data == NULL || binary == NULL)
        goto out;
    if (strcmp(what, "namespace") == 0) {
        obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                        "name", name);
    } else if (strcmp(what, "configmap") == 0) {
        if (fill_data(o, false, data, binary) != 0)
            goto out;
        obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "v1", "kind", "ConfigMap",
                        "metadata", "name", name, "namespace", ns, "data", data);
        if (obj != NULL && json_object_size(binary) > 0)
            json_object_set(obj, "binaryData", binary);
    } else {
        if (fill_data(o, true, data, binary) != 0)
            goto out;
        obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:O}", "apiVersion", "v1", "kind", "Secret",
                        "metadata", "name", name, "namespace", ns, "type",
                        o->type ? o->type : "Opaque", "data", data);
    }
out:
    json_decref(data);
    json_decref(binary);
    return obj;
}

static int create_generated(const struct cli_opts *o, const char *what, const char *name)
{
    const struct api_kind *k = api_kind_lookup(what);
    struct cli_client c;
    struct err e;
    char path[1024], ref[300];
    json_t *obj, *got;
    char *body;
    int rv;
    if (cli__client_open(&c, o, &e) != 0) {
        cli__client_close(&c);
        return cli__fail("%s", e.msg);
    }
    obj = build(o, what, name, cli__ns(&c, o));
    body = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    rv = body == NULL ? 1 : api_kind_path(k, cli__ns(&c, o), NULL, path, sizeof path, &e);
    if (rv == 0 && o->dry_run)
        rv = cli__path_add_query(path, sizeof path, "dryRun", "All", &e);
    if (rv == 0)
        rv = cli__call(&c, "POST", path, NULL, NULL, body, &got);
    else if (body != NULL)
        rv = cli__fail("%s", e.msg);
    free(body);
    cli__client_close(&c);
    if (rv != 0)
        return 1;
    cli__kind_name(k, name, ref, sizeof ref);
    if (o->output != NULL && (strcmp(o->output, "json") == 0 || strcmp(o->output, "yaml") == 0))
        rv = cli__print_structured(o->output, got);
    else if (o->output != NULL && strcmp(o->output, "name") == 0)
        printf("%s\n", ref);
    else
        printf("%s created%s\n", ref, o->dry_run ? " (server dry run)" : "");
    json_decref(got);
    return rv;
}

int cli_create(int argc, char **argv)
{
    char *pos[4];
    size_t n_pos;
    struct cli_opts o;
    const char *what;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 4, create_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (o.n_files > 0) {
        if (n_pos > 0) {
            fprintf(stderr, "error: -f and a generator (%s) do not mix\n", pos[0]);
            return 2;
        }
        return cli__create_files(&o);
    }
    if (n_pos == 0) {
        create_usage(stderr);
        return 2;
    }
    what = pos[0];
    if (strcmp(what, "cm") == 0 || strcmp(what, "configmaps") == 0)
        what = "configmap";
    if (strcmp(what, "ns") == 0 || strcmp(what, "namespaces") == 0)
        what = "namespace";
    if (strcmp(what, "secrets") == 0)
        what = "secret";
    if ((strcmp(what, "configmap") == 0 || strcmp(what, "namespace") == 0) && n_pos == 2)
        return create_generated(&o, what, pos[1]);
    if (strcmp(what, "secret") == 0 && n_pos == 3 && strcmp(pos[1], "generic") == 0)
        return create_generated(&o, what, pos[2]);
    if (strcmp(what, "secret") == 0 && n_pos >= 2 && strcmp(pos[1], "generic") != 0) {
        fprintf(stderr, "error: skiff create secret %s: only 'generic' is supported\n", pos[1]);
        return 2;
    }
    create_usage(stderr);
    return 2;
}
