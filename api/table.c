/* Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for
 * (Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...). kubectl
 * prints the columns it is given, so the server decides them, as the
 * apiserver's printers (pkg/printers/internalversion) do. Without a Table
 * kubectl falls back to NAME and AGE only.
 *
 * Like the apiserver we always fill the priority-1 ("wide") cells; kubectl
 * drops them unless -o wide. Objects here may be half-filled (a fresh Pod has
 * no status, a field may have the wrong type), so every getter tolerates
 * missing or mistyped fields and prints kubectl's default instead. */
#include "api/internal.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- Accept negotiation ---- */

/* One media range of an Accept header: "application/json;as=Table;v=v1;
 * g=meta.k8s.io", parameters in any order, optional spaces. */
static bool range_is_table_v1(const char *s, size_t n)
{
    bool as = false, v = false, g = false, json = false;
    size_t i = 0;
    while (i < n) {
        size_t end = i, len;
        const char *p;
        while (end < n && s[end] != ';')
            end++;
        p = s + i;
        len = end - i;
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (i == 0)
            json = len == 16 && strncasecmp(p, "application/json", 16) == 0;
        else if (len == 8 && strncmp(p, "as=Table", 8) == 0)
            as = true;
        else if (len == 4 && strncmp(p, "v=v1", 4) == 0)
            v = true;
        else if (len == 13 && strncmp(p, "g=meta.k8s.io", 13) == 0)
            g = true;
        i = end + 1;
    }
    return json && as && v && g;
}

bool api__accept_table(const char *accept)
{
    const char *s = accept;
    if (s == NULL)
        return false;
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (range_is_table_v1(s, n))
            return true;
        s += n;
        if (*s == ',')
            s++;
    }
    return false;
}

/* ---- tolerant field access ---- */

static const json_t *get(const json_t *o, const char *k)
{
    return json_object_get(o, k); /* NULL for a non-object o */
}

static const json_t *get2(const json_t *o, const char *a, const char *b)
{
    return get(get(o, a), b);
}

static const json_t *get3(const json_t *o, const char *a, const char *b, const char *c)
{
    return get(get2(o, a, b), c);
}

/* The string at o[k] when it is a non-empty string, else dflt. */
static const char *str_or(const json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(get(o, k));
    return s != NULL && s[0] != '\0' ? s : dflt;
}

static json_int_t int_or(const json_t *o, const char *k, json_int_t dflt)
{
    const json_t *v = get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* A count the API declares int32 (restartCount): clamped, so that sums of
 * hostile values cannot overflow. */
static json_int_t count_or0(const json_t *o, const char *k)
{
    json_int_t v = int_or(o, k, 0);
    return v < 0 ? 0 : v > INT32_MAX ? INT32_MAX : v;
}

static bool str_is(const json_t *o, const char *k, const char *want)
{
    const char *s = json_string_value(get(o, k));
    return s != NULL && strcmp(s, want) == 0;
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return str_or(get(obj, "metadata"), key, "");
}

/* "2024-01-02T03:04:05Z", with optional fraction and numeric offset. */
static bool parse_time(const char *s, time_t *out)
{
    struct tm tm;
    const char *p;
    long off = 0;

    if (s == NULL)
        return false;
    memset(&tm, 0, sizeof tm);
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return false;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return false;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z' && *p != 'z' && *p != '\0') {
        return false;
    }
    *out = timegm(&tm) - off;
    return true;
}

/* apimachinery's duration.HumanDuration, to the second: the Job DURATION
 * cell ("5m30s", "3h12m", "2d4h"), which api_age_format rounds too coarsely
 * for a run time. */
static void human_duration(long long d, char *buf, size_t size)
{
    long long m = d / 60, h = d / 3600, days = h / 24;
    if (d < -1)
        snprintf(buf, size, "<invalid>");
    else if (d < 0)
        snprintf(buf, size, "0s");
    else if (d < 120)
        snprintf(buf, size, "%llds", d);
    else if (m < 10 && d % 60 != 0)
        snprintf(buf, size, "%lldm%llds", m, d % 60);
    else if (m < 180)
        snprintf(buf, size, "%lldm", m);
    else if (h < 8 && m % 60 != 0)
        snprintf(buf, size, "%lldh%lldm", h, m % 60);
    else if (h < 48)
        snprintf(buf, size, "%lldh", h);
    else if (h < 24 * 8 && h % 24 != 0)
        snprintf(buf, size, "%lldd%lldh", days, h % 24);
    else if (h < 24 * 365 * 2)
        snprintf(buf, size, "%lldd", days);
    else if (h < 24 * 365 * 8 && days % 365 != 0)
        snprintf(buf, size, "%lldy%lldd", days / 365, days % 365);
    else
        snprintf(buf, size, "%lldy", days / 365);
}

/* ---- growing strings: list cells have no natural bound ---- */

struct sb {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->s, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char small[64];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    /* only numbers and short literals pass through here */
    if (n < 0 || (size_t)n >= sizeof small)
        b->oom = true;
    else
        sb_add(b, small, (size_t)n);
}

/* Separator before every item but the first. */
static void sb_sep(struct sb *b, const char *sep)
{
    if (b->len > 0)
        sb_puts(b, sep);
}

/* ---- cells ---- */

/* A row's cells; a failed append marks the row failed (ERR_NOMEM). */
struct cells {
    json_t *a;
    bool failed;
};

static void put(struct cells *c, json_t *v)
{
    if (json_array_append_new(c->a, v) != 0)
        c->failed = true;
}

static void put_s(struct cells *c, const char *s)
{
    put(c, json_string(s));
}

static void put_i(struct cells *c, json_int_t i)
{
    put(c, json_integer(i));
}

/* Takes b's buffer; "" when nothing was written, dflt when given. */
static void put_sb(struct cells *c, struct sb *b, const char *dflt)
{
    if (b->oom)
        c->failed = true;
    else if (b->len == 0)
        put_s(c, dflt ? dflt : "");
    else
        put(c, json_stringn(b->s, b->len));
    free(b->s);
    memset(b, 0, sizeof *b);
}

