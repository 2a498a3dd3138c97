/* Layers: unpacking a layer tar with libarchive into a directory overlayfs
 * can use as a lower layer, and mounting those layers as a rootfs.
 *
 * One pass per layer: an outer libarchive reader only decompresses (raw
 * format, gzip or none), its bytes are hashed (the diff_id) and fed to an
 * inner tar reader, whose entries are written to disk by archive_write_disk.
 * Layer content is hostile input: every path is checked before it reaches
 * the disk (no "..", no absolute extraction paths, no writing through a
 * symlink: ARCHIVE_EXTRACT_SECURE_SYMLINKS under a root without symlinks,
 * and whiteouts go through openat(O_NOFOLLOW) walks). */
#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include "lib/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

struct feed {
    struct archive *outer;
    EVP_MD_CTX *md;
    const atomic_bool *cancel;
    char buf[CHUNK];
    int failed; /* 0, or the ERR_ code that stopped the stream */
    char msg[160];
};

/* The inner tar reader's source: decompressed bytes, hashed on the way. */
static la_ssize_t feed_read(struct archive *inner, void *data, const void **out)
{
    struct feed *f = data;
    la_ssize_t n;
    (void)inner;
    if (f->cancel != NULL && atomic_load(f->cancel)) {
        f->failed = ERR_SHUTDOWN;
        snprintf(f->msg, sizeof f->msg, "cancelled");
        return -1;
    }
    n = archive_read_data(f->outer, f->buf, sizeof f->buf);
    if (n < 0) {
        f->failed = ERR_INVALID;
        snprintf(f->msg, sizeof f->msg, "decompress: %s", archive_error_string(f->outer));
        return -1;
    }
    EVP_DigestUpdate(f->md, f->buf, (size_t)n);
    *out = f->buf;
    return n;
}

/* Path of an entry relative to the layer root, or an error: absolute paths
 * and ".." components would land outside the layer. "./a//b/" → "a/b";
 * the root itself → "". */
static int clean_rel(const char *in, char *out, size_t cap, struct err *e)
{
    size_t o = 0;
    const char *p = in;
    if (in == NULL || in[0] == '/')
        return err_setf(e, ERR_INVALID, "entry %s: absolute path", in ? in : "(null)");
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return err_setf(e, ERR_INVALID, "entry %s: path escapes the layer (..)", in);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + n + 2 > cap)
                return err_setf(e, ERR_INVALID, "entry %.64s...: path too long", in);
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        while (*p == '/')
            p++;
    }
    out[o] = '\0';
    return 0;
}

/* Opens dir rel under rootfd without following any symlink, creating
 * missing components (0755) when create. Returns an fd or -1 with errno. */
static int open_dir_nofollow(int rootfd, const char *rel, bool create)
{
    char part[PATH_MAX];
    const char *p = rel;
    int fd = dup(rootfd);
    while (fd >= 0 && *p != '\0') {
        size_t n = strcspn(p, "/");
        int next;
        memcpy(part, p, n);
        part[n] = '\0';
        next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create && mkdirat(fd, part, 0755) == 0)
            next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
        p += n;
        while (*p == '/')
            p++;
    }
    return fd;
}

static void rm_at(int dirfd, const char *name)
{
    char path[64];
    int fd;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(dirfd, name, 0);
        return;
    }
    /* fs_rmtree never follows symlinks; reach the dir through /proc/self/fd
     * so no path component can be swapped for a symlink under us */
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    {
        char real[PATH_MAX];
        ssize_t k = readlink(path, real, sizeof real - 1);
        if (k > 0) {
            real[k] = '\0';
            fs_rmtree(real);
        }
    }
    close(fd);
}

struct opaque_list {
    char **dirs;
    size_t n, cap;
};

static int opaque_add(struct opaque_list *o, const char *rel, struct err *e)
{
    char *d;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        char **nd = realloc(o->dirs, cap * sizeof *nd);
        if (nd == NULL)
            return err_setf(e, ERR_NOMEM, "layer: out of memory");
        o->dirs = nd;
        o->cap = cap;
    }
    d = strdup(rel);
    if (d == NULL)
        return err_setf(e, ERR_NOMEM, "layer: out of memory");
    o->dirs[o->n++] = d;
    return 0;
}

static void opaque_free(struct opaque_list *o)
{
    size_t i;
    for (i = 0; i < o->n; i++)
        free(o->dirs[i]);
    free(o->dirs);
}

static const char *xattr_ns(void)
{
    /* trusted.* needs CAP_SYS_ADMIN; unprivileged overlay mounts read
     * user.overlay.* (mount option userxattr) */
    return geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
}

