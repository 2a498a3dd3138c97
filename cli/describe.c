/* skiff describe: one object as kubectl describe prints it: metadata, then
 * the fields that matter for its kind (Deployment, Pod, Service, Job), or
 * spec/status as indented YAML for the rest, then Events (none yet: skiff
 * has no events API). */
#include "cli/internal.h"

#include "api/api.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LABEL_WIDTH 20

static void describe_usage(FILE *f)
{
    fprintf(f, "usage: skiff describe KIND NAME [-n NS]\n"
               "       skiff describe KIND/NAME [-n NS]\n"
               "\n"
               "options:\n"
               "  -n, --namespace NS        namespace (default: the context's, or \"default\")\n"
               "      --kubeconfig FILE     default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT      talk to this node instead of the kubeconfig's\n");
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long num(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* "Label:" padded to the column the values start in, at indent. */
static void field(int indent, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void field(int indent, const char *label, const char *fmt, ...)
{
    va_list ap;
    int pad = LABEL_WIDTH - indent - (int)strlen(label) - 1;
    printf("%*s%s:%*s", indent, "", label, pad > 1 ? pad : 1, "");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Labels and annotations: one per line, sorted, "<none>" when empty. */
static void map_lines(int indent, const char *label, const json_t *m, const char *sep)
{
    const char *keys[256], *k;
    json_t *v;
    size_t n = 0, i, j;
    json_object_foreach ((json_t *)m, k, v) {
        if (n < sizeof keys / sizeof keys[0])
            keys[n++] = k;
    }
    if (n == 0) {
        field(indent, label, "<none>");
        return;
    }
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (i = 0; i < n; i++) {
        const char *val = str(m, keys[i]);
        if (i == 0)
            field(indent, label, "%s%s%s", keys[i], sep, val ? val : "");
        else
            printf("%*s%s%s%s\n", LABEL_WIDTH, "", keys[i], sep, val ? val : "");
    }
}

/* kubectl prints times as RFC 1123 with a numeric zone. */
static void time_text(const char *rfc3339, char *buf, size_t size)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (rfc3339 == NULL || strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL) {
        snprintf(buf, size, "%s", rfc3339 ? rfc3339 : "<unset>");
        return;
    }
    strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void selector_text(const json_t *sel, char *buf, size_t size)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    buf[0] = '\0';
    json_object_foreach ((json_t *)sel, k, v) {
        n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s=%s", n ? "," : "", k,
                              json_string_value(v) ? json_string_value(v) : "");
        if (n >= size)
            break;
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "<none>");
}

/* A JSON value as YAML, each line indented. */
static void yaml_block(int indent, const json_t *j)
{
    char *text = NULL, *line, *save = NULL;
    size_t len = 0;
    struct err e;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return;
    cli_yaml_dump(j, f, &e);
    fclose(f);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
        printf("%*s%s\n", indent, "", line);
    free(text);
}

static void metadata(const json_t *obj)
{
    const json_t *meta = json_object_get(obj, "metadata");
    char t[64];
    field(0, "Name", "%s", str(meta, "name") ? str(meta, "name") : "");
    if (str(meta, "namespace") != NULL)
        field(0, "Namespace", "%s", str(meta, "namespace"));
    map_lines(0, "Labels", json_object_get(meta, "labels"), "=");
    map_lines(0, "Annotations", json_object_get(meta, "annotations"), ": ");
    time_text(str(meta, "creationTimestamp"), t, sizeof t);
    field(0, "CreationTimestamp", "%s", t);
}

static void ports_text(const json_t *ports, char *buf, size_t size)
{
    json_t *p;
    size_t i, n = 0;
    buf[0] = '\0';
    json_array_foreach (ports, i, p) {
        const char *proto = str(p, "protocol");
        n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%lld/%s", n ? ", " : "",
                              num(p, "containerPort"), proto ? proto : "TCP");
        if (n >= size)
            break;
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "<none>");
}

static const json_t *container_status(const json_t *status, const char *name)
{
    json_t *cs;
    size_t i;
    json_array_foreach (json_object_get(status, "containerStatuses"), i, cs) {
        if (name != NULL && str(cs, "name") != NULL && strcmp(str(cs, "name"), name) == 0)
            return cs;
    }
    return NULL;
}

static void containers(int indent, const json_t *spec, const json_t *status)
{
    json_t *c, *env;
    size_t i, j;
    char buf[512];
    printf("%*sContainers:\n", indent, "");
    json_array_foreach (json_object_get(spec, "containers"), i, c) {
        const json_t *cs = container_status(status, str(c, "name"));
        printf("%*s%s:\n", indent + 1, "", str(c, "name") ? str(c, "name") : "");
        field(indent + 2, "Image", "%s", str(c, "image") ? str(c, "image") : "");
        ports_text(json_object_get(c, "ports"), buf, sizeof buf);
        field(indent + 2, "Port", "%s", buf);
        if (json_array_size(json_object_get(c, "command")) > 0)
            field(indent + 2, "Command", "%s",
                  json_string_value(json_array_get(json_object_get(c, "command"), 0)));
        if (cs != NULL) {
            const json_t *state = json_object_get(cs, "state");
            const char *st = json_object_get(state, "running")      ? "Running"
                             : json_object_get(state, "terminated") ? "Terminated"
                             : json_object_get(state, "waiting")    ? "Waiting"
                                                                    : "Unknown";
            const char *reason = str(json_object_get(state, "waiting"), "reason");
            field(indent + 2, "State", "%s", st);
            if (reason != NULL)
                field(indent + 4, "Reason", "%s", reason);
            field(indent + 2, "Ready", "%s",
                  json_is_true(json_object_get(cs, "ready")) ? "True" : "False");
            field(indent + 2, "Restart Count", "%lld", num(cs, "restartCount"));
        }
        env = json_object_get(c, "env");
        if (json_array_size(env) == 0) {
            field(indent + 2, "Environment", "<none>");
        } else {
            json_t *ev;
            printf("%*sEnvironment:\n", indent + 2, "");
            json_array_foreach (env, j, ev) {
                printf("%*s%s:  %s\n", indent + 3, "", str(ev, "name") ? str(ev, "name") : "",
                       str(ev, "value") ? str(ev, "value") : "<set from a reference>");
            }
        }
    }
}

static void conditions(const json_t *status)
{
    json_t *c;
    size_t i;
    if (json_array_size(json_object_get(status, "conditions")) == 0)
        return;
    printf("Conditions:\n  %-16s %-7s %s\n  %-16s %-7s %s\n", "Type", "Status", "Reason", "----",
           "------", "------");
    json_array_foreach (json_object_get(status, "conditions"), i, c) {
        printf("  %-16s %-7s %s\n", str(c, "type") ? str(c, "type") : "",
               str(c, "status") ? str(c, "status") : "", str(c, "reason") ? str(c, "reason") : "");
    }
}

static void describe_deployment(const json_t *obj)
{
    const json_t *spec = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
    const json_t *tmpl = json_object_get(spec, "template"), *strategy;
    char sel[512];
    long long desired =
        json_is_integer(json_object_get(spec, "replicas")) ? num(spec, "replicas") : 1;
    selector_text(json_object_get(json_object_get(spec, "selector"), "matchLabels"), sel,
                  sizeof sel);
    field(0, "Selector", "%s", sel);
    field(0, "Replicas",
          "%lld desired | %lld updated | %lld total | %lld available | %lld unavailable", desired,
          num(st, "updatedReplicas"), num(st, "replicas"), num(st, "availableReplicas"),
          num(st, "unavailableReplicas"));
    strategy = json_object_get(spec, "strategy");
    field(0, "StrategyType", "%s", str(strategy, "type") ? str(strategy, "type") : "RollingUpdate");
    field(0, "MinReadySeconds", "%lld", num(spec, "minReadySeconds"));
    printf("Pod Template:\n");
    map_lines(2, "Labels", json_object_get(json_object_get(tmpl, "metadata"), "labels"), "=");
    containers(2, json_object_get(tmpl, "spec"), NULL);
    conditions(st);
}

static void describe_pod(const json_t *obj)
{
    const json_t *spec = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
    const char *node = str(spec, "nodeName"), *host = str(st, "hostIP");
    if (node != NULL && host != NULL)
        field(0, "Node", "%s/%s", node, host);
    else
        field(0, "Node", "%s", node ? node : "<none>");
    field(0, "Status", "%s", str(st, "phase") ? str(st, "phase") : "Unknown");
    field(0, "IP", "%s", str(st, "podIP") ? str(st, "podIP") : "");
    containers(0, spec, st);
    conditions(st);
}

static void endpoints_text(struct cli_client *c, const char *ns, const char *name, char *buf,
                           size_t size)
{
    const struct api_kind *k = api_kind_by_kind("v1", "Endpoints");
    char path[1024];
    struct cli_resp r;
    struct err e;
    json_t *ep = NULL, *subset, *addr, *port;
    size_t i, j, l, n = 0;
    snprintf(buf, size, "<none>");
    if (k == NULL || api_kind_path(k, ns, name, path, sizeof path, &e) != 0 ||
        cli__request(c, "GET", path, NULL, NULL, NULL, &r, &e) != 0)
        return;
    if (r.status == 200)
        ep = cli__resp_json(&r);
    cli__resp_free(&r);
    json_array_foreach (json_object_get(ep, "subsets"), i, subset) {
        json_array_foreach (json_object_get(subset, "addresses"), j, addr) {
            json_array_foreach (json_object_get(subset, "ports"), l, port) {
                n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s:%lld", n ? "," : "",
                                      str(addr, "ip") ? str(addr, "ip") : "", num(port, "port"));
            }
        }
    }
    json_decref(ep);
}

