/* skiff scale (the /scale subresource) and skiff rollout: status (a watch on
 * one Deployment until kubectl's rolled-out test passes or time runs out),
 * history and undo (from the revisions of the ReplicaSets it controls),
 * pause, resume and restart (patches of the Deployment). */
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
               "       skiff rollout history deployment/NAME [--revision N] [-n NS]\n"
               "       skiff rollout undo deployment/NAME [--to-revision N] [-n NS]\n"
               "       skiff rollout pause|resume|restart deployment/NAME [-n NS]\n"
               "       (deployment NAME works as well as deployment/NAME)\n"
               "\n"
               "status watches the Deployment and prints kubectl's progress lines until it is\n"
               "rolled out (exit 0), its progress deadline passes or --timeout ends (exit 1).\n"
               "history lists the revisions kept in its ReplicaSets (REVISION, CHANGE-CAUSE),\n"
               "or one revision's pod template with --revision. undo puts the pod template of\n"
               "the previous revision (or --to-revision N) back into the Deployment. pause and\n"
               "resume set spec.paused; restart stamps the pod template so every pod is\n"
               "replaced.\n"
               "\n"
               "options:\n"
               "      --timeout D           status: give up after D (default 5m; 0 = forever)\n"
               "      --revision N          history: show revision N's pod template\n"
               "      --to-revision N       undo: go back to revision N (default: the previous)\n"
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

/* ---- rollout history, undo, pause, resume, restart ---- */

#define HASH_LABEL   "pod-template-hash"
#define ANN_REVISION "deployment.kubernetes.io/revision"

/* kubectl's annotationsToSkip: kept from the Deployment, never taken from
 * the ReplicaSet on undo */
static const char *const rollback_skip[] = {
    "kubectl.kubernetes.io/last-applied-configuration",
    ANN_REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
};

static bool rollback_skipped(const char *k)
{
    for (size_t i = 0; i < sizeof rollback_skip / sizeof rollback_skip[0]; i++)
        if (strcmp(k, rollback_skip[i]) == 0)
            return true;
    return false;
}

/* The rollout flags cli__parse does not know, taken out of argv: "--FLAG N"
 * or "--FLAG=N" sets *value. Returns 0, or 1 after printing. */
static int take_flag(int *argc, char **argv, const char *flag, long long *value, bool *given)
{
    size_t fl = strlen(flag);
    int i = 1, j = 1;
    while (i < *argc) {
        const char *v = NULL;
        int skip = 0;
        if (strncmp(argv[i], flag, fl) == 0 && argv[i][fl] == '=') {
            v = argv[i] + fl + 1;
            skip = 1;
        } else if (strcmp(argv[i], flag) == 0) {
            if (i + 1 >= *argc)
                return cli__fail("flag needs an argument: %s", flag);
            v = argv[i + 1];
            skip = 2;
        }
        if (v != NULL) {
            char *end;
            errno = 0;
            *value = strtoll(v, &end, 10);
            if (errno != 0 || *end != '\0' || end == v || *value < 0)
                return cli__fail("%s: want a number >= 0, got \"%s\"", flag, v);
            *given = true;
            i += skip;
            continue;
        }
        argv[j++] = argv[i++];
    }
    argv[j] = NULL;
    *argc = j;
    return 0;
}

static long long revision_of(const json_t *rs)
{
    const char *v = json_string_value(json_object_get(
        json_object_get(json_object_get(rs, "metadata"), "annotations"), ANN_REVISION));
    char *end;
    long long n;
    if (v == NULL || *v == '\0')
        return -1;
    n = strtoll(v, &end, 10);
    return *end == '\0' ? n : -1;
}

static const char *controller_uid(const json_t *obj)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r)
        if (json_is_true(json_object_get(r, "controller")))
            return json_string_value(json_object_get(r, "uid"));
    return NULL;
}

static int by_revision(const void *a, const void *b)
{
    long long x = revision_of(*(json_t *const *)a), y = revision_of(*(json_t *const *)b);
    return x < y ? -1 : x > y;
}

/* GETs the Deployment (*d) and the ReplicaSets it controls that carry a
 * revision (*rss, a new array sorted by revision), as kubectl's
 * GetAllReplicaSets. Returns the exit code. */