static void put_age(struct cells *c, const char *rfc3339)
{
    char age[32];
    api_age_format(rfc3339, age, sizeof age);
    put_s(c, age);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object, sorted; *n 0 and NULL for none. Caller frees. */
static const char **sorted_keys(const json_t *o, size_t *n, bool *oom)
{
    const char **keys, *k;
    json_t *v;
    size_t i = 0;
    *n = json_object_size(o);
    if (*n == 0)
        return NULL;
    keys = malloc(*n * sizeof *keys);
    if (keys == NULL) {
        *oom = true;
        *n = 0;
        return NULL;
    }
    json_object_foreach ((json_t *)o, k, v)
        keys[i++] = k;
    qsort(keys, *n, sizeof *keys, cmp_str);
    return keys;
}

/* labels.FormatLabels: "k1=v1,k2=v2" by key; "<none>" when empty. */
static void put_labels(struct cells *c, const json_t *labels)
{
    struct sb b = {0};
    size_t n, i;
    const char **keys = sorted_keys(labels, &n, &b.oom);
    for (i = 0; i < n; i++) {
        const char *v = json_string_value(get(labels, keys[i]));
        if (v == NULL)
            continue; /* not a label: skip rather than invent a value */
        sb_sep(&b, ",");
        sb_puts(&b, keys[i]);
        sb_puts(&b, "=");
        sb_puts(&b, v);
    }
    free(keys);
    put_sb(c, &b, "<none>");
}

/* One requirement of a label selector, kept with its key: the apiserver
 * sorts requirements by key, not by their text. */
struct req {
    const char *key;
    size_t order;
    struct sb text;
};

static int cmp_req(const void *a, const void *b)
{
    const struct req *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    if (r != 0)
        return r;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* "key in (a,b)" and friends, as labels.Requirement.String; false when the
 * expression is invalid (LabelSelectorAsSelector's error). */
static bool expr_text(const json_t *expr, struct req *r)
{
    const char *op = json_string_value(get(expr, "operator"));
    const json_t *vals = get(expr, "values"), *v;
    size_t n = json_array_size(vals), i;
    const char **sorted;

    r->key = json_string_value(get(expr, "key"));
    if (r->key == NULL || r->key[0] == '\0' || op == NULL)
        return false;
    if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
        if (n != 0)
            return false;
        sb_puts(&r->text, op[0] == 'D' ? "!" : "");
        sb_puts(&r->text, r->key);
        return true;
    }
    if ((strcmp(op, "In") != 0 && strcmp(op, "NotIn") != 0) || n == 0)
        return false;
    sorted = malloc(n * sizeof *sorted);
    if (sorted == NULL) {
        r->text.oom = true;
        return true;
    }
    json_array_foreach (vals, i, v) {
        sorted[i] = json_string_value(v);
        if (sorted[i] == NULL) {
            free(sorted);
            return false;
        }
    }
    qsort(sorted, n, sizeof *sorted, cmp_str);
    sb_puts(&r->text, r->key);
    sb_puts(&r->text, op[0] == 'I' ? " in (" : " notin (");
    for (i = 0; i < n; i++) {
        sb_puts(&r->text, i ? "," : "");
        sb_puts(&r->text, sorted[i]);
    }
    sb_puts(&r->text, ")");
    free(sorted);
    return true;
}

/* metav1.LabelSelectorAsSelector(sel).String() into b: matchLabels as
 * "k=v", matchExpressions as "k in (a,b)", "k notin (a)", "k", "!k", all
 * sorted by key and comma-joined; "" for a nil or empty selector. False
 * when the selector is invalid. */
static bool selector_text(const json_t *sel, struct sb *b)
{
    const json_t *ml = get(sel, "matchLabels"), *me = get(sel, "matchExpressions"), *v;
    size_t n = json_object_size(ml) + json_array_size(me), i = 0, j;
    struct req *reqs;
    const char *k;
    bool ok = true;

    if (n == 0)
        return true;
    reqs = calloc(n, sizeof *reqs);
    if (reqs == NULL) {
        b->oom = true;
        return true;
    }
    json_object_foreach ((json_t *)ml, k, v) {
        reqs[i].key = k;
        reqs[i].order = i;
        if (json_string_value(v) == NULL)
            ok = false;
        sb_puts(&reqs[i].text, k);
        sb_puts(&reqs[i].text, "=");
        sb_puts(&reqs[i].text, ok ? json_string_value(v) : "");
        i++;
    }
    json_array_foreach (me, j, v) {
        reqs[i].order = i;
        if (!expr_text(v, &reqs[i]))
            ok = false;
        i++;
    }
    if (ok) {
        qsort(reqs, n, sizeof *reqs, cmp_req);
        for (i = 0; i < n; i++) {
            sb_sep(b, ",");
            if (reqs[i].text.oom)
                b->oom = true;
            else if (reqs[i].text.len > 0)
                sb_add(b, reqs[i].text.s, reqs[i].text.len);
        }
    }
    for (i = 0; i < n; i++)
        free(reqs[i].text.s);
    free(reqs);
    return ok;
}

/* metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid. */
static void put_selector(struct cells *c, const json_t *sel)
{
    struct sb b = {0};
    if (!selector_text(sel, &b)) {
        free(b.s);
        put_s(c, "<error>");
        return;
    }
    put_sb(c, &b, "<none>");
}

/* layoutContainerCells: the CONTAINERS and IMAGES cells of a pod spec. */
static void put_containers(struct cells *c, const json_t *podspec)
{
    const json_t *ctrs = get(podspec, "containers"), *ctr;
    struct sb names = {0}, images = {0};
    size_t i;
    json_array_foreach (ctrs, i, ctr) {
        sb_puts(&names, i ? "," : "");
        sb_puts(&names, str_or(ctr, "name", ""));
        sb_puts(&images, i ? "," : "");
        sb_puts(&images, str_or(ctr, "image", ""));
    }
    put_sb(c, &names, NULL);
    put_sb(c, &images, NULL);
}

/* ---- column definitions ---- */

struct col {
    const char *name, *type, *format;
    int priority;
    const char *description;
};

#define D_NAME                                                                                     \
    "Name must be unique within a namespace. Is required when creating resources, although some "  \
    "resources may allow a client to request the generation of an appropriate name "               \
    "automatically. Name is primarily intended for creation idempotence and configuration "        \
    "definition. Cannot be updated. More info: "                                                   \
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
#define D_AGE                                                                                      \
    "CreationTimestamp is a timestamp representing the server time when this object was "          \
    "created. It is not guaranteed to be set in happens-before order across separate "             \
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "     \
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "                      \
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
#define D_CONTAINERS "Names of each container in the template."
#define D_IMAGES     "Images referenced by each container in the template."
#define D_SELECTOR                                                                                 \
    "A label query over pods that should match the replica count. Label keys and values that "     \
    "must match in order to be controlled by this controller."

/* clang-format off */
#define C_NAME       {"Name", "string", "name", 0, D_NAME}
#define C_AGE        {"Age", "string", "", 0, D_AGE}
#define C_CONTAINERS {"Containers", "string", "", 1, D_CONTAINERS}
#define C_IMAGES     {"Images", "string", "", 1, D_IMAGES}
#define C_SELECTOR   {"Selector", "string", "", 1, D_SELECTOR}
/* clang-format on */

static const struct col pod_cols[] = {
    C_NAME,
    {"Ready", "string", "", 0, "The aggregate readiness state of this pod for accepting traffic."},
    {"Status", "string", "", 0, "The aggregate status of the containers in this pod."},
    {"Restarts", "string", "", 0,
     "The number of times the containers in this pod have been restarted and when the last "
     "container in this pod has restarted."},
    C_AGE,
    {"IP", "string", "", 1,
     "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
     "allocated."},
    {"Node", "string", "", 1,
     "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate "
     "for scheduling by the scheduler defined in schedulerName."},
    {"Nominated Node", "string", "", 1,
     "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot "
     "be scheduled right away as preemption victims receive their graceful termination periods."},
    {"Readiness Gates", "string", "", 1,
     "If specified, all readiness gates will be evaluated for pod readiness."},
};

static const struct col deploy_cols[] = {
    C_NAME,
    {"Ready", "string", "", 0, "Number of the pod with ready state"},
    {"Up-to-date", "string", "", 0,
     "Total number of non-terminated pods targeted by this deployment that have the desired "
     "template spec."},
    {"Available", "string", "", 0,
     "Total number of available pods (ready for at least minReadySeconds) targeted by this "
     "deployment."},
    C_AGE,
    C_CONTAINERS,
    C_IMAGES,
    C_SELECTOR,
};

static const struct col rs_cols[] = {
    C_NAME,
    {"Desired", "integer", "", 0, "Replicas is the number of desired replicas. Defaults to 1."},
    {"Current", "integer", "", 0, "Replicas is the most recently observed number of replicas."},
    {"Ready", "integer", "", 0,
     "The number of pods targeted by this ReplicaSet with a Ready Condition."},
    C_AGE,
    C_CONTAINERS,
    C_IMAGES,
    C_SELECTOR,
};

static const struct col ds_cols[] = {
    C_NAME,
    {"Desired", "integer", "", 0,
     "The total number of nodes that should be running the daemon pod (including nodes "
     "correctly running the daemon pod)."},
    {"Current", "integer", "", 0,
     "The number of nodes that are running at least 1 daemon pod and are supposed to run the "
     "daemon pod."},
    {"Ready", "integer", "", 0,
     "The number of nodes that should be running the daemon pod and have one or more of the "
     "daemon pod running and ready."},
    {"Up-to-date", "integer", "", 0,
     "The total number of nodes that are running updated daemon pod"},
    {"Available", "integer", "", 0,
     "The number of nodes that should be running the daemon pod and have one or more of the "
     "daemon pod running and available (ready for at least spec.minReadySeconds)"},
    {"Node Selector", "string", "", 0,
     "NodeSelector is a selector which must be true for the pod to fit on a node."},
    C_AGE,
    C_CONTAINERS,
    C_IMAGES,
    C_SELECTOR,
};

/* The kubectl 1.29 Job columns: the STATUS column came with 1.30. */
static const struct col job_cols[] = {
    C_NAME,
    {"Completions", "string", "", 0, "The number of pods which reached phase Succeeded."},
    {"Duration", "string", "", 0, "Time required to complete the job."},
    C_AGE,
    C_CONTAINERS,
    C_IMAGES,
    C_SELECTOR,
};

static const struct col cj_cols[] = {
    C_NAME,
    {"Schedule", "string", "", 0,
     "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."},
    {"Timezone", "string", "", 0, "The time zone name for the given schedule."},
    {"Suspend", "boolean", "", 0,
     "This flag tells the controller to suspend subsequent executions, it does not apply to "
     "already started executions. Defaults to false."},
    {"Active", "integer", "", 0, "A list of pointers to currently running jobs."},
    {"Last Schedule", "string", "", 0,
     "Information when was the last time the job was successfully scheduled."},
    C_AGE,
    C_CONTAINERS,
    C_IMAGES,
    C_SELECTOR,
};

static const struct col svc_cols[] = {
    C_NAME,
    {"Type", "string", "", 0, "type determines how the Service is exposed."},
    {"Cluster-IP", "string", "", 0,
     "clusterIP is the IP address of the service and is usually assigned randomly."},
    {"External-IP", "string", "", 0,
     "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
     "traffic for this service."},
    {"Port(s)", "string", "", 0, "The list of ports that are exposed by this service."},
    C_AGE,
    {"Selector", "string", "", 1,
     "Route service traffic to pods with label keys and values matching this selector."},
};

static const struct col ep_cols[] = {
    C_NAME,
    {"Endpoints", "string", "", 0, "The set of all endpoints is the union of all subsets."},
    C_AGE,
};

static const struct col secret_cols[] = {
    C_NAME,
    {"Type", "string", "", 0, "Used to facilitate programmatic handling of secret data."},
    {"Data", "string", "", 0,
     "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' "
     "or '.'."},
    C_AGE,
};

static const struct col cm_cols[] = {
    C_NAME,
    {"Data", "string", "", 0,
     "Data contains the configuration data. Each key must consist of alphanumeric characters, "
     "'-', '_' or '.'."},
    C_AGE,
};

static const struct col node_cols[] = {
    C_NAME,
    {"Status", "string", "", 0, "The status of the node"},
    {"Roles", "string", "", 0, "The roles of the node"},
    C_AGE,
    {"Version", "string", "", 0, "Kubelet Version reported by the node."},
    {"Internal-IP", "string", "", 1, "List of addresses reachable to the node."},
    {"External-IP", "string", "", 1, "List of addresses reachable to the node."},
    {"OS-Image", "string", "", 1,
     "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."},
    {"Kernel-Version", "string", "", 1,
     "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."},
    {"Container-Runtime", "string", "", 1,
     "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
     "containerd://1.4.2)."},
};

static const struct col ns_cols[] = {
    C_NAME,
    {"Status", "string", "", 0, "The status of the namespace"},
    C_AGE,
};

static const struct col lease_cols[] = {
    C_NAME,
    {"Holder", "string", "", 0,
     "holderIdentity contains the identity of the holder of a current lease."},
    C_AGE,
};

static const struct col default_cols[] = {C_NAME, C_AGE};

/* ---- Pod ---- */

/* What printPod derives from the container statuses. */
struct pod_sum {
    int ready, total;
    json_int_t restarts;
    const char *last_restart; /* latest lastState.terminated.finishedAt */
    time_t last_t;
    const char *reason;
    char buf[256]; /* reason when formatted ("Init:1/2", "ExitCode:1"); may truncate */
};

/* Keeps the later of the current last restart and cs's last termination. */
static void note_restart(const json_t *cs, const char **last, time_t *last_t)
{
    const char *fin = json_string_value(get3(cs, "lastState", "terminated", "finishedAt"));
    time_t t;
    if (fin != NULL && parse_time(fin, &t) && (*last == NULL || t > *last_t)) {
        *last = fin;
        *last_t = t;
    }
}

static bool cond_true(const json_t *status, const char *type)
{
    const json_t *c;
    size_t i;
    json_array_foreach (get(status, "conditions"), i, c)
        if (str_is(c, "type", type))
            return str_is(c, "status", "True");
    return false;
}

/* A sidecar: an init container with restartPolicy Always. */
static bool init_restartable(const json_t *spec, const char *name)
{
    const json_t *ic;
    size_t i;
    if (name == NULL)
        return false;
    json_array_foreach (get(spec, "initContainers"), i, ic)
        if (str_is(ic, "name", name))
            return str_is(ic, "restartPolicy", "Always");
    return false;
}

/* Drops a multi-byte character that a truncating snprintf cut in half, so
 * the cell stays valid UTF-8 (json_string refuses anything else). */
static void utf8_trim(char *s)
{
    size_t n = strlen(s), i = n, need;
    unsigned char lead;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    lead = (unsigned char)s[i - 1];
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (i - 1) < need)
        s[i - 1] = '\0';
}

/* "Init:" / "" + "Signal:N" or "ExitCode:N" for a terminated state
 * without a reason, or + its reason. */
static void terminated_reason(struct pod_sum *p, const char *pfx, const json_t *term)
{
    const char *r = str_or(term, "reason", NULL);
    json_int_t sig = int_or(term, "signal", 0);
    if (r != NULL)
        snprintf(p->buf, sizeof p->buf, "%s%s", pfx, r);
    else if (sig != 0)
        snprintf(p->buf, sizeof p->buf, "%sSignal:%lld", pfx, (long long)sig);
    else
        snprintf(p->buf, sizeof p->buf, "%sExitCode:%lld", pfx,
                 (long long)int_or(term, "exitCode", 0));
    utf8_trim(p->buf);
    p->reason = p->buf;
}

/* printPod's init container pass: true while initialising. */
static bool pod_init(const json_t *pod, struct pod_sum *p, json_int_t *side_restarts,
                     const char **side_last, time_t *side_t)
{
    const json_t *spec = get(pod, "spec"), *cs;
    size_t n_init = json_array_size(get(spec, "initContainers")), i;

    json_array_foreach (get2(pod, "status", "initContainerStatuses"), i, cs) {
        const json_t *st = get(cs, "state"), *term = get(st, "terminated");
        const char *wait = str_or(get(st, "waiting"), "reason", NULL);
        bool side = init_restartable(spec, json_string_value(get(cs, "name")));

        p->restarts += count_or0(cs, "restartCount");
        note_restart(cs, &p->last_restart, &p->last_t);
        if (side) {
            *side_restarts += count_or0(cs, "restartCount");
            note_restart(cs, side_last, side_t);
        }
        if (json_is_object(term) && int_or(term, "exitCode", 0) == 0)
            continue;
        if (side && json_is_true(get(cs, "started"))) {
            p->ready += json_is_true(get(cs, "ready"));
            continue;
        }
        if (json_is_object(term)) {
            terminated_reason(p, "Init:", term);
        } else if (wait != NULL && strcmp(wait, "PodInitializing") != 0) {
            snprintf(p->buf, sizeof p->buf, "Init:%s", wait);
            utf8_trim(p->buf);
            p->reason = p->buf;
        } else {
            snprintf(p->buf, sizeof p->buf, "Init:%zu/%zu", i, n_init);
            p->reason = p->buf;
        }
        return true;
    }
    return false;
}

/* printPod's READY, STATUS and RESTARTS. */
static void pod_summary(const json_t *pod, struct pod_sum *p)
{
    const json_t *spec = get(pod, "spec"), *status = get(pod, "status"), *c, *cs;
    const json_t *statuses = get(status, "containerStatuses");
    json_int_t side_restarts = 0;
    const char *side_last = NULL;
    time_t side_t = 0;
    bool initializing, running = false;
    size_t i;

    memset(p, 0, sizeof *p);
    p->total = (int)json_array_size(get(spec, "containers"));
    json_array_foreach (get(spec, "initContainers"), i, c)
        p->total += str_is(c, "restartPolicy", "Always");
    /* The apiserver sets phase Pending on create; a status-less object
     * here is one nobody has reported on yet. */
    p->reason = str_or(status, "reason", str_or(status, "phase", "Pending"));
    json_array_foreach (get(status, "conditions"), i, c)
        if (str_is(c, "type", "PodScheduled") && str_is(c, "reason", "SchedulingGated"))
            p->reason = "SchedulingGated";

    initializing = pod_init(pod, p, &side_restarts, &side_last, &side_t);
    if (!initializing || cond_true(status, "Initialized")) {
        p->restarts = side_restarts;
        p->last_restart = side_last;
        p->last_t = side_t;
        /* backwards, so the first container's reason wins, as in printPod */
        for (i = json_array_size(statuses); i-- > 0;) {
            const json_t *st, *term;
            const char *wait;
            cs = json_array_get(statuses, i);
            st = get(cs, "state");
            term = get(st, "terminated");
            wait = str_or(get(st, "waiting"), "reason", NULL);
            p->restarts += count_or0(cs, "restartCount");
            note_restart(cs, &p->last_restart, &p->last_t);
            if (wait != NULL) {
                p->reason = wait;
            } else if (json_is_object(term)) {
                terminated_reason(p, "", term);
            } else if (json_is_true(get(cs, "ready")) && json_is_object(get(st, "running"))) {
                running = true;
                p->ready++;
            }
        }
        if (strcmp(p->reason, "Completed") == 0 && running)
            p->reason = cond_true(status, "Ready") ? "Running" : "NotReady";
    }
    if (get2(pod, "metadata", "deletionTimestamp") != NULL &&
        !json_is_null(get2(pod, "metadata", "deletionTimestamp")))
        p->reason = str_is(status, "reason", "NodeLost") ? "Unknown" : "Terminating";
}

static void pod_cells(const json_t *pod, struct cells *c)
{
    const json_t *spec = get(pod, "spec"), *status = get(pod, "status"), *g;
    const char *ip = str_or(json_array_get(get(status, "podIPs"), 0), "ip", NULL);
    struct pod_sum p;
    char buf[64];
    int n_true = 0;
    size_t i;

    pod_summary(pod, &p);
    put_s(c, meta_str(pod, "name"));
    snprintf(buf, sizeof buf, "%d/%d", p.ready, p.total);
    put_s(c, buf);
    put_s(c, p.reason);
    if (p.restarts != 0 && p.last_restart != NULL) {
        char ago[32];
        api_age_format(p.last_restart, ago, sizeof ago);
        snprintf(buf, sizeof buf, "%lld (%s ago)", (long long)p.restarts, ago);
    } else {
        snprintf(buf, sizeof buf, "%lld", (long long)p.restarts);
    }
    put_s(c, buf);
    put_age(c, meta_str(pod, "creationTimestamp"));
    put_s(c, ip ? ip : str_or(status, "podIP", "<none>"));
    put_s(c, str_or(spec, "nodeName", "<none>"));
    put_s(c, str_or(status, "nominatedNodeName", "<none>"));
    if (json_array_size(get(spec, "readinessGates")) == 0) {
        put_s(c, "<none>");
        return;
    }
    json_array_foreach (get(spec, "readinessGates"), i, g) {
        const char *type = json_string_value(get(g, "conditionType"));
        n_true += type != NULL && cond_true(status, type);
    }
    snprintf(buf, sizeof buf, "%d/%zu", n_true, json_array_size(get(spec, "readinessGates")));
    put_s(c, buf);
}

/* rows[].conditions: the apiserver marks finished pods Completed. */
static json_t *pod_conditions(const json_t *pod)
{
    const json_t *status = get(pod, "status");
    if (str_is(status, "phase", "Succeeded"))
        return json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Completed", "status", "True", "reason",
                         "Succeeded", "message", "The pod has completed successfully.");
    if (str_is(status, "phase", "Failed"))
        return json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Completed", "status", "True", "reason",
                         "Failed", "message", "The pod failed.");
    return NULL;
}