static void describe_service(struct cli_client *c, const json_t *obj)
{
    const json_t *spec = json_object_get(obj, "spec"), *meta = json_object_get(obj, "metadata");
    json_t *p;
    size_t i;
    char buf[1024];
    field(0, "Type", "%s", str(spec, "type") ? str(spec, "type") : "ClusterIP");
    field(0, "IP", "%s", str(spec, "clusterIP") ? str(spec, "clusterIP") : "<none>");
    json_array_foreach (json_object_get(spec, "ports"), i, p) {
        const json_t *tp = json_object_get(p, "targetPort");
        const char *proto = str(p, "protocol") ? str(p, "protocol") : "TCP";
        field(0, "Port", "%s  %lld/%s", str(p, "name") ? str(p, "name") : "<unset>", num(p, "port"),
              proto);
        if (json_is_string(tp))
            field(0, "TargetPort", "%s/%s", json_string_value(tp), proto);
        else
            field(0, "TargetPort", "%lld/%s",
                  json_is_integer(tp) ? (long long)json_integer_value(tp) : num(p, "port"), proto);
    }
    endpoints_text(c, str(meta, "namespace"), str(meta, "name"), buf, sizeof buf);
    field(0, "Endpoints", "%s", buf);
    selector_text(json_object_get(spec, "selector"), buf, sizeof buf);
    field(0, "Selector", "%s", buf);
}

