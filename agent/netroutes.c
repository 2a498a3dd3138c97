/* agent/netroutes: routes to other nodes' pod CIDRs (see netroutes.h). */
#include "agent/netroutes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/cni.h"

int agent__route_check(struct agent__route *r, struct err *e)
{
    char ip[INET_ADDRSTRLEN], *end;
    const char *slash = strchr(r->dst, '/');
    struct in_addr a;
    long bits;

    if (slash == NULL || (size_t)(slash - r->dst) >= sizeof ip)
        return err_setf(e, ERR_INVALID, "route dst: not an IPv4 CIDR: \"%s\"", r->dst);
    memcpy(ip, r->dst, (size_t)(slash - r->dst));
    ip[slash - r->dst] = '\0';
    errno = 0;
    bits = strtol(slash + 1, &end, 10);
    if (slash[1] == '\0' || *end != '\0' || errno != 0 || bits < 0 || bits > 32 ||
        inet_pton(AF_INET, ip, &a) != 1)
        return err_setf(e, ERR_INVALID, "route dst: not an IPv4 CIDR: \"%s\"", r->dst);
    a.s_addr &= bits == 0 ? 0 : htonl(~0u << (32 - bits));
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    snprintf(r->dst, sizeof r->dst, "%s/%ld", ip, bits);
    if (inet_pton(AF_INET, r->via, &a) != 1)
        return err_setf(e, ERR_INVALID, "route via: not an IPv4 address: \"%s\"", r->via);
    inet_ntop(AF_INET, &a, r->via, sizeof r->via);
    return 0;
}

static ssize_t find_dst(const struct agent__route *l, size_t n, const char *dst)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].dst, dst) == 0)
            return (ssize_t)i;
    return -1;
}

int agent__routes_diff(const struct agent__route *want, size_t n_want,
                       const struct agent__route *have, size_t n_have,
                       struct agent__routes_plan *plan, struct err *e)
{
    size_t i;

    /* O(n·m): n is the number of nodes, a few hundred at most */
    memset(plan, 0, sizeof *plan);
    plan->replace = malloc((n_want ? n_want : 1) * sizeof *plan->replace);
    plan->del = malloc((n_have ? n_have : 1) * sizeof *plan->del);
    if (plan->replace == NULL || plan->del == NULL) {
        agent__routes_plan_close(plan);
        return err_setf(e, ERR_NOMEM, "routes: out of memory");
    }
    for (i = 0; i < n_want; i++) {
        ssize_t h = find_dst(have, n_have, want[i].dst);
        if (find_dst(want, i, want[i].dst) >= 0)
            continue; /* a duplicate: the first one wins */
        if (h < 0 || strcmp(have[h].via, want[i].via) != 0)
            plan->replace[plan->n_replace++] = i;
    }
    for (i = 0; i < n_have; i++)
        if (find_dst(want, n_want, have[i].dst) < 0 && find_dst(have, i, have[i].dst) < 0)
            plan->del[plan->n_del++] = i;
    return 0;
}

void agent__routes_plan_close(struct agent__routes_plan *plan)
{
    if (plan == NULL)
        return;
    free(plan->replace);
    free(plan->del);
    memset(plan, 0, sizeof *plan);
}

int agent__routes_parse(const char *json, size_t len, struct agent__route **out, size_t *n,
                        struct err *e)
{
    json_t *root = json_loadb(json ? json : "", json ? len : 0, 0, NULL), *r;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!json_is_array(root)) {
        json_decref(root);
        return err_setf(e, ERR_INVALID, "ip route output: not a JSON array");
    }
    if (json_array_size(root) > 0) {
        *out = calloc(json_array_size(root), sizeof **out);
        if (*out == NULL) {
            json_decref(root);
            return err_setf(e, ERR_NOMEM, "routes: out of memory");
        }
    }
    json_array_foreach (root, i, r) {
        struct agent__route *x = &(*out)[*n];
        const char *dst = json_string_value(json_object_get(r, "dst"));
        const char *gw = json_string_value(json_object_get(r, "gateway"));
        if (dst == NULL || gw == NULL)
            continue;
        /* "default" or a host route without "/32" */
        if (strcmp(dst, "default") == 0)
            snprintf(x->dst, sizeof x->dst, "0.0.0.0/0");
        else if (strchr(dst, '/') == NULL)
            snprintf(x->dst, sizeof x->dst, "%s/32", dst);
        else
            snprintf(x->dst, sizeof x->dst, "%s", dst);
        snprintf(x->via, sizeof x->via, "%s", gw);
        if (agent__route_check(x, NULL) == 0)
            (*n)++;
    }
    json_decref(root);
    if (*n == 0) {
        free(*out);
        *out = NULL;
    }
    return 0;
}

