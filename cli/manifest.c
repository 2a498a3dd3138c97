/* Objects from manifests (skiff apply/create/delete -f): files, directories
 * and stdin, YAML or JSON, v1 Lists expanded, each object checked against
 * the kind table before anything is sent, and kubectl's namespace rules. */
#include "cli/internal.h"

#include "api/api.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct cli_obj *objs_push(struct cli_objs *o)
{
    struct cli_obj *ob;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        struct cli_obj *v = realloc(o->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        o->v = v;
        o->cap = cap;
    }
    ob = &o->v[o->n++];
    memset(ob, 0, sizeof *ob);
    return ob;
}

void cli__objs_free(struct cli_objs *o)
{
    size_t i;
    if (o == NULL)
        return;
    for (i = 0; i < o->n; i++)
        json_decref(o->v[i].obj);
    free(o->v);
    memset(o, 0, sizeof *o);
}

/* Checks one object and appends it (or why it cannot be used). label is
 * "FILE: document 2" or "FILE: document 2: items[0]". */
static int add_object(struct cli_objs *o, json_t *obj, const char *label, const char *where,
                      struct err *e)
{
    struct cli_obj *ob = objs_push(o);
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *gen = json_string_value(json_object_get(meta, "generateName"));

    if (ob == NULL)
        return err_setf(e, ERR_NOMEM, "manifest: out of memory");
    snprintf(ob->where, sizeof ob->where, "%s", where);
    if (!json_is_object(obj))
        snprintf(ob->error, sizeof ob->error, "%s: not an object", label);
    else if (av == NULL || av[0] == '\0')
        snprintf(ob->error, sizeof ob->error, "%s: apiVersion not set", label);
    else if (kind == NULL || kind[0] == '\0')
        snprintf(ob->error, sizeof ob->error, "%s: kind not set", label);
    else if ((ob->kind = api_kind_by_kind(av, kind)) == NULL)
        snprintf(ob->error, sizeof ob->error, "%s: unknown kind \"%.64s\" in apiVersion \"%.64s\"",
                 label, kind, av);
    else if (!json_is_object(meta))
        snprintf(ob->error, sizeof ob->error, "%s: metadata: required", label);
    else if ((name == NULL || name[0] == '\0') && (gen == NULL || gen[0] == '\0'))
        snprintf(ob->error, sizeof ob->error, "%s: metadata.name: required", label);
    if (ob->error[0] != '\0') {
        ob->kind = NULL;
        return 0;
    }
    ob->obj = json_incref(obj);
    return 0;
}

int cli__objs_add_docs(struct cli_objs *o, const char *file, const json_t *docs,
                       const json_t *lines, struct err *e)
{
    json_t *doc, *items, *it;
    size_t d, i;
    char label[256], where[192], ilabel[280], iwhere[192];
    int rv;

    json_array_foreach (docs, d, doc) {
        long long line = json_integer_value(json_array_get(lines, d));
        snprintf(label, sizeof label, "%s: document %zu", file, d + 1);
        if (line > 0)
            snprintf(where, sizeof where, "%s (document %zu, line %lld)", file, d + 1, line);
        else
            snprintf(where, sizeof where, "%s (document %zu)", file, d + 1);
        /* kubectl accepts v1 List (and any *List with items) as a bag of objects */
        items = json_object_get(doc, "items");
        if (json_is_array(items) && json_is_string(json_object_get(doc, "kind")) &&
            json_string_length(json_object_get(doc, "kind")) >= 4 &&
            strcmp(json_string_value(json_object_get(doc, "kind")) +
                       json_string_length(json_object_get(doc, "kind")) - 4,
                   "List") == 0) {
            json_array_foreach (items, i, it) {
                snprintf(ilabel, sizeof ilabel, "%s: items[%zu]", label, i);
                snprintf(iwhere, sizeof iwhere, "%.150s, item %zu", where, i);
                if ((rv = add_object(o, it, ilabel, iwhere, e)) != 0)
                    return rv;
            }
            continue;
        }
        if ((rv = add_object(o, doc, label, where, e)) != 0)
            return rv;
    }
    return 0;
}

