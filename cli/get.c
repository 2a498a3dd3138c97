/* skiff get: any kind, any number of names, as a table (the server's
 * meta.k8s.io/v1 Table), YAML, JSON or names, and -w to keep printing rows
 * as the watch reports changes. */
#include "cli/internal.h"

#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_ACCEPT "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
#define KINDS_MAX    16
#define NAMES_MAX    64

static void get_usage(FILE *f)
{
    fprintf(f, "usage: skiff get KIND[,KIND...]|all [NAME...] [options]\n"
               "       skiff get KIND/NAME [KIND/NAME...] [options]\n"
               "\n"
               "KIND is a plural, singular or short name, optionally with its group:\n"
               "pods/pod/po, deployments.apps/deploy, services/svc, configmaps/cm, nodes/no, ...\n"
               "\n"
               "options:\n"
               "  -n, --namespace NS         namespace (default: the kubeconfig context's, or "
               "\"default\")\n"
               "  -A, --all-namespaces       every namespace (adds a NAMESPACE column)\n"
               "  -l, --selector SEL         label selector (k=v, k!=v, k, !k, k in (a,b))\n"
               "      --field-selector SEL   field selector (metadata.name=x, ...)\n"
               "  -o, --output FMT           wide, yaml, json or name\n"
               "  -w, --watch                after the list, print changes until interrupted\n"
               "      --no-headers           no header line\n"
               "      --show-labels          a LABELS column\n"
               "      --request-timeout D    give up after D (e.g. 30s); ends a watch\n"
               "      --kubeconfig FILE      default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT       talk to this node instead of the kubeconfig's\n");
}

struct get {
    struct cli_client c;
    struct cli_opts o;
    const struct api_kind *kinds[KINDS_MAX];
    const char *names[KINDS_MAX][NAMES_MAX]; /* per kind */
    size_t n_names[KINDS_MAX];
    size_t n_kinds;
    bool by_name;  /* names were given */
    bool prefix;   /* several kinds: names print as kind/name */
    json_t *items; /* -o json|yaml|name: every object, in order */
    bool printed;  /* a table was printed (blank line before the next) */
    bool failed;
};

static bool structured(const struct cli_opts *o)
{
    return o->output != NULL && strcmp(o->output, "wide") != 0;
}

/* "apiVersion" and "kind" first, as kubectl prints list items. */
static json_t *with_type(const struct api_kind *k, const json_t *obj)
{
    char av[64];
    json_t *out;
    api_kind_api_version(k, av, sizeof av);
    out = json_pack("{s:s, s:s}", "apiVersion", av, "kind", k->kind);
    if (out != NULL)
        json_object_update(out, (json_t *)obj);
    return out;
}

/* A Table for servers (or kinds) that answer plain objects: kubectl's
 * default columns, NAME and AGE. */
static json_t *table_from_objects(const json_t *objs)
{
    json_t *t = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}], s:[]}",
                          "kind", "Table", "apiVersion", "meta.k8s.io/v1", "columnDefinitions",
                          "name", "Name", "type", "string", "format", "name", "priority", 0, "name",
                          "Age", "type", "string", "format", "", "priority", 0, "rows");
    json_t *it;
    size_t i;
    if (t == NULL)
        return NULL;
    json_array_foreach (objs, i, it) {
        json_t *meta = json_object_get(it, "metadata");
        char age[32];
        api_age_format(json_string_value(json_object_get(meta, "creationTimestamp")), age,
                       sizeof age);
        json_array_append_new(json_object_get(t, "rows"),
                              json_pack("{s:[O?, s], s:{s:O?}}", "cells",
                                        json_object_get(meta, "name"), age, "object", "metadata",
                                        meta));
    }
    return t;
}

/* The server's answer as a Table: itself, or built from a list/object. */
static json_t *as_table(json_t *j)
{
    const char *kind = json_string_value(json_object_get(j, "kind"));
    json_t *objs, *t;
    if (kind != NULL && strcmp(kind, "Table") == 0)
        return json_incref(j);
    if (json_is_array(json_object_get(j, "items")))
        return table_from_objects(json_object_get(j, "items"));
    objs = json_pack("[O]", j);
    t = objs ? table_from_objects(objs) : NULL;
    json_decref(objs);
    return t;
}