static int run_ip(const char *ip_bin, const char *const *argv, int timeout_ms,
                  struct agent__netexec_out *out, struct err *e)
{
    struct agent__netexec x = {argv, NULL, NULL, 0, timeout_ms};
    int rv = agent__netexec_run(&x, out, e);
    if (rv != 0) {
        agent__netexec_out_close(out);
        return rv;
    }
    if (out->exit_code != 0) {
        int n = (int)strcspn(out->err, "\n");
        rv = err_setf(e, ERR_IO, "%s %s %s: exit %d: %.*s", argv[0], argv[1], argv[2],
                      out->exit_code, n, out->err);
        agent__netexec_out_close(out);
    }
    return rv;
}

static int route_cmd(const char *ip, const char *verb, const struct agent__route *r, bool with_via,
                     int timeout_ms, struct err *e)
{
    const char *argv[] = {ip,  "route", verb, r->dst, "via", r->via, "proto", AGENT_ROUTES_PROTO,
                          NULL};
    struct agent__netexec_out out;
    int rv;

    if (!with_via) {
        argv[4] = "proto";
        argv[5] = AGENT_ROUTES_PROTO;
        argv[6] = NULL;
    }
    rv = run_ip(ip, argv, timeout_ms, &out, e);
    if (rv == 0)
        agent__netexec_out_close(&out);
    return rv;
}

int agent__routes_sync(const char *ip_bin, const struct agent__route *want, size_t n_want,
                       int timeout_ms, struct err *e)
{
    const char *ip = ip_bin ? ip_bin : "ip";
    const char *argv[] = {ip, "-j", "-4", "route", "show", "proto", AGENT_ROUTES_PROTO, NULL};
    struct agent__route *have = NULL, *checked = NULL;
    struct agent__routes_plan plan = {0};
    struct agent__netexec_out out;
    size_t n_have = 0, i;
    int rv, first = 0;

    checked = n_want ? malloc(n_want * sizeof *checked) : NULL;
    if (n_want && checked == NULL)
        return err_setf(e, ERR_NOMEM, "routes: out of memory");
    for (i = 0; i < n_want; i++) {
        checked[i] = want[i];
        rv = agent__route_check(&checked[i], e);
        if (rv != 0) {
            err_wrapf(e, "routes[%zu]", i);
            goto out;
        }
    }
    rv = run_ip(ip, argv, timeout_ms, &out, e);
    if (rv != 0)
        goto out;
    rv = agent__routes_parse(out.out, out.out_len, &have, &n_have, e);
    agent__netexec_out_close(&out);
    if (rv == 0)
        rv = agent__routes_diff(checked, n_want, have, n_have, &plan, e);
    if (rv != 0)
        goto out;
    for (i = 0; i < plan.n_del; i++) {
        struct err e1;
        if (route_cmd(ip, "del", &have[plan.del[i]], false, timeout_ms, &e1) != 0 && first == 0) {
            first = e1.code;
            if (e != NULL)
                *e = e1;
        }
    }
    for (i = 0; i < plan.n_replace; i++) {
        struct err e1;
        if (route_cmd(ip, "replace", &checked[plan.replace[i]], true, timeout_ms, &e1) != 0 &&
            first == 0) {
            first = e1.code;
            if (e != NULL)
                *e = e1;
        }
    }
    rv = first;
out:
    agent__routes_plan_close(&plan);
    free(have);
    free(checked);
    return rv;
}

int agent__routes_flush(const char *ip_bin, int timeout_ms, struct err *e)
{
    return agent__routes_sync(ip_bin, NULL, 0, timeout_ms, e);
}

int agent__ip_forward(bool enable, struct err *e)
{
    const char *path = "/proc/sys/net/ipv4/ip_forward";
    int fd = open(path, O_WRONLY | O_CLOEXEC), rv = 0;

    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
    if (write(fd, enable ? "1\n" : "0\n", 2) != 2)
        rv = err_setf(e, ERR_IO, "%s: write: %s", path, strerror(errno));
    close(fd);
    return rv;
}
