#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_setf(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;
    if (e == NULL)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int err_wrapf(struct err *e, const char *fmt, ...)
{
    char prefix[ERR_MSG_SIZE];
    char old[ERR_MSG_SIZE];
    va_list ap;
    if (e == NULL)
        return 0;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* Truncation of a long chain is acceptable: the innermost cause is the
     * tail and stays readable in logs up to ERR_MSG_SIZE. */
    if (old[0] != '\0')
        snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    else
        snprintf(e->msg, sizeof e->msg, "%s", prefix);
    return e->code;
}

void err_clear(struct err *e)
{
    if (e == NULL)
        return;
    e->code = 0;
    e->msg[0] = '\0';
}

const char *err_name(int code)
{
    static const char *names[ERR__COUNT] = {
        [ERR_OK] = "ok",
        [ERR_NOMEM] = "out of memory",
        [ERR_INVALID] = "invalid",
        [ERR_NOTFOUND] = "not found",
        [ERR_CONFLICT] = "conflict",
        [ERR_COMPACTED] = "compacted",
        [ERR_NOTLEADER] = "not leader",
        [ERR_IO] = "i/o error",
        [ERR_TIMEOUT] = "timeout",
        [ERR_SHUTDOWN] = "shutdown",
        [ERR_UNAVAILABLE] = "unavailable",
        [ERR_DENIED] = "denied",
    };
    if (code < 0 || code >= ERR__COUNT || names[code] == NULL)
        return "unknown error";
    return names[code];
}
