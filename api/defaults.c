/* Kubernetes defaulting (the SetDefaults_* functions of pkg/apis/<group>/v1 and
 * the create-time parts of the registry strategies) for the fields skiff
 * reads. Only absent or null fields are filled, so defaulting is
 * idempotent and never overrides what a client sent; a field of the wrong
 * JSON type is left for validation to report. */
#include "api/validate.h"

#include <string.h>

/* obj[key] as an object, created when absent or null; NULL when it holds
 * something else (or on no memory). */
static json_t *sub(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_object(v))
        return v;
    if (!json_is_object(obj) || (v != NULL && !json_is_null(v)))
        return NULL;
    v = json_object();
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        return NULL;
    return v;
}

/* Sets obj[key] = v (stolen) when absent or null. */
static void def(json_t *obj, const char *key, json_t *v)
{
    json_t *cur = json_object_get(obj, key);
    if (v == NULL)
        return;
    if (!json_is_object(obj) || (cur != NULL && !json_is_null(cur))) {
        json_decref(v);
        return;
    }
    json_object_set_new(obj, key, v);
}

static void def_str(json_t *obj, const char *key, const char *s)
{
    if (json_is_object(obj) &&
        (json_object_get(obj, key) == NULL || json_is_null(json_object_get(obj, key))))
        def(obj, key, json_string(s));
}

static void def_int(json_t *obj, const char *key, json_int_t n)
{
    if (json_is_object(obj) &&
        (json_object_get(obj, key) == NULL || json_is_null(json_object_get(obj, key))))
        def(obj, key, json_integer(n));
}

/* SetDefaults_Probe: an explicit 0 also takes the default, as in Go where
 * 0 is indistinguishable from unset */
static void def_int_nonzero(json_t *obj, const char *key, json_int_t n)
{
    json_t *cur = json_object_get(obj, key);
    if (json_is_integer(cur) && json_integer_value(cur) == 0)
        json_object_set_new(obj, key, json_integer(n));
    else
        def_int(obj, key, n);
}

/* SetDefaults_Container's pull policy: Always for ":latest" or no tag
 * (unless pinned by digest), else IfNotPresent. */
static const char *pull_policy(const char *image)
{
    const char *at = strchr(image, '@'), *slash, *colon;
    size_t len = at ? (size_t)(at - image) : strlen(image);
    const char *end = image + len;
    slash = NULL;
    for (const char *p = image; p < end; p++)
        if (*p == '/')
            slash = p;
    colon = NULL;
    for (const char *p = slash ? slash + 1 : image; p < end; p++)
        if (*p == ':')
            colon = p;
    if (colon == NULL)
        return at ? "IfNotPresent" : "Always";
    if ((size_t)(end - colon - 1) == 6 && strncmp(colon + 1, "latest", 6) == 0)
        return "Always";
    return "IfNotPresent";
}

static void defaults_probe(json_t *c, const char *key)
{
    json_t *pr = json_object_get(c, key), *hg;
    if (!json_is_object(pr))
        return;
    def_int_nonzero(pr, "timeoutSeconds", 1);
    def_int_nonzero(pr, "periodSeconds", 10);
    def_int_nonzero(pr, "successThreshold", 1);
    def_int_nonzero(pr, "failureThreshold", 3);
    hg = json_object_get(pr, "httpGet");
    if (json_is_object(hg)) {
        def_str(hg, "path", "/");
        def_str(hg, "scheme", "HTTP");
    }
}

static void defaults_containers(json_t *arr, bool host_network)
{
    size_t i, j;
    for (i = 0; i < json_array_size(arr); i++) {
        json_t *c = json_array_get(arr, i), *ports;
        const char *image = json_string_value(json_object_get(c, "image"));
        if (!json_is_object(c))
            continue;
        if (image != NULL)
            def_str(c, "imagePullPolicy", pull_policy(image));
        def_str(c, "terminationMessagePath", "/dev/termination-log");
        def_str(c, "terminationMessagePolicy", "File");
        sub(c, "resources");
        ports = json_object_get(c, "ports");
        for (j = 0; j < json_array_size(ports); j++) {
            json_t *pt = json_array_get(ports, j), *hp;
            def_str(pt, "protocol", "TCP");
            /* defaultHostNetworkPorts: the host port is the container port */
            hp = json_object_get(pt, "hostPort");
            if (host_network && json_is_object(pt) &&
                (hp == NULL || json_is_null(hp) ||
                 (json_is_integer(hp) && json_integer_value(hp) == 0)) &&
                json_is_integer(json_object_get(pt, "containerPort")))
                json_object_set(pt, "hostPort", json_object_get(pt, "containerPort"));
        }
        defaults_probe(c, "livenessProbe");
        defaults_probe(c, "readinessProbe");
        defaults_probe(c, "startupProbe");
    }
}