/* ---- workloads ---- */

static void deploy_cells(const json_t *d, struct cells *c)
{
    const json_t *spec = get(d, "spec"), *status = get(d, "status");
    struct sb sel = {0};
    char buf[64];

    put_s(c, meta_str(d, "name"));
    /* spec.replicas defaults to 1 in the apiserver */
    snprintf(buf, sizeof buf, "%lld/%lld", (long long)int_or(status, "readyReplicas", 0),
             (long long)int_or(spec, "replicas", 1));
    put_s(c, buf);
    put_i(c, int_or(status, "updatedReplicas", 0));
    put_i(c, int_or(status, "availableReplicas", 0));
    put_age(c, meta_str(d, "creationTimestamp"));
    put_containers(c, get2(spec, "template", "spec"));
    /* printDeployment prints the selector bare: "" when empty, "<invalid>" */
    if (selector_text(get(spec, "selector"), &sel)) {
        put_sb(c, &sel, NULL);
    } else {
        free(sel.s);
        put_s(c, "<invalid>");
    }
}

static void rs_cells(const json_t *rs, struct cells *c)
{
    const json_t *spec = get(rs, "spec"), *status = get(rs, "status");
    put_s(c, meta_str(rs, "name"));
    put_i(c, int_or(spec, "replicas", 1));
    put_i(c, int_or(status, "replicas", 0));
    put_i(c, int_or(status, "readyReplicas", 0));
    put_age(c, meta_str(rs, "creationTimestamp"));
    put_containers(c, get2(spec, "template", "spec"));
    put_selector(c, get(spec, "selector"));
}

