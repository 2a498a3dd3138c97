/* The one table from skiff error codes to HTTP and Kubernetes Status. */
#include "api/internal.h"

static const struct {
    int http;
    const char *reason;
} table[ERR__COUNT] = {
    [ERR_OK] = {200, ""},
    [ERR_NOMEM] = {500, "InternalError"},
    [ERR_INVALID] = {422, "Invalid"},
    [ERR_NOTFOUND] = {404, "NotFound"},
    [ERR_CONFLICT] = {409, "Conflict"},
    /* 410, not 400: kubectl and informers relist on Gone */
    [ERR_COMPACTED] = {410, "Gone"},
    [ERR_NOTLEADER] = {503, "ServiceUnavailable"},
    [ERR_IO] = {500, "InternalError"},
    [ERR_TIMEOUT] = {504, "Timeout"},
    [ERR_SHUTDOWN] = {503, "ServiceUnavailable"},
    [ERR_UNAVAILABLE] = {503, "ServiceUnavailable"},
    [ERR_DENIED] = {401, "Unauthorized"},
};

int api__status_http(int code)
{
    if (code < 0 || code >= ERR__COUNT || table[code].http == 0)
        return 500;
    return table[code].http;
}

const char *api__status_reason(int code)
{
    if (code < 0 || code >= ERR__COUNT || table[code].reason == NULL)
        return "InternalError";
    return table[code].reason;
}

json_t *api__status_json(int http_status, const char *reason, const char *msg)
{
    return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                     "metadata", "status", "Failure", "message", msg ? msg : "", "reason",
                     reason ? reason : "", "code", http_status);
}

json_t *api__status_success(const char *kind, const char *name)
{
    return json_pack("{s:s, s:s, s:{}, s:s, s:{s:s, s:s}, s:i}", "kind", "Status", "apiVersion",
                     "v1", "metadata", "status", "Success", "details", "name", name, "kind", kind,
                     "code", 200);
}
