/* skiff scale (the /scale subresource) and skiff rollout status (a watch on
 * one Deployment until kubectl's rolled-out test passes or time runs out). */
#include "cli/internal.h"

#include "api/api.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONFLICT_RETRIES 5

/* "KIND/NAME" or "KIND NAME" into k and name; 0, or 1 after printing. */
static int kind_and_name(char **pos, size_t n_pos, const struct api_kind **k, const char **name)
{
    char word[128];
    const char *slash = n_pos > 0 ? strchr(pos[0], '/') : NULL;
    if (n_pos == 1 && slash != NULL && slash[1] != '\0' && (size_t)(slash - pos[0]) < sizeof word) {
        snprintf(word, sizeof word, "%.*s", (int)(slash - pos[0]), pos[0]);
        *name = slash + 1;
    } else if (n_pos == 2 && slash == NULL) {
        snprintf(word, sizeof word, "%s", pos[0]);
        *name = pos[1];
    } else {
        return cli__fail("want KIND/NAME or KIND NAME");
    }
    if ((*k = api_kind_lookup(word)) == NULL)
        return cli__fail("the server doesn't have a resource type \"%s\"", word);
    return 0;
}

static int open_client(struct cli_client *c, const struct cli_opts *o)
{
    struct err e;
    if (cli__client_open(c, o, &e) != 0) {
        cli__client_close(c);
        return cli__fail("%s", e.msg);
    }
    return 0;
}

/* ---- scale ---- */

static void scale_usage(FILE *f)
{
    fprintf(f, "usage: skiff scale KIND/NAME --replicas=N [-n NS]\n"
               "       skiff scale KIND NAME --replicas N [-n NS]\n"
               "\n"
               "Sets spec.replicas through the /scale subresource (deployments, replicasets).\n"
               "\n"
               "options:\n"
               "      --replicas N          the new number of replicas (required)\n"
               "  -n, --namespace NS        namespace (default: the context's, or \"default\")\n"
               "      --kubeconfig FILE     default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT      talk to this node instead of the kubeconfig's\n");
}

/* GET the Scale, set spec.replicas, PUT it back with the resourceVersion
 * read: a concurrent writer makes the PUT fail with 409 and we re-read. */
