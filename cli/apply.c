/* skiff apply -f, create -f and delete: manifests sent object by object.
 * apply is server-side apply only (PATCH application/apply-patch+yaml with
 * fieldManager=skiff): the server merges, owns the field bookkeeping and
 * reports conflicts, so there is no last-applied annotation to keep. A bad
 * object is reported and skipped; the command goes on with the next one
 * and exits 1 at the end, as kubectl does. */
#include "cli/internal.h"

#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#define APPLY_CTYPE "application/apply-patch+yaml"

/* The objects of every -f, read before anything is sent: a YAML error in
 * the third file must not leave the first two half applied. */
static int load_files(const struct cli_opts *o, struct cli_objs *objs)
{
    struct err e;
    size_t i;
    memset(objs, 0, sizeof *objs);
    if (o->n_files == 0)
        return cli__fail("must specify one of -f and -k");
    for (i = 0; i < o->n_files; i++) {
        if (cli__objs_read(objs, o->files[i], &e) != 0) {
            cli__objs_free(objs);
            return cli__fail("%s", e.msg);
        }
    }
    if (objs->n == 0) {
        cli__objs_free(objs);
        return cli__fail("no objects passed to %s", "the command");
    }
    return 0;
}

/* Where one object goes: its namespace (set into the object, so the body
 * and the URL agree) and the object or collection path. 0, or 1 after
 * printing why not. */
static int target(const struct cli_client *c, const struct cli_opts *o, struct cli_obj *ob,
                  bool need_name, char *path, size_t size, const char **name)
{
    char ns[256];
    struct err e;
    json_t *meta;
    if (ob->error[0] != '\0')
        return cli__fail("%s", ob->error);
    meta = json_object_get(ob->obj, "metadata");
    *name = json_string_value(json_object_get(meta, "name"));
    if (*name != NULL && (*name)[0] == '\0')
        *name = NULL;
    if (need_name && *name == NULL)
        return cli__fail("%s: metadata.name: required (generateName works with create only)",
                         ob->where);
    if (cli__object_namespace(ob->kind, ob->obj, o->ns, c->ctx_ns, ns, sizeof ns, &e) != 0)
        return cli__fail("%s", e.msg);
    if (ns[0] != '\0')
        json_object_set_new(meta, "namespace", json_string(ns));
    if (api_kind_path(ob->kind, ns[0] ? ns : NULL, need_name ? *name : NULL, path, size, &e) != 0)
        return cli__fail("%s: %s", ob->where, e.msg);
    return 0;
}

/* What an apply may change: the object without status and without the
 * metadata the server and controllers keep moving (resourceVersion,
 * managedFields, generation). Comparing these, not resourceVersions, keeps
 * a controller's status write between our GET and PATCH from reading as
 * "configured". New reference. */
static json_t *user_view(const json_t *obj)
{
    json_t *v = json_deep_copy(obj), *meta = json_object_get(v, "metadata");
    json_object_del(v, "status");
    json_object_del(meta, "resourceVersion");
    json_object_del(meta, "managedFields");
    json_object_del(meta, "generation");
    return v;
}

/* ---- apply ---- */

static void apply_usage(FILE *f)
{
    fprintf(f, "usage: skiff apply -f FILE|DIR|- [-f ...] [options]\n"
               "\n"
               "Creates or updates every object of the manifests (YAML or JSON, '---' separated,\n"
               "v1 Lists expanded; a DIR means its *.yaml, *.yml and *.json files) with\n"
               "server-side apply (field manager \"skiff\"), the only mode.\n"
               "\n"
               "options:\n"
               "  -f, --filename PATH       a file, a directory or - (stdin); repeatable\n"
               "  -n, --namespace NS        for objects without metadata.namespace\n"
               "      --dry-run=server      let the server check and answer, store nothing\n"
               "      --force-conflicts     take fields other managers own\n"
               "      --server-side         accepted (always on)\n"
               "      --kubeconfig FILE     default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT      talk to this node instead of the kubeconfig's\n"
               "      --request-timeout D   per request (default 30s)\n");
}