static void ds_cells(const json_t *ds, struct cells *c)
{
    const json_t *spec = get(ds, "spec"), *status = get(ds, "status");
    put_s(c, meta_str(ds, "name"));
    put_i(c, int_or(status, "desiredNumberScheduled", 0));
    put_i(c, int_or(status, "currentNumberScheduled", 0));
    put_i(c, int_or(status, "numberReady", 0));
    put_i(c, int_or(status, "updatedNumberScheduled", 0));
    put_i(c, int_or(status, "numberAvailable", 0));
    put_labels(c, get3(spec, "template", "spec", "nodeSelector"));
    put_age(c, meta_str(ds, "creationTimestamp"));
    put_containers(c, get2(spec, "template", "spec"));
    put_selector(c, get(spec, "selector"));
}

static void job_cells(const json_t *job, struct cells *c)
{
    const json_t *spec = get(job, "spec"), *status = get(job, "status");
    json_int_t ok = int_or(status, "succeeded", 0), par = int_or(spec, "parallelism", 0);
    time_t start, end;
    char buf[64];

    put_s(c, meta_str(job, "name"));
    if (json_is_integer(get(spec, "completions")))
        snprintf(buf, sizeof buf, "%lld/%lld", (long long)ok,
                 (long long)int_or(spec, "completions", 0));
    else if (par > 1)
        snprintf(buf, sizeof buf, "%lld/1 of %lld", (long long)ok, (long long)par);
    else
        snprintf(buf, sizeof buf, "%lld/1", (long long)ok);
    put_s(c, buf);
    /* running: time since start; done: completion - start; unstarted: "" */
    buf[0] = '\0';
    if (parse_time(json_string_value(get(status, "startTime")), &start)) {
        if (!parse_time(json_string_value(get(status, "completionTime")), &end))
            end = time(NULL);
        human_duration((long long)(end - start), buf, sizeof buf);
    }
    put_s(c, buf);
    put_age(c, meta_str(job, "creationTimestamp"));
    put_containers(c, get2(spec, "template", "spec"));
    put_selector(c, get(spec, "selector"));
}

