/* agent/pods_files: the file-system side of pods: Secret and ConfigMap
 * volume files, log paths and rotation, and unmounting what a pod left.
 * Every function blocks: thread pool (or tests) only. */
#include "agent/pods.h"
#include "agent/dns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"

/* A relative path without "..", empty or "." components. */
static bool rel_ok(const char *p)
{
    const char *s = p;
    if (*p == '\0' || *p == '/')
        return false;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
        if (*s == '/')
            s++;
    }
    return p[strlen(p) - 1] != '/';
}

static int mkparents(const char *dir, const char *rel, struct err *e)
{
    char p[PATH_MAX];
    const char *s = rel;
    for (;;) {
        const char *sl = strchr(s, '/');
        if (sl == NULL)
            return 0;
        if (snprintf(p, sizeof p, "%s/%.*s", dir, (int)(sl - rel), rel) >= (int)sizeof p)
            return err_setf(e, ERR_INVALID, "%s: path too long", rel);
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
        s = sl + 1;
    }
}

static int write_one(const char *dir, const char *rel, const char *data, size_t n, int mode,
                     struct err *e)
{
    char p[PATH_MAX];
    int fd, rv = 0;
    if (snprintf(p, sizeof p, "%s/%s", dir, rel) >= (int)sizeof p)
        return err_setf(e, ERR_INVALID, "%s: path too long", rel);
    if ((rv = mkparents(dir, rel, e)) != 0)
        return rv;
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return err_setf(e, ERR_IO, "open %s: %s", p, strerror(errno));
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rv = err_setf(e, ERR_IO, "write %s: %s", p, strerror(errno));
            break;
        }
        data += w;
        n -= (size_t)w;
    }
    /* umask must not narrow defaultMode */
    if (rv == 0 && fchmod(fd, (mode_t)mode) != 0)
        rv = err_setf(e, ERR_IO, "chmod %s: %s", p, strerror(errno));
    close(fd);
    return rv;
}

/* The bytes of key in obj (Secret: base64 data; ConfigMap: data, then
 * binaryData). *out owned. ERR_NOTFOUND when absent. */
static int key_bytes(const json_t *obj, const char *kind, const char *key, char **out, size_t *n,
                     struct err *e)
{
    bool secret = strcmp(kind, "Secret") == 0;
    const json_t *v = json_object_get(json_object_get(obj, "data"), key);
    *out = NULL;
    if (json_is_string(v) && !secret) {
        *n = json_string_length(v);
        *out = malloc(*n + 1);
        if (*out == NULL)
            return err_setf(e, ERR_NOMEM, "volume: out of memory");
        memcpy(*out, json_string_value(v), *n + 1);
        return 0;
    }
    if (!json_is_string(v) && !secret)
        v = json_object_get(json_object_get(obj, "binaryData"), key);
    if (!json_is_string(v))
        return ERR_NOTFOUND;
    return agent__b64_decode(json_string_value(v), out, n, e);
}

static int mode_of(const json_t *m, int dflt, const char *field, int *out, struct err *e)
{
    json_int_t v;
    if (m == NULL || json_is_null(m)) {
        *out = dflt;
        return 0;
    }
    v = json_integer_value(m);
    if (!json_is_integer(m) || v < 0 || v > 0777)
        return err_setf(e, ERR_INVALID, "%s: must be a number between 0 and 0777 (octal)", field);
    *out = (int)v;
    return 0;
}

