/* agent/bundle: the OCI runtime-spec config.json for one container of a
 * pod, the way kubelet + containerd's CRI plugin would build it for runc. */
#include "agent/runtime.h"

#include "lib/buf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Quantities                                                          */

/* Values are kept in nano units (1e-9) as an int128: every suffix from
 * "n" to "Ei" is then an exact integer multiple or divisor, so "500m",
 * "0.5" and "5e-1" are the same number, with no floating point. */
typedef __int128 qty_t;
#define QTY_BOUND ((qty_t)1 << 100) /* far above INT64_MAX * 1e9; no overflow below it */

static int qty_scale(qty_t *v, int e10, int e2, bool *rem)
{
    for (; e10 > 0; e10--) {
        if (*v > QTY_BOUND / 10)
            return -1;
        *v *= 10;
    }
    for (; e10 < 0; e10++) {
        *rem = *rem || *v % 10 != 0;
        *v /= 10;
    }
    for (; e2 > 0; e2--) {
        if (*v > QTY_BOUND / 2)
            return -1;
        *v *= 2;
    }
    return 0;
}

/* Parses s (the apiserver's grammar: [+-]?[0-9.]+ then a suffix: a
 * decimal SI letter, a binary Ki..Ei, or an exponent e/E[+-]N) into nano
 * units, rounding a remainder below 1n up. Returns NULL or the reason. */
static const char *qty_parse_nano(const char *s, qty_t *out)
{
    const char *p = s;
    qty_t m = 0;
    int digits = 0, frac = 0, e10 = 0, e2 = 0;
    bool neg = false, dot = false, rem = false;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (; isdigit((unsigned char)*p) || *p == '.'; p++) {
        if (*p == '.') {
            if (dot)
                return "must be a quantity such as 500m, 64Mi or 0.5";
            dot = true;
            continue;
        }
        if (m > QTY_BOUND / 10)
            return "quantity too large";
        m = m * 10 + (*p - '0');
        digits++;
        frac += dot;
    }
    if (digits == 0)
        return "must be a quantity such as 500m, 64Mi or 0.5";
    if (*p == '\0') {
        e10 = 0;
    } else if (p[1] == '\0' && strchr("numkMGTPE", *p) != NULL) {
        static const int pow10[] = {-9, -6, -3, 3, 6, 9, 12, 15, 18};
        e10 = pow10[strchr("numkMGTPE", *p) - "numkMGTPE"];
    } else if (p[1] == 'i' && p[2] == '\0' && strchr("KMGTPE", *p) != NULL) {
        e2 = 10 * (int)(strchr("KMGTPE", *p) - "KMGTPE" + 1);
    } else if (*p == 'e' || *p == 'E') {
        char *end;
        long x;
        errno = 0;
        x = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != '\0' || errno != 0 || x > 40 || x < -40 ||
            !(isdigit((unsigned char)p[1]) || p[1] == '-' || p[1] == '+'))
            return "unable to parse quantity's suffix";
        e10 = (int)x;
    } else {
        return "unable to parse quantity's suffix";
    }
    if (neg && m != 0)
        return "must not be negative";
    if (qty_scale(&m, 9 + e10 - frac, e2, &rem) != 0 || m > QTY_BOUND)
        return "quantity too large";
    *out = m + (rem ? 1 : 0);
    return NULL;
}

static int qty_get(const json_t *q, const char *field, qty_t div, int64_t *out, struct err *e)
{
    char buf[64];
    const char *s, *why;
    qty_t n, v;

    if (json_is_string(q)) {
        s = json_string_value(q);
    } else if (json_is_integer(q)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(q));
        s = buf;
    } else if (json_is_real(q)) {
        snprintf(buf, sizeof buf, "%.15g", json_real_value(q));
        s = buf;
    } else {
        return err_setf(e, ERR_INVALID, "%s: must be a quantity string", field);
    }
    why = qty_parse_nano(s, &n);
    if (why != NULL)
        return err_setf(e, ERR_INVALID, "%s: %s, got \"%.40s\"", field, why, s);
    v = n / div + (n % div != 0); /* rounds up, as Quantity.Value() */
    if (v > INT64_MAX)
        return err_setf(e, ERR_INVALID, "%s: quantity too large, got \"%.40s\"", field, s);
    *out = (int64_t)v;
    return 0;
}

int agent__qty_value(const json_t *q, const char *field, int64_t *out, struct err *e)
{
    return qty_get(q, field, 1000000000, out, e);
}

int agent__qty_milli(const json_t *q, const char *field, int64_t *out, struct err *e)
{
    return qty_get(q, field, 1000000, out, e);
}

/* ------------------------------------------------------------------ */
/* Growable buffers                                                    */

/* ------------------------------------------------------------------ */
/* $(VAR) expansion (k8s.io/kubernetes third_party/forked/golang/expansion) */

static const char *env_lookup(const struct agent__env *env, size_t n, const char *name, size_t len)
{
    size_t i;
    for (i = n; i-- > 0;)
        if (strlen(env[i].name) == len && memcmp(env[i].name, name, len) == 0)
            return env[i].value ? env[i].value : "";
    return NULL;
}