static void cj_cells(const json_t *cj, struct cells *c)
{
    const json_t *spec = get(cj, "spec"), *status = get(cj, "status");
    const json_t *jspec = get2(spec, "jobTemplate", "spec");
    const char *last = str_or(status, "lastScheduleTime", NULL);

    put_s(c, meta_str(cj, "name"));
    put_s(c, str_or(spec, "schedule", ""));
    put_s(c, str_or(spec, "timeZone", "<none>"));
    /* suspend defaults to false in the apiserver */
    put_s(c, json_is_true(get(spec, "suspend")) ? "True" : "False");
    put_i(c, (json_int_t)json_array_size(get(status, "active")));
    if (last != NULL)
        put_age(c, last);
    else
        put_s(c, "<none>");
    put_age(c, meta_str(cj, "creationTimestamp"));
    put_containers(c, get2(jspec, "template", "spec"));
    put_selector(c, get(jspec, "selector"));
}

/* ---- networking ---- */

/* Appends each string of arr, comma-separated. */
static void sb_join(struct sb *b, const json_t *arr)
{
    const json_t *v;
    size_t i;
    json_array_foreach (arr, i, v) {
        if (json_string_value(v) == NULL)
            continue;
        sb_sep(b, ",");
        sb_puts(b, json_string_value(v));
    }
}