static void print_opts(const struct get *g, const struct api_kind *k, char *prefix, size_t size,
                       struct cli_print_opts *po)
{
    memset(po, 0, sizeof *po);
    po->wide = g->o.output != NULL && strcmp(g->o.output, "wide") == 0;
    po->all_ns = g->o.all_ns && k->namespaced;
    po->show_labels = g->o.show_labels;
    po->no_headers = g->o.no_headers;
    if (g->prefix) {
        char ref[120];
        cli__kind_ref(k, ref, sizeof ref);
        snprintf(prefix, size, "%s/", ref);
        po->name_prefix = prefix;
    }
}

static int print_table(struct get *g, const struct api_kind *k, json_t *answer)
{
    struct cli_print_opts po;
    struct cli_tab t;
    char prefix[128];
    struct err e;
    json_t *table = as_table(answer);
    int rv;
    if (table == NULL)
        return cli__fail("out of memory");
    if (json_array_size(json_object_get(table, "rows")) == 0) {
        json_decref(table);
        return 0;
    }
    print_opts(g, k, prefix, sizeof prefix, &po);
    rv = cli__tab_init(&t, table, &po, &e);
    if (rv == 0)
        rv = cli__tab_add(&t, table, &e);
    if (rv == 0) {
        if (g->printed)
            fputc('\n', stdout);
        cli__tab_print(&t, stdout);
        g->printed = true;
    }
    cli__tab_close(&t);
    json_decref(table);
    return rv == 0 ? 0 : cli__fail("%s", e.msg);
}

static void collect(struct get *g, const struct api_kind *k, const json_t *answer)
{
    json_t *items = json_object_get(answer, "items"), *it;
    size_t i;
    if (!json_is_array(items)) {
        json_array_append_new(g->items, with_type(k, answer));
        return;
    }
    json_array_foreach (items, i, it) {
        json_array_append_new(g->items, with_type(k, it));
    }
}

static int list_path(struct get *g, const struct api_kind *k, const char *name, char *path,
                     size_t size, struct err *e)
{
    const char *ns = g->o.all_ns && name == NULL ? NULL : cli__ns(&g->c, &g->o);
    int rv = api_kind_path(k, ns, name, path, size, e);
    if (rv == 0 && name == NULL && g->o.selector != NULL)
        rv = cli__path_add_query(path, size, "labelSelector", g->o.selector, e);
    if (rv == 0 && name == NULL && g->o.field_selector != NULL)
        rv = cli__path_add_query(path, size, "fieldSelector", g->o.field_selector, e);
    return rv;
}

/* One GET (a list, or one object, as a Table for table output): the exit
 * code, and on success *out (new reference) and the answer's
 * resourceVersion in rv_out (where -w starts). */
static int fetch(struct get *g, const struct api_kind *k, const char *name, json_t **out,
                 char *rv_out, size_t rv_size)
{
    char path[2048];
    struct cli_resp r;
    struct err e;
    json_t *j;
    const char *rvs;
    int rv = list_path(g, k, name, path, sizeof path, &e);
    if (rv != 0)
        return cli__fail("%s", e.msg);
    if (cli__request(&g->c, "GET", path, NULL, structured(&g->o) ? NULL : TABLE_ACCEPT, NULL, &r,
                     &e) != 0)
        return cli__fail("%s", e.msg);
    if (r.status < 200 || r.status >= 300) {
        cli__print_server_error(&r, NULL);
        cli__resp_free(&r);
        return 1;
    }
    j = cli__resp_json(&r);
    cli__resp_free(&r);
    if (j == NULL)
        return cli__fail("server answered invalid JSON");
    rvs = json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion"));
    snprintf(rv_out, rv_size, "%s", rvs ? rvs : "");
    *out = j;
    return 0;
}

static size_t answer_count(const json_t *j)
{
    if (json_is_array(json_object_get(j, "items")))
        return json_array_size(json_object_get(j, "items"));
    if (json_is_array(json_object_get(j, "rows")))
        return json_array_size(json_object_get(j, "rows"));
    return 1;
}

/* Fetches and prints (table) or collects (-o json|yaml|name) one answer. */
static int get_one(struct get *g, const struct api_kind *k, const char *name, size_t *count)
{
    char rvs[64];
    json_t *j;
    int rv = fetch(g, k, name, &j, rvs, sizeof rvs);
    if (rv != 0)
        return rv;
    *count += answer_count(j);
    if (structured(&g->o))
        collect(g, k, j);
    else
        rv = print_table(g, k, j);
    json_decref(j);
    return rv;
}

