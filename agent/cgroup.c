/* agent/cgroup: where this machine's cgroups are, this node's part of
 * them (skiff-<node> at the root of every hierarchy, pod<uid> below it, one
 * dir per container below that: runc makes them from cgroupsPath), their
 * stats, and their removal. */
#include "agent/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* v1 controllers; any other super option of a cgroup mount (rw,
 * clone_children, xattr, ...) is not one, except name=... */
/* clang-format off */
static const char *const v1_controllers[] = {
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio", "blkio",
    "pids", "perf_event", "hugetlb", "rdma", "misc",
};
/* clang-format on */

static bool is_controller(const char *opt, size_t len)
{
    size_t i;
    if (len > 5 && strncmp(opt, "name=", 5) == 0)
        return true;
    for (i = 0; i < sizeof v1_controllers / sizeof v1_controllers[0]; i++)
        if (strlen(v1_controllers[i]) == len && strncmp(opt, v1_controllers[i], len) == 0)
            return true;
    return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(const char *s, size_t len, char *out, size_t cap)
{
    size_t i, o = 0;
    for (i = 0; i < len && o + 1 < cap; i++) {
        if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
            s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* Splits a mountinfo line into its fields: mount point (5th) and, after
 * the " - " separator, fstype and super options. */
static bool parse_line(const char *line, size_t len, char *mnt, size_t mcap, char *fstype,
                       size_t fcap, char *sopts, size_t scap)
{
    const char *f[64];
    size_t fl[64], n = 0, i = 0, sep = 0;

    while (i < len && n < 64) {
        while (i < len && line[i] == ' ')
            i++;
        if (i >= len)
            break;
        f[n] = line + i;
        while (i < len && line[i] != ' ')
            i++;
        fl[n] = (size_t)(line + i - f[n]);
        if (fl[n] == 1 && f[n][0] == '-' && sep == 0 && n >= 6)
            sep = n;
        n++;
    }
    if (sep == 0 || n < sep + 4)
        return false;
    unescape(f[4], fl[4], mnt, mcap);
    snprintf(fstype, fcap, "%.*s", (int)fl[sep + 1], f[sep + 1]);
    snprintf(sopts, scap, "%.*s", (int)fl[sep + 3], f[sep + 3]);
    return true;
}

static bool node_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < 100 && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0 && strchr(s, ' ') == NULL;
}

int agent__cg_detect(const char *mountinfo, const char *node, struct agent__cg *cg, struct err *e)
{
    const char *p = mountinfo;
    bool v2_root = false;

    memset(cg, 0, sizeof *cg);
    if (!node_ok(node))
        return err_setf(e, ERR_INVALID, "node name: must be a non-empty name without '/'");
    snprintf(cg->parent, sizeof cg->parent, "skiff-%s", node);
    while (p != NULL && *p != '\0') {
        const char *line = p, *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char mnt[PATH_MAX], fstype[32], sopts[256], ctl[128] = "";
        p = nl ? nl + 1 : NULL;
        if (!parse_line(line, len, mnt, sizeof mnt, fstype, sizeof fstype, sopts, sizeof sopts))
            continue;
        if (strcmp(fstype, "cgroup2") == 0) {
            /* the first cgroup2 mount wins, unless /sys/fs/cgroup itself is one */
            if (strcmp(mnt, "/sys/fs/cgroup") == 0 || cg->unified[0] == '\0') {
                snprintf(cg->unified, sizeof cg->unified, "%s", mnt);
                v2_root = v2_root || strcmp(mnt, "/sys/fs/cgroup") == 0;
            }
            continue;
        }
        if (strcmp(fstype, "cgroup") != 0)
            continue;
        for (char *o = sopts, *end; *o != '\0'; o = *end ? end + 1 : end) {
            end = strchr(o, ',');
            if (end == NULL)
                end = o + strlen(o);
            if (is_controller(o, (size_t)(end - o)))
                snprintf(ctl + strlen(ctl), sizeof ctl - strlen(ctl), "%s%.*s", ctl[0] ? "," : "",
                         (int)(end - o), o);
        }
        if (ctl[0] == '\0' || cg->n_v1 >= AGENT_CG_MAX_HIER)
            continue;
        size_t i;
        for (i = 0; i < cg->n_v1; i++) /* the same hierarchy mounted twice */
            if (strcmp(cg->v1[i].opts, ctl) == 0)
                break;
        if (i < cg->n_v1)
            continue;
        snprintf(cg->v1[cg->n_v1].mnt, sizeof cg->v1[0].mnt, "%s", mnt);
        snprintf(cg->v1[cg->n_v1].opts, sizeof cg->v1[0].opts, "%s", ctl);
        cg->n_v1++;
    }
    if (v2_root)
        cg->n_v1 = 0; /* unified: any v1 mount left is a named leftover */
    if (v2_root || (cg->n_v1 == 0 && cg->unified[0] != '\0'))
        cg->mode = AGENT_CG_V2;
    else if (cg->n_v1 > 0)
        cg->mode = cg->unified[0] ? AGENT_CG_HYBRID : AGENT_CG_V1;
    else
        return err_setf(e, ERR_INVALID, "mountinfo: no cgroup or cgroup2 mount");
    return 0;
}

int agent__cg_init(struct agent__cg *cg, const char *node, struct err *e)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int rv;

    if (f == NULL)
        return err_setf(e, ERR_IO, "/proc/self/mountinfo: %s", strerror(errno));
    n = getdelim(&text, &cap, '\0', f); /* the whole file: it has no NUL */
    fclose(f);
    if (n < 0) {
        free(text);
        return err_setf(e, ERR_IO, "/proc/self/mountinfo: read failed");
    }
    rv = agent__cg_detect(text, node, cg, e);
    free(text);
    return rv;
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 128 && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

int agent__cg_path(const struct agent__cg *cg, const char *pod_uid, const char *ctr, char *buf,
                   size_t cap, struct err *e)
{
    int n;
    if (pod_uid != NULL && !name_ok(pod_uid))
        return err_setf(e, ERR_INVALID, "pod uid: must be a name without '/'");
    if (ctr != NULL && !name_ok(ctr))
        return err_setf(e, ERR_INVALID, "container id: must be a name without '/'");
    if (pod_uid == NULL)
        n = snprintf(buf, cap, "/%s", cg->parent);
    else if (ctr == NULL)
        n = snprintf(buf, cap, "/%s/pod%s", cg->parent, pod_uid);
    else
        n = snprintf(buf, cap, "/%s/pod%s/%s", cg->parent, pod_uid, ctr);
    if (n < 0 || (size_t)n >= cap)
        return err_setf(e, ERR_INVALID, "cgroup path: too long");
    return 0;
}

/* A path this node may touch: /skiff-<node>[/...] without "." or "..". */
static int path_check(const struct agent__cg *cg, const char *path, struct err *e)
{
    size_t pl = strlen(cg->parent);
    if (path == NULL || path[0] != '/' || strncmp(path + 1, cg->parent, pl) != 0 ||
        (path[pl + 1] != '\0' && path[pl + 1] != '/') || strstr(path, "/.") != NULL)
        return err_setf(e, ERR_INVALID, "cgroup path \"%.64s\": not under /%s", path ? path : "",
                        cg->parent);
    return 0;
}

/* The mount point of the hierarchy holding controller (v1), or the
 * unified mount in v2; NULL when the controller is not there. */
static const char *hier(const struct agent__cg *cg, const char *controller, bool *v2)
{
    size_t i, cl = strlen(controller);
    *v2 = false;
    for (i = 0; i < cg->n_v1; i++) {
        const char *o = cg->v1[i].opts;
        while (o != NULL && *o) {
            if (strncmp(o, controller, cl) == 0 && (o[cl] == ',' || o[cl] == '\0'))
                return cg->v1[i].mnt;
            o = strchr(o, ',');
            o = o ? o + 1 : NULL;
        }
    }
    if (cg->mode == AGENT_CG_V2) {
        *v2 = true;
        return cg->unified;
    }
    return NULL;
}

/* Reads a small control file under mnt/path. Returns 0, ENOENT or errno. */
static int cg_read(const char *mnt, const char *path, const char *file, char *buf, size_t cap)
{
    char p[PATH_MAX];
    ssize_t n;
    int fd;

    if (snprintf(p, sizeof p, "%s%s/%s", mnt, path, file) >= (int)sizeof p)
        return ENAMETOOLONG;
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return errno;
    buf[n] = '\0';
    return 0;
}

static uint64_t num(const char *s)
{
    if (strncmp(s, "max", 3) == 0)
        return 0;
    return strtoull(s, NULL, 10);
}

/* "key value" lines (memory.events, cpu.stat, memory.oom_control). */
static uint64_t keyed(const char *text, const char *key)
{
    size_t kl = strlen(key);
    const char *p = text;
    while (p != NULL && *p) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
            return strtoull(p + kl + 1, NULL, 10);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

int agent__cg_stats(const struct agent__cg *cg, const char *path, struct agent__cg_stats *st,
                    struct err *e)
{
    char buf[4096];
    const char *m;
    bool v2;
    int rv;

    memset(st, 0, sizeof *st);
    if ((rv = path_check(cg, path, e)) != 0)
        return rv;
    m = hier(cg, "memory", &v2);
    if (m == NULL)
        return err_setf(e, ERR_NOTFOUND, "cgroup %s: no memory controller", path);
    rv = cg_read(m, path, v2 ? "memory.current" : "memory.usage_in_bytes", buf, sizeof buf);
    if (rv == ENOENT)
        return err_setf(e, ERR_NOTFOUND, "cgroup %s: no such cgroup", path);
    if (rv != 0)
        return err_setf(e, ERR_IO, "cgroup %s: memory usage: %s", path, strerror(rv));
    st->memory_bytes = num(buf);
    if (cg_read(m, path, v2 ? "memory.max" : "memory.limit_in_bytes", buf, sizeof buf) == 0) {
        st->memory_limit_bytes = num(buf);
        /* v1 says "no limit" with PAGE_COUNTER_MAX pages, ~2^63 */
        if (st->memory_limit_bytes >= (UINT64_C(1) << 62))
            st->memory_limit_bytes = 0;
    }
    /* oom_kill counts kills inside this cgroup (v1 since Linux 4.13) */
    if (cg_read(m, path, v2 ? "memory.events" : "memory.oom_control", buf, sizeof buf) == 0)
        st->oom_kills = keyed(buf, "oom_kill");
    if ((m = hier(cg, v2 ? "cpu" : "cpuacct", &v2)) != NULL) {
        if (v2 && cg_read(m, path, "cpu.stat", buf, sizeof buf) == 0)
            st->cpu_ns = keyed(buf, "usage_usec") * 1000;
        else if (!v2 && cg_read(m, path, "cpuacct.usage", buf, sizeof buf) == 0)
            st->cpu_ns = num(buf);
    }
    if ((m = hier(cg, "pids", &v2)) != NULL &&
        cg_read(m, path, "pids.current", buf, sizeof buf) == 0)
        st->pids = num(buf);
    return 0;
}

/* rmdir of dir after its sub-cgroups. A cgroup dir holds only control
 * files, which rmdir takes along; EBUSY means tasks are still leaving. */
static int rm_cg(const char *dir, int64_t deadline_ms, struct err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct timespec ts;
    int rv = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : err_setf(e, ERR_IO, "cgroup %s: %s", dir, strerror(errno));
    while (rv == 0 && (de = readdir(d)) != NULL) {
        char sub[PATH_MAX];
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) >= (int)sizeof sub)
            continue;
        rv = rm_cg(sub, deadline_ms, e);
    }
    closedir(d);
    while (rv == 0 && rmdir(dir) != 0 && errno != ENOENT) {
        if (errno != EBUSY)
            return err_setf(e, ERR_IO, "cgroup %s: rmdir: %s", dir, strerror(errno));
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >= deadline_ms)
            return err_setf(e, ERR_TIMEOUT, "cgroup %s: still busy", dir);
        poll(NULL, 0, 20); /* exiting tasks leave within milliseconds */
    }
    return rv;
}

