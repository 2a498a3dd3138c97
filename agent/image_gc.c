/* Disk-pressure image GC (see agent/image.h): turns the kubelet's
 * percentages of the file system into the byte marks agent_image_gc works
 * with. The store only knows what its index accounts for (blobs and
 * unpacked layers), not what else fills the disk, so the bytes to free are
 * "used now - low mark" of the file system, taken off the store's usage. */
#include "agent/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "lib/log.h"

int agent_fs_usage_statvfs(void *data, const char *path, struct agent_fs_usage *out, struct err *e)
{
    struct statvfs st;
    (void)data;
    if (statvfs(path, &st) != 0)
        return err_setf(e, ERR_IO, "statvfs %s: %s", path, strerror(errno));
    out->total_bytes = (uint64_t)st.f_blocks * st.f_frsize;
    out->avail_bytes = (uint64_t)st.f_bavail * st.f_frsize;
    return 0;
}

/* Used bytes as df counts them: what is not available (root's reserve
 * counts as used, as the kubelet's cadvisor numbers do). */
static uint64_t used_of(const struct agent_fs_usage *u)
{
    return u->avail_bytes < u->total_bytes ? u->total_bytes - u->avail_bytes : 0;
}

static int pct_of(const struct agent_fs_usage *u)
{
    if (u->total_bytes == 0)
        return 0;
    /* rounded up: 85.2% is above an 85% mark */
    return (int)((used_of(u) * 100 + u->total_bytes - 1) / u->total_bytes);
}

int agent_image_gc_disk(struct agent_image_store *s, const char *const *in_use, size_t n_in_use,
                        const struct agent_image_gc_opts *opts, struct agent_image_gc_result *res,
                        struct err *e)
{
    struct agent_image_gc_opts o = opts ? *opts : (struct agent_image_gc_opts){0};
    struct agent_image_gc_result r = {0};
    struct agent_fs_usage u;
    const char *dir = agent_image_store_dir(s);
    uint64_t used, low_used, need, store, freed = 0;
    int rv;

    if (o.high_pct == 0)
        o.high_pct = AGENT_IMAGE_GC_HIGH_PCT;
    if (o.low_pct == 0)
        o.low_pct = AGENT_IMAGE_GC_LOW_PCT;
    if (o.usage == NULL)
        o.usage = agent_fs_usage_statvfs;
    if (res != NULL)
        memset(res, 0, sizeof *res);
    if (o.high_pct < 0 || o.high_pct > 100)
        return err_setf(e, ERR_INVALID, "image gc: high threshold: must be 1..100, got %d",
                        o.high_pct);
    if (o.low_pct < 0 || o.low_pct >= o.high_pct)
        return err_setf(e, ERR_INVALID,
                        "image gc: low threshold: must be below the high one (%d), got %d",
                        o.high_pct, o.low_pct);
    rv = o.usage(o.usage_data, dir, &u, e);
    if (rv != 0)
        return err_wrapf(e, "image gc");
    r.used_pct_before = r.used_pct_after = pct_of(&u);
    used = used_of(&u);
    /* above high: compare in bytes, not rounded percentages */
    if (u.total_bytes == 0 || used * 100 <= (uint64_t)o.high_pct * u.total_bytes)
        goto out;
    r.ran = true;
    low_used =
        u.total_bytes / 100 * (uint64_t)o.low_pct + u.total_bytes % 100 * (uint64_t)o.low_pct / 100;
    need = used - (low_used < used ? low_used : used);
    store = agent_image_usage(s);
    LOG_INFO("agent", "image_gc_start",
             "dir=%s used_pct=%d high_pct=%d low_pct=%d need=%llu "
             "store=%llu",
             dir, r.used_pct_before, o.high_pct, o.low_pct, (unsigned long long)need,
             (unsigned long long)store);
    /* high mark 0: always collect; low mark: the store's usage less what
     * the disk must lose (all of it when the store is smaller) */
    rv = agent_image_gc(s, 0, store > need ? store - need : 0, in_use, n_in_use, &freed, e);
    if (rv != 0)
        return err_wrapf(e, "image gc");
    r.freed_bytes = freed;
    if (o.usage(o.usage_data, dir, &u, e) == 0)
        r.used_pct_after = pct_of(&u);
    else
        err_clear(e);
    if (used_of(&u) * 100 > (uint64_t)o.low_pct * u.total_bytes)
        LOG_WARN("agent", "image_gc_short",
                 "dir=%s used_pct=%d low_pct=%d freed=%llu "
                 "err=\"images in use or other files keep the disk above the low mark\"",
                 dir, r.used_pct_after, o.low_pct, (unsigned long long)freed);
    else
        LOG_INFO("agent", "image_gc_done", "dir=%s used_pct=%d freed=%llu", dir, r.used_pct_after,
                 (unsigned long long)freed);
out:
    if (res != NULL)
        *res = r;
    return 0;
}

/* Appends s (borrowed) unless NULL or empty. */
static int push(const char ***v, size_t *n, size_t *cap, const char *s, struct err *e)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        const char **nv = realloc(*v, nc * sizeof *nv);
        if (nv == NULL)
            return err_setf(e, ERR_NOMEM, "image gc: out of memory");
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    return 0;
}

static int pod_images(const json_t *pod, const char ***v, size_t *n, size_t *cap, struct err *e)
{
    static const char *const specs[] = {"containers", "initContainers"};
    static const char *const stats[] = {"containerStatuses", "initContainerStatuses"};
    const json_t *c;
    size_t i, k;
    int rv = 0;
    for (k = 0; k < 2 && rv == 0; k++) {
        json_array_foreach (json_object_get(json_object_get(pod, "spec"), specs[k]), i, c) {
            rv = push(v, n, cap, json_string_value(json_object_get(c, "image")), e);
            if (rv != 0)
                break;
        }
        json_array_foreach (json_object_get(json_object_get(pod, "status"), stats[k]), i, c) {
            const char *id = json_string_value(json_object_get(c, "imageID"));
            const char *at = id ? strchr(id, '@') : NULL;
            /* "repo@sha256:..." as ensure_image writes it: the digest is what
             * resolves whatever the tag now points at */
            if (rv == 0)
                rv = push(v, n, cap, at ? at + 1 : id, e);
            if (rv != 0)
                break;
        }
    }
    return rv;
}

int agent_image_gc_in_use(const json_t *pods, const char ***out, size_t *n_out, struct err *e)
{
    const char **v = NULL;
    size_t n = 0, cap = 0, i;
    const char *k;
    const json_t *p;
    int rv = 0;
    if (json_is_array(pods)) {
        json_array_foreach (pods, i, p) {
            rv = pod_images(p, &v, &n, &cap, e);
            if (rv != 0)
                break;
        }
    } else if (json_is_object(pods)) {
        json_object_foreach ((json_t *)pods, k, p) {
            rv = pod_images(p, &v, &n, &cap, e);
            if (rv != 0)
                break;
        }
    }
    if (rv != 0) {
        free(v);
        v = NULL;
        n = 0;
    }
    *out = v;
    *n_out = n;
    return rv;
}
