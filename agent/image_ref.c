/* Image references, with docker's grammar and defaults (distribution's
 * reference package: a first component with '.' or ':' or "localhost" is a
 * registry; otherwise docker.io, and a one-component path gets library/). */
#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool is_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static bool component_valid(const char *p, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_alnum_lower(p[0]) || !is_alnum_lower(p[n - 1]))
        return false;
    while (i < n) {
        if (is_alnum_lower(p[i])) {
            i++;
            continue;
        }
        if (p[i] == '.' || p[i] == '_') {
            size_t k = (p[i] == '_' && i + 1 < n && p[i + 1] == '_') ? 2 : 1;
            i += k;
        } else if (p[i] == '-') {
            while (i < n && p[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i >= n || !is_alnum_lower(p[i]))
            return false;
    }
    return true;
}

/* host[:port]: letters, digits, '-', '.', or a bracketed IPv6 literal */
static bool domain_valid(const char *p, size_t n)
{
    size_t i = 0, host_end = n;
    if (n == 0)
        return false;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close == NULL)
            return false;
        for (i = 1; p + i < close; i++)
            if (!isxdigit((unsigned char)p[i]) && p[i] != ':')
                return false;
        i = (size_t)(close - p) + 1;
        host_end = i;
    } else {
        for (; i < n && p[i] != ':'; i++)
            if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '.')
                return false;
        host_end = i;
        if (host_end == 0)
            return false;
    }
    if (host_end == n)
        return true;
    if (p[host_end] != ':' || host_end + 1 == n)
        return false;
    for (i = host_end + 1; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    return n - host_end - 1 <= 5;
}

static bool tag_valid(const char *t)
{
    size_t i, n = strlen(t);
    if (n == 0 || n > 128)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        bool word = isalnum(c) || c == '_';
        if (!(word || (i > 0 && (c == '.' || c == '-'))))
            return false;
    }
    return true;
}

static int copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int agent_image_ref_parse(const char *s, struct agent_image_ref *r, struct err *e)
{
    char buf[AGENT_IMAGE_REF_SIZE];
    const char *at, *slash, *colon, *name, *p;
    size_t nlen, dlen = 0;

    memset(r, 0, sizeof *r);
    if (s == NULL || s[0] == '\0')
        return err_setf(e, ERR_INVALID, "image reference: empty");
    if (strlen(s) >= sizeof buf)
        return err_setf(e, ERR_INVALID, "image reference %.64s...: too long", s);
    snprintf(buf, sizeof buf, "%s", s);

    at = strrchr(buf, '@');
    if (at != NULL) {
        if (!agent__digest_valid(at + 1))
            return err_setf(e, ERR_INVALID, "image reference %s: digest must be sha256:<64 hex>",
                            s);
        snprintf(r->digest, sizeof r->digest, "%s", at + 1);
        buf[at - buf] = '\0';
    }
    slash = strrchr(buf, '/');
    colon = strrchr(buf, ':');
    if (colon != NULL && (slash == NULL || colon > slash)) {
        if (!tag_valid(colon + 1))
            return err_setf(e, ERR_INVALID, "image reference %s: bad tag \"%s\"", s, colon + 1);
        snprintf(r->tag, sizeof r->tag, "%s", colon + 1);
        buf[colon - buf] = '\0';
    }
    name = buf;
    nlen = strlen(name);
    if (nlen == 0)
        return err_setf(e, ERR_INVALID, "image reference %s: empty name", s);
    if (nlen > 255)
        return err_setf(e, ERR_INVALID, "image reference %s: name longer than 255", s);

    slash = strchr(name, '/');
    if (slash != NULL) {
        dlen = (size_t)(slash - name);
        bool is_domain = memchr(name, '.', dlen) || memchr(name, ':', dlen) ||
                         (dlen == 9 && strncmp(name, "localhost", 9) == 0);
        for (p = name; p < slash && !is_domain; p++)
            if (isupper((unsigned char)*p))
                is_domain = true;
        if (!is_domain)
            dlen = 0;
    }
    if (dlen > 0) {
        if (!domain_valid(name, dlen) || copy(r->registry, sizeof r->registry, name, dlen) != 0)
            return err_setf(e, ERR_INVALID, "image reference %s: bad registry \"%.*s\"", s,
                            (int)dlen, name);
        name += dlen + 1;
    } else {
        snprintf(r->registry, sizeof r->registry, "docker.io");
    }
    /* "index.docker.io" is docker.io's historical name */
    if (strcmp(r->registry, "index.docker.io") == 0)
        snprintf(r->registry, sizeof r->registry, "docker.io");

    for (p = name;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!component_valid(p, n))
            return err_setf(e, ERR_INVALID,
                            "image reference %s: bad name component \"%.*s\" (lower-case "
                            "letters, digits and separators . _ __ -)",
                            s, (int)n, p);
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (strcmp(r->registry, "docker.io") == 0 && strchr(name, '/') == NULL) {
        if (snprintf(r->repo, sizeof r->repo, "library/%s", name) >= (int)sizeof r->repo)
            return err_setf(e, ERR_INVALID, "image reference %s: name too long", s);
    } else if (copy(r->repo, sizeof r->repo, name, strlen(name)) != 0) {
        return err_setf(e, ERR_INVALID, "image reference %s: name too long", s);
    }
    if (r->tag[0] == '\0' && r->digest[0] == '\0')
        snprintf(r->tag, sizeof r->tag, "latest");
    return 0;
}

int agent_image_ref_format(const struct agent_image_ref *r, char *buf, size_t cap, struct err *e)
{
    int n;
    if (r->digest[0] != '\0')
        n = snprintf(buf, cap, "%s/%s@%s", r->registry, r->repo, r->digest);
    else
        n = snprintf(buf, cap, "%s/%s:%s", r->registry, r->repo, r->tag);
    if (n < 0 || (size_t)n >= cap)
        return err_setf(e, ERR_INVALID, "image reference %s/%s: too long", r->registry, r->repo);
    return 0;
}
