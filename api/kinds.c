/* The kinds skiff serves: one static table (see api_kind in api/api.h).
 * Store names follow the apiserver's etcd layout, so keys read the same
 * way to anyone who knows Kubernetes ("/registry/services/specs/ns/name"). */
#include "api/api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct api_kind kinds[] = {
    {"",
     "v1",
     "Namespace",
     "NamespaceList",
     "namespaces",
     "namespace",
     {"ns"},
     "namespaces",
     false,
     API_SUB_STATUS,
     false},
    {"",
     "v1",
     "Node",
     "NodeList",
     "nodes",
     "node",
     {"no"},
     "minions",
     false,
     API_SUB_STATUS,
     false},
    {"", "v1", "Pod", "PodList", "pods", "pod", {"po"}, "pods", true, API_SUB_STATUS, true},
    {"",
     "v1",
     "Service",
     "ServiceList",
     "services",
     "service",
     {"svc"},
     "services/specs",
     true,
     API_SUB_STATUS,
     true},
    {"",
     "v1",
     "Endpoints",
     "EndpointsList",
     "endpoints",
     "endpoints",
     {"ep"},
     "services/endpoints",
     true,
     0,
     false},
    {"", "v1", "Secret", "SecretList", "secrets", "secret", {NULL}, "secrets", true, 0, false},
    {"",
     "v1",
     "ConfigMap",
     "ConfigMapList",
     "configmaps",
     "configmap",
     {"cm"},
     "configmaps",
     true,
     0,
     false},
    {"apps",
     "v1",
     "Deployment",
     "DeploymentList",
     "deployments",
     "deployment",
     {"deploy"},
     "deployments",
     true,
     API_SUB_STATUS | API_SUB_SCALE,
     true},
    {"apps",
     "v1",
     "ReplicaSet",
     "ReplicaSetList",
     "replicasets",
     "replicaset",
     {"rs"},
     "replicasets",
     true,
     API_SUB_STATUS | API_SUB_SCALE,
     true},
    {"apps",
     "v1",
     "DaemonSet",
     "DaemonSetList",
     "daemonsets",
     "daemonset",
     {"ds"},
     "daemonsets",
     true,
     API_SUB_STATUS,
     true},
    {"batch", "v1", "Job", "JobList", "jobs", "job", {NULL}, "jobs", true, API_SUB_STATUS, true},
    {"batch",
     "v1",
     "CronJob",
     "CronJobList",
     "cronjobs",
     "cronjob",
     {"cj"},
     "cronjobs",
     true,
     API_SUB_STATUS,
     true},
    /* one version per entry: autoscaling/v1 (targetCPUUtilizationPercentage)
     * is converted to v2 on the way in, not served as a second version */
    {"autoscaling",
     "v2",
     "HorizontalPodAutoscaler",
     "HorizontalPodAutoscalerList",
     "horizontalpodautoscalers",
     "horizontalpodautoscaler",
     {"hpa"},
     "horizontalpodautoscalers",
     true,
     API_SUB_STATUS,
     true},
    {"coordination.k8s.io",
     "v1",
     "Lease",
     "LeaseList",
     "leases",
     "lease",
     {NULL},
     "leases",
     true,
     0,
     false},
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

const struct api_kind *api_kinds(size_t *count)
{
    *count = N_KINDS;
    return kinds;
}

const struct api_kind *api_kind_by_resource(const char *group, const char *resource)
{
    size_t i;
    for (i = 0; i < N_KINDS; i++)
        if (strcmp(kinds[i].group, group) == 0 && strcmp(kinds[i].resource, resource) == 0)
            return &kinds[i];
    return NULL;
}

const struct api_kind *api_kind_by_kind(const char *api_version, const char *kind)
{
    const char *slash = strchr(api_version, '/');
    size_t glen = slash ? (size_t)(slash - api_version) : 0, i;
    const char *version = slash ? slash + 1 : api_version;
    for (i = 0; i < N_KINDS; i++) {
        const struct api_kind *k = &kinds[i];
        if (strcmp(k->kind, kind) == 0 && strcmp(k->version, version) == 0 &&
            strlen(k->group) == glen && strncmp(k->group, api_version, glen) == 0)
            return k;
    }
    return NULL;
}

static bool names_kind(const struct api_kind *k, const char *name, size_t len)
{
    size_t j;
    const char *cands[] = {k->resource, k->singular, k->kind};
    for (j = 0; j < 3; j++)
        if (strlen(cands[j]) == len && strncasecmp(cands[j], name, len) == 0)
            return true;
    for (j = 0; j < 3 && k->short_names[j] != NULL; j++)
        if (strlen(k->short_names[j]) == len && strncasecmp(k->short_names[j], name, len) == 0)
            return true;
    return false;
}

const struct api_kind *api_kind_lookup(const char *name)
{
    const char *dot = strchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name), i;
    for (i = 0; i < N_KINDS; i++) {
        const struct api_kind *k = &kinds[i];
        if (!names_kind(k, name, len))
            continue;
        /* "deployments.apps", "deployments.v1.apps" */
        if (dot != NULL) {
            const char *g = dot + 1;
            size_t vlen = strlen(k->version);
            if (strncmp(g, k->version, vlen) == 0 && g[vlen] == '.')
                g += vlen + 1;
            if (strcasecmp(g, k->group) != 0)
                continue;
        }
        return k;
    }
    return NULL;
}

void api_kind_api_version(const struct api_kind *k, char *buf, size_t size)
{
    if (k->group[0] == '\0')
        snprintf(buf, size, "%s", k->version);
    else
        snprintf(buf, size, "%s/%s", k->group, k->version);
}

int api_kind_path(const struct api_kind *k, const char *ns, const char *name, char *buf,
                  size_t size, struct err *e)
{
    char base[96];
    int n;
    if (k->group[0] == '\0')
        snprintf(base, sizeof base, "/api/%s", k->version);
    else
        snprintf(base, sizeof base, "/apis/%s/%s", k->group, k->version);
    if (k->namespaced && ns != NULL)
        n = snprintf(buf, size, "%s/namespaces/%s/%s%s%s", base, ns, k->resource, name ? "/" : "",
                     name ? name : "");
    else
        n = snprintf(buf, size, "%s/%s%s%s", base, k->resource, name ? "/" : "", name ? name : "");
    if (n < 0 || (size_t)n >= size)
        return err_setf(e, ERR_INVALID, "path of %s %s: too long", k->resource, name ? name : "");
    return 0;
}