static void defaults_volumes(json_t *vols)
{
    size_t i;
    for (i = 0; i < json_array_size(vols); i++) {
        json_t *v = json_array_get(vols, i), *src;
        /* 0644, as SetDefaults_SecretVolumeSource/ConfigMapVolumeSource */
        if (json_is_object(src = json_object_get(v, "secret")))
            def_int(src, "defaultMode", 0644);
        if (json_is_object(src = json_object_get(v, "configMap")))
            def_int(src, "defaultMode", 0644);
    }
}

/* SetDefaults_PodSpec and what it reaches. restart: default restartPolicy
 * Always (not for Job templates: Job validation wants it explicit). */
static void defaults_pod_spec(json_t *spec, bool restart)
{
    bool host_network = json_is_true(json_object_get(spec, "hostNetwork"));
    if (!json_is_object(spec))
        return;
    if (restart)
        def_str(spec, "restartPolicy", "Always");
    def_int(spec, "terminationGracePeriodSeconds", 30);
    def_str(spec, "dnsPolicy", "ClusterFirst");
    def_str(spec, "schedulerName", "default-scheduler");
    sub(spec, "securityContext");
    def(spec, "enableServiceLinks", json_true());
    defaults_containers(json_object_get(spec, "containers"), host_network);
    defaults_containers(json_object_get(spec, "initContainers"), host_network);
    defaults_volumes(json_object_get(spec, "volumes"));
}

static void defaults_template(json_t *tmpl, bool restart)
{
    if (json_is_object(tmpl))
        defaults_pod_spec(json_object_get(tmpl, "spec"), restart);
}

/* SetDefaults_Pod: limits without requests become the requests */
static void defaults_pod_requests(json_t *arr)
{
    size_t i;
    for (i = 0; i < json_array_size(arr); i++) {
        json_t *rs = json_object_get(json_array_get(arr, i), "resources"), *lim, *req, *v;
        const char *k;
        lim = json_object_get(rs, "limits");
        if (!json_is_object(lim) || json_object_size(lim) == 0)
            continue;
        req = sub(rs, "requests");
        json_object_foreach (lim, k, v)
            def(req, k, json_deep_copy(v));
    }
}

static void defaults_pod(json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec"), *status;
    if (json_is_object(spec)) {
        defaults_pod_requests(json_object_get(spec, "containers"));
        defaults_pod_requests(json_object_get(spec, "initContainers"));
        defaults_pod_spec(spec, true);
    }
    /* the pod strategy's PrepareForCreate: a new pod is Pending, with its
     * QoS class fixed from the (defaulted) resources */
    status = sub(obj, "status");
    if (status != NULL && json_object_get(status, "phase") == NULL) {
        def_str(status, "phase", "Pending");
        def_str(status, "qosClass", api__pod_qos(spec));
    }
}

static void defaults_deployment(json_t *spec)
{
    json_t *st = sub(spec, "strategy"), *ru;
    const char *type;
    def_int(spec, "replicas", 1);
    def_str(st, "type", "RollingUpdate");
    type = json_string_value(json_object_get(st, "type"));
    if (type != NULL && strcmp(type, "RollingUpdate") == 0 && (ru = sub(st, "rollingUpdate"))) {
        def_str(ru, "maxUnavailable", "25%");
        def_str(ru, "maxSurge", "25%");
    }
    def_int(spec, "revisionHistoryLimit", 10);
    def_int(spec, "progressDeadlineSeconds", 600);
    defaults_template(json_object_get(spec, "template"), true);
}