int agent__volume_project(const char *dir, const char *kind, const json_t *obj, const json_t *src,
                          const char *field, struct err *e)
{
    const json_t *items = json_object_get(src, "items"), *it, *v;
    bool optional = json_is_true(json_object_get(src, "optional"));
    char f[256];
    const char *k;
    int dmode = 0644, mode = 0644, rv;
    size_t i;

    snprintf(f, sizeof f, "%s.defaultMode", field);
    if ((rv = mode_of(json_object_get(src, "defaultMode"), 0644, f, &dmode, e)) != 0)
        return rv;
    if (obj == NULL)
        return 0;
    if (json_array_size(items) > 0) {
        json_array_foreach (items, i, it) {
            const char *key = json_string_value(json_object_get(it, "key"));
            const char *path = json_string_value(json_object_get(it, "path"));
            char *data;
            size_t n;
            snprintf(f, sizeof f, "%s.items[%zu]", field, i);
            if (key == NULL || path == NULL)
                return err_setf(e, ERR_INVALID, "%s: key and path required", f);
            if (!rel_ok(path))
                return err_setf(e, ERR_INVALID, "%s.path: must be a relative path without '..'", f);
            snprintf(f, sizeof f, "%s.items[%zu].mode", field, i);
            if ((rv = mode_of(json_object_get(it, "mode"), dmode, f, &mode, e)) != 0)
                return rv;
            rv = key_bytes(obj, kind, key, &data, &n, e);
            if (rv == ERR_NOTFOUND) {
                if (optional)
                    continue;
                return err_setf(e, ERR_NOTFOUND, "%s.items[%zu]: couldn't find key %s", field, i,
                                key);
            }
            if (rv == 0)
                rv = write_one(dir, path, data, n, mode, e);
            free(data);
            if (rv != 0)
                return rv;
        }
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *map = pass == 0 ? "data" : "binaryData";
        json_object_foreach ((json_t *)json_object_get(obj, map), k, v) {
            char *data;
            size_t n;
            if (!rel_ok(k) || strchr(k, '/') != NULL)
                continue; /* keys are validated by the API; never write outside dir */
            if (pass == 1 && strcmp(kind, "Secret") == 0)
                break;
            (void)v;
            rv = key_bytes(obj, kind, k, &data, &n, e);
            if (rv == 0)
                rv = write_one(dir, k, data, n, dmode, e);
            free(data);
            if (rv != 0)
                return err_wrapf(e, "%s: key %s", field, k);
        }
    }
    return 0;
}

int agent__log_path(const char *dir, const char *ns, const char *pod, const char *uid,
                    const char *ctr, int restart, char *buf, size_t cap, struct err *e)
{
    if (snprintf(buf, cap, "%s/logs/%s_%s_%s/%s/%d.log", dir, ns, pod, uid, ctr, restart) >=
        (int)cap)
        return err_setf(e, ERR_INVALID, "log path of %s/%s/%s: too long", ns, pod, ctr);
    return 0;
}

