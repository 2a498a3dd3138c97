/* svcrules_bench: how long a node takes to turn N Services x M ready
 * endpoints into its nftables table (agent/svcrules.h), as the agent does
 * on every change: build the whole ruleset text from the objects, then
 * `nft -f -` it as one transaction. Runs in the caller's network namespace
 * (bench/net.sh runs it in one of its own) and removes its table at the end.
 *
 *   svcrules_bench [--services N] [--endpoints M] [--updates K]
 *
 * Prints the first full load (empty kernel table -> N x M), then K updates
 * that each move one endpoint of one service (what an endpoint change
 * costs: the whole text again, then the incremental script the agent
 * sends, agent__svc_diff), and the same K updates as a whole-table
 * replacement for comparison, as:
 *   RESULT services=N endpoints=M rules_bytes=B build_ms=F first_apply_ms=F
 *          update_p50_ms=F update_p99_ms=F update_max_ms=F
 *          full_replace_p50_ms=F full_replace_p99_ms=F */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/svcrules.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *service(int i)
{
    char name[32], ip[32];
    snprintf(name, sizeof name, "s%d", i);
    snprintf(ip, sizeof ip, "10.96.%d.%d", (i + 2) / 250, (i + 2) % 250 + 1);
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:[{s:s, s:i, s:i, s:s}]}}",
                     "apiVersion", "v1", "kind", "Service", "metadata", "name", name, "namespace",
                     "default", "uid", name, "spec", "type", "ClusterIP", "clusterIP", ip, "ports",
                     "name", "http", "port", 80, "targetPort", 8080, "protocol", "TCP");
}

static json_t *endpoints(int i, int m, int shift)
{
    char name[32], ip[32];
    json_t *addrs = json_array();
    snprintf(name, sizeof name, "s%d", i);
    for (int k = 0; k < m; k++) {
        int host = (i * m + k + shift) % 60000;
        snprintf(ip, sizeof ip, "10.244.%d.%d", host / 250, host % 250 + 2);
        json_array_append_new(addrs, json_pack("{s:s}", "ip", ip));
    }
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:[{s:o, s:[{s:s, s:i, s:s}]}]}", "apiVersion",
                     "v1", "kind", "Endpoints", "metadata", "name", name, "namespace", "default",
                     "subsets", "addresses", addrs, "ports", "name", "http", "port", 8080,
                     "protocol", "TCP");
}

int main(int argc, char **argv)
{
    int n = 1000, m = 10, updates = 20, c;
    static const struct option lo[] = {{"services", required_argument, NULL, 's'},
                                       {"endpoints", required_argument, NULL, 'e'},
                                       {"updates", required_argument, NULL, 'u'},
                                       {NULL, 0, NULL, 0}};
    const char *addrs[] = {"192.0.2.10"};
    struct agent__svc_node node = {"bench", "10.244.0.0/24", "10.244.0.0/16", addrs, 1};
    json_t *svcs = json_array(), *eps = json_array();
    double t0, build_ms, first_ms, *lat, *full;
    char *text = NULL, *prev = NULL;
    struct err e;

    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 's')
            n = atoi(optarg);
        else if (c == 'e')
            m = atoi(optarg);
        else if (c == 'u')
            updates = atoi(optarg);
        else {
            fprintf(stderr, "usage: svcrules_bench [--services N] [--endpoints M] [--updates K]\n");
            return 2;
        }
    }
    if (n < 1 || n > 60000 || m < 1 || m > 1000 || updates < 1 || updates > 10000) {
        fprintf(stderr, "svcrules_bench: --services 1..60000, --endpoints 1..1000, --updates 1..10000\n");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        json_array_append_new(svcs, service(i));
        json_array_append_new(eps, endpoints(i, m, 0));
    }
    t0 = now_ms();
    if (agent__svc_ruleset(&node, svcs, eps, &text, NULL, &e) != 0) {
        fprintf(stderr, "svcrules_bench: ruleset: %s\n", e.msg);
        return 1;
    }
    build_ms = now_ms() - t0;
    t0 = now_ms();
    if (agent__svc_apply(NULL, text, 120000, &e) != 0) {
        fprintf(stderr, "svcrules_bench: nft: %s\n", e.msg);
        return 1;
    }
    first_ms = now_ms() - t0;
    size_t bytes = strlen(text);
    free(text);
    lat = calloc((size_t)updates, sizeof *lat);
    full = calloc((size_t)updates, sizeof *full);
    if (agent__svc_ruleset(&node, svcs, eps, &prev, NULL, &e) != 0) {
        fprintf(stderr, "svcrules_bench: ruleset: %s\n", e.msg);
        return 1;
    }
    for (int mode = 0; mode < 2; mode++)
        for (int u = 0; u < updates; u++) {
            int i = (u * 7919) % n;
            char *diff = NULL;
            json_array_set_new(eps, (size_t)i, endpoints(i, m, mode * updates + u + 1));
            /* what the agent does per change: the whole text again, then
             * the difference (mode 0) or the whole table (mode 1) */
            t0 = now_ms();
            if (agent__svc_ruleset(&node, svcs, eps, &text, NULL, &e) != 0 ||
                (mode == 0 && agent__svc_diff(prev, text, &diff, &e) != 0) ||
                agent__svc_apply(NULL, mode == 0 ? diff : text, 120000, &e) != 0) {
                fprintf(stderr, "svcrules_bench: update %d: %s\n", u, e.msg);
                return 1;
            }
            (mode == 0 ? lat : full)[u] = now_ms() - t0;
            free(diff);
            free(prev);
            prev = text;
        }
    qsort(lat, (size_t)updates, sizeof *lat, cmp_d);
    qsort(full, (size_t)updates, sizeof *full, cmp_d);
    printf("RESULT services=%d endpoints=%d rules_bytes=%zu build_ms=%.1f first_apply_ms=%.1f "
           "update_p50_ms=%.1f update_p99_ms=%.1f update_max_ms=%.1f full_replace_p50_ms=%.1f "
           "full_replace_p99_ms=%.1f\n",
           n, m, bytes, build_ms, first_ms, lat[updates / 2],
           lat[(size_t)((updates - 1) * 0.99)], lat[updates - 1], full[updates / 2],
           full[(size_t)((updates - 1) * 0.99)]);
    free(prev);
    free(full);
    agent__svc_remove(NULL, "bench", 10000, &e);
    free(lat);
    json_decref(svcs);
    json_decref(eps);
    return 0;
}