static void describe_job(const json_t *obj)
{
    const json_t *spec = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
    field(0, "Parallelism", "%lld",
          json_is_integer(json_object_get(spec, "parallelism")) ? num(spec, "parallelism") : 1);
    if (json_is_integer(json_object_get(spec, "completions")))
        field(0, "Completions", "%lld", num(spec, "completions"));
    else
        field(0, "Completions", "<unset>");
    field(0, "Pods Statuses", "%lld Active / %lld Succeeded / %lld Failed", num(st, "active"),
          num(st, "succeeded"), num(st, "failed"));
    printf("Pod Template:\n");
    containers(2, json_object_get(json_object_get(spec, "template"), "spec"), NULL);
}

/* kubectl: "Data\n====\nkey:\n----\nvalue\n"; Secrets show sizes only. */
static void describe_data(const json_t *obj, bool secret)
{
    const char *k;
    json_t *v;
    if (secret)
        field(0, "Type", "%s", str(obj, "type") ? str(obj, "type") : "Opaque");
    printf("\nData\n====\n");
    json_object_foreach (json_object_get(obj, "data"), k, v) {
        if (secret)
            printf("%s:  %zu bytes\n", k, json_string_length(v) / 4 * 3);
        else
            printf("%s:\n----\n%s\n", k, json_string_value(v) ? json_string_value(v) : "");
    }
    if (!secret) {
        printf("\nBinaryData\n====\n");
        json_object_foreach (json_object_get(obj, "binaryData"), k, v) {
            printf("%s: %zu bytes\n", k, json_string_length(v) / 4 * 3);
        }
    }
    putchar('\n');
}