/* status.loadBalancer.ingress as a sorted set of IPs or hostnames. */
static void lb_ingress(const json_t *svc, struct sb *b)
{
    const json_t *ing = get3(svc, "status", "loadBalancer", "ingress"), *v;
    size_t n = 0, i, j;
    const char **addrs = calloc(json_array_size(ing) + 1, sizeof *addrs);
    if (addrs == NULL) {
        b->oom = true;
        return;
    }
    json_array_foreach (ing, i, v) {
        const char *a = str_or(v, "ip", str_or(v, "hostname", NULL));
        if (a != NULL)
            addrs[n++] = a;
    }
    qsort(addrs, n, sizeof *addrs, cmp_str);
    for (i = 0; i < n; i++) {
        for (j = 0; j < i && strcmp(addrs[j], addrs[i]) != 0; j++)
            ;
        if (j < i)
            continue;
        sb_sep(b, ",");
        sb_puts(b, addrs[i]);
    }
    free(addrs);
}

/* getServiceExternalIP, wide (never clipped: the apiserver prints wide). */
static void put_external_ip(struct cells *c, const json_t *svc, const char *type)
{
    const json_t *spec = get(svc, "spec");
    struct sb b = {0};

    if (strcmp(type, "ClusterIP") == 0 || strcmp(type, "NodePort") == 0) {
        sb_join(&b, get(spec, "externalIPs"));
        put_sb(c, &b, "<none>");
    } else if (strcmp(type, "LoadBalancer") == 0) {
        lb_ingress(svc, &b);
        sb_join(&b, get(spec, "externalIPs"));
        put_sb(c, &b, "<pending>");
    } else if (strcmp(type, "ExternalName") == 0) {
        put_s(c, str_or(spec, "externalName", ""));
    } else {
        put_s(c, "<unknown>");
    }
}

static void svc_cells(const json_t *svc, struct cells *c)
{
    const json_t *spec = get(svc, "spec"), *p;
    /* type defaults to ClusterIP in the apiserver */
    const char *type = str_or(spec, "type", "ClusterIP");
    const char *cip = json_string_value(json_array_get(get(spec, "clusterIPs"), 0));
    struct sb ports = {0};
    size_t i;

    put_s(c, meta_str(svc, "name"));
    put_s(c, type);
    put_s(c, cip != NULL && cip[0] != '\0' ? cip : str_or(spec, "clusterIP", "<none>"));
    put_external_ip(c, svc, type);
    json_array_foreach (get(spec, "ports"), i, p) {
        json_int_t node_port = int_or(p, "nodePort", 0);
        sb_sep(&ports, ",");
        if (node_port > 0)
            sb_printf(&ports, "%lld:%lld/", (long long)int_or(p, "port", 0), (long long)node_port);
        else
            sb_printf(&ports, "%lld/", (long long)int_or(p, "port", 0));
        sb_puts(&ports, str_or(p, "protocol", "TCP"));
    }
    put_sb(c, &ports, "<none>");
    put_age(c, meta_str(svc, "creationTimestamp"));
    put_labels(c, get(spec, "selector"));
}

/* formatEndpoints: "ip:port" per address and port, the first 3 shown,
 * then " + N more..."; bare IPs for port-less (headless) subsets. */
static void put_endpoints(struct cells *c, const json_t *ep)
{
    const json_t *subsets = get(ep, "subsets"), *ss, *port, *addr;
    struct sb b = {0};
    size_t i, j, k, shown = 0, count = 0;

    if (json_array_size(subsets) == 0) {
        put_s(c, "<none>");
        return;
    }
    json_array_foreach (subsets, i, ss) {
        const json_t *ports = get(ss, "ports"), *addrs = get(ss, "addresses");
        size_t n_ports = json_array_size(ports);
        for (j = 0; j < (n_ports ? n_ports : 1); j++) {
            port = json_array_get(ports, j);
            count += json_array_size(addrs);
            json_array_foreach (addrs, k, addr) {
                const char *ip = str_or(addr, "ip", "");
                if (shown == 3)
                    break;
                sb_sep(&b, ",");
                if (n_ports == 0) {
                    sb_puts(&b, ip);
                } else {
                    bool v6 = strchr(ip, ':') != NULL; /* net.JoinHostPort brackets IPv6 */
                    sb_puts(&b, v6 ? "[" : "");
                    sb_puts(&b, ip);
                    sb_printf(&b, "%s:%lld", v6 ? "]" : "", (long long)int_or(port, "port", 0));
                }
                shown++;
            }
        }
    }
    if (count > 3)
        sb_printf(&b, " + %zu more...", count - 3);
    put_sb(c, &b, NULL);
}

static void ep_cells(const json_t *ep, struct cells *c)
{
    put_s(c, meta_str(ep, "name"));
    put_endpoints(c, ep);
    put_age(c, meta_str(ep, "creationTimestamp"));
}

/* ---- config and cluster objects ---- */

static void secret_cells(const json_t *s, struct cells *c)
{
    const json_t *data = get(s, "data"), *v;
    json_int_t n = (json_int_t)json_object_size(data);
    const char *k;
    /* the apiserver folds stringData into data on write; count what it
     * would have, in case an object here still carries it */
    json_object_foreach ((json_t *)get(s, "stringData"), k, v)
        n += get(data, k) == NULL;
    put_s(c, meta_str(s, "name"));
    put_s(c, str_or(s, "type", "Opaque"));
    put_i(c, n);
    put_age(c, meta_str(s, "creationTimestamp"));
}

