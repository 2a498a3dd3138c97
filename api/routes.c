/* The route table: Kubernetes REST paths to handlers. A linear scan: a few
 * dozen patterns, matched segment by segment, cost less than a request's
 * TLS record; a trie can come when kinds multiply. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

const struct api_route api__routes[] = {
    {"GET", "/version", API_ROUTE_NOAUTH, api__h_version},
    {"GET", "/healthz", API_ROUTE_NOAUTH, api__h_healthz},
    {"GET", "/livez", API_ROUTE_NOAUTH, api__h_healthz},
    {"GET", "/readyz", API_ROUTE_NOAUTH, api__h_readyz},
    {"GET", "/skiff/v1/ca", API_ROUTE_NOAUTH, api__h_ca},
    {"GET", "/skiff/v1/cluster/status", 0, api__h_cluster_status},
    {"GET", "/api", 0, api__h_api_versions},
    {"GET", "/api/v1", 0, api__h_api_v1},
    {"GET", "/apis", 0, api__h_apis},
    {"GET", "/apis/{}", 0, api__h_api_group},
    {"GET", "/apis/{}/{}", 0, api__h_api_group_version},
    {"GET", "/openapi/v3", 0, api__h_openapi_v3},
    {"GET", "/openapi/v3/api/v1", 0, api__h_openapi_v3_doc},
    {"GET", "/openapi/v3/apis/{}/{}", 0, api__h_openapi_v3_doc},
    /* every kind: /api/v1[/namespaces/NS]/RES[/NAME[/SUB]] and the same
     * under /apis/GROUP/VERSION; api__h_resource parses the rest */
    {NULL, "/api/v1/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/api/v1/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/api/v1/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/api/v1/{}/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/api/v1/{}/{}/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/apis/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/apis/{}/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/apis/{}/{}/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/apis/{}/{}/{}/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, "/apis/{}/{}/{}/{}/{}/{}/{}", API_ROUTE_RAW_BODY, api__h_resource},
    {NULL, NULL, 0, NULL},
};

bool api__route_match(const char *pattern, const char *path, char *buf, size_t buf_size,
                      const char **caps, size_t *n_caps)
{
    const char *p = pattern, *s = path;
    size_t used = 0;

    *n_caps = 0;
    while (*p != '\0') {
        if (p[0] == '{' && p[1] == '}') {
            const char *end = strchr(s, '/');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            if (n == 0 || *n_caps == API_CAPS_MAX || used + n + 1 > buf_size)
                return false;
            memcpy(buf + used, s, n);
            buf[used + n] = '\0';
            caps[(*n_caps)++] = buf + used;
            used += n + 1;
            s += n;
            p += 2;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    /* a trailing slash is tolerated, as the apiserver does */
    return *s == '\0' || (s[0] == '/' && s[1] == '\0');
}

static const struct api_route *find_in(const struct api_route *const *table, size_t n,
                                       const char *method, const char *path, char *buf,
                                       size_t buf_size, const char **caps, size_t *n_caps,
                                       bool *path_hit)
{
    size_t i;
    for (i = 0; i < n && table[i]->pattern != NULL; i++) {
        if (!api__route_match(table[i]->pattern, path, buf, buf_size, caps, n_caps))
            continue;
        *path_hit = true;
        if (table[i]->method == NULL || strcmp(table[i]->method, method) == 0)
            return table[i];
    }
    return NULL;
}

/* api/server.c owns the extra routes; this accessor keeps struct api private */
size_t api__extra_routes(struct api *a, const struct api_route *const **out);

const struct api_route *api__route_find(struct api *a, const char *method, const char *path,
                                        char *buf, size_t buf_size, const char **caps,
                                        size_t *n_caps, bool *method_ok)
{
    const struct api_route *const *extra = NULL;
    const struct api_route *builtin[64];
    const struct api_route *rt;
    bool hit = false;
    size_t n_extra = a ? api__extra_routes(a, &extra) : 0, n = 0;

    rt = find_in(extra, n_extra, method, path, buf, buf_size, caps, n_caps, &hit);
    if (rt == NULL) {
        while (n < 64 && api__routes[n].pattern != NULL) {
            builtin[n] = &api__routes[n];
            n++;
        }
        rt = find_in(builtin, n, method, path, buf, buf_size, caps, n_caps, &hit);
    }
    *method_ok = rt != NULL || !hit;
    return rt;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *api__percent_decode(const char *src, size_t len)
{
    char *out = malloc(len + 1);
    size_t i, o = 0;
    if (out == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        int hi, lo;
        if (src[i] != '%') {
            out[o++] = src[i];
            continue;
        }
        /* two hex digits must follow; %00 would cut the C string short */
        if (i + 2 >= len) {
            free(out);
            return NULL;
        }
        hi = hexval(src[i + 1]);
        lo = hexval(src[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}