static int apply_one(struct cli_client *c, const struct cli_opts *o, struct cli_obj *ob)
{
    char path[2048], ref[256], before[300];
    json_t *prev = NULL;
    const char *name, *verb;
    struct cli_resp r;
    struct err e;
    json_t *got;
    char *body;
    bool existed;
    int rv = target(c, o, ob, true, path, sizeof path, &name);
    if (rv != 0)
        return rv;
    cli__kind_name(ob->kind, name, ref, sizeof ref);
    /* GET first: the PATCH answer alone cannot tell created from configured */
    if (cli__request(c, "GET", path, NULL, NULL, NULL, &r, &e) != 0)
        return cli__fail("%s", e.msg);
    existed = r.status >= 200 && r.status < 300;
    if (!existed && r.status != 404) {
        snprintf(before, sizeof before, "error when retrieving current configuration of %s", ref);
        cli__print_server_error(&r, before);
        cli__resp_free(&r);
        return 1;
    }
    got = existed ? cli__resp_json(&r) : NULL;
    prev = got ? user_view(got) : NULL;
    json_decref(got);
    cli__resp_free(&r);

    if (cli__path_add_query(path, sizeof path, "fieldManager", "skiff", &e) != 0 ||
        cli__path_add_query(path, sizeof path, "fieldValidation", "Strict", &e) != 0 ||
        (o->force_conflicts && cli__path_add_query(path, sizeof path, "force", "true", &e) != 0) ||
        (o->dry_run && cli__path_add_query(path, sizeof path, "dryRun", "All", &e) != 0))
        return cli__fail("%s", e.msg);
    body = json_dumps(ob->obj, JSON_COMPACT | JSON_PRESERVE_ORDER); /* JSON is YAML */
    if (body == NULL) {
        json_decref(prev);
        return cli__fail("out of memory");
    }
    rv = cli__request(c, "PATCH", path, APPLY_CTYPE, NULL, body, &r, &e);
    free(body);
    if (rv != 0) {
        json_decref(prev);
        return cli__fail("%s", e.msg);
    }
    if (r.status < 200 || r.status >= 300) {
        char ctx[300];
        snprintf(ctx, sizeof ctx, "error when applying %s", ref);
        cli__print_server_error(&r, ctx);
        cli__resp_free(&r);
        json_decref(prev);
        return 1;
    }
    got = cli__resp_json(&r);
    cli__resp_free(&r);
    if (!existed) {
        verb = "created";
    } else {
        json_t *now = got ? user_view(got) : NULL;
        verb = prev && now && json_equal(prev, now) ? "unchanged" : "configured";
        json_decref(now);
    }
    json_decref(prev);
    printf("%s %s%s\n", ref, verb, o->dry_run ? " (server dry run)" : "");
    fflush(stdout);
    json_decref(got);
    return 0;
}

int cli_apply(int argc, char **argv)
{
    char *pos[1];
    size_t n_pos, i;
    struct cli_opts o;
    struct cli_objs objs;
    struct cli_client c;
    struct err e;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 0, apply_usage), failed = 0;
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (load_files(&o, &objs) != 0)
        return 1;
    if (cli__client_open(&c, &o, &e) != 0) {
        cli__client_close(&c);
        cli__objs_free(&objs);
        return cli__fail("%s", e.msg);
    }
    for (i = 0; i < objs.n; i++)
        if (apply_one(&c, &o, &objs.v[i]) != 0)
            failed = 1;
    cli__client_close(&c);
    cli__objs_free(&objs);
    return failed;
}

/* ---- create -f ---- */