/* ".wh.<name>" in dir: a 0/0 char device named <name> (overlayfs hides the
 * lower file); ".wh..wh..opq": the dir becomes opaque, applied at the end so
 * later entries for the dir itself cannot drop the xattr. */
static int whiteout(int rootfd, const char *rel, struct opaque_list *opq, struct err *e)
{
    char parent[PATH_MAX];
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    const char *name = base + 4;
    int dfd, rv = 0;

    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - rel) : 0, rel);
    if (strcmp(base, ".wh..wh..opq") == 0)
        return opaque_add(opq, parent, e);
    if (strncmp(base, ".wh..wh.", 8) == 0)
        return 0; /* AUFS metadata (.wh..wh.plnk, ...): nothing for overlayfs */
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return err_setf(e, ERR_INVALID, "entry %s: bad whiteout name", rel);
    dfd = open_dir_nofollow(rootfd, parent, true);
    if (dfd < 0)
        return err_setf(e, ERR_INVALID, "entry %s: parent is not a directory: %s", rel,
                        strerror(errno));
    rm_at(dfd, name);
    if (mknodat(dfd, name, S_IFCHR | 0000, makedev(0, 0)) != 0)
        rv = err_setf(e, ERR_IO, "entry %s: whiteout: mknod: %s", rel, strerror(errno));
    close(dfd);
    return rv;
}

static int opaque_apply(int rootfd, const struct opaque_list *o, struct err *e)
{
    size_t i;
    for (i = 0; i < o->n; i++) {
        int fd = open_dir_nofollow(rootfd, o->dirs[i], true);
        if (fd < 0)
            return err_setf(e, ERR_INVALID, "opaque dir %s: not a directory: %s", o->dirs[i],
                            strerror(errno));
        if (fsetxattr(fd, xattr_ns(), "y", 1, 0) != 0) {
            int saved = errno;
            close(fd);
            return err_setf(e, ERR_IO, "opaque dir %s: setxattr: %s", o->dirs[i], strerror(saved));
        }
        close(fd);
    }
    return 0;
}

/* Drops trusted.overlay.* xattrs a layer carries: they steer overlayfs
 * (redirects, metacopy) and only we may set them. */
static void drop_overlay_xattrs(struct archive_entry *ent)
{
    const char *names[64];
    const void *vals[64];
    size_t sizes[64], n = 0, i;
    const char *name;
    const void *val;
    size_t size;
    bool drop = false;
    if (archive_entry_xattr_reset(ent) == 0)
        return;
    while (archive_entry_xattr_next(ent, &name, &val, &size) == ARCHIVE_OK && n < 64) {
        if (strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0)
            drop = true;
        else {
            names[n] = name;
            vals[n] = val;
            sizes[n++] = size;
        }
    }
    if (!drop)
        return;
    /* names/vals point into the entry: copy before clearing */
    {
        char *cn[64];
        void *cv[64];
        for (i = 0; i < n; i++) {
            cn[i] = strdup(names[i]);
            cv[i] = malloc(sizes[i] ? sizes[i] : 1);
            if (cv[i] != NULL)
                memcpy(cv[i], vals[i], sizes[i]);
        }
        archive_entry_xattr_clear(ent);
        for (i = 0; i < n; i++) {
            if (cn[i] != NULL && cv[i] != NULL)
                archive_entry_xattr_add_entry(ent, cn[i], cv[i], sizes[i]);
            free(cn[i]);
            free(cv[i]);
        }
    }
}

static int copy_data(struct archive *in, struct archive *out, const char *rel,
                     const atomic_bool *cancel, struct err *e)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = archive_read_data_block(in, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return err_setf(e, ERR_INVALID, "entry %s: %s", rel, archive_error_string(in));
        if (cancel != NULL && atomic_load(cancel))
            return err_setf(e, ERR_SHUTDOWN, "cancelled");
        if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN)
            return err_setf(e, ERR_IO, "entry %s: write: %s", rel, archive_error_string(out));
    }
}