static int deployment_history(struct cli_client *c, const struct cli_opts *o, const char *name,
                              json_t **d, json_t **rss)
{
    const struct api_kind *dk = api_kind_by_kind("apps/v1", "Deployment");
    const struct api_kind *rk = api_kind_by_kind("apps/v1", "ReplicaSet");
    char path[1024];
    struct err e;
    json_t *list, *it;
    const char *uid;
    size_t i, n;
    json_t **v;
    *d = *rss = NULL;
    if (api_kind_path(dk, cli__ns(c, o), name, path, sizeof path, &e) != 0)
        return cli__fail("%s", e.msg);
    if (cli__call(c, "GET", path, NULL, NULL, NULL, d) != 0)
        return 1;
    if (api_kind_path(rk, cli__ns(c, o), NULL, path, sizeof path, &e) != 0)
        return cli__fail("%s", e.msg);
    if (cli__call(c, "GET", path, NULL, NULL, NULL, &list) != 0)
        return 1;
    uid = json_string_value(json_object_get(json_object_get(*d, "metadata"), "uid"));
    n = json_array_size(json_object_get(list, "items"));
    v = calloc(n ? n : 1, sizeof *v);
    *rss = json_array();
    if (v == NULL || *rss == NULL) {
        free(v);
        json_decref(list);
        return cli__fail("out of memory");
    }
    n = 0;
    json_array_foreach (json_object_get(list, "items"), i, it) {
        const char *owner = controller_uid(it);
        if (uid != NULL && owner != NULL && strcmp(owner, uid) == 0 && revision_of(it) >= 0)
            v[n++] = it;
    }
    qsort(v, n, sizeof *v, by_revision);
    for (i = 0; i < n; i++)
        json_array_append(*rss, v[i]);
    free(v);
    json_decref(list);
    return 0;
}

/* A template copy without the pod-template-hash label (kubectl's
 * equalIgnoreHash compares these). New reference. */
static json_t *template_sans_hash(const json_t *tmpl)
{
    json_t *t = json_deep_copy(tmpl ? tmpl : json_null()), *meta, *labels;
    if (!json_is_object(t))
        return t;
    meta = json_object_get(t, "metadata");
    labels = json_object_get(meta, "labels");
    json_object_del(labels, HASH_LABEL);
    if (labels != NULL && json_object_size(labels) == 0)
        json_object_del(meta, "labels");
    if (meta != NULL && json_object_size(meta) == 0)
        json_object_del(t, "metadata");
    return t;
}

static const json_t *rs_template(const json_t *rs)
{
    return json_object_get(json_object_get(rs, "spec"), "template");
}

/* kubectl rollout history: a REVISION / CHANGE-CAUSE table (tabwriter
 * padding 2), or one revision's pod template. */
static int rollout_history(struct cli_client *c, const struct cli_opts *o, const char *name,
                           bool one, long long revision)
{
    const struct api_kind *dk = api_kind_by_kind("apps/v1", "Deployment");
    char ref[300];
    json_t *d, *rss, *rs;
    size_t i, w = strlen("REVISION");
    int rv = deployment_history(c, o, name, &d, &rss);
    if (rv != 0)
        goto out;
    cli__kind_name(dk, name, ref, sizeof ref);
    if (one) {
        json_array_foreach (rss, i, rs) {
            json_t *t;
            if (revision_of(rs) != revision)
                continue;
            printf("%s with revision #%lld\nPod Template:\n", ref, revision);
            t = template_sans_hash(rs_template(rs));
            fflush(stdout);
            rv = cli__print_structured("yaml", t);
            json_decref(t);
            goto out;
        }
        rv = cli__fail("unable to find the specified revision");
        goto out;
    }
    json_array_foreach (rss, i, rs) {
        char b[32];
        size_t n = (size_t)snprintf(b, sizeof b, "%lld", revision_of(rs));
        if (n > w)
            w = n;
    }
    printf("%s \n%-*s  CHANGE-CAUSE\n", ref, (int)w, "REVISION");
    json_array_foreach (rss, i, rs) {
        const char *cause = json_string_value(
            json_object_get(json_object_get(json_object_get(rs, "metadata"), "annotations"),
                            "kubernetes.io/change-cause"));
        printf("%-*lld  %s\n", (int)w, revision_of(rs), cause && *cause ? cause : "<none>");
    }
    printf("\n");
out:
    json_decref(d);
    json_decref(rss);
    return rv;
}