static int print_collected(struct get *g)
{
    size_t i;
    json_t *it, *list;
    int rv;
    if (strcmp(g->o.output, "name") == 0) {
        json_array_foreach (g->items, i, it) {
            const struct api_kind *k =
                api_kind_by_kind(json_string_value(json_object_get(it, "apiVersion")),
                                 json_string_value(json_object_get(it, "kind")));
            const char *name =
                json_string_value(json_object_get(json_object_get(it, "metadata"), "name"));
            char buf[512];
            if (k == NULL || name == NULL)
                continue;
            cli__kind_name(k, name, buf, sizeof buf);
            printf("%s\n", buf);
        }
        return 0;
    }
    /* one named object prints as itself, anything else as a v1 List */
    if (g->by_name && json_array_size(g->items) == 1 && g->n_kinds == 1 && g->n_names[0] == 1)
        return cli__print_structured(g->o.output, json_array_get(g->items, 0));
    list = json_pack("{s:s, s:O, s:s, s:{s:s}}", "apiVersion", "v1", "items", g->items, "kind",
                     "List", "metadata", "resourceVersion", "");
    if (list == NULL)
        return cli__fail("out of memory");
    rv = cli__print_structured(g->o.output, list);
    json_decref(list);
    return rv;
}

static void no_resources(const struct get *g)
{
    if (g->o.all_ns || !g->kinds[0]->namespaced)
        fprintf(stderr, "No resources found\n");
    else
        fprintf(stderr, "No resources found in %s namespace.\n", cli__ns(&g->c, &g->o));
}

/* ---- -w ---- */

struct watch {
    struct get *g;
    const struct api_kind *k;
    struct cli_tab tab;
    bool tab_ready;
    json_t *rows; /* "ns/name" -> last row printed, for DELETED events */
    char prefix[128];
    bool failed;
};

static void row_key(const json_t *meta, char *buf, size_t size)
{
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    snprintf(buf, size, "%s/%s", ns ? ns : "", name ? name : "");
}

static void remember_rows(struct watch *w, const json_t *table)
{
    json_t *row;
    size_t i;
    char key[512];
    json_array_foreach (json_object_get(table, "rows"), i, row) {
        row_key(json_object_get(json_object_get(row, "object"), "metadata"), key, sizeof key);
        json_object_set(w->rows, key, row);
    }
}

static int watch_print_table(struct watch *w, json_t *table)
{
    struct cli_print_opts po;
    struct err e;
    if (!w->tab_ready) {
        print_opts(w->g, w->k, w->prefix, sizeof w->prefix, &po);
        if (cli__tab_init(&w->tab, table, &po, &e) != 0)
            return cli__fail("%s", e.msg);
        w->tab_ready = true;
    }
    if (cli__tab_add(&w->tab, table, &e) != 0)
        return cli__fail("%s", e.msg);
    cli__tab_print(&w->tab, stdout);
    remember_rows(w, table);
    return 0;
}

/* The row for an event's object: the server's one-row Table for it, or
 * (deleted, or gone again) the last row we printed for it. */
static json_t *event_table(struct watch *w, const char *type, const json_t *obj)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    char path[2048], key[512];
    struct cli_resp r;
    struct err e;
    json_t *j = NULL, *t = NULL, *last;
    row_key(meta, key, sizeof key);
    last = json_object_get(w->rows, key);
    if (strcmp(type, "DELETED") != 0 && name != NULL &&
        api_kind_path(w->k, ns, name, path, sizeof path, &e) == 0 &&
        cli__request(&w->g->c, "GET", path, NULL, TABLE_ACCEPT, NULL, &r, &e) == 0) {
        if (r.status >= 200 && r.status < 300)
            j = cli__resp_json(&r);
        cli__resp_free(&r);
    }
    if (j != NULL) {
        t = as_table(j);
        json_decref(j);
        return t;
    }
    if (last != NULL)
        return json_pack("{s:s, s:[], s:[O]}", "kind", "Table", "columnDefinitions", "rows", last);
    j = json_pack("[O]", obj);
    t = j ? table_from_objects(j) : NULL;
    json_decref(j);
    return t;
}