/* One entry of the tar: whiteout, skip, or write under root. */
static int extract_entry(struct archive *in, struct archive *disk, struct archive_entry *ent,
                         const char *root, int rootfd, struct opaque_list *opq,
                         const atomic_bool *cancel, struct err *e)
{
    char rel[PATH_MAX], full[PATH_MAX];
    const char *base, *link;
    mode_t type = archive_entry_filetype(ent);
    int r, n;

    if (clean_rel(archive_entry_pathname(ent), rel, sizeof rel, e) != 0)
        return ERR_INVALID;
    base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    if (strncmp(base, ".wh.", 4) == 0)
        return whiteout(rootfd, rel, opq, e);
    if ((type == AE_IFCHR || type == AE_IFBLK) && geteuid() != 0)
        return 0; /* mknod needs root; a rootless node runs without device files */
    n = snprintf(full, sizeof full, "%s%s%s", root, rel[0] ? "/" : "", rel);
    if (n < 0 || (size_t)n >= sizeof full)
        return err_setf(e, ERR_INVALID, "entry %.64s: path too long", rel);
    archive_entry_copy_pathname(ent, full);
    link = archive_entry_hardlink(ent);
    if (link != NULL) {
        char lrel[PATH_MAX], lfull[PATH_MAX];
        if (clean_rel(link, lrel, sizeof lrel, e) != 0)
            return err_wrapf(e, "entry %s: hardlink", rel);
        n = snprintf(lfull, sizeof lfull, "%s/%s", root, lrel);
        if (n < 0 || (size_t)n >= sizeof lfull || lrel[0] == '\0')
            return err_setf(e, ERR_INVALID, "entry %s: bad hardlink target", rel);
        archive_entry_copy_hardlink(ent, lfull);
    }
    drop_overlay_xattrs(ent);
    r = archive_write_header(disk, ent);
    if (r < ARCHIVE_WARN)
        return err_setf(e, r == ARCHIVE_FATAL ? ERR_IO : ERR_INVALID, "entry %s: %s", rel,
                        archive_error_string(disk));
    if (archive_entry_size(ent) > 0 && link == NULL) {
        r = copy_data(in, disk, rel, cancel, e);
        if (r != 0)
            return r;
    }
    if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
        return err_setf(e, ERR_IO, "entry %s: %s", rel, archive_error_string(disk));
    return 0;
}