static void defaults_daemonset(json_t *spec)
{
    json_t *st = sub(spec, "updateStrategy"), *ru;
    const char *type;
    def_str(st, "type", "RollingUpdate");
    type = json_string_value(json_object_get(st, "type"));
    if (type != NULL && strcmp(type, "RollingUpdate") == 0 && (ru = sub(st, "rollingUpdate"))) {
        def_int(ru, "maxUnavailable", 1);
        def_int(ru, "maxSurge", 0);
    }
    def_int(spec, "revisionHistoryLimit", 10);
    defaults_template(json_object_get(spec, "template"), true);
}

static void defaults_job(json_t *obj, json_t *spec)
{
    json_t *meta, *labels, *own;
    /* both unset: a non-parallel Job; only parallelism unset: 1 */
    if (json_object_get(spec, "completions") == NULL &&
        json_object_get(spec, "parallelism") == NULL) {
        def_int(spec, "completions", 1);
        def_int(spec, "parallelism", 1);
    }
    def_int(spec, "parallelism", 1);
    /* with backoffLimitPerIndex the global limit is effectively off */
    def_int(spec, "backoffLimit", json_object_get(spec, "backoffLimitPerIndex") ? 2147483647 : 6);
    def_str(spec, "completionMode", "NonIndexed");
    def(spec, "suspend", json_false());
    /* a Job without labels takes its template's */
    labels =
        json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"), "labels");
    meta = sub(obj, "metadata");
    own = json_object_get(meta, "labels");
    if (json_is_object(labels) && json_object_size(labels) > 0 && meta != NULL &&
        (own == NULL || json_is_null(own) || (json_is_object(own) && json_object_size(own) == 0)))
        json_object_set_new(meta, "labels", json_deep_copy(labels));
    defaults_template(json_object_get(spec, "template"), false);
}

static void defaults_cronjob(json_t *spec)
{
    def_str(spec, "concurrencyPolicy", "Allow");
    def(spec, "suspend", json_false());
    def_int(spec, "successfulJobsHistoryLimit", 3);
    def_int(spec, "failedJobsHistoryLimit", 1);
    /* only the pod template inside is defaulted, not the Job spec fields */
    defaults_template(
        json_object_get(json_object_get(json_object_get(spec, "jobTemplate"), "spec"), "template"),
        false);
}

/* autoscaling/v2 SetDefaults_HorizontalPodAutoscaler: minReplicas 1, CPU
 * at 80 % when no metric is given, and a behavior that is present gets
 * every unset field of the default rules (scale up: 4 pods or 100 % per
 * 15 s, no window; scale down: 100 % per 15 s, the window left unset so
 * the controller's own default, 300 s, applies). An absent behavior stays
 * absent: the controller then uses the same defaults. */
static void defaults_hpa_rules(json_t *beh, const char *dir)
{
    json_t *r = sub(beh, dir);
    bool up = strcmp(dir, "scaleUp") == 0;
    if (r == NULL)
        return;
    def_str(r, "selectPolicy", "Max");
    if (up) {
        def_int(r, "stabilizationWindowSeconds", 0);
        def(r, "policies",
            json_pack("[{s:s, s:i, s:i}, {s:s, s:i, s:i}]", "type", "Pods", "value", 4,
                      "periodSeconds", 15, "type", "Percent", "value", 100, "periodSeconds", 15));
    } else {
        def(r, "policies",
            json_pack("[{s:s, s:i, s:i}]", "type", "Percent", "value", 100, "periodSeconds", 15));
    }
}

static void defaults_hpa(json_t *spec)
{
    json_t *beh = json_object_get(spec, "behavior");
    json_t *metrics = json_object_get(spec, "metrics");
    def_int(spec, "minReplicas", 1);
    if (metrics == NULL || json_is_null(metrics) ||
        (json_is_array(metrics) && json_array_size(metrics) == 0))
        json_object_set_new(spec, "metrics",
                            json_pack("[{s:s, s:{s:s, s:{s:s, s:i}}}]", "type", "Resource",
                                      "resource", "name", "cpu", "target", "type", "Utilization",
                                      "averageUtilization", 80));
    if (json_is_object(beh)) {
        defaults_hpa_rules(beh, "scaleUp");
        defaults_hpa_rules(beh, "scaleDown");
    }
}