char *agent__expand(const char *s, const struct agent__env *env, size_t n)
{
    struct buf b = {0};
    size_t i, start = 0, len = strlen(s);

    buf_append(&b, "", 0);
    for (i = 0; i < len; i++) {
        if (s[i] != '$' || i + 1 >= len)
            continue;
        buf_append(&b, s + start, i - start);
        if (s[i + 1] == '$') { /* escaped operator */
            buf_append(&b, "$", 1);
            i += 1;
        } else if (s[i + 1] == '(') {
            const char *close = strchr(s + i + 2, ')');
            if (close == NULL) { /* incomplete reference: kept */
                buf_append(&b, "$(", 2);
                i += 1;
            } else {
                size_t nl = (size_t)(close - (s + i + 2));
                const char *v = env_lookup(env, n, s + i + 2, nl);
                if (v != NULL)
                    buf_append(&b, v, strlen(v));
                else
                    buf_append(&b, s + i, nl + 3); /* undefined: left as $(NAME) */
                i = (size_t)(close - s);
            }
        } else { /* "$x" that starts no reference: kept */
            buf_append(&b, s + i, 2);
            i += 1;
        }
        start = i + 1;
    }
    buf_append(&b, s + start, len - start);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ------------------------------------------------------------------ */
/* Build context                                                       */

struct build {
    const struct agent__bundle_spec *s;
    const json_t *img;       /* image config "config" object or NULL */
    char cpath[64];          /* "spec.containers[0]" */
    struct agent__env *env;  /* s->env, expanded */
    char **envx;             /* the expanded values (owned) */
    const json_t *psc, *csc; /* pod / container securityContext (may be NULL) */
    bool privileged;
    bool ro_root;
};

static const json_t *sc_get(const struct build *b, const char *key)
{
    const json_t *v = b->csc ? json_object_get(b->csc, key) : NULL;
    if ((v == NULL || json_is_null(v)) && b->psc != NULL)
        v = json_object_get(b->psc, key);
    return json_is_null(v) ? NULL : v;
}

static void container_path(struct build *b)
{
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    const json_t *spec = json_object_get(b->s->pod, "spec");
    size_t i, j;

    snprintf(b->cpath, sizeof b->cpath, "container");
    for (i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const json_t *arr = json_object_get(spec, lists[i]);
        for (j = 0; j < json_array_size(arr); j++) {
            if (json_array_get(arr, j) == b->s->container) {
                snprintf(b->cpath, sizeof b->cpath, "spec.%s[%zu]", lists[i], j);
                return;
            }
        }
    }
}

/* Expands the container env in order: each value sees the entries before
 * it (already expanded), as kubelet's makeEnvironmentVariables. */
static int env_expand(struct build *b, struct err *e)
{
    size_t i, n = b->s->n_env;

    if (n == 0)
        return 0;
    b->env = calloc(n, sizeof *b->env);
    b->envx = calloc(n, sizeof *b->envx);
    if (b->env == NULL || b->envx == NULL)
        return err_setf(e, ERR_NOMEM, "env: out of memory");
    for (i = 0; i < n; i++) {
        const struct agent__env *in = &b->s->env[i];
        if (in->name == NULL || in->name[0] == '\0' || strchr(in->name, '=') != NULL)
            return err_setf(e, ERR_INVALID,
                            "%s.env[%zu].name: must be a non-empty name without '='", b->cpath, i);
        b->env[i] = *in;
        if (in->verbatim || in->value == NULL)
            continue;
        b->envx[i] = agent__expand(in->value, b->env, i);
        if (b->envx[i] == NULL)
            return err_setf(e, ERR_NOMEM, "env: out of memory");
        b->env[i].value = b->envx[i];
    }
    return 0;
}

/* Appends or replaces "NAME=..." in the env array, in place like
 * containerd's replaceOrAppendEnvValues. kv is copied. */
static int env_put(json_t *arr, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t nl = eq ? (size_t)(eq - kv) : strlen(kv), i;
    json_t *v;

    for (i = 0; i < json_array_size(arr); i++) {
        const char *x = json_string_value(json_array_get(arr, i));
        if (strncmp(x, kv, nl) == 0 && (x[nl] == '=' || x[nl] == '\0'))
            return json_array_set_new(arr, i, json_string(kv));
    }
    v = json_string(kv);
    return v ? json_array_append_new(arr, v) : -1;
}

static int build_env(struct build *b, const char *hostname, json_t **out, struct err *e)
{
    json_t *arr = json_array(), *ienv = b->img ? json_object_get(b->img, "Env") : NULL;
    struct buf kv = {0};
    size_t i;
    json_t *v;
    int rv = 0;

    if (arr == NULL)
        return err_setf(e, ERR_NOMEM, "env: out of memory");
    if (env_put(arr, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") != 0)
        goto oom;
    if (hostname != NULL) {
        buf_append(&kv, "HOSTNAME=", 9);
        buf_append(&kv, hostname, strlen(hostname));
        if (kv.oom || env_put(arr, kv.p) != 0)
            goto oom;
    }
    if (ienv != NULL && !json_is_null(ienv) && !json_is_array(ienv)) {
        rv = err_setf(e, ERR_INVALID, "image config.Env: must be an array of strings");
        goto out;
    }
    json_array_foreach (ienv, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            rv = err_setf(e, ERR_INVALID, "image config.Env[%zu]: must be a string NAME=VALUE", i);
            goto out;
        }
        if (env_put(arr, json_string_value(v)) != 0)
            goto oom;
    }
    for (i = 0; i < b->s->n_env; i++) {
        kv.len = 0;
        buf_append(&kv, b->env[i].name, strlen(b->env[i].name));
        buf_append(&kv, "=", 1);
        if (b->env[i].value != NULL)
            buf_append(&kv, b->env[i].value, strlen(b->env[i].value));
        if (kv.oom || env_put(arr, kv.p) != 0)
            goto oom;
    }
    *out = arr;
    arr = NULL;
    goto out;
oom:
    rv = err_setf(e, ERR_NOMEM, "env: out of memory");
out:
    free(kv.p);
    json_decref(arr);
    return rv;
}

/* Appends the strings of list (field path for errors), $(VAR)-expanded
 * when expand. */
static int args_append(struct build *b, json_t *args, const json_t *list, const char *field,
                       bool expand, struct err *e)
{
    size_t i;
    json_t *v;

    if (list != NULL && !json_is_null(list) && !json_is_array(list))
        return err_setf(e, ERR_INVALID, "%s: must be an array of strings", field);
    json_array_foreach (list, i, v) {
        char *x;
        if (!json_is_string(v))
            return err_setf(e, ERR_INVALID, "%s[%zu]: must be a string", field, i);
        x = expand ? agent__expand(json_string_value(v), b->env, b->s->n_env)
                   : strdup(json_string_value(v));
        if (x == NULL || json_array_append_new(args, json_string(x)) != 0) {
            free(x);
            return err_setf(e, ERR_NOMEM, "args: out of memory");
        }
        free(x);
    }
    return 0;
}

static bool list_given(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) > 0;
}

/* Kubernetes: command replaces the image's Entrypoint (and drops its Cmd),
 * args replace Cmd; both are expanded with the container env. */
static int build_args(struct build *b, json_t **out, struct err *e)
{
    const json_t *cmd = json_object_get(b->s->container, "command");
    const json_t *args = json_object_get(b->s->container, "args");
    const json_t *ep = b->img ? json_object_get(b->img, "Entrypoint") : NULL;
    const json_t *icmd = b->img ? json_object_get(b->img, "Cmd") : NULL;
    json_t *res = json_array();
    char f1[96], f2[96];
    int rv;

    if (res == NULL)
        return err_setf(e, ERR_NOMEM, "args: out of memory");
    snprintf(f1, sizeof f1, "%s.command", b->cpath);
    snprintf(f2, sizeof f2, "%s.args", b->cpath);
    if (list_given(cmd)) {
        rv = args_append(b, res, cmd, f1, true, e);
        if (rv == 0)
            rv = args_append(b, res, args, f2, true, e);
    } else {
        rv = args_append(b, res, cmd, f1, true, e); /* type check of an empty/odd value */
        if (rv == 0)
            rv = args_append(b, res, ep, "image config.Entrypoint", false, e);
        if (rv == 0 && list_given(args))
            rv = args_append(b, res, args, f2, true, e);
        else if (rv == 0)
            rv = args_append(b, res, icmd, "image config.Cmd", false, e);
    }
    if (rv == 0 && json_array_size(res) == 0)
        rv = err_setf(e, ERR_INVALID,
                      "%s.command: no command specified (neither the container nor the image "
                      "config's Entrypoint/Cmd gives one)",
                      b->cpath);
    if (rv != 0) {
        json_decref(res);
        return rv;
    }
    *out = res;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Users and groups from the rootfs                                    */

/* Reads <rootfs>/<rel> resolving every symlink inside the rootfs
 * (openat2 RESOLVE_IN_ROOT): an image's /etc/passwd -> /etc/shadow link
 * must not make us read the host's file. Missing file: *out = NULL, 0. */
static int rootfs_read(const char *rootfs, const char *rel, char **out, struct err *e)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    struct buf b = {0};
    char chunk[4096];
    int dfd, fd, rv = 0;
    ssize_t n;

    *out = NULL;
    dfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return err_setf(e, ERR_IO, "rootfs %s: %s", rootfs, strerror(errno));
    fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
    close(dfd);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return err_setf(e, ERR_IO, "rootfs %s: /%s: %s", rootfs, rel, strerror(errno));
    }
    buf_append(&b, "", 0);
    while ((n = read(fd, chunk, sizeof chunk)) > 0 && b.len < (4u << 20))
        buf_append(&b, chunk, (size_t)n);
    if (n < 0)
        rv = err_setf(e, ERR_IO, "rootfs %s: /%s: %s", rootfs, rel, strerror(errno));
    else if (b.oom)
        rv = err_setf(e, ERR_NOMEM, "rootfs /%s: out of memory", rel);
    close(fd);
    if (rv != 0)
        free(b.p);
    else
        *out = b.p;
    return rv;
}