static int extract_all(struct archive *in, struct archive *disk, const char *root,
                       const atomic_bool *cancel, struct feed *f, struct err *e)
{
    struct opaque_list opq = {0};
    struct archive_entry *ent;
    int rootfd, rv = 0, r;

    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return err_setf(e, ERR_IO, "open %s: %s", root, strerror(errno));
    while ((r = archive_read_next_header(in, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        rv = extract_entry(in, disk, ent, root, rootfd, &opq, cancel, e);
        if (rv != 0)
            goto out;
    }
    if (r != ARCHIVE_EOF) {
        if (f->failed)
            rv = err_setf(e, f->failed, "%s", f->msg);
        else
            rv = err_setf(e, ERR_INVALID, "tar: %s", archive_error_string(in));
        goto out;
    }
    /* directory mtimes and modes are fixed up on close, after all entries */
    if (archive_write_close(disk) != ARCHIVE_OK) {
        rv = err_setf(e, ERR_IO, "finish: %s", archive_error_string(disk));
        goto out;
    }
    rv = opaque_apply(rootfd, &opq, e);
out:
    opaque_free(&opq);
    close(rootfd);
    return rv;
}

int agent__layer_extract(const char *blob_path, const char *root, const atomic_bool *cancel,
                         char diff_id_out[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    struct archive *outer = NULL, *inner = NULL, *disk = NULL;
    struct archive_entry *raw;
    struct feed *f;
    int flags, rv = 0, fc;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hn = 0, i;

    f = calloc(1, sizeof *f);
    if (f == NULL)
        return err_setf(e, ERR_NOMEM, "layer: out of memory");
    f->cancel = cancel;
    f->md = EVP_MD_CTX_new();
    outer = archive_read_new();
    inner = archive_read_new();
    disk = archive_write_disk_new();
    if (f->md == NULL || outer == NULL || inner == NULL || disk == NULL ||
        EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1) {
        rv = err_setf(e, ERR_NOMEM, "layer: out of memory");
        goto out;
    }
    archive_read_support_filter_all(outer);
    archive_read_support_format_raw(outer);
    if (archive_read_open_filename(outer, blob_path, CHUNK) != ARCHIVE_OK ||
        archive_read_next_header(outer, &raw) != ARCHIVE_OK) {
        rv = err_setf(e, ERR_INVALID, "layer %s: %s", blob_path, archive_error_string(outer));
        goto out;
    }
    /* gzip or nothing: the media types we accept say so, and a bzip2/xz/zstd
     * stream behind a "tar+gzip" label is malformed input */
    fc = archive_filter_code(outer, 0);
    if (fc != ARCHIVE_FILTER_NONE && fc != ARCHIVE_FILTER_GZIP) {
        rv = err_setf(e, ERR_INVALID, "layer: unsupported compression %s",
                      archive_filter_name(outer, 0));
        goto out;
    }
    f->outer = outer;
    archive_read_support_format_tar(inner);
    if (archive_read_open(inner, f, NULL, feed_read, NULL) != ARCHIVE_OK) {
        rv = f->failed
                 ? err_setf(e, f->failed, "layer: %s", f->msg)
                 : err_setf(e, ERR_INVALID, "layer: not a tar: %s", archive_error_string(inner));
        goto out;
    }
    flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
            ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT;
    if (geteuid() == 0)
        flags |= ARCHIVE_EXTRACT_OWNER; /* numeric ids: no lookup of host user names */
    archive_write_disk_set_options(disk, flags);
    rv = extract_all(inner, disk, root, cancel, f, e);
    if (rv != 0)
        goto out;
    /* the diff_id covers every byte, the padding after the end-of-archive
     * blocks included */
    for (;;) {
        la_ssize_t n = archive_read_data(outer, f->buf, sizeof f->buf);
        if (n < 0) {
            rv = err_setf(e, ERR_INVALID, "layer: decompress: %s", archive_error_string(outer));
            goto out;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(f->md, f->buf, (size_t)n);
    }
    EVP_DigestFinal_ex(f->md, h, &hn);
    memcpy(diff_id_out, "sha256:", 7);
    for (i = 0; i < hn && i < 32; i++)
        snprintf(diff_id_out + 7 + 2 * i, 3, "%02x", h[i]);
    diff_id_out[71] = '\0';
out:
    archive_write_free(disk);
    archive_read_free(inner);
    archive_read_free(outer);
    EVP_MD_CTX_free(f->md);
    free(f);
    return rv;
}

/* ---- sizes ---- */

static uint64_t tree_bytes_at(int dfd, int depth)
{
    DIR *d;
    struct dirent *de;
    uint64_t sum = 0;
    if (depth > 256) {
        close(dfd);
        return 0;
    }
    d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        sum += (uint64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                sum += tree_bytes_at(sub, depth + 1);
        }
    }
    closedir(d);
    return sum;
}

uint64_t agent__tree_bytes(const char *path)
{
    struct stat st;
    int fd;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_blocks * 512;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    return (uint64_t)st.st_blocks * 512 + tree_bytes_at(fd, 0);
}

/* ---- layers in the store ---- */

int agent__layer_alias(struct agent_image_store *s, const char *diff_id, char *buf, size_t cap,
                       struct err *e)
{
    int n;
    if (!agent__digest_valid(diff_id))
        return err_setf(e, ERR_INVALID, "bad diff_id %.80s", diff_id ? diff_id : "(null)");
    /* 16 hex digits keep lowerdir short (overlayfs takes one page of
     * options); a collision is detected when the alias is made */
    n = snprintf(buf, cap, "%s/l/%.16s", s->dir, diff_id + 7);
    if (n < 0 || (size_t)n >= cap)
        return err_setf(e, ERR_INVALID, "layer alias path too long");
    return 0;
}

static int make_alias(struct agent_image_store *s, const char *diff_id, struct err *e)
{
    char alias[PATH_MAX], target[128], cur[128];
    ssize_t k;
    int rv = agent__layer_alias(s, diff_id, alias, sizeof alias, e);
    if (rv != 0)
        return rv;
    snprintf(target, sizeof target, "../layers/%s", diff_id + 7);
    if (symlink(target, alias) == 0)
        return 0;
    if (errno != EEXIST)
        return err_setf(e, ERR_IO, "symlink %s: %s", alias, strerror(errno));
    k = readlink(alias, cur, sizeof cur - 1);
    if (k < 0)
        return err_setf(e, ERR_IO, "readlink %s: %s", alias, strerror(errno));
    cur[k] = '\0';
    if (strcmp(cur, target) != 0)
        return err_setf(e, ERR_CONFLICT, "layer %s: alias %s already points at %s", diff_id, alias,
                        cur);
    return 0;
}

int agent__layer_ensure(struct agent_image_store *s, const struct agent__layer_desc *l,
                        const atomic_bool *cancel, uint64_t *bytes_out, struct err *e)
{
    char dir[PATH_MAX], tmp[PATH_MAX], real[PATH_MAX], blob[PATH_MAX];
    char got[AGENT_IMAGE_DIGEST_SIZE];
    const char *key = l->diff_id[0] ? l->diff_id : l->digest;
    struct stat st;
    int rv, fd;

    *bytes_out = UINT64_MAX;
    rv = agent__blob_path(s, l->digest, blob, sizeof blob, e);
    if (rv != 0)
        return rv;
    if (!agent__digest_valid(key))
        return err_setf(e, ERR_INVALID, "layer %s: bad diff_id", l->digest);
    snprintf(dir, sizeof dir, "%s/layers/%s", s->dir, key + 7);
    if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return make_alias(s, key, e);
    snprintf(tmp, sizeof tmp, "%s/layers/.tmp-%.16s-XXXXXX", s->dir, key + 7);
    if (mkdtemp(tmp) == NULL)
        return err_setf(e, ERR_IO, "mkdtemp %s: %s", tmp, strerror(errno));
    /* the layer root becomes "/" of containers: 0700 from mkdtemp would
     * lock out every non-root user (a "./" entry may set it again) */
    chmod(tmp, 0755);
    if (realpath(tmp, real) == NULL) {
        rv = err_setf(e, ERR_IO, "realpath %s: %s", tmp, strerror(errno));
        goto fail;
    }
    rv = agent__layer_extract(blob, real, cancel, got, e);
    if (rv != 0) {
        err_wrapf(e, "layer %s", l->digest);
        goto fail;
    }
    if (l->diff_id[0] != '\0' && strcmp(got, l->diff_id) != 0) {
        rv = err_setf(e, ERR_INVALID, "layer %s: diff_id mismatch: want %s got %s", l->digest,
                      l->diff_id, got);
        goto fail;
    }
    /* one syncfs per layer instead of an fsync per file: the rename below
     * must not publish a tree whose files are still only in the page cache */
    fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
    *bytes_out = agent__tree_bytes(real);
    if (rename(real, dir) != 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            rv = err_setf(e, ERR_IO, "rename %s: %s", dir, strerror(errno));
            goto fail;
        }
        fs_rmtree(real); /* another pull unpacked it first */
    }
    return make_alias(s, key, e);
fail:
    fs_rmtree(tmp);
    return rv;
}

/* ---- overlayfs ---- */

static int mkdir_one(const char *p, struct err *e)
{
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
    return 0;
}

static bool path_ok_for_options(const char *p)
{
    return p != NULL && p[0] != '\0' && strpbrk(p, ":,\\") == NULL;
}

int agent_image_mount(const char *const *lowers, size_t n, const char *upper, const char *work,
                      const char *target, struct err *e)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t cap = page > 0 ? (size_t)page : 4096, len = 0, i;
    char *opts;
    int rv = 0, k;

    if (n == 0)
        return err_setf(e, ERR_INVALID, "overlay %s: no layers", target ? target : "");
    if (!path_ok_for_options(upper) || !path_ok_for_options(work) || target == NULL)
        return err_setf(e, ERR_INVALID, "overlay: upper/work dir missing or has ':' ',' '\\'");
    opts = malloc(cap);
    if (opts == NULL)
        return err_setf(e, ERR_NOMEM, "overlay: out of memory");
    k = snprintf(opts, cap, "lowerdir=");
    len = (size_t)k;
    /* overlayfs lists the top layer first */
    for (i = n; i-- > 0 && len < cap;) {
        if (!path_ok_for_options(lowers[i])) {
            rv = err_setf(e, ERR_INVALID, "overlay: layer dir %s has ':' ',' or '\\'", lowers[i]);
            goto out;
        }
        k = snprintf(opts + len, cap - len, "%s%s", lowers[i], i > 0 ? ":" : "");
        len += (size_t)(k > 0 ? k : 0);
    }
    if (len < cap) {
        k = snprintf(opts + len, cap - len, ",upperdir=%s,workdir=%s", upper, work);
        len += (size_t)(k > 0 ? k : 0);
    }
    if (len >= cap) {
        rv = err_setf(e, ERR_INVALID, "overlay %s: %zu layers: mount options longer than %zu bytes",
                      target, n, cap - 1);
        goto out;
    }
    if ((rv = mkdir_one(upper, e)) != 0 || (rv = mkdir_one(work, e)) != 0 ||
        (rv = mkdir_one(target, e)) != 0)
        goto out;
    if (mount("overlay", target, "overlay", 0, opts) != 0)
        rv = err_setf(e, ERR_IO, "mount overlay %s (%zu layers, %zu bytes of options): %s", target,
                      n, len, strerror(errno));
out:
    free(opts);
    return rv;
}

int agent_image_umount(const char *target, struct err *e)
{
    if (umount2(target, 0) == 0)
        return 0;
    if (errno == EBUSY && umount2(target, MNT_DETACH) == 0)
        return 0;
    if (errno == EINVAL)
        return err_setf(e, ERR_INVALID, "umount %s: not a mount point", target);
    return err_setf(e, ERR_IO, "umount %s: %s", target, strerror(errno));
}