static int scale_put(struct cli_client *c, const char *path, long long replicas)
{
    struct cli_resp r;
    struct err e;
    json_t *scale;
    char *body;
    int attempt;
    for (attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
        if (cli__call(c, "GET", path, NULL, NULL, NULL, &scale) != 0)
            return 1;
        if (!json_is_object(json_object_get(scale, "spec")))
            json_object_set_new(scale, "spec", json_object());
        json_object_set_new(json_object_get(scale, "spec"), "replicas",
                            json_integer((json_int_t)replicas));
        body = json_dumps(scale, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(scale);
        if (body == NULL)
            return cli__fail("out of memory");
        if (cli__request(c, "PUT", path, NULL, NULL, body, &r, &e) != 0) {
            free(body);
            return cli__fail("%s", e.msg);
        }
        free(body);
        if (r.status >= 200 && r.status < 300) {
            cli__resp_free(&r);
            return 0;
        }
        if (r.status != 409) {
            cli__print_server_error(&r, NULL);
            cli__resp_free(&r);
            return 1;
        }
        cli__resp_free(&r);
    }
    return cli__fail("scaling: the object kept changing (%d conflicts); try again",
                     CONFLICT_RETRIES);
}

int cli_scale(int argc, char **argv)
{
    char *pos[2], path[1024], ref[300], *end;
    size_t n_pos;
    struct cli_opts o;
    struct cli_client c;
    const struct api_kind *k;
    const char *name;
    struct err e;
    long long replicas;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 2, scale_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (o.replicas == NULL) {
        fprintf(stderr, "error: required flag(s) \"replicas\" not set\n");
        scale_usage(stderr);
        return 2;
    }
    errno = 0;
    replicas = strtoll(o.replicas, &end, 10);
    if (errno != 0 || *end != '\0' || end == o.replicas || replicas < 0 || replicas > INT32_MAX)
        return cli__fail("--replicas: want a number >= 0, got \"%s\"", o.replicas);
    if (kind_and_name(pos, n_pos, &k, &name) != 0)
        return 1;
    if (!(k->subresources & API_SUB_SCALE))
        return cli__fail("cannot scale %s: it has no /scale subresource", k->resource);
    if (open_client(&c, &o) != 0)
        return 1;
    rv = api_kind_path(k, cli__ns(&c, &o), name, path, sizeof path - 8, &e);
    if (rv != 0) {
        rv = cli__fail("%s", e.msg);
    } else {
        snprintf(path + strlen(path), 8, "/scale");
        rv = scale_put(&c, path, replicas);
    }
    cli__client_close(&c);
    if (rv == 0) {
        cli__kind_name(k, name, ref, sizeof ref);
        printf("%s scaled\n", ref);
    }
    return rv;
}

/* ---- rollout ---- */

static void rollout_usage(FILE *f)
{
    fprintf(f, "usage: skiff rollout status deployment/NAME [--timeout 5m] [-n NS]\n"
               "       skiff rollout status deployment NAME ...\n"
               "\n"
               "Watches the Deployment and prints kubectl's progress lines until it is rolled\n"
               "out (exit 0), its progress deadline passes or --timeout ends (exit 1).\n"
               "rollout history / undo / restart are not supported yet.\n"
               "\n"
               "options:\n"
               "      --timeout D           give up after D (default 5m; 0 = wait forever)\n"
               "  -n, --namespace NS        namespace (default: the context's, or \"default\")\n"
               "      --kubeconfig FILE     default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT      talk to this node instead of the kubeconfig's\n");
}

struct rollout {
    char last[512];
    int state; /* cli__rollout_status's answer for the latest object */
    bool deleted;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints kubectl's line when it changes; returns the state. */
static int judge(struct rollout *ro, const json_t *deploy)
{
    char msg[512];
    ro->state = cli__rollout_status(deploy, msg, sizeof msg);
    if (ro->state < 0)
        return ro->state;
    if (strcmp(msg, ro->last) != 0) {
        printf("%s\n", msg);
        fflush(stdout);
        snprintf(ro->last, sizeof ro->last, "%s", msg);
    }
    return ro->state;
}

static int on_rollout_event(void *data, const char *line, size_t len)
{
    struct rollout *ro = data;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    int stop = 0;
    if (type != NULL && (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0))
        stop = judge(ro, json_object_get(ev, "object")) != 0;
    else if (type != NULL && strcmp(type, "DELETED") == 0)
        stop = ro->deleted = true;
    else if (type != NULL && strcmp(type, "ERROR") == 0)
        stop = 1; /* e.g. 410 Gone: re-read and watch again */
    json_decref(ev);
    return stop;
}

static int rollout_status(struct cli_client *c, const struct cli_opts *o, const char *name)
{
    const struct api_kind *k = api_kind_by_kind("apps/v1", "Deployment");
    char obj_path[1024], path[2048], sel[512];
    long timeout_s = 300;
    long long deadline;
    struct rollout ro;
    struct err e;
    json_t *d;
    memset(&ro, 0, sizeof ro);
    if (o->timeout != NULL && strcmp(o->timeout, "0") == 0)
        timeout_s = 0;
    else if (o->timeout != NULL && cli_parse_duration(o->timeout, &timeout_s) != 0)
        return cli__fail("--timeout: want a duration like 90s or 5m, got \"%s\"", o->timeout);
    deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : 0;
    if (api_kind_path(k, cli__ns(c, o), name, obj_path, sizeof obj_path, &e) != 0)
        return cli__fail("%s", e.msg);
    for (;;) {
        struct cli_resp r;
        bool stopped;
        const char *rv;
        long long left = deadline ? deadline - now_ms() : 0;
        if (deadline && left <= 0)
            return cli__fail("timed out waiting for the condition");
        if (cli__call(c, "GET", obj_path, NULL, NULL, NULL, &d) != 0)
            return 1;
        judge(&ro, d);
        rv = json_string_value(json_object_get(json_object_get(d, "metadata"), "resourceVersion"));
        snprintf(sel, sizeof sel, "%s", rv ? rv : "");
        json_decref(d);
        if (ro.state != 0)
            break;
        if (api_kind_path(k, cli__ns(c, o), NULL, path, sizeof path, &e) != 0 ||
            cli__path_add_query(path, sizeof path, "watch", "1", &e) != 0 ||
            cli__path_add_query(path, sizeof path, "resourceVersion", sel, &e) != 0)
            return cli__fail("%s", e.msg);
        snprintf(sel, sizeof sel, "metadata.name=%s", name);
        if (cli__path_add_query(path, sizeof path, "fieldSelector", sel, &e) != 0)
            return cli__fail("%s", e.msg);
        if (cli__stream(c, path, (long)left, on_rollout_event, &ro, &r, &stopped, &e) != 0)
            return cli__fail("%s", e.msg);
        if (r.status != 0 && (r.status < 200 || r.status >= 300)) { /* 0: timed out early */
            cli__print_server_error(&r, NULL);
            cli__resp_free(&r);
            return 1;
        }
        cli__resp_free(&r);
        if (ro.deleted)
            return cli__fail("object has been deleted");
        if (ro.state != 0)
            break;
        /* the stream ended (server timeout, 410): read again and re-watch */
    }
    if (ro.state < 0)
        return cli__fail("deployment \"%s\" exceeded its progress deadline", name);
    return 0;
}

int cli_rollout(int argc, char **argv)
{
    char *pos[3];
    size_t n_pos;
    struct cli_opts o;
    struct cli_client c;
    const struct api_kind *k;
    const char *name;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 3, rollout_usage);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos == 0) {
        rollout_usage(stderr);
        return 2;
    }
    if (strcmp(pos[0], "history") == 0 || strcmp(pos[0], "undo") == 0 ||
        strcmp(pos[0], "restart") == 0 || strcmp(pos[0], "pause") == 0 ||
        strcmp(pos[0], "resume") == 0)
        return cli__fail("rollout %s: not yet supported: needs the deployment controller "
                         "(issue 6)",
                         pos[0]);
    if (strcmp(pos[0], "status") != 0) {
        rollout_usage(stderr);
        return 2;
    }
    if (kind_and_name(pos + 1, n_pos - 1, &k, &name) != 0)
        return 1;
    if (strcmp(k->kind, "Deployment") != 0)
        return cli__fail("rollout status: only deployments are supported, not %s", k->resource);
    if (open_client(&c, &o) != 0)
        return 1;
    rv = rollout_status(&c, &o, name);
    cli__client_close(&c);
    return rv;
}
