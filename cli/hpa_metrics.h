/* cli/hpa_metrics.h: the HPA controller's metrics source for the daemon
 * (sched_config.pod_metrics). Private to cli/. */
#ifndef SKIFF_CLI_HPA_METRICS_H
#define SKIFF_CLI_HPA_METRICS_H

#include <jansson.h>

#include "lib/err.h"

/* Where and how to ask: this node's own API with its node certificate.
 * Plain data, copied by the caller, read from the thread pool. */
struct cli_hpa_metrics {
    char api_addr[128];   /* "IP:PORT" of this node's API */
    char cert[1200];      /* node certificate (PEM file) */
    char key[1200];       /* its key */
    char ca[1200];        /* cluster CA (PEM file) */
    char fake_file[1024]; /* "" = the real metrics API; else --fake-metrics FILE */
};

/* sched_pod_metrics_fn over data = struct cli_hpa_metrics *. BLOCKING
 * (libcurl, 5 s at most): the HPA controller calls it on a uv work thread.
 * Real: GET /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods?labelSelector=.
 * Fake (tests, the fake runtime has no cgroups): the pods come from GET
 * /api/v1/namespaces/NS/pods?labelSelector=, their usage from FILE, read on
 * every call (so a test changes the load by rewriting it): a PodMetricsList
 * whose item named like the pod, or else the item named "*", gives the
 * pod's containers[].usage; a pod matching neither has no metric. */
int cli__hpa_pod_metrics(void *data, const char *ns, const char *selector, json_t **out,
                         struct err *e);

#endif
