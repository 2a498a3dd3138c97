/* Human output: kubectl-style names ("deployment.apps/nginx") and tables
 * printed from the server's meta.k8s.io/v1 Table. The server decides the
 * columns for every kind (as the apiserver's printers do), so the CLI needs
 * no per-kind column code and prints what kubectl would. */
#include "cli/internal.h"

#include "api/api.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cli__kind_ref(const struct api_kind *k, char *buf, size_t size)
{
    if (k->group[0] == '\0')
        snprintf(buf, size, "%s", k->singular);
    else
        snprintf(buf, size, "%s.%s", k->singular, k->group);
}

void cli__kind_name(const struct api_kind *k, const char *name, char *buf, size_t size)
{
    char ref[128];
    cli__kind_ref(k, ref, sizeof ref);
    snprintf(buf, size, "%s/%s", ref, name);
}

int cli__kinds_parse(const char *arg, const struct api_kind **out, size_t max, size_t *n,
                     struct err *e)
{
    const char *p = arg;
    *n = 0;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char word[128];
        if (len == 0 || len >= sizeof word)
            return err_setf(e, ERR_INVALID, "the server doesn't have a resource type \"%.*s\"",
                            (int)(len > 64 ? 64 : len), p);
        memcpy(word, p, len);
        word[len] = '\0';
        if (strcasecmp(word, "all") == 0) {
            size_t count, i;
            const struct api_kind *all = api_kinds(&count);
            for (i = 0; i < count; i++) {
                if (!all[i].in_all)
                    continue;
                if (*n == max)
                    return err_setf(e, ERR_INVALID, "too many resource types");
                out[(*n)++] = &all[i];
            }
        } else {
            const struct api_kind *k = api_kind_lookup(word);
            if (k == NULL)
                return err_setf(e, ERR_INVALID, "the server doesn't have a resource type \"%s\"",
                                word);
            if (*n == max)
                return err_setf(e, ERR_INVALID, "too many resource types");
            out[(*n)++] = k;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (*n == 0)
        return err_setf(e, ERR_INVALID, "a resource type is required");
    return 0;
}

/* ---- tables ---- */

static char *upper(const char *s)
{
    char *u = strdup(s);
    size_t i;
    for (i = 0; u != NULL && u[i] != '\0'; i++)
        u[i] = (char)toupper((unsigned char)u[i]);
    return u;
}

int cli__tab_init(struct cli_tab *t, const json_t *table, const struct cli_print_opts *o,
                  struct err *e)
{
    const json_t *cols = json_object_get(table, "columnDefinitions");
    json_t *c;
    size_t i;

    memset(t, 0, sizeof *t);
    t->o = *o;
    if (!json_is_array(cols))
        return err_setf(e, ERR_INVALID, "server answer: not a Table (no columnDefinitions)");
    if (o->all_ns) {
        t->src[t->n_cols] = CLI_TAB_COL_NAMESPACE;
        t->head[t->n_cols++] = strdup("NAMESPACE");
    }
    json_array_foreach (cols, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (name == NULL)
            name = "";
        if (!o->wide && json_integer_value(json_object_get(c, "priority")) != 0)
            continue;
        if (t->n_cols + 2 > CLI_TAB_COLS_MAX)
            break;
        t->src[t->n_cols] = (int)i;
        t->head[t->n_cols++] = upper(name);
    }
    if (o->show_labels) {
        t->src[t->n_cols] = CLI_TAB_COL_LABELS;
        t->head[t->n_cols++] = strdup("LABELS");
    }
    for (i = 0; i < t->n_cols; i++) {
        if (t->head[i] == NULL) {
            cli__tab_close(t);
            return err_setf(e, ERR_NOMEM, "table: out of memory");
        }
        /* kubectl's tabwriter only sizes by what it prints */
        t->width[i] = o->no_headers ? 0 : strlen(t->head[i]);
    }
    return 0;
}

/* kubectl prints "k=v,k2=v2" (sorted by key, as Go's label printer does). */
static char *labels_text(const json_t *labels)
{
    const char *keys[256];
    size_t n = 0, i, j, len = 0;
    const char *k;
    json_t *v;
    char *s;
    json_object_foreach ((json_t *)labels, k, v) {
        if (n == sizeof keys / sizeof keys[0])
            break;
        keys[n++] = k;
        len += strlen(k) + strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
    }
    if (n == 0)
        return strdup("<none>");
    for (i = 1; i < n; i++) /* insertion sort: label sets are small */
        for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *tmp = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = tmp;
        }
    s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    for (i = 0, j = 0; i < n; i++) {
        const char *val = json_string_value(json_object_get(labels, keys[i]));
        j += (size_t)snprintf(s + j, len + 1 - j, "%s%s=%s", i ? "," : "", keys[i], val ? val : "");
    }
    return s;
}

static char *cell_text(const json_t *c)
{
    char buf[64];
    switch (json_typeof(c)) {
    case JSON_STRING:
        return strndup(json_string_value(c), json_string_length(c));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(c));
        return strdup(buf);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%g", json_real_value(c));
        return strdup(buf);
    case JSON_TRUE:
        return strdup("true");
    case JSON_FALSE:
        return strdup("false");
    case JSON_NULL:
        return strdup("<none>");
    default:
        return json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
    }
}