static int create_one(struct cli_client *c, const struct cli_opts *o, struct cli_obj *ob)
{
    char path[2048], ref[256], ctx[300];
    const char *name, *file_end;
    struct cli_resp r;
    struct err e;
    json_t *got;
    char *body;
    int rv = target(c, o, ob, false, path, sizeof path, &name);
    if (rv != 0)
        return rv;
    if (o->dry_run && cli__path_add_query(path, sizeof path, "dryRun", "All", &e) != 0)
        return cli__fail("%s", e.msg);
    body = json_dumps(ob->obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (body == NULL)
        return cli__fail("out of memory");
    rv = cli__request(c, "POST", path, NULL, NULL, body, &r, &e);
    free(body);
    if (rv != 0)
        return cli__fail("%s", e.msg);
    if (r.status < 200 || r.status >= 300) {
        /* kubectl names the file: error when creating "deploy.yaml" */
        file_end = strstr(ob->where, " (document ");
        snprintf(ctx, sizeof ctx, "error when creating \"%.*s\"",
                 (int)(file_end ? (size_t)(file_end - ob->where) : strlen(ob->where)), ob->where);
        cli__print_server_error(&r, ctx);
        cli__resp_free(&r);
        return 1;
    }
    got = cli__resp_json(&r);
    cli__resp_free(&r);
    if (o->output != NULL && strcmp(o->output, "yaml") == 0 && got != NULL) {
        printf("---\n");
        rv = cli__print_structured("yaml", got);
    } else if (o->output != NULL && strcmp(o->output, "json") == 0 && got != NULL) {
        rv = cli__print_structured("json", got);
    } else {
        const char *n =
            json_string_value(json_object_get(json_object_get(got, "metadata"), "name"));
        cli__kind_name(ob->kind, n ? n : name ? name : "", ref, sizeof ref);
        if (o->output != NULL && strcmp(o->output, "name") == 0)
            printf("%s\n", ref);
        else
            printf("%s created%s\n", ref, o->dry_run ? " (server dry run)" : "");
    }
    fflush(stdout);
    json_decref(got);
    return rv;
}

int cli__create_files(const struct cli_opts *o)
{
    struct cli_objs objs;
    struct cli_client c;
    struct err e;
    size_t i;
    int failed = 0;
    if (load_files(o, &objs) != 0)
        return 1;
    if (cli__client_open(&c, o, &e) != 0) {
        cli__client_close(&c);
        cli__objs_free(&objs);
        return cli__fail("%s", e.msg);
    }
    for (i = 0; i < objs.n; i++)
        if (create_one(&c, o, &objs.v[i]) != 0)
            failed = 1;
    cli__client_close(&c);
    cli__objs_free(&objs);
    return failed;
}

/* ---- delete ---- */

static void delete_usage(FILE *f)
{
    fprintf(f, "usage: skiff delete -f FILE|DIR|- [options]\n"
               "       skiff delete KIND NAME... | KIND/NAME... | KIND -l SEL | KIND --all "
               "[options]\n"
               "\n"
               "Deletes the objects and returns once the server accepted each delete (it does\n"
               "not wait for them to disappear).\n"
               "\n"
               "options:\n"
               "  -f, --filename PATH       the objects of these manifests; repeatable\n"
               "  -n, --namespace NS        namespace (default: the context's, or \"default\")\n"
               "  -A, --all-namespaces      with -l/--all: in every namespace\n"
               "  -l, --selector SEL        every object of KIND matching the label selector\n"
               "      --all                 every object of KIND in the namespace\n"
               "      --cascade=MODE        background (default), foreground or orphan\n"
               "      --ignore-not-found    an absent object is not an error\n"
               "      --dry-run=server      let the server check, delete nothing\n"
               "      --kubeconfig FILE     default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT      talk to this node instead of the kubeconfig's\n");
}

static int delete_options(const struct cli_opts *o, char **body)
{
    const char *policy = "Background";
    json_t *j;
    if (o->cascade == NULL || strcmp(o->cascade, "background") == 0 ||
        strcmp(o->cascade, "true") == 0)
        policy = "Background";
    else if (strcmp(o->cascade, "foreground") == 0)
        policy = "Foreground";
    else if (strcmp(o->cascade, "orphan") == 0 || strcmp(o->cascade, "false") == 0)
        policy = "Orphan";
    else
        return cli__fail("invalid cascade value (%s). Must be \"background\", \"foreground\", "
                         "or \"orphan\"",
                         o->cascade);
    j = json_pack("{s:s, s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
                  "propagationPolicy", policy);
    if (j != NULL && o->dry_run)
        json_object_set_new(j, "dryRun", json_pack("[s]", "All"));
    *body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return *body == NULL ? cli__fail("out of memory") : 0;
}

/* DELETE one object; file names the manifest for kubectl's "error when
 * deleting "FILE"" (NULL for KIND NAME). */
static int delete_path(struct cli_client *c, const struct cli_opts *o, const struct api_kind *k,
                       const char *path, const char *name, const char *file, const char *body)
{
    char ref[256], ctx[300];
    struct cli_resp r;
    struct err e;
    char reason[64];
    if (cli__request(c, "DELETE", path, NULL, NULL, body, &r, &e) != 0)
        return cli__fail("%s", e.msg);
    if (r.status >= 200 && r.status < 300) {
        cli__kind_ref(k, ref, sizeof ref);
        printf("%s \"%s\" deleted%s\n", ref, name, o->dry_run ? " (server dry run)" : "");
        fflush(stdout);
        cli__resp_free(&r);
        return 0;
    }
    cli__resp_reason(&r, reason, sizeof reason);
    if (r.status == 404 && o->ignore_not_found) {
        cli__resp_free(&r);
        return 0;
    }
    if (file != NULL)
        snprintf(ctx, sizeof ctx, "error when deleting \"%s\"", file);
    cli__print_server_error(&r, file ? ctx : NULL);
    cli__resp_free(&r);
    return 1;
}

static int delete_files(struct cli_client *c, const struct cli_opts *o, const char *body)
{
    struct cli_objs objs;
    char path[2048], file[192];
    const char *name, *end;
    size_t i;
    int failed = 0;
    if (load_files(o, &objs) != 0)
        return 1;
    for (i = 0; i < objs.n; i++) {
        struct cli_obj *ob = &objs.v[i];
        if (target(c, o, ob, true, path, sizeof path, &name) != 0) {
            failed = 1;
            continue;
        }
        end = strstr(ob->where, " (document ");
        snprintf(file, sizeof file, "%.*s",
                 (int)(end ? (size_t)(end - ob->where) : strlen(ob->where)), ob->where);
        if (delete_path(c, o, ob->kind, path, name, file, body) != 0)
            failed = 1;
    }
    cli__objs_free(&objs);
    return failed;
}

/* -l / --all: list the names first, then delete each (what kubectl does). */
static int delete_selected(struct cli_client *c, const struct cli_opts *o, const struct api_kind *k,
                           const char *body)
{
    char path[2048];
    struct err e;
    json_t *list, *it;
    size_t i;
    int rv = api_kind_path(k, o->all_ns ? NULL : cli__ns(c, o), NULL, path, sizeof path, &e),
        failed = 0;
    if (rv == 0 && o->selector != NULL)
        rv = cli__path_add_query(path, sizeof path, "labelSelector", o->selector, &e);
    if (rv != 0)
        return cli__fail("%s", e.msg);
    if (cli__call(c, "GET", path, NULL, NULL, NULL, &list) != 0)
        return 1;
    if (json_array_size(json_object_get(list, "items")) == 0)
        fprintf(stderr, "No resources found\n");
    json_array_foreach (json_object_get(list, "items"), i, it) {
        const json_t *meta = json_object_get(it, "metadata");
        const char *name = json_string_value(json_object_get(meta, "name"));
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        if (name == NULL || api_kind_path(k, ns, name, path, sizeof path, &e) != 0)
            continue;
        if (delete_path(c, o, k, path, name, NULL, body) != 0)
            failed = 1;
    }
    json_decref(list);
    return failed;
}

static int delete_named(struct cli_client *c, const struct cli_opts *o, char **pos, size_t n_pos,
                        const char *body)
{
    const struct api_kind *k = NULL;
    char path[2048], word[128];
    struct err e;
    size_t i;
    int failed = 0;
    bool slash_form = strchr(pos[0], '/') != NULL;
    if (!slash_form && (k = api_kind_lookup(pos[0])) == NULL)
        return cli__fail("the server doesn't have a resource type \"%s\"", pos[0]);
    if (!slash_form && (o->selector != NULL || o->all)) {
        if (n_pos > 1)
            return cli__fail("name cannot be provided when a selector or --all is specified");
        return delete_selected(c, o, k, body);
    }
    if (!slash_form && n_pos == 1)
        return cli__fail("resource(s) were provided, but no name was specified");
    for (i = slash_form ? 0 : 1; i < n_pos; i++) {
        const char *name = pos[i], *slash = strchr(pos[i], '/');
        if (slash_form) {
            if (slash == NULL || (size_t)(slash - pos[i]) >= sizeof word)
                return cli__fail("arguments in resource/name form must have a single resource "
                                 "and name");
            snprintf(word, sizeof word, "%.*s", (int)(slash - pos[i]), pos[i]);
            if ((k = api_kind_lookup(word)) == NULL) {
                failed = cli__fail("the server doesn't have a resource type \"%s\"", word);
                continue;
            }
            name = slash + 1;
        }
        if (api_kind_path(k, cli__ns(c, o), name, path, sizeof path, &e) != 0) {
            failed = cli__fail("%s", e.msg);
            continue;
        }
        if (delete_path(c, o, k, path, name, NULL, body) != 0)
            failed = 1;
    }
    return failed;
}

int cli_delete(int argc, char **argv)
{
    char *pos[65], *body = NULL;
    size_t n_pos;
    struct cli_opts o;
    struct cli_client c;
    struct err e;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 65, delete_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if ((o.n_files == 0) == (n_pos == 0)) {
        fprintf(stderr, "error: give either -f FILE or KIND NAME..., not %s\n",
                n_pos ? "both" : "neither");
        delete_usage(stderr);
        return 2;
    }
    if (delete_options(&o, &body) != 0)
        return 1;
    if (cli__client_open(&c, &o, &e) != 0) {
        rv = cli__fail("%s", e.msg);
    } else if (o.n_files > 0) {
        rv = delete_files(&c, &o, body);
    } else {
        rv = delete_named(&c, &o, pos, n_pos, body);
    }
    cli__client_close(&c);
    free(body);
    return rv;
}