static void cm_cells(const json_t *cm, struct cells *c)
{
    put_s(c, meta_str(cm, "name"));
    put_i(c, (json_int_t)(json_object_size(get(cm, "data")) +
                          json_object_size(get(cm, "binaryData"))));
    put_age(c, meta_str(cm, "creationTimestamp"));
}

/* printNode: "Ready"/"NotReady" from the Ready condition, "Unknown" without
 * one, then ",SchedulingDisabled" when cordoned. */
static void put_node_status(struct cells *c, const json_t *node)
{
    const json_t *cond;
    const char *st = "Unknown";
    char buf[64];
    size_t i;
    json_array_foreach (get2(node, "status", "conditions"), i, cond) {
        if (str_is(cond, "type", "Ready"))
            st = str_is(cond, "status", "True") ? "Ready" : "NotReady";
    }
    snprintf(buf, sizeof buf, "%s%s", st,
             json_is_true(get2(node, "spec", "unschedulable")) ? ",SchedulingDisabled" : "");
    put_s(c, buf);
}

/* findNodeRoles: node-role.kubernetes.io/<role> labels and the
 * kubernetes.io/role label, sorted and unique; "<none>" without either. */
static void put_node_roles(struct cells *c, const json_t *node)
{
    static const char pfx[] = "node-role.kubernetes.io/";
    const json_t *labels = get2(node, "metadata", "labels"), *v;
    const char **roles, *k;
    size_t n = 0, i;
    struct sb b = {0};

    roles = calloc(json_object_size(labels) + 1, sizeof *roles);
    if (roles == NULL) {
        c->failed = true;
        return;
    }
    json_object_foreach ((json_t *)labels, k, v) {
        if (strncmp(k, pfx, sizeof pfx - 1) == 0 && k[sizeof pfx - 1] != '\0')
            roles[n++] = k + sizeof pfx - 1;
        else if (strcmp(k, "kubernetes.io/role") == 0 && json_string_length(v) > 0)
            roles[n++] = json_string_value(v);
    }
    qsort(roles, n, sizeof *roles, cmp_str);
    for (i = 0; i < n; i++) {
        if (i > 0 && strcmp(roles[i - 1], roles[i]) == 0)
            continue;
        sb_sep(&b, ",");
        sb_puts(&b, roles[i]);
    }
    free(roles);
    put_sb(c, &b, "<none>");
}

static const char *node_address(const json_t *node, const char *type)
{
    const json_t *a;
    size_t i;
    json_array_foreach (get2(node, "status", "addresses"), i, a)
        if (str_is(a, "type", type))
            return str_or(a, "address", "");
    return "<none>";
}

static void node_cells(const json_t *node, struct cells *c)
{
    const json_t *info = get2(node, "status", "nodeInfo");
    put_s(c, meta_str(node, "name"));
    put_node_status(c, node);
    put_node_roles(c, node);
    put_age(c, meta_str(node, "creationTimestamp"));
    put_s(c, str_or(info, "kubeletVersion", ""));
    put_s(c, node_address(node, "InternalIP"));
    put_s(c, node_address(node, "ExternalIP"));
    put_s(c, str_or(info, "osImage", "<unknown>"));
    put_s(c, str_or(info, "kernelVersion", "<unknown>"));
    put_s(c, str_or(info, "containerRuntimeVersion", "<unknown>"));
}

static void ns_cells(const json_t *ns, struct cells *c)
{
    put_s(c, meta_str(ns, "name"));
    /* the apiserver sets phase Active on create */
    put_s(c, str_or(get(ns, "status"), "phase", "Active"));
    put_age(c, meta_str(ns, "creationTimestamp"));
}

static const struct col hpa_cols[] = {
    C_NAME,
    {"Reference", "string", "", 0,
     "scaleTargetRef points to the target resource to scale, and is used to the pods for which "
     "metrics should be collected, as well as to actually change the replica count."},
    {"Targets", "string", "", 0,
     "metrics contains the specifications for which to use to calculate the desired replica "
     "count (the maximum replica count across all metrics will be used)."},
    {"MinPods", "string", "", 0,
     "minReplicas is the lower limit for the number of replicas to which the autoscaler can "
     "scale down."},
    {"MaxPods", "string", "", 0,
     "maxReplicas is the upper limit for the number of replicas to which the autoscaler can "
     "scale up."},
    {"Replicas", "string", "", 0,
     "currentReplicas is current number of replicas of pods managed by this autoscaler, as last "
     "seen by the autoscaler."},
    C_AGE,
};

/* kubectl's formatHPAMetrics for Resource metrics: "cpu: 20%/50%",
 * "memory: 100Mi/200Mi", "<unknown>" until the controller has measured;
 * two shown, then "+ N more..." */
static void hpa_sb_addf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hpa_sb_addf(struct sb *b, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void put_hpa_targets(struct cells *c, const json_t *specs, const json_t *statuses)
{
    struct sb b = {0};
    size_t i, shown = 0;
    for (i = 0; i < json_array_size(specs); i++) {
        const json_t *res = get(json_array_get(specs, i), "resource"), *t = get(res, "target");
        const json_t *cur = get2(json_array_get(statuses, i), "resource", "current");
        const char *name = str_or(res, "name", "");
        if (shown == 2) {
            hpa_sb_addf(&b, " + %zu more...", json_array_size(specs) - shown);
            break;
        }
        hpa_sb_addf(&b, "%s%s: ", shown ? ", " : "", name);
        if (get(t, "averageValue") != NULL) {
            const char *cv = json_string_value(get(cur, "averageValue"));
            const char *tv = json_string_value(get(t, "averageValue"));
            hpa_sb_addf(&b, "%s/%s", cv ? cv : "<unknown>", tv ? tv : "");
        } else {
            const json_t *cu = get(cur, "averageUtilization"), *tu = get(t, "averageUtilization");
            if (json_is_integer(cu))
                hpa_sb_addf(&b, "%lld%%", (long long)json_integer_value(cu));
            else
                hpa_sb_addf(&b, "<unknown>");
            if (json_is_integer(tu))
                hpa_sb_addf(&b, "/%lld%%", (long long)json_integer_value(tu));
            else
                hpa_sb_addf(&b, "/<auto>");
        }
        shown++;
    }
    put_sb(c, &b, "<none>");
}

static void hpa_cells(const json_t *hpa, struct cells *c)
{
    const json_t *spec = get(hpa, "spec"), *status = get(hpa, "status");
    const json_t *ref = get(spec, "scaleTargetRef"), *mn = get(spec, "minReplicas");
    char buf[320], num[24];
    snprintf(buf, sizeof buf, "%s/%s", str_or(ref, "kind", ""), str_or(ref, "name", ""));
    put_s(c, meta_str(hpa, "name"));
    put_s(c, buf);
    put_hpa_targets(c, get(spec, "metrics"), get(status, "currentMetrics"));
    if (json_is_integer(mn)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(mn));
        put_s(c, num);
    } else {
        put_s(c, "<unset>");
    }
    put_i(c, json_integer_value(get(spec, "maxReplicas")));
    put_i(c, json_integer_value(get(status, "currentReplicas")));
    put_age(c, meta_str(hpa, "creationTimestamp"));
}