/* kubectl's deploymentRevision: revision N, or with 0 the second newest. */
static const json_t *find_revision(const json_t *rss, long long to_revision)
{
    size_t n = json_array_size(rss), i;
    if (to_revision > 0) {
        for (i = 0; i < n; i++)
            if (revision_of(json_array_get(rss, i)) == to_revision)
                return json_array_get(rss, i);
        return NULL;
    }
    return n >= 2 ? json_array_get(rss, n - 2) : NULL;
}

/* The undo patch, as kubectl's getDeploymentPatch: a JSON patch replacing
 * the whole template (a merge patch would keep labels the old template did
 * not have) and the annotations (the RS's, plus the skipped ones the
 * Deployment has). New string, or NULL. */
static char *undo_patch(const json_t *d, const json_t *rs)
{
    json_t *tmpl = template_sans_hash(rs_template(rs)), *ann = json_object(), *ops;
    const json_t *dann = json_object_get(json_object_get(d, "metadata"), "annotations");
    const json_t *rann = json_object_get(json_object_get(rs, "metadata"), "annotations");
    const char *k;
    json_t *v;
    char *body;
    json_object_foreach ((json_t *)dann, k, v)
        if (rollback_skipped(k))
            json_object_set(ann, k, v);
    json_object_foreach ((json_t *)rann, k, v)
        if (!rollback_skipped(k))
            json_object_set(ann, k, v);
    ops = json_pack("[{s:s, s:s, s:o}, {s:s, s:s, s:o}]", "op", "replace", "path", "/spec/template",
                    "value", tmpl, "op", "add", "path", "/metadata/annotations", "value", ann);
    body = ops ? json_dumps(ops, JSON_COMPACT) : NULL;
    json_decref(ops);
    return body;
}

static int rollout_undo(struct cli_client *c, const struct cli_opts *o, const char *name,
                        long long to_revision)
{
    const struct api_kind *dk = api_kind_by_kind("apps/v1", "Deployment");
    char ref[300], path[1024];
    const json_t *rs;
    json_t *d, *rss, *cur, *want, *out;
    struct err e;
    char *body;
    int rv = deployment_history(c, o, name, &d, &rss);
    if (rv != 0)
        goto done;
    cli__kind_name(dk, name, ref, sizeof ref);
    if (json_is_true(json_object_get(json_object_get(d, "spec"), "paused"))) {
        rv = cli__fail("you cannot rollback a paused deployment; resume it first with "
                       "'skiff rollout resume deployment/%s' and try again",
                       name);
        goto done;
    }
    rs = find_revision(rss, to_revision);
    if (rs == NULL) {
        rv = to_revision > 0
                 ? cli__fail("unable to find specified revision %lld in history", to_revision)
                 : cli__fail("no rollout history found for deployment \"%s\"", name);
        goto done;
    }
    cur = template_sans_hash(json_object_get(json_object_get(d, "spec"), "template"));
    want = template_sans_hash(rs_template(rs));
    if (json_equal(cur, want)) {
        printf("%s skipped rollback (current template already matches revision %lld)\n", ref,
               revision_of(rs));
        json_decref(cur);
        json_decref(want);
        goto done;
    }
    json_decref(cur);
    json_decref(want);
    body = undo_patch(d, rs);
    if (body == NULL) {
        rv = cli__fail("out of memory");
        goto done;
    }
    if (api_kind_path(dk, cli__ns(c, o), name, path, sizeof path, &e) != 0) {
        free(body);
        rv = cli__fail("%s", e.msg);
        goto done;
    }
    rv = cli__call(c, "PATCH", path, "application/json-patch+json", NULL, body, &out);
    free(body);
    if (rv == 0) {
        json_decref(out);
        printf("%s rolled back\n", ref);
    }
done:
    json_decref(d);
    json_decref(rss);
    return rv;
}

