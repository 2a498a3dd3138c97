/* Field errors collected during decoding and validation, turned into the
 * apiserver's message at the end (see struct api_ferrs in api/schema.h). */
#include "api/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api__ferrs_init(struct api_ferrs *fe)
{
    memset(fe, 0, sizeof *fe);
}

void api__ferrs_close(struct api_ferrs *fe)
{
    size_t i;
    for (i = 0; i < fe->n; i++)
        free(fe->msgs[i]);
    for (i = 0; i < fe->n_warns; i++)
        free(fe->warns[i]);
    memset(fe, 0, sizeof *fe);
}

void api__ferr_add(struct api_ferrs *fe, bool decode, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    char *s;
    if (decode)
        fe->decode = true;
    if (fe->n == API_FERRS_MAX) {
        fe->dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (asprintf(&s, "%s%s%s", path ? path : "", path && path[0] ? ": " : "", msg) < 0) {
        fe->dropped++;
        return;
    }
    fe->msgs[fe->n++] = s;
}

void api__ferr_warn(struct api_ferrs *fe, const char *fmt, ...)
{
    va_list ap;
    char *s;
    if (fe->n_warns == API_FERRS_MAX)
        return;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) >= 0)
        fe->warns[fe->n_warns++] = s;
    va_end(ap);
}

char *api__ferrs_message(const struct api_ferrs *fe, const struct api_kind *k, const char *name)
{
    size_t size = 256, i, len;
    char *out, *p;
    for (i = 0; i < fe->n; i++)
        size += strlen(fe->msgs[i]) + 2;
    out = malloc(size);
    if (out == NULL)
        return NULL;
    if (fe->decode)
        len = (size_t)snprintf(out, size,
                               "%s in version \"%s\" cannot be handled as a %s: strict decoding "
                               "error: ",
                               k->kind, k->version, k->kind);
    else
        len = (size_t)snprintf(out, size, "%s%s%s \"%s\" is invalid: %s", k->kind,
                               k->group[0] ? "." : "", k->group, name ? name : "",
                               fe->n > 1 ? "[" : "");
    p = out + len;
    for (i = 0; i < fe->n; i++) {
        size_t n = strlen(fe->msgs[i]);
        if (i > 0) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, fe->msgs[i], n);
        p += n;
    }
    if (!fe->decode && fe->n > 1)
        *p++ = ']';
    *p = '\0';
    if (fe->dropped > 0)
        snprintf(p, size - (size_t)(p - out), " (and %zu more)", fe->dropped);
    return out;
}