static int read_stream(FILE *f, const char *name, char **out, size_t *len, struct err *e)
{
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 1 >= cap) {
            char *b = realloc(buf, cap = cap ? cap * 2 : 16384);
            if (b == NULL) {
                free(buf);
                return err_setf(e, ERR_NOMEM, "%s: out of memory", name);
            }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        free(buf);
        return err_setf(e, ERR_IO, "%s: read failed", name);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int read_one(struct cli_objs *o, const char *path, FILE *f, struct err *e)
{
    json_t *docs, *lines;
    char *text = NULL;
    size_t len = 0;
    int rv = read_stream(f, path, &text, &len, e);
    if (rv != 0)
        return rv;
    rv = cli_yaml_load_lines(path, text, len, &docs, &lines, e);
    free(text);
    if (rv != 0)
        return rv;
    rv = cli__objs_add_docs(o, path, docs, lines, e);
    json_decref(docs);
    json_decref(lines);
    return rv;
}

static int is_manifest_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    if (d->d_name[0] == '.')
        return 0;
    return (n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(d->d_name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(d->d_name + n - 5, ".json") == 0);
}

static int read_dir(struct cli_objs *o, const char *dir, struct err *e)
{
    struct dirent **names;
    int n = scandir(dir, &names, is_manifest_name, alphasort), i, rv = 0;
    if (n < 0)
        return err_setf(e, ERR_IO, "%s: %s", dir, strerror(errno));
    for (i = 0; i < n; i++) {
        char path[4096];
        FILE *f;
        if (rv == 0) {
            snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                     names[i]->d_name);
            f = fopen(path, "rb");
            if (f == NULL) {
                rv = err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
            } else {
                rv = read_one(o, path, f, e);
                fclose(f);
            }
        }
        free(names[i]);
    }
    free(names);
    return rv;
}

int cli__objs_read(struct cli_objs *o, const char *path, struct err *e)
{
    struct stat st;
    FILE *f;
    int rv;
    if (strcmp(path, "-") == 0)
        return read_one(o, "STDIN", stdin, e);
    if (stat(path, &st) != 0)
        return err_setf(e, ERR_IO, "the path \"%s\" does not exist", path);
    if (S_ISDIR(st.st_mode))
        return read_dir(o, path, e);
    f = fopen(path, "rb");
    if (f == NULL)
        return err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
    rv = read_one(o, path, f, e);
    fclose(f);
    return rv;
}

int cli__object_namespace(const struct api_kind *k, const json_t *obj, const char *flag_ns,
                          const char *ctx_ns, char *buf, size_t size, struct err *e)
{
    const char *mns =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    const char *ns;
    if (!k->namespaced) {
        buf[0] = '\0';
        return 0;
    }
    if (mns != NULL && mns[0] == '\0')
        mns = NULL;
    if (flag_ns != NULL && flag_ns[0] == '\0')
        flag_ns = NULL;
    if (ctx_ns != NULL && ctx_ns[0] == '\0')
        ctx_ns = NULL;
    if (flag_ns != NULL && mns != NULL && strcmp(flag_ns, mns) != 0)
        return err_setf(e, ERR_INVALID,
                        "the namespace from the provided object \"%.63s\" does not match the "
                        "namespace \"%.63s\". You must pass '--namespace=%.63s' to perform this "
                        "operation.",
                        mns, flag_ns, mns);
    ns = flag_ns ? flag_ns : mns ? mns : ctx_ns ? ctx_ns : "default";
    if ((size_t)snprintf(buf, size, "%s", ns) >= size)
        return err_setf(e, ERR_INVALID, "namespace \"%.63s...\": too long", ns);
    return 0;
}