/* pause, resume, restart: one merge patch each, after kubectl's checks */
static int rollout_patch(struct cli_client *c, const struct cli_opts *o, const char *name,
                         const char *verb)
{
    const struct api_kind *dk = api_kind_by_kind("apps/v1", "Deployment");
    char ref[300], path[1024], body[256], now[32];
    json_t *d, *out;
    struct err e;
    bool paused;
    time_t t = time(NULL);
    struct tm tm;
    int rv;
    if (api_kind_path(dk, cli__ns(c, o), name, path, sizeof path, &e) != 0)
        return cli__fail("%s", e.msg);
    if (cli__call(c, "GET", path, NULL, NULL, NULL, &d) != 0)
        return 1;
    paused = json_is_true(json_object_get(json_object_get(d, "spec"), "paused"));
    json_decref(d);
    cli__kind_name(dk, name, ref, sizeof ref);
    if (strcmp(verb, "pause") == 0) {
        if (paused)
            return cli__fail("deployments.apps \"%s\" is already paused", name);
        snprintf(body, sizeof body, "{\"spec\":{\"paused\":true}}");
    } else if (strcmp(verb, "resume") == 0) {
        if (!paused)
            return cli__fail("deployments.apps \"%s\" is not paused", name);
        snprintf(body, sizeof body, "{\"spec\":{\"paused\":null}}");
    } else {
        if (paused)
            return cli__fail("can't restart paused deployment (run rollout resume first)");
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(body, sizeof body,
                 "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":"
                 "{\"kubectl.kubernetes.io/restartedAt\":\"%s\"}}}}}",
                 now);
    }
    rv = cli__call(c, "PATCH", path, "application/merge-patch+json", NULL, body, &out);
    if (rv != 0)
        return rv;
    json_decref(out);
    printf("%s %s\n", ref,
           strcmp(verb, "pause") == 0    ? "paused"
           : strcmp(verb, "resume") == 0 ? "resumed"
                                         : "restarted");
    return 0;
}

int cli_rollout(int argc, char **argv)
{
    static const char *const verbs[] = {"status", "history", "undo", "pause", "resume", "restart"};
    char *pos[3], **av;
    size_t n_pos, i;
    struct cli_opts o;
    struct cli_client c;
    const struct api_kind *k;
    const char *name, *verb = NULL;
    long long to_revision = 0, revision = 0;
    bool has_to = false, has_rev = false;
    int ac = argc, rv;
    /* a copy: the flags only rollout knows are taken out before cli__parse */
    av = calloc((size_t)argc + 1, sizeof *av);
    if (av == NULL)
        return cli__fail("out of memory");
    memcpy(av, argv, (size_t)argc * sizeof *av);
    if (take_flag(&ac, av, "--to-revision", &to_revision, &has_to) != 0 ||
        take_flag(&ac, av, "--revision", &revision, &has_rev) != 0) {
        free(av);
        return 1;
    }
    rv = cli__parse(ac, av, &o, pos, &n_pos, 3, rollout_usage);
    free(av); /* pos[] points into argv's strings, not into av */
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    for (i = 0; n_pos > 0 && i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(pos[0], verbs[i]) == 0)
            verb = verbs[i];
    if (verb == NULL) {
        rollout_usage(stderr);
        return 2;
    }
    if ((has_to && strcmp(verb, "undo") != 0) || (has_rev && strcmp(verb, "history") != 0))
        return cli__fail("rollout %s: unknown flag %s", verb,
                         has_to ? "--to-revision" : "--revision");
    if (kind_and_name(pos + 1, n_pos - 1, &k, &name) != 0)
        return 1;
    if (strcmp(k->kind, "Deployment") != 0)
        return cli__fail("rollout %s: only deployments are supported, not %s", verb, k->resource);
    if (open_client(&c, &o) != 0)
        return 1;
    if (strcmp(verb, "status") == 0)
        rv = rollout_status(&c, &o, name);
    else if (strcmp(verb, "history") == 0)
        rv = rollout_history(&c, &o, name, has_rev, revision);
    else if (strcmp(verb, "undo") == 0)
        rv = rollout_undo(&c, &o, name, to_revision);
    else
        rv = rollout_patch(&c, &o, name, verb);
    cli__client_close(&c);
    return rv;
}
