/* Content-addressed blobs: written to a temp file while hashed, renamed into
 * blobs/sha256/<hex> only when the digest matches, so a blob file that exists
 * is always whole and correct (readers never see partial content). */
#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool agent__digest_valid(const char *d)
{
    size_t i;
    if (d == NULL || strncmp(d, "sha256:", 7) != 0)
        return false;
    for (i = 0; i < 64; i++) {
        char c = d[7 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return d[71] == '\0';
}

static void hex_digest(EVP_MD_CTX *md, char out[AGENT_IMAGE_DIGEST_SIZE])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hn = 0, i;
    EVP_DigestFinal_ex(md, h, &hn);
    memcpy(out, "sha256:", 7);
    for (i = 0; i < hn && i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", h[i]);
    out[71] = '\0';
}

void agent__digest_of(const void *data, size_t n, char out[AGENT_IMAGE_DIGEST_SIZE])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    /* allocation failure of a tiny context: report a digest that matches
     * nothing rather than crash; callers compare digests */
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        snprintf(out, AGENT_IMAGE_DIGEST_SIZE, "sha256:unavailable");
        EVP_MD_CTX_free(md);
        return;
    }
    EVP_DigestUpdate(md, data, n);
    hex_digest(md, out);
    EVP_MD_CTX_free(md);
}

int agent__blob_path(struct agent_image_store *s, const char *digest, char *buf, size_t cap,
                     struct err *e)
{
    int n;
    if (!agent__digest_valid(digest))
        return err_setf(e, ERR_INVALID, "bad digest %.80s", digest ? digest : "(null)");
    n = snprintf(buf, cap, "%s/blobs/sha256/%s", s->dir, digest + 7);
    if (n < 0 || (size_t)n >= cap)
        return err_setf(e, ERR_INVALID, "blob path too long");
    return 0;
}

int agent__blob_begin(struct agent_image_store *s, struct agent__blob_writer *w, struct err *e)
{
    int n;
    memset(w, 0, sizeof *w);
    w->fd = -1;
    n = snprintf(w->tmp, sizeof w->tmp, "%s/blobs/sha256/.tmp-XXXXXX", s->dir);
    if (n < 0 || (size_t)n >= sizeof w->tmp)
        return err_setf(e, ERR_INVALID, "blob temp path too long");
    w->md = EVP_MD_CTX_new();
    if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(w->md);
        w->md = NULL;
        w->tmp[0] = '\0';
        return err_setf(e, ERR_NOMEM, "blob: sha256 context");
    }
    w->fd = mkostemp(w->tmp, O_CLOEXEC);
    if (w->fd < 0) {
        int saved = errno;
        EVP_MD_CTX_free(w->md);
        w->md = NULL;
        err_setf(e, ERR_IO, "create %s: %s", w->tmp, strerror(saved));
        w->tmp[0] = '\0';
        return ERR_IO;
    }
    fchmod(w->fd, 0644);
    return 0;
}

int agent__blob_write(struct agent__blob_writer *w, const void *p, size_t n, struct err *e)
{
    const char *c = p;
    size_t off = 0;
    if (w->md == NULL || EVP_DigestUpdate(w->md, p, n) != 1)
        return err_setf(e, ERR_IO, "blob: hash update failed");
    while (off < n) {
        ssize_t k = write(w->fd, c + off, n - off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return err_setf(e, ERR_IO, "write %s: %s", w->tmp, strerror(errno));
        }
        off += (size_t)k;
    }
    w->size += n;
    return 0;
}

int agent__blob_reset(struct agent__blob_writer *w, struct err *e)
{
    if (ftruncate(w->fd, 0) != 0 || lseek(w->fd, 0, SEEK_SET) != 0)
        return err_setf(e, ERR_IO, "truncate %s: %s", w->tmp, strerror(errno));
    if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
        return err_setf(e, ERR_IO, "blob: hash reset failed");
    w->size = 0;
    return 0;
}

void agent__blob_abort(struct agent__blob_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->tmp[0] != '\0')
        unlink(w->tmp);
    w->tmp[0] = '\0';
    EVP_MD_CTX_free(w->md);
    w->md = NULL;
}

int agent__blob_commit(struct agent_image_store *s, struct agent__blob_writer *w, const char *want,
                       char got[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    char dig[AGENT_IMAGE_DIGEST_SIZE];
    char path[PATH_MAX];
    int rv;

    hex_digest(w->md, dig);
    if (got != NULL)
        memcpy(got, dig, sizeof dig);
    if (want != NULL && strcmp(want, dig) != 0) {
        rv = err_setf(e, ERR_INVALID, "digest mismatch: want %s got %s", want, dig);
        goto out;
    }
    rv = agent__blob_path(s, dig, path, sizeof path, e);
    if (rv != 0)
        goto out;
    /* fsync before rename: after a crash the name must not point at
     * content that never reached the disk */
    if (fsync(w->fd) != 0) {
        rv = err_setf(e, ERR_IO, "fsync %s: %s", w->tmp, strerror(errno));
        goto out;
    }
    /* an existing blob with this name has the same content (another pull
     * won the race): replacing it is harmless */
    if (rename(w->tmp, path) != 0) {
        rv = err_setf(e, ERR_IO, "rename %s: %s", path, strerror(errno));
        goto out;
    }
    w->tmp[0] = '\0';
out:
    agent__blob_abort(w);
    return rv;
}

int agent__blob_put(struct agent_image_store *s, const void *data, size_t n, const char *want,
                    char got[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    struct agent__blob_writer w;
    int rv = agent__blob_begin(s, &w, e);
    if (rv != 0)
        return rv;
    rv = agent__blob_write(&w, data, n, e);
    if (rv != 0) {
        agent__blob_abort(&w);
        return rv;
    }
    return agent__blob_commit(s, &w, want, got, e);
}

bool agent__blob_exists(struct agent_image_store *s, const char *digest)
{
    char path[PATH_MAX];
    struct stat st;
    if (agent__blob_path(s, digest, path, sizeof path, NULL) != 0)
        return false;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int agent__blob_read(struct agent_image_store *s, const char *digest, size_t max, char **data,
                     size_t *n, struct err *e)
{
    char path[PATH_MAX];
    char dig[AGENT_IMAGE_DIGEST_SIZE];
    struct stat st;
    char *buf = NULL;
    size_t off = 0;
    int fd, rv;

    *data = NULL;
    *n = 0;
    rv = agent__blob_path(s, digest, path, sizeof path, e);
    if (rv != 0)
        return rv;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return err_setf(e, ERR_NOTFOUND, "blob %s: not in store", digest);
        return err_setf(e, ERR_IO, "open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > max) {
        rv = err_setf(e, ERR_INVALID, "blob %s: larger than %zu bytes", digest, max);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rv = err_setf(e, ERR_NOMEM, "blob %s: out of memory", digest);
        goto out;
    }
    while (off < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + off, (size_t)st.st_size - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rv = err_setf(e, ERR_IO, "read %s: %s", path, k < 0 ? strerror(errno) : "short");
            goto out;
        }
        off += (size_t)k;
    }
    buf[off] = '\0';
    /* re-verified: the disk or another process may have damaged it */
    agent__digest_of(buf, off, dig);
    if (strcmp(dig, digest) != 0) {
        rv =
            err_setf(e, ERR_INVALID, "blob %s: digest mismatch: want %s got %s", path, digest, dig);
        goto out;
    }
    *data = buf;
    *n = off;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rv;
}