static char *column_text(const struct cli_tab *t, size_t col, const json_t *row, size_t name_col)
{
    const json_t *meta = json_object_get(json_object_get(row, "object"), "metadata");
    const json_t *cells = json_object_get(row, "cells");
    char *s, *p;
    size_t n;
    if (t->src[col] == CLI_TAB_COL_NAMESPACE) {
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        return strdup(ns ? ns : "");
    }
    if (t->src[col] == CLI_TAB_COL_LABELS)
        return labels_text(json_object_get(meta, "labels"));
    s = cell_text(json_array_get(cells, (size_t)t->src[col]));
    if (s == NULL || t->o.name_prefix == NULL || (size_t)t->src[col] != name_col)
        return s;
    n = strlen(t->o.name_prefix) + strlen(s) + 1;
    p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s%s", t->o.name_prefix, s);
    free(s);
    return p;
}

int cli__tab_add(struct cli_tab *t, const json_t *table, struct err *e)
{
    const json_t *rows = json_object_get(table, "rows"), *cols, *c, *row;
    size_t i, r, name_col = 0;
    if (!json_is_array(rows))
        return err_setf(e, ERR_INVALID, "server answer: not a Table (no rows)");
    /* the name column gets the kind prefix with several kinds (get all) */
    cols = json_object_get(table, "columnDefinitions");
    json_array_foreach (cols, i, c) {
        const char *fmt = json_string_value(json_object_get(c, "format"));
        if (fmt != NULL && strcmp(fmt, "name") == 0) {
            name_col = i;
            break;
        }
    }
    json_array_foreach (rows, r, row) {
        if (t->n_rows == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            char **cells = realloc(t->cells, cap * t->n_cols * sizeof *cells);
            if (cells == NULL)
                return err_setf(e, ERR_NOMEM, "table: out of memory");
            t->cells = cells;
            t->cap = cap;
        }
        for (i = 0; i < t->n_cols; i++) {
            char *s = column_text(t, i, row, name_col);
            size_t n;
            if (s == NULL) {
                while (i-- > 0)
                    free(t->cells[t->n_rows * t->n_cols + i]);
                return err_setf(e, ERR_NOMEM, "table: out of memory");
            }
            t->cells[t->n_rows * t->n_cols + i] = s;
            n = strlen(s);
            if (n > t->width[i])
                t->width[i] = n;
        }
        t->n_rows++;
    }
    return 0;
}

static void print_line(const struct cli_tab *t, FILE *out, char *const *vals)
{
    size_t i;
    for (i = 0; i < t->n_cols; i++) {
        if (i + 1 == t->n_cols)
            fprintf(out, "%s\n", vals[i]);
        else
            fprintf(out, "%-*s   ", (int)t->width[i], vals[i]);
    }
}

void cli__tab_print(struct cli_tab *t, FILE *out)
{
    size_t r, i;
    if (!t->header_done && !t->o.no_headers)
        print_line(t, out, t->head);
    t->header_done = true;
    for (r = 0; r < t->n_rows; r++)
        print_line(t, out, &t->cells[r * t->n_cols]);
    for (i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    t->n_rows = 0;
    fflush(out);
}

void cli__tab_close(struct cli_tab *t)
{
    size_t i;
    if (t == NULL)
        return;
    for (i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    for (i = 0; i < t->n_cols; i++)
        free(t->head[i]);
    memset(t, 0, sizeof *t);
}

/* kubectl's DeploymentStatusViewer, message for message. */
int cli__rollout_status(const json_t *deploy, char *msg, size_t size)
{
    const json_t *meta = json_object_get(deploy, "metadata");
    const json_t *spec = json_object_get(deploy, "spec"), *st = json_object_get(deploy, "status");
    const char *name = json_string_value(json_object_get(meta, "name"));
    json_int_t gen = json_integer_value(json_object_get(meta, "generation"));
    json_int_t observed = json_integer_value(json_object_get(st, "observedGeneration"));
    json_int_t replicas = json_integer_value(json_object_get(st, "replicas"));
    json_int_t updated = json_integer_value(json_object_get(st, "updatedReplicas"));
    json_int_t available = json_integer_value(json_object_get(st, "availableReplicas"));
    const json_t *want = json_object_get(spec, "replicas"), *c;
    size_t i;
    if (name == NULL)
        name = "";
    if (gen > observed) {
        snprintf(msg, size, "Waiting for deployment spec update to be observed...");
        return 0;
    }
    json_array_foreach (json_object_get(st, "conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *reason = json_string_value(json_object_get(c, "reason"));
        if (type != NULL && strcmp(type, "Progressing") == 0 && reason != NULL &&
            strcmp(reason, "ProgressDeadlineExceeded") == 0) {
            snprintf(msg, size, "deployment \"%s\" exceeded its progress deadline", name);
            return -1;
        }
    }
    if (json_is_integer(want) && updated < json_integer_value(want)) {
        snprintf(msg, size,
                 "Waiting for deployment \"%s\" rollout to finish: %" JSON_INTEGER_FORMAT
                 " out of %" JSON_INTEGER_FORMAT " new replicas have been updated...",
                 name, updated, json_integer_value(want));
        return 0;
    }
    if (replicas > updated) {
        snprintf(msg, size,
                 "Waiting for deployment \"%s\" rollout to finish: %" JSON_INTEGER_FORMAT
                 " old replicas are pending termination...",
                 name, replicas - updated);
        return 0;
    }
    if (available < updated) {
        snprintf(msg, size,
                 "Waiting for deployment \"%s\" rollout to finish: %" JSON_INTEGER_FORMAT
                 " of %" JSON_INTEGER_FORMAT " updated replicas are available...",
                 name, available, updated);
        return 0;
    }
    snprintf(msg, size, "deployment \"%s\" successfully rolled out", name);
    return 1;
}