int agent__cg_remove(const struct agent__cg *cg, const char *path, struct err *e)
{
    struct timespec ts;
    int64_t deadline;
    char dir[PATH_MAX];
    size_t i;
    int rv = 0, r;

    if ((rv = path_check(cg, path, e)) != 0)
        return rv;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 2000;
    /* every hierarchy, the unified one of a hybrid too: runc makes the
     * cgroup there as well */
    for (i = 0; i <= cg->n_v1; i++) {
        const char *mnt = i < cg->n_v1 ? cg->v1[i].mnt : cg->unified;
        if (mnt[0] == '\0')
            continue;
        if (snprintf(dir, sizeof dir, "%s%s", mnt, path) >= (int)sizeof dir)
            continue;
        r = rm_cg(dir, deadline, rv == 0 ? e : NULL);
        rv = rv ? rv : r;
    }
    return rv;
}

void agent__strv_free(char **v, size_t n)
{
    size_t i;
    for (i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

static int strv_add_unique(char ***v, size_t *n, const char *s)
{
    size_t i;
    char **nv, *c;
    for (i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return 0;
    c = strdup(s);
    nv = c ? realloc(*v, (*n + 1) * sizeof *nv) : NULL;
    if (nv == NULL) {
        free(c);
        return -1;
    }
    nv[(*n)++] = c;
    *v = nv;
    return 0;
}

int agent__cg_list_pods(const struct agent__cg *cg, char ***uids, size_t *n, struct err *e)
{
    char dir[PATH_MAX];
    size_t i;

    *uids = NULL;
    *n = 0;
    for (i = 0; i <= cg->n_v1; i++) {
        const char *mnt = i < cg->n_v1 ? cg->v1[i].mnt : cg->unified;
        struct dirent *de;
        DIR *d;
        if (mnt[0] == '\0' ||
            snprintf(dir, sizeof dir, "%s/%s", mnt, cg->parent) >= (int)sizeof dir)
            continue;
        d = opendir(dir);
        if (d == NULL) {
            if (errno == ENOENT)
                continue;
            agent__strv_free(*uids, *n);
            *uids = NULL;
            *n = 0;
            return err_setf(e, ERR_IO, "cgroup %s: %s", dir, strerror(errno));
        }
        while ((de = readdir(d)) != NULL) {
            if (de->d_type != DT_DIR || strncmp(de->d_name, "pod", 3) != 0 || de->d_name[3] == '\0')
                continue;
            if (strv_add_unique(uids, n, de->d_name + 3) != 0) {
                closedir(d);
                agent__strv_free(*uids, *n);
                *uids = NULL;
                *n = 0;
                return err_setf(e, ERR_NOMEM, "cgroup list: out of memory");
            }
        }
        closedir(d);
    }
    return 0;
}