static void lease_cells(const json_t *l, struct cells *c)
{
    put_s(c, meta_str(l, "name"));
    put_s(c, str_or(get(l, "spec"), "holderIdentity", ""));
    put_age(c, meta_str(l, "creationTimestamp"));
}

static void default_cells(const json_t *obj, struct cells *c)
{
    put_s(c, meta_str(obj, "name"));
    put_age(c, meta_str(obj, "creationTimestamp"));
}

/* ---- the printer table ---- */

struct printer {
    const char *kind;
    const struct col *cols;
    size_t n_cols;
    void (*cells)(const json_t *obj, struct cells *c);
    json_t *(*conditions)(const json_t *obj); /* may be NULL */
};

#define PRINTER(kind, cols, fn, conds)                                                             \
    {                                                                                              \
        kind, cols, sizeof cols / sizeof cols[0], fn, conds                                        \
    }

static const struct printer printers[] = {
    PRINTER("Pod", pod_cols, pod_cells, pod_conditions),
    PRINTER("Deployment", deploy_cols, deploy_cells, NULL),
    PRINTER("ReplicaSet", rs_cols, rs_cells, NULL),
    PRINTER("DaemonSet", ds_cols, ds_cells, NULL),
    PRINTER("Job", job_cols, job_cells, NULL),
    PRINTER("CronJob", cj_cols, cj_cells, NULL),
    PRINTER("Service", svc_cols, svc_cells, NULL),
    PRINTER("Endpoints", ep_cols, ep_cells, NULL),
    PRINTER("Secret", secret_cols, secret_cells, NULL),
    PRINTER("ConfigMap", cm_cols, cm_cells, NULL),
    PRINTER("Node", node_cols, node_cells, NULL),
    PRINTER("Namespace", ns_cols, ns_cells, NULL),
    PRINTER("Lease", lease_cols, lease_cells, NULL),
    PRINTER("HorizontalPodAutoscaler", hpa_cols, hpa_cells, NULL),
};

static const struct printer default_printer = PRINTER("", default_cols, default_cells, NULL);

static const struct printer *printer_for(const char *kind)
{
    size_t i;
    for (i = 0; kind != NULL && i < sizeof printers / sizeof printers[0]; i++)
        if (strcmp(printers[i].kind, kind) == 0)
            return &printers[i];
    return &default_printer;
}

static json_t *columns(const struct printer *p)
{
    json_t *a = json_array();
    size_t i;
    for (i = 0; a != NULL && i < p->n_cols; i++) {
        const struct col *col = &p->cols[i];
        json_t *def =
            json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", col->name, "type", col->type, "format",
                      col->format, "description", col->description, "priority", col->priority);
        if (json_array_append_new(a, def) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* rows[].object as the apiserver's ?includeObject= says: Metadata (the
 * default: a PartialObjectMetadata), Object, or None. */
static json_t *row_object(const json_t *obj, const char *include)
{
    json_t *meta = (json_t *)get(obj, "metadata");
    if (include != NULL && strcmp(include, "None") == 0)
        return NULL;
    if (include != NULL && strcmp(include, "Object") == 0)
        return json_deep_copy(obj);
    return json_pack("{s:s, s:s, s:o}", "kind", "PartialObjectMetadata", "apiVersion",
                     "meta.k8s.io/v1", "metadata",
                     json_is_object(meta) ? json_incref(meta) : json_object());
}

/* One row; NULL on allocation failure. */
static json_t *row_build(const struct printer *p, const json_t *obj, const char *include)
{
    struct cells c = {json_array(), false};
    json_t *row, *ro = NULL, *conds = NULL;
    bool want_obj = include == NULL || strcmp(include, "None") != 0;

    if (c.a == NULL)
        return NULL;
    p->cells(obj, &c);
    assert(c.failed || json_array_size(c.a) == p->n_cols);
    if (c.failed) {
        json_decref(c.a);
        return NULL;
    }
    row = json_pack("{s:o}", "cells", c.a);
    if (row == NULL)
        return NULL;
    if (want_obj &&
        ((ro = row_object(obj, include)) == NULL || json_object_set_new(row, "object", ro) != 0))
        goto out_fail;
    if (p->conditions != NULL && (conds = p->conditions(obj)) != NULL &&
        json_object_set_new(row, "conditions", conds) != 0)
        goto out_fail;
    return row;
out_fail:
    json_decref(row);
    return NULL;
}

int api__table_build(const char *kind, const json_t *items, json_t *list_meta, const char *include,
                     json_t **out, struct err *e)
{
    const struct printer *p = printer_for(kind);
    json_t *rows = json_array(), *obj, *table, *cols;
    size_t i;

    if (rows == NULL)
        return err_setf(e, ERR_NOMEM, "table: out of memory");
    json_array_foreach (items, i, obj) {
        json_t *row = row_build(p, obj, include);
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            return err_setf(e, ERR_NOMEM, "table: out of memory");
        }
    }
    cols = columns(p);
    if (cols == NULL) {
        json_decref(rows);
        return err_setf(e, ERR_NOMEM, "table: out of memory");
    }
    /* "o" steals even when json_pack fails, so nothing leaks on that path */
    table = json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                      "metadata", list_meta ? json_incref(list_meta) : json_object(),
                      "columnDefinitions", cols, "rows", rows);
    if (table == NULL)
        return err_setf(e, ERR_NOMEM, "table: out of memory");
    *out = table;
    return 0;
}