int agent__log_rotate(const char *path, uint64_t max_bytes, bool *rotated, struct err *e)
{
    char old[PATH_MAX];
    struct stat st;
    int in, out, rv = 0;
    off_t off = 0;

    *rotated = false;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : err_setf(e, ERR_IO, "stat %s: %s", path, strerror(errno));
    if ((uint64_t)st.st_size <= max_bytes)
        return 0;
    if (snprintf(old, sizeof old, "%s.1", path) >= (int)sizeof old)
        return err_setf(e, ERR_INVALID, "%s: path too long", path);
    /* copy, then truncate: the container's stdout is an O_APPEND fd runc
     * opened on this file, which a rename could not redirect. Lines written
     * between the copy and the truncate are lost (logrotate's copytruncate
     * trade-off); the alternative, a pipe per container through the agent,
     * would make every log line depend on the agent being up. */
    in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return err_setf(e, ERR_IO, "open %s: %s", path, strerror(errno));
    out = open(old, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (out < 0) {
        rv = err_setf(e, ERR_IO, "open %s: %s", old, strerror(errno));
        goto out_in;
    }
    while (off < st.st_size) {
        ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rv = err_setf(e, ERR_IO, "copy %s: %s", path, n < 0 ? strerror(errno) : "short");
            break;
        }
    }
    close(out);
    if (rv == 0 && truncate(path, 0) != 0)
        rv = err_setf(e, ERR_IO, "truncate %s: %s", path, strerror(errno));
    *rotated = rv == 0;
out_in:
    close(in);
    return rv;
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo */
static void unescape(char *s)
{
    char *w = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

static int by_length_desc(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

int agent__umount_below(const char *dir, struct err *e)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char *line = NULL, **pts = NULL;
    size_t cap = 0, n = 0, np = 0, dl = strlen(dir), i;
    int rv = 0;

    if (f == NULL)
        return err_setf(e, ERR_IO, "open /proc/self/mountinfo: %s", strerror(errno));
    while (getline(&line, &cap, f) > 0) {
        char mp[PATH_MAX];
        char **v;
        /* id parent major:minor root mountpoint ... */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
            continue;
        unescape(mp);
        if (strncmp(mp, dir, dl) != 0 || (mp[dl] != '\0' && mp[dl] != '/'))
            continue;
        if (np == n) {
            n = n ? n * 2 : 16;
            v = realloc(pts, n * sizeof *v);
            if (v == NULL) {
                rv = err_setf(e, ERR_NOMEM, "umount: out of memory");
                break;
            }
            pts = v;
        }
        if ((pts[np] = strdup(mp)) == NULL) {
            rv = err_setf(e, ERR_NOMEM, "umount: out of memory");
            break;
        }
        np++;
    }
    free(line);
    fclose(f);
    if (np > 1)
        qsort(pts, np, sizeof *pts, by_length_desc);
    /* a path mounted twice is listed twice: each umount takes one */
    for (i = 0; i < np; i++) {
        if (umount2(pts[i], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT && rv == 0)
            rv = err_setf(e, ERR_IO, "umount %s: %s", pts[i], strerror(errno));
        free(pts[i]);
    }
    free(pts);
    return rv;
}

/* ---- resolv.conf ---- */

int agent__resolv_conf(const char *dns_ip, const char *ns, const char *host_resolv, char *buf,
                       size_t cap, struct err *e)
{
    size_t len;
    const char *line;
    int rv;

    if (dns_ip == NULL || dns_ip[0] == '\0') {
        if (snprintf(buf, cap, "%s", host_resolv ? host_resolv : "") >= (int)cap)
            return err_setf(e, ERR_INVALID, "resolv.conf: the node's file is too long");
        return 0;
    }
    if ((rv = agent__dns_resolv_conf(dns_ip, ns, NULL, buf, cap, e)) != 0)
        return rv;
    /* the cluster DNS refuses names outside the cluster domain: the node's
     * own nameservers answer those (loopback ones are not reachable from
     * the pod's network namespace) */
    len = strlen(buf);
    for (line = host_resolv; line != NULL && *line != '\0';) {
        size_t l = strcspn(line, "\n");
        char ip[64];
        if (l > 11 && strncmp(line, "nameserver", 10) == 0 &&
            sscanf(line + 10, " %63s", ip) == 1 && strncmp(ip, "127.", 4) != 0 &&
            strchr(ip, ':') == NULL) {
            int n = snprintf(buf + len, cap - len, "nameserver %s\n", ip);
            if (n < 0 || (size_t)n >= cap - len)
                break;
            len += (size_t)n;
        }
        line += l;
        if (*line == '\n')
            line++;
    }
    return 0;
}

/* ---- Secret / ConfigMap volume refresh ---- */

#define STAGING "..skiff_new"

int agent__volume_refresh(const char *dir, const char *kind, const json_t *obj, const json_t *src,
                          const char *field, struct err *e)
{
    char stage[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    json_t *names = json_object();
    struct dirent *de;
    DIR *d;
    int rv;

    if (names == NULL)
        return err_setf(e, ERR_NOMEM, "volume refresh: out of memory");
    if (snprintf(stage, sizeof stage, "%s/%s", dir, STAGING) >= (int)sizeof stage) {
        json_decref(names);
        return err_setf(e, ERR_INVALID, "%s: path too long", dir);
    }
    fs_rmtree(stage);
    if (mkdir(stage, 0755) != 0) {
        json_decref(names);
        return err_setf(e, ERR_IO, "mkdir %s: %s", stage, strerror(errno));
    }
    /* the new content next to the old, on the same tmpfs, then each entry
     * renamed into place: a reader sees a file either old or new, never
     * half written */
    if ((rv = agent__volume_project(stage, kind, obj, src, field, e)) != 0 ||
        (d = opendir(stage)) == NULL) {
        if (rv == 0)
            rv = err_setf(e, ERR_IO, "opendir %s: %s", stage, strerror(errno));
        fs_rmtree(stage);
        json_decref(names);
        return rv;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        json_object_set_new(names, de->d_name, json_true());
        snprintf(from, sizeof from, "%s/%s", stage, de->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, de->d_name);
        if (rename(from, to) != 0) {
            /* a directory (items with nested paths) replaces a non-empty one */
            fs_rmtree(to);
            if (rename(from, to) != 0) {
                rv = err_setf(e, ERR_IO, "rename %s: %s", to, strerror(errno));
                break;
            }
        }
    }
    closedir(d);
    if (rv == 0 && (d = opendir(dir)) != NULL) {
        /* entries of keys that are gone */
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                strcmp(de->d_name, STAGING) == 0 || json_object_get(names, de->d_name) != NULL)
                continue;
            snprintf(to, sizeof to, "%s/%s", dir, de->d_name);
            fs_rmtree(to);
        }
        closedir(d);
    }
    fs_rmtree(stage);
    json_decref(names);
    return rv;
}