static void describe_generic(const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)obj, k, v) {
        char label[64];
        if (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 || strcmp(k, "metadata") == 0)
            continue;
        snprintf(label, sizeof label, "%s", k);
        label[0] = (char)(label[0] >= 'a' && label[0] <= 'z' ? label[0] - 32 : label[0]);
        if (json_is_object(v) || json_is_array(v)) {
            if (json_object_size(v) == 0 && json_array_size(v) == 0) {
                field(0, label, "<none>");
                continue;
            }
            printf("%s:\n", label);
            yaml_block(2, v);
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            field(0, label, "%s", json_is_string(v) ? json_string_value(v) : s ? s : "");
            free(s);
        }
    }
}

static int describe(struct cli_client *c, const struct cli_opts *o, const struct api_kind *k,
                    const char *name)
{
    char path[1024];
    struct err e;
    json_t *obj;
    if (api_kind_path(k, cli__ns(c, o), name, path, sizeof path, &e) != 0)
        return cli__fail("%s", e.msg);
    if (cli__call(c, "GET", path, NULL, NULL, NULL, &obj) != 0)
        return 1;
    metadata(obj);
    if (strcmp(k->kind, "Deployment") == 0)
        describe_deployment(obj);
    else if (strcmp(k->kind, "Pod") == 0)
        describe_pod(obj);
    else if (strcmp(k->kind, "Service") == 0)
        describe_service(c, obj);
    else if (strcmp(k->kind, "Job") == 0)
        describe_job(obj);
    else if (strcmp(k->kind, "ConfigMap") == 0 || strcmp(k->kind, "Secret") == 0)
        describe_data(obj, strcmp(k->kind, "Secret") == 0);
    else
        describe_generic(obj);
    field(0, "Events", "<none>");
    json_decref(obj);
    return 0;
}

int cli_describe(int argc, char **argv)
{
    char *pos[17], word[128];
    size_t n_pos, i;
    struct cli_opts o;
    struct cli_client c;
    const struct api_kind *k = NULL;
    struct err e;
    int rv = cli__parse(argc, argv, &o, pos, &n_pos, 17, describe_usage), failed = 0;
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos == 0 || (strchr(pos[0], '/') == NULL && n_pos < 2)) {
        describe_usage(stderr);
        return 2;
    }
    if (cli__client_open(&c, &o, &e) != 0) {
        cli__client_close(&c);
        return cli__fail("%s", e.msg);
    }
    for (i = 0; i < n_pos; i++) {
        const char *name = pos[i], *slash = strchr(pos[i], '/');
        if (slash != NULL) {
            snprintf(word, sizeof word, "%.*s", (int)(slash - pos[i]), pos[i]);
            k = api_kind_lookup(word);
            name = slash + 1;
        } else if (i == 0) {
            k = api_kind_lookup(pos[0]);
            if (k == NULL) {
                failed = cli__fail("the server doesn't have a resource type \"%s\"", pos[0]);
                break;
            }
            continue;
        }
        if (k == NULL) {
            failed = cli__fail("the server doesn't have a resource type \"%s\"", word);
            continue;
        }
        if (i > (strchr(pos[0], '/') ? 0u : 1u))
            printf("\n\n");
        if (describe(&c, &o, k, name) != 0)
            failed = 1;
    }
    cli__client_close(&c);
    return failed;
}