static bool parse_id(const char *s, size_t len, uint32_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (len == 0 || len > 10)
        return false;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Field i (0-based) of a ':'-separated line [p, end): start and length. */
static bool line_field(const char *p, const char *end, int i, const char **f, size_t *len)
{
    for (; i > 0; i--) {
        const char *c = memchr(p, ':', (size_t)(end - p));
        if (c == NULL)
            return false;
        p = c + 1;
    }
    *f = p;
    const char *c = memchr(p, ':', (size_t)(end - p));
    *len = (size_t)((c ? c : end) - p);
    return true;
}

/* Finds the line of a passwd/group file whose name (field 0) equals name,
 * or (name NULL) whose id (field 2) equals id. Returns the line or NULL. */
static const char *db_find(const char *db, const char *name, size_t nlen, uint32_t id,
                           const char **end)
{
    const char *p = db;
    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n'), *f;
        const char *e = nl ? nl : p + strlen(p);
        size_t len;
        uint32_t v;
        if (*p != '#' && line_field(p, e, 0, &f, &len)) {
            if (name != NULL && len == nlen && memcmp(f, name, len) == 0) {
                *end = e;
                return p;
            }
            if (name == NULL && line_field(p, e, 2, &f, &len) && parse_id(f, len, &v) && v == id) {
                *end = e;
                return p;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

struct ident {
    uint32_t uid, gid;
    char name[64]; /* user name when known, for group membership */
    json_t *gids;  /* additionalGids */
};

static int gids_add(json_t *gids, uint32_t g)
{
    size_t i;
    for (i = 0; i < json_array_size(gids); i++)
        if ((uint32_t)json_integer_value(json_array_get(gids, i)) == g)
            return 0;
    return json_array_append_new(gids, json_integer(g));
}

/* Resolves user[:group] (group may be NULL) against the rootfs's files,
 * as containerd's WithUser/WithAdditionalGIDs. field names the source. */
static int resolve_user(const struct build *b, const char *user, const char *group,
                        const char *field, struct ident *id, struct err *e)
{
    char *passwd = NULL, *groups = NULL;
    const char *line, *end, *f;
    size_t len;
    bool have_gid = false;
    int rv;

    rv = rootfs_read(b->s->rootfs, "etc/passwd", &passwd, e);
    if (rv == 0)
        rv = rootfs_read(b->s->rootfs, "etc/group", &groups, e);
    if (rv != 0)
        goto out;
    id->name[0] = '\0';
    if (parse_id(user, strlen(user), &id->uid)) {
        line = db_find(passwd, NULL, 0, id->uid, &end);
    } else {
        line = db_find(passwd, user, strlen(user), 0, &end);
        if (line == NULL || !line_field(line, end, 2, &f, &len) || !parse_id(f, len, &id->uid)) {
            rv = err_setf(e, ERR_INVALID,
                          "%s: unknown user \"%.64s\" (not in the image's /etc/passwd)", field,
                          user);
            goto out;
        }
    }
    if (line != NULL) {
        if (line_field(line, end, 0, &f, &len) && len < sizeof id->name)
            snprintf(id->name, sizeof id->name, "%.*s", (int)len, f);
        have_gid = line_field(line, end, 3, &f, &len) && parse_id(f, len, &id->gid);
    }
    if (group != NULL && !parse_id(group, strlen(group), &id->gid)) {
        line = db_find(groups, group, strlen(group), 0, &end);
        if (line == NULL || !line_field(line, end, 2, &f, &len) || !parse_id(f, len, &id->gid)) {
            rv = err_setf(e, ERR_INVALID,
                          "%s: unknown group \"%.64s\" (not in the image's /etc/group)", field,
                          group);
            goto out;
        }
    } else if (group == NULL && !have_gid) {
        id->gid = 0;
    }
    /* the primary gid first (containerd's fix for CVE-2023-25173), then the
     * groups that list the user as a member */
    if (gids_add(id->gids, id->gid) != 0)
        goto oom;
    for (const char *p = groups; id->name[0] != '\0' && p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n'), *le = nl ? nl : p + strlen(p);
        uint32_t g;
        if (*p != '#' && line_field(p, le, 2, &f, &len) && parse_id(f, len, &g) &&
            line_field(p, le, 3, &f, &len)) {
            const char *m = f, *mend = f + len;
            while (m < mend) {
                const char *c = memchr(m, ',', (size_t)(mend - m));
                size_t ml = (size_t)((c ? c : mend) - m);
                if (ml == strlen(id->name) && memcmp(m, id->name, ml) == 0 && gids_add(id->gids, g))
                    goto oom;
                m = c ? c + 1 : mend;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    goto out;
oom:
    rv = err_setf(e, ERR_NOMEM, "user: out of memory");
out:
    free(passwd);
    free(groups);
    return rv;
}

static int sc_id(const struct build *b, const char *key, bool *set, int64_t *v, struct err *e)
{
    const json_t *j = sc_get(b, key);
    *set = false;
    if (j == NULL)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > UINT32_MAX)
        return err_setf(e, ERR_INVALID, "%s.securityContext.%s: must be an integer in 0..%u",
                        b->cpath, key, UINT32_MAX);
    *set = true;
    *v = json_integer_value(j);
    return 0;
}

static int build_user(struct build *b, json_t **out, struct err *e)
{
    const json_t *iu = b->img ? json_object_get(b->img, "User") : NULL;
    const json_t *spec = json_object_get(b->s->pod, "spec");
    const json_t *psc = json_object_get(spec, "securityContext"), *sup, *v;
    struct ident id = {.gids = json_array()};
    char ubuf[128], gbuf[16], field[96];
    const char *user = "0", *group = NULL;
    bool uset, gset;
    int64_t uid = 0, gid = 0;
    size_t i;
    int rv;

    if (id.gids == NULL)
        return err_setf(e, ERR_NOMEM, "user: out of memory");
    if ((rv = sc_id(b, "runAsUser", &uset, &uid, e)) != 0 ||
        (rv = sc_id(b, "runAsGroup", &gset, &gid, e)) != 0)
        goto out;
    if (iu != NULL && !json_is_null(iu) && !json_is_string(iu)) {
        rv = err_setf(e, ERR_INVALID, "image config.User: must be a string");
        goto out;
    }
    snprintf(field, sizeof field, "image config.User");
    if (uset) {
        snprintf(ubuf, sizeof ubuf, "%lld", (long long)uid);
        user = ubuf;
        snprintf(field, sizeof field, "%s.securityContext.runAsUser", b->cpath);
    } else if (iu != NULL && json_string_length(iu) > 0) {
        char *colon;
        if (json_string_length(iu) >= sizeof ubuf) {
            rv = err_setf(e, ERR_INVALID, "image config.User: too long");
            goto out;
        }
        snprintf(ubuf, sizeof ubuf, "%s", json_string_value(iu));
        colon = strchr(ubuf, ':');
        if (colon != NULL) {
            *colon = '\0';
            group = colon + 1;
        }
        user = ubuf;
        if (user[0] == '\0' || (group != NULL && group[0] == '\0')) {
            rv = err_setf(e, ERR_INVALID, "image config.User: must be user[:group], got \"%s\"",
                          json_string_value(iu));
            goto out;
        }
    }
    if (gset) {
        snprintf(gbuf, sizeof gbuf, "%lld", (long long)gid);
        group = gbuf;
    }
    rv = resolve_user(b, user, group, field, &id, e);
    if (rv != 0)
        goto out;
    v = sc_get(b, "runAsNonRoot");
    if (json_is_true(v) && id.uid == 0) {
        rv = err_setf(e, ERR_INVALID,
                      "%s.securityContext.runAsNonRoot: container has runAsNonRoot and its user "
                      "is root (uid 0)",
                      b->cpath);
        goto out;
    }
    /* pod supplementalGroups and fsGroup, as kubelet passes them to CRI */
    sup = json_object_get(psc, "supplementalGroups");
    json_array_foreach (sup, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > UINT32_MAX) {
            rv = err_setf(e, ERR_INVALID,
                          "spec.securityContext.supplementalGroups[%zu]: must be "
                          "an integer in 0..4294967295",
                          i);
            goto out;
        }
        if (gids_add(id.gids, (uint32_t)json_integer_value(v)) != 0)
            goto oom;
    }
    v = json_object_get(psc, "fsGroup");
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= UINT32_MAX &&
        gids_add(id.gids, (uint32_t)json_integer_value(v)) != 0)
        goto oom;
    *out = json_pack("{s:I, s:I, s:O}", "uid", (json_int_t)id.uid, "gid", (json_int_t)id.gid,
                     "additionalGids", id.gids);
    if (*out == NULL)
        goto oom;
    goto out;
oom:
    rv = err_setf(e, ERR_NOMEM, "user: out of memory");
out:
    json_decref(id.gids);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Capabilities                                                        */

/* clang-format off */
static const char *const cap_names[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
/* clang-format on */
#define N_CAPS   (sizeof cap_names / sizeof cap_names[0])
#define ALL_CAPS ((UINT64_C(1) << N_CAPS) - 1)

/* containerd's default set for a CRI container */
/* clang-format off */
static const char *const cap_default[] = {
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
};
/* clang-format on */

/* Capability bit of name ("NET_ADMIN", "net_admin" or "CAP_NET_ADMIN"), or -1. */
static int cap_bit(const char *name)
{
    char up[32];
    size_t i, len;

    if (strncasecmp(name, "CAP_", 4) == 0)
        name += 4;
    len = strlen(name);
    if (len == 0 || len >= sizeof up)
        return -1;
    for (i = 0; i <= len; i++)
        up[i] = (char)toupper((unsigned char)name[i]);
    for (i = 0; i < N_CAPS; i++)
        if (strcmp(up, cap_names[i]) == 0)
            return (int)i;
    return -1;
}

static int cap_list(const struct build *b, const json_t *caps, const char *key, uint64_t *set,
                    bool *all, struct err *e)
{
    const json_t *l = json_object_get(caps, key), *v;
    size_t i;

    *set = 0;
    *all = false;
    if (l != NULL && !json_is_null(l) && !json_is_array(l))
        return err_setf(e, ERR_INVALID, "%s.securityContext.capabilities.%s: must be an array",
                        b->cpath, key);
    json_array_foreach (l, i, v) {
        int bit;
        if (!json_is_string(v))
            return err_setf(e, ERR_INVALID,
                            "%s.securityContext.capabilities.%s[%zu]: must be a "
                            "string",
                            b->cpath, key, i);
        if (strcasecmp(json_string_value(v), "ALL") == 0) {
            *all = true;
            continue;
        }
        bit = cap_bit(json_string_value(v));
        /* runc would only warn and ignore it; a typo should not pass silently */
        if (bit < 0)
            return err_setf(e, ERR_INVALID,
                            "%s.securityContext.capabilities.%s[%zu]: unknown "
                            "capability \"%.40s\"",
                            b->cpath, key, i, json_string_value(v));
        *set |= UINT64_C(1) << bit;
    }
    return 0;
}

/* containerd's order: add ALL, drop ALL, then the single adds, then the
 * single drops (so add [ALL] drop [CHOWN] is everything but CHOWN). */
static int build_caps(struct build *b, json_t **out, struct err *e)
{
    const json_t *caps = b->csc ? json_object_get(b->csc, "capabilities") : NULL;
    uint64_t set = 0, add, drop;
    bool add_all, drop_all;
    json_t *list;
    size_t i;
    int rv;

    for (i = 0; i < sizeof cap_default / sizeof cap_default[0]; i++)
        set |= UINT64_C(1) << cap_bit(cap_default[i]);
    if (b->privileged) {
        set = ALL_CAPS;
    } else if (caps != NULL && !json_is_null(caps)) {
        if ((rv = cap_list(b, caps, "add", &add, &add_all, e)) != 0 ||
            (rv = cap_list(b, caps, "drop", &drop, &drop_all, e)) != 0)
            return rv;
        if (add_all)
            set = ALL_CAPS;
        if (drop_all)
            set = 0;
        set = (set | add) & ~drop;
    }
    list = json_array();
    if (list == NULL)
        return err_setf(e, ERR_NOMEM, "capabilities: out of memory");
    for (i = 0; i < N_CAPS; i++) {
        char name[40];
        if (!(set & (UINT64_C(1) << i)))
            continue;
        snprintf(name, sizeof name, "CAP_%s", cap_names[i]);
        if (json_array_append_new(list, json_string(name)) != 0) {
            json_decref(list);
            return err_setf(e, ERR_NOMEM, "capabilities: out of memory");
        }
    }
    /* no inheritable or ambient set: exec'd programs do not keep
     * capabilities through file caps they lack (containerd's choice too) */
    *out = json_pack("{s:O, s:O, s:o}", "bounding", list, "effective", list, "permitted", list);
    if (*out == NULL)
        return err_setf(e, ERR_NOMEM, "capabilities: out of memory");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Mounts                                                              */

static int mount_add(json_t *mounts, const char *dst, const char *type, const char *src,
                     const char *const *opts)
{
    json_t *o = json_array(), *m;
    for (; o != NULL && *opts != NULL; opts++)
        if (json_array_append_new(o, json_string(*opts)) != 0) {
            json_decref(o);
            return -1;
        }
    m = json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
                  "options", o);
    return m ? json_array_append_new(mounts, m) : -1;
}

static int bind_add(json_t *mounts, const char *dst, const char *src, bool ro)
{
    const char *opts[] = {"rbind", "rprivate", ro ? "ro" : "rw", NULL};
    return mount_add(mounts, dst, "bind", src, opts);
}

static size_t path_depth(const char *p)
{
    size_t n = 0;
    for (; *p; p++)
        n += *p == '/' && p[1] != '/' && p[1] != '\0';
    return n;
}

static int build_mounts(struct build *b, json_t **out, struct err *e)
{
    const struct agent__bundle_spec *s = b->s;
    const char *const proc[] = {"nosuid", "noexec", "nodev", NULL};
    const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    const char *const pts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                               "mode=0620", "gid=5",  NULL};
    const char *const shm[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL};
    const char *const sys[] = {"nosuid", "noexec", "nodev", b->privileged ? "rw" : "ro", NULL};
    const char *const cg[] = {"nosuid", "noexec", "nodev", "relatime", b->privileged ? "rw" : "ro",
                              NULL};
    const char *term = json_string_value(json_object_get(s->container, "terminationMessagePath"));
    json_t *m = json_array();
    size_t depth, i;
    bool fail;

    if (m == NULL)
        return err_setf(e, ERR_NOMEM, "mounts: out of memory");
    fail = mount_add(m, "/proc", "proc", "proc", proc) ||
           mount_add(m, "/dev", "tmpfs", "tmpfs", dev) ||
           mount_add(m, "/dev/pts", "devpts", "devpts", pts) ||
           (s->shm_path ? bind_add(m, "/dev/shm", s->shm_path, false)
                        : mount_add(m, "/dev/shm", "tmpfs", "shm", shm)) ||
           mount_add(m, "/dev/mqueue", "mqueue", "mqueue", proc) ||
           mount_add(m, "/sys", "sysfs", "sysfs", sys) ||
           mount_add(m, "/sys/fs/cgroup", "cgroup", "cgroup", cg);
    /* kubelet's files: writable unless the root file system is read-only */
    if (!fail && s->hosts_path)
        fail = bind_add(m, "/etc/hosts", s->hosts_path, b->ro_root);
    if (!fail && s->resolv_path)
        fail = bind_add(m, "/etc/resolv.conf", s->resolv_path, b->ro_root);
    if (!fail && s->hostname_path)
        fail = bind_add(m, "/etc/hostname", s->hostname_path, b->ro_root);
    if (!fail && s->termination_log_path)
        fail = bind_add(m, term && term[0] == '/' ? term : "/dev/termination-log",
                        s->termination_log_path, false);
    /* volumes, parents before children (containerd sorts by depth) so
     * that a mount at /a/b is not hidden by a later one at /a */
    for (depth = 0; !fail && depth < 4096; depth++) {
        bool more = false;
        for (i = 0; !fail && i < s->n_mounts; i++) {
            const struct agent__mount *v = &s->mounts[i];
            size_t d;
            if (v->destination == NULL || v->destination[0] != '/') {
                json_decref(m);
                return err_setf(e, ERR_INVALID, "mounts[%zu].destination: must be an absolute path",
                                i);
            }
            if (!v->tmpfs && (v->source == NULL || v->source[0] != '/')) {
                json_decref(m);
                return err_setf(e, ERR_INVALID, "mounts[%zu].source: must be an absolute path", i);
            }
            d = path_depth(v->destination);
            more = more || d > depth;
            if (d != depth)
                continue;
            if (v->tmpfs) {
                const char *const t[] = {"nosuid", "nodev", "mode=1777", v->readonly ? "ro" : "rw",
                                         NULL};
                fail = mount_add(m, v->destination, "tmpfs", "tmpfs", t);
            } else {
                fail = bind_add(m, v->destination, v->source, v->readonly);
            }
        }
        if (!more)
            break;
    }
    if (fail) {
        json_decref(m);
        return err_setf(e, ERR_NOMEM, "mounts: out of memory");
    }
    *out = m;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Namespaces, resources, linux section                                */

static int ns_add(json_t *arr, const char *type, const char *path)
{
    json_t *n = path ? json_pack("{s:s, s:s}", "type", type, "path", path)
                     : json_pack("{s:s}", "type", type);
    return n ? json_array_append_new(arr, n) : -1;
}

static int build_namespaces(struct build *b, json_t **out, struct err *e)
{
    const json_t *spec = json_object_get(b->s->pod, "spec");
    json_t *ns = json_array();
    bool fail = ns == NULL;

    /* host* fields: no namespace entry means runc stays in ours */
    if (!fail && !json_is_true(json_object_get(spec, "hostPID")))
        fail = ns_add(ns, "pid", NULL);
    if (!fail)
        fail = ns_add(ns, "mount", NULL);
    if (!fail && !json_is_true(json_object_get(spec, "hostNetwork")))
        fail = ns_add(ns, "network", b->s->netns_path) || ns_add(ns, "uts", b->s->utsns_path);
    if (!fail && !json_is_true(json_object_get(spec, "hostIPC")))
        fail = ns_add(ns, "ipc", b->s->ipcns_path);
    if (fail) {
        json_decref(ns);
        return err_setf(e, ERR_NOMEM, "namespaces: out of memory");
    }
    *out = ns;
    return 0;
}

static int build_resources(struct build *b, json_t **out, struct err *e)
{
    const json_t *res = json_object_get(b->s->container, "resources");
    const json_t *lim = json_object_get(res, "limits"), *req = json_object_get(res, "requests");
    const json_t *lmem = json_object_get(lim, "memory"), *lcpu = json_object_get(lim, "cpu");
    const json_t *rcpu = json_object_get(req, "cpu");
    char f[128];
    int64_t mem = 0, cpu_lim = 0, cpu_req = 0, shares;
    json_t *r, *cpu;
    int rv;

    if (lmem != NULL) {
        snprintf(f, sizeof f, "%s.resources.limits.memory", b->cpath);
        if ((rv = agent__qty_value(lmem, f, &mem, e)) != 0)
            return rv;
    }
    if (lcpu != NULL) {
        snprintf(f, sizeof f, "%s.resources.limits.cpu", b->cpath);
        if ((rv = agent__qty_milli(lcpu, f, &cpu_lim, e)) != 0)
            return rv;
    }
    if (rcpu != NULL) {
        snprintf(f, sizeof f, "%s.resources.requests.cpu", b->cpath);
        if ((rv = agent__qty_milli(rcpu, f, &cpu_req, e)) != 0)
            return rv;
    } else {
        cpu_req = cpu_lim; /* the apiserver defaults requests to limits */
    }
    /* kubelet's MilliCPUToShares: 2 (BestEffort) up to 262144 */
    shares = cpu_req > INT64_MAX / 1024 ? 262144 : cpu_req * 1024 / 1000;
    shares = shares < 2 ? 2 : shares > 262144 ? 262144 : shares;
    cpu = json_pack("{s:I}", "shares", (json_int_t)shares);
    if (cpu != NULL && lcpu != NULL) {
        /* MilliCPUToQuota: period 100 ms, quota at least 1 ms */
        int64_t quota = cpu_lim > INT64_MAX / 100 ? INT64_MAX : cpu_lim * 100;
        if (quota < 1000)
            quota = 1000;
        if (json_object_set_new(cpu, "quota", json_integer(quota)) != 0 ||
            json_object_set_new(cpu, "period", json_integer(100000)) != 0)
            json_decref(cpu), cpu = NULL;
    }
    r = cpu ? json_pack("{s:[{s:b, s:s}], s:o}", "devices", "allow", b->privileged, "access", "rwm",
                        "cpu", cpu)
            : NULL;
    if (r != NULL && lmem != NULL &&
        json_object_set_new(r, "memory", json_pack("{s:I}", "limit", (json_int_t)mem)) != 0)
        json_decref(r), r = NULL;
    if (r == NULL)
        return err_setf(e, ERR_NOMEM, "resources: out of memory");
    *out = r;
    return 0;
}

static json_t *strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    size_t i;
    for (i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* containerd's defaults (pkg/oci/spec.go populateDefaultUnixSpec) */
/* clang-format off */
static const char *const masked_paths[] = {
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
/* clang-format on */
/* clang-format off */
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
/* clang-format on */

static int build_linux(struct build *b, json_t **out, struct err *e)
{
    json_t *ns = NULL, *res = NULL, *lx;
    int rv;

    if ((rv = build_namespaces(b, &ns, e)) != 0 || (rv = build_resources(b, &res, e)) != 0) {
        json_decref(ns);
        return rv;
    }
    lx = json_pack("{s:o, s:o}", "namespaces", ns, "resources", res);
    if (lx != NULL && b->s->cgroups_path != NULL &&
        json_object_set_new(lx, "cgroupsPath", json_string(b->s->cgroups_path)) != 0)
        json_decref(lx), lx = NULL;
    if (lx != NULL && !b->privileged &&
        (json_object_set_new(lx, "maskedPaths",
                             strings(masked_paths, sizeof masked_paths / sizeof *masked_paths)) ||
         json_object_set_new(
             lx, "readonlyPaths",
             strings(readonly_paths, sizeof readonly_paths / sizeof *readonly_paths))))
        json_decref(lx), lx = NULL;
    if (lx == NULL)
        return err_setf(e, ERR_NOMEM, "linux: out of memory");
    *out = lx;
    return 0;
}

/* ------------------------------------------------------------------ */
/* config.json                                                         */

/* kubelet: spec.hostname, else the pod name, cut to 63 bytes and without
 * a trailing '-' or '.' */
static void pod_hostname(const json_t *pod, char out[64])
{
    const char *h = json_string_value(json_object_get(json_object_get(pod, "spec"), "hostname"));
    size_t n;
    if (h == NULL || h[0] == '\0')
        h = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
    snprintf(out, 64, "%s", h ? h : "");
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '-' || out[n - 1] == '.'))
        out[--n] = '\0';
}

static int check_spec(const struct agent__bundle_spec *s, struct err *e)
{
    if (s == NULL || !json_is_object(s->pod))
        return err_setf(e, ERR_INVALID, "pod: must be an object");
    if (!json_is_object(json_object_get(s->pod, "spec")))
        return err_setf(e, ERR_INVALID, "spec: required object");
    if (!json_is_object(s->container))
        return err_setf(e, ERR_INVALID, "container: must be an object");
    if (s->rootfs == NULL || s->rootfs[0] != '/')
        return err_setf(e, ERR_INVALID, "rootfs: must be an absolute path");
    if (s->image_config != NULL && !json_is_object(s->image_config) &&
        !json_is_null(s->image_config))
        return err_setf(e, ERR_INVALID, "image config: must be an object");
    if (s->n_env > 0 && s->env == NULL)
        return err_setf(e, ERR_INVALID, "env: NULL list");
    if (s->n_mounts > 0 && s->mounts == NULL)
        return err_setf(e, ERR_INVALID, "mounts: NULL list");
    return 0;
}

static int build_process(struct build *b, const char *hostname, json_t **out, struct err *e)
{
    const json_t *wd = json_object_get(b->s->container, "workingDir");
    const json_t *iwd = b->img ? json_object_get(b->img, "WorkingDir") : NULL;
    const json_t *ape = sc_get(b, "allowPrivilegeEscalation");
    json_t *args = NULL, *env = NULL, *user = NULL, *caps = NULL;
    const char *cwd = "/";
    int rv;

    if (wd != NULL && !json_is_null(wd) && !json_is_string(wd))
        return err_setf(e, ERR_INVALID, "%s.workingDir: must be a string", b->cpath);
    if (iwd != NULL && !json_is_null(iwd) && !json_is_string(iwd))
        return err_setf(e, ERR_INVALID, "image config.WorkingDir: must be a string");
    if (json_string_length(wd) > 0)
        cwd = json_string_value(wd);
    else if (json_string_length(iwd) > 0)
        cwd = json_string_value(iwd);
    if (cwd[0] != '/')
        return err_setf(e, ERR_INVALID, "%s: must be an absolute path, got \"%.64s\"",
                        json_string_length(wd) > 0 ? "workingDir" : "image config.WorkingDir", cwd);
    if ((rv = build_args(b, &args, e)) != 0 || (rv = build_env(b, hostname, &env, e)) != 0 ||
        (rv = build_user(b, &user, e)) != 0 || (rv = build_caps(b, &caps, e)) != 0)
        goto fail;
    *out = json_pack("{s:b, s:o, s:o, s:o, s:s, s:o, s:b}", "terminal", 0, "user", user, "args",
                     args, "env", env, "cwd", cwd, "capabilities", caps, "noNewPrivileges",
                     json_is_false(ape));
    if (*out == NULL)
        return err_setf(e, ERR_NOMEM, "process: out of memory");
    return 0;
fail:
    json_decref(args);
    json_decref(env);
    json_decref(user);
    json_decref(caps);
    return rv;
}

int agent__bundle_config(const struct agent__bundle_spec *s, json_t **out, struct err *e)
{
    struct build b = {.s = s};
    json_t *proc = NULL, *mounts = NULL, *lx = NULL, *cfg;
    char hostname[64];
    size_t i;
    int rv;

    *out = NULL;
    if ((rv = check_spec(s, e)) != 0)
        return rv;
    b.img = s->image_config;
    if (json_is_object(json_object_get(b.img, "config")))
        b.img = json_object_get(b.img, "config"); /* the whole image config was given */
    b.psc = json_object_get(json_object_get(s->pod, "spec"), "securityContext");
    b.csc = json_object_get(s->container, "securityContext");
    b.psc = json_is_object(b.psc) ? b.psc : NULL;
    b.csc = json_is_object(b.csc) ? b.csc : NULL;
    container_path(&b);
    b.privileged = b.csc && json_is_true(json_object_get(b.csc, "privileged"));
    b.ro_root = b.csc && json_is_true(json_object_get(b.csc, "readOnlyRootFilesystem"));
    pod_hostname(s->pod, hostname);
    if ((rv = env_expand(&b, e)) != 0 ||
        (rv = build_process(&b, hostname[0] ? hostname : NULL, &proc, e)) != 0 ||
        (rv = build_mounts(&b, &mounts, e)) != 0 || (rv = build_linux(&b, &lx, e)) != 0)
        goto out;
    cfg =
        json_pack("{s:s, s:o, s:{s:s, s:b}, s:o, s:o}", "ociVersion", "1.0.2", "process", proc,
                  "root", "path", s->rootfs, "readonly", b.ro_root, "mounts", mounts, "linux", lx);
    proc = mounts = lx = NULL; /* "o" steals even when json_pack fails */
    if (cfg != NULL && hostname[0] != '\0' &&
        !json_is_true(json_object_get(json_object_get(s->pod, "spec"), "hostNetwork")) &&
        json_object_set_new(cfg, "hostname", json_string(hostname)) != 0)
        json_decref(cfg), cfg = NULL;
    if (cfg == NULL) {
        rv = err_setf(e, ERR_NOMEM, "config: out of memory");
        goto out;
    }
    *out = cfg;
out:
    json_decref(proc);
    json_decref(mounts);
    json_decref(lx);
    for (i = 0; b.envx != NULL && i < s->n_env; i++)
        free(b.envx[i]);
    free(b.envx);
    free(b.env);
    return rv;
}

int agent__bundle_write(const struct agent__bundle_spec *s, const char *dir, struct err *e)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    json_t *cfg = NULL;
    int rv;

    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.config.json.tmp", dir) >= (int)sizeof tmp)
        return err_setf(e, ERR_INVALID, "bundle dir: path too long");
    rv = agent__bundle_config(s, &cfg, e);
    if (rv != 0)
        return rv;
    if (json_dump_file(cfg, tmp, JSON_COMPACT) != 0) {
        rv = err_setf(e, ERR_IO, "bundle %s: write config.json: %s", dir, strerror(errno));
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        rv = err_setf(e, ERR_IO, "bundle %s: rename config.json: %s", dir, strerror(errno));
        unlink(tmp);
    }
    json_decref(cfg);
    return rv;
}