static void defaults_service(json_t *spec)
{
    json_t *ports = json_object_get(spec, "ports"), *fams;
    const char *type, *aff, *ip;
    size_t i;
    def_str(spec, "type", "ClusterIP");
    def_str(spec, "sessionAffinity", "None");
    type = json_string_value(json_object_get(spec, "type"));
    aff = json_string_value(json_object_get(spec, "sessionAffinity"));
    if (aff != NULL && strcmp(aff, "ClientIP") == 0) {
        json_t *cfg = sub(spec, "sessionAffinityConfig");
        def_int(sub(cfg, "clientIP"), "timeoutSeconds", 10800);
    }
    for (i = 0; i < json_array_size(ports); i++) {
        json_t *sp = json_array_get(ports, i), *tp;
        if (!json_is_object(sp))
            continue;
        def_str(sp, "protocol", "TCP");
        /* an unset (or zero) targetPort is the port */
        tp = json_object_get(sp, "targetPort");
        if ((tp == NULL || json_is_null(tp) ||
             (json_is_integer(tp) && json_integer_value(tp) == 0) ||
             (json_is_string(tp) && json_string_length(tp) == 0)) &&
            json_is_integer(json_object_get(sp, "port")))
            json_object_set(sp, "targetPort", json_object_get(sp, "port"));
    }
    if (type == NULL || strcmp(type, "ExternalName") == 0)
        return; /* ExternalName Services have no IPs or traffic policies */
    if (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0)
        def_str(spec, "externalTrafficPolicy", "Cluster");
    if (strcmp(type, "LoadBalancer") == 0)
        def(spec, "allocateLoadBalancerNodePorts", json_true());
    def_str(spec, "internalTrafficPolicy", "Cluster");
    /* single-stack IPv4, as the service IP allocator decides it; the
     * family follows an explicit IPv6 clusterIP */
    ip = json_string_value(json_object_get(spec, "clusterIP"));
    def_str(spec, "ipFamilyPolicy", "SingleStack");
    if (json_object_get(spec, "ipFamilies") == NULL ||
        json_is_null(json_object_get(spec, "ipFamilies"))) {
        fams = json_pack("[s]", ip != NULL && strchr(ip, ':') != NULL ? "IPv6" : "IPv4");
        def(spec, "ipFamilies", fams);
    }
}

void api__defaults(const struct api_kind *k, json_t *obj)
{
    const char *kind = k->kind;
    json_t *spec;
    if (!json_is_object(obj))
        return;
    if (strcmp(kind, "Pod") == 0) {
        defaults_pod(obj);
        return;
    }
    if (strcmp(kind, "Secret") == 0) {
        def_str(obj, "type", "Opaque");
        return;
    }
    if (strcmp(kind, "Endpoints") == 0) {
        json_t *subsets = json_object_get(obj, "subsets");
        size_t i, j;
        for (i = 0; i < json_array_size(subsets); i++) {
            json_t *ports = json_object_get(json_array_get(subsets, i), "ports");
            for (j = 0; j < json_array_size(ports); j++)
                def_str(json_array_get(ports, j), "protocol", "TCP");
        }
        return;
    }
    if (strcmp(kind, "Namespace") == 0) {
        spec = sub(obj, "spec");
        def(spec, "finalizers", json_pack("[s]", "kubernetes"));
        def_str(sub(obj, "status"), "phase", "Active");
        return;
    }
    if (strcmp(kind, "ConfigMap") == 0 || strcmp(kind, "Node") == 0 || strcmp(kind, "Lease") == 0)
        return;
    spec = json_object_get(obj, "spec");
    if (!json_is_object(spec))
        return; /* validation reports the missing spec; nothing to default into */
    if (strcmp(kind, "Deployment") == 0) {
        defaults_deployment(spec);
    } else if (strcmp(kind, "ReplicaSet") == 0) {
        def_int(spec, "replicas", 1);
        defaults_template(json_object_get(spec, "template"), true);
    } else if (strcmp(kind, "DaemonSet") == 0) {
        defaults_daemonset(spec);
    } else if (strcmp(kind, "Job") == 0) {
        defaults_job(obj, spec);
    } else if (strcmp(kind, "CronJob") == 0) {
        defaults_cronjob(spec);
    } else if (strcmp(kind, "Service") == 0) {
        defaults_service(spec);
    } else if (strcmp(kind, "HorizontalPodAutoscaler") == 0) {
        defaults_hpa(spec);
    }
}