static int print_event_object(struct watch *w, const json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    json_t *typed;
    char buf[512];
    int rv = 0;
    if (strcmp(w->g->o.output, "name") == 0) {
        cli__kind_name(w->k, name ? name : "", buf, sizeof buf);
        printf("%s\n", buf);
    } else if ((typed = with_type(w->k, obj)) != NULL) {
        if (strcmp(w->g->o.output, "yaml") == 0)
            printf("---\n");
        rv = cli__print_structured(w->g->o.output, typed);
        json_decref(typed);
    }
    fflush(stdout);
    return rv;
}

static int on_event(void *data, const char *line, size_t len)
{
    struct watch *w = data;
    json_t *ev = json_loadb(line, len, 0, NULL), *obj, *t;
    const char *type = json_string_value(json_object_get(ev, "type"));
    int rv = 0;
    obj = json_object_get(ev, "object");
    if (type == NULL || !json_is_object(obj)) {
        json_decref(ev);
        return 0; /* not an event: ignore, as kubectl's decoder skips blank keep-alives */
    }
    if (strcmp(type, "ERROR") == 0) {
        const char *msg = json_string_value(json_object_get(obj, "message"));
        fprintf(stderr, "error: watch: %s\n", msg ? msg : "unknown error");
        w->failed = true;
        json_decref(ev);
        return 1;
    }
    if (strcmp(type, "BOOKMARK") == 0) {
        json_decref(ev);
        return 0;
    }
    if (structured(&w->g->o)) {
        rv = print_event_object(w, obj);
    } else if ((t = event_table(w, type, obj)) != NULL) {
        if (json_array_size(json_object_get(t, "columnDefinitions")) == 0 && w->tab_ready) {
            struct err e;
            if (cli__tab_add(&w->tab, t, &e) == 0)
                cli__tab_print(&w->tab, stdout);
        } else {
            rv = watch_print_table(w, t);
        }
        json_decref(t);
    }
    json_decref(ev);
    return rv;
}

/* -w: the current state first (a table whose widths and rows the watch
 * rows then reuse), then every change from the list's resourceVersion. */
static int run_watch(struct get *g, const struct api_kind *k, const char *name)
{
    struct watch w;
    char path[2048], sel[512], from_rv[64];
    struct cli_resp r;
    struct err e;
    bool stopped;
    json_t *j, *t;
    int rv;

    memset(&w, 0, sizeof w);
    w.g = g;
    w.k = k;
    w.rows = json_object();
    if (w.rows == NULL)
        return cli__fail("out of memory");
    rv = fetch(g, k, name, &j, from_rv, sizeof from_rv);
    if (rv != 0) {
        json_decref(w.rows);
        return rv;
    }
    if (structured(&g->o)) {
        json_t *items = json_object_get(j, "items"), *it;
        size_t i;
        if (!json_is_array(items))
            rv = print_event_object(&w, j);
        json_array_foreach (items, i, it) {
            rv |= print_event_object(&w, it);
        }
    } else if ((t = as_table(j)) != NULL) {
        if (json_array_size(json_object_get(t, "rows")) > 0)
            rv = watch_print_table(&w, t);
        else
            no_resources(g);
        json_decref(t);
    }
    json_decref(j);
    if (rv == 0)
        rv = list_path(g, k, NULL, path, sizeof path, &e) == 0 ? 0 : cli__fail("%s", e.msg);
    if (rv == 0 && name != NULL) {
        snprintf(sel, sizeof sel, "metadata.name=%s", name);
        if (cli__path_add_query(path, sizeof path, "fieldSelector", sel, &e) != 0)
            rv = cli__fail("%s", e.msg);
    }
    if (rv == 0 && (cli__path_add_query(path, sizeof path, "watch", "1", &e) != 0 ||
                    (from_rv[0] != '\0' &&
                     cli__path_add_query(path, sizeof path, "resourceVersion", from_rv, &e) != 0)))
        rv = cli__fail("%s", e.msg);
    if (rv != 0) {
        if (w.tab_ready)
            cli__tab_close(&w.tab);
        json_decref(w.rows);
        return rv;
    }
    rv = cli__stream(&g->c, path, g->c.request_timeout_ms, on_event, &w, &r, &stopped, &e);
    if (rv != 0)
        rv = cli__fail("%s", e.msg);
    else if (r.status != 0 && (r.status < 200 || r.status >= 300)) {
        cli__print_server_error(&r, NULL);
        rv = 1;
    } else if (w.failed) {
        rv = 1;
    }
    cli__resp_free(&r);
    if (w.tab_ready)
        cli__tab_close(&w.tab);
    json_decref(w.rows);
    return rv;
}

/* ---- arguments ---- */

static int add_name(struct get *g, const struct api_kind *k, const char *name)
{
    size_t i;
    for (i = 0; i < g->n_kinds && g->kinds[i] != k; i++)
        ;
    if (i == g->n_kinds) {
        if (g->n_kinds == KINDS_MAX)
            return cli__fail("too many resource types");
        g->kinds[g->n_kinds++] = k;
    }
    if (g->n_names[i] == NAMES_MAX)
        return cli__fail("too many names");
    g->names[i][g->n_names[i]++] = name;
    return 0;
}

static int parse_targets(struct get *g, char **pos, size_t n_pos)
{
    struct err e;
    size_t i, j;
    if (strchr(pos[0], '/') != NULL) { /* TYPE/NAME ... */
        for (i = 0; i < n_pos; i++) {
            char word[128];
            const char *slash = strchr(pos[i], '/');
            const struct api_kind *k;
            if (slash == NULL || slash == pos[i] || slash[1] == '\0' ||
                (size_t)(slash - pos[i]) >= sizeof word)
                return cli__fail("there is no need to specify a resource type as a separate "
                                 "argument when passing arguments in resource/name form "
                                 "(e.g. 'skiff get resource/<resource_name>' instead of "
                                 "'skiff get resource resource/<resource_name>'");
            snprintf(word, sizeof word, "%.*s", (int)(slash - pos[i]), pos[i]);
            if ((k = api_kind_lookup(word)) == NULL)
                return cli__fail("the server doesn't have a resource type \"%s\"", word);
            if (add_name(g, k, slash + 1) != 0)
                return 1;
        }
        g->by_name = true;
        g->prefix = g->n_kinds > 1;
        return 0;
    }
    if (cli__kinds_parse(pos[0], g->kinds, KINDS_MAX, &g->n_kinds, &e) != 0)
        return cli__fail("%s", e.msg);
    g->prefix = g->n_kinds > 1;
    for (i = 1; i < n_pos; i++) {
        for (j = 0; j < g->n_kinds; j++) {
            if (g->n_names[j] == NAMES_MAX)
                return cli__fail("too many names");
            g->names[j][g->n_names[j]++] = pos[i];
        }
        g->by_name = true;
    }
    return 0;
}

static int get_all(struct get *g, size_t *count)
{
    size_t i, j;
    int rv = 0;
    for (i = 0; i < g->n_kinds; i++) {
        if (!g->by_name) {
            if (get_one(g, g->kinds[i], NULL, count) != 0)
                rv = 1;
            continue;
        }
        for (j = 0; j < g->n_names[i]; j++)
            if (get_one(g, g->kinds[i], g->names[i][j], count) != 0)
                rv = 1;
    }
    return rv;
}

int cli_get(int argc, char **argv)
{
    char *pos[NAMES_MAX + 1];
    size_t n_pos, count = 0;
    struct get *g = calloc(1, sizeof *g);
    struct err e;
    int rv;

    if (g == NULL)
        return cli__fail("out of memory");
    rv = cli__parse(argc, argv, &g->o, pos, &n_pos, NAMES_MAX + 1, get_usage);
    if (rv != 0 || n_pos == 0) {
        if (rv == 0) {
            fprintf(stderr, "You must specify the type of resource to get.\n");
            get_usage(stderr);
        }
        free(g);
        return rv < 0 ? 0 : rv == 0 ? 2 : rv;
    }
    rv = parse_targets(g, pos, n_pos);
    if (rv == 0 && g->o.watch && (g->n_kinds != 1 || g->n_names[0] > 1))
        rv = cli__fail("you may only specify a single resource type (and at most one name) "
                       "with --watch");
    if (rv != 0) {
        free(g);
        return rv;
    }
    g->items = json_array();
    if (cli__client_open(&g->c, &g->o, &e) != 0) {
        rv = cli__fail("%s", e.msg);
        goto out;
    }
    if (g->o.watch) {
        rv = run_watch(g, g->kinds[0], g->by_name ? g->names[0][0] : NULL);
        goto out;
    }
    rv = get_all(g, &count);
    if (structured(&g->o) && !(g->by_name && json_array_size(g->items) == 0)) {
        if (print_collected(g) != 0)
            rv = 1;
    } else if (count == 0 && !g->by_name && rv == 0) {
        no_resources(g);
    }
out:
    cli__client_close(&g->c);
    json_decref(g->items);
    free(g);
    return rv;
}
