/* Importing archives: an OCI image layout in a tar (skopeo's oci-archive)
 * or a "docker save" tar. Two passes over the file: the first finds the
 * archive's index (index.json / manifest.json, which may come last), the
 * second streams the blobs it needs into the store, verified like pulled
 * blobs. A docker-save image gets an OCI manifest written for it, so the
 * rest of the store sees one kind of image. */
#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

struct imp {
    struct agent_image_store *s;
    const char *path;
    const atomic_bool *cancel;
    char *manifest_json; /* docker save */
    size_t manifest_len;
    char *index_json; /* OCI layout */
    size_t index_len;
};

static const char *entry_name(struct archive_entry *ent)
{
    const char *n = archive_entry_pathname(ent);
    if (n == NULL)
        return "";
    while (n[0] == '.' && n[1] == '/')
        n += 2;
    while (n[0] == '/')
        n++;
    return n;
}

static int open_archive(const char *path, struct archive **out, struct err *e)
{
    struct archive *a;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_setf(e, ERR_IO, "open %s: %s", path, strerror(errno));
    close(fd);
    a = archive_read_new();
    if (a == NULL)
        return err_setf(e, ERR_NOMEM, "archive: out of memory");
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, CHUNK) != ARCHIVE_OK) {
        int rv = err_setf(e, ERR_INVALID, "not a tar: %s", archive_error_string(a));
        archive_read_free(a);
        return rv;
    }
    *out = a;
    return 0;
}

static int read_small(struct archive *a, const char *name, size_t max, char **out, size_t *n,
                      struct err *e)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    la_ssize_t k;
    if (buf == NULL)
        return err_setf(e, ERR_NOMEM, "archive: out of memory");
    for (;;) {
        if (len + CHUNK + 1 > cap) {
            char *nb;
            cap = (len + CHUNK + 1) * 2;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return err_setf(e, ERR_NOMEM, "archive: out of memory");
            }
            buf = nb;
        }
        k = archive_read_data(a, buf + len, CHUNK);
        if (k < 0) {
            free(buf);
            return err_setf(e, ERR_INVALID, "%s: %s", name, archive_error_string(a));
        }
        if (k == 0)
            break;
        len += (size_t)k;
        if (len > max) {
            free(buf);
            return err_setf(e, ERR_INVALID, "%s: larger than %zu bytes", name, max);
        }
    }
    buf[len] = '\0';
    free(*out); /* a tar may repeat a name: the last copy wins, as tar does */
    *out = buf;
    *n = len;
    return 0;
}

/* Pass 1: the index files. */
static int scan(struct imp *im, struct err *e)
{
    struct archive *a;
    struct archive_entry *ent;
    int r, rv;

    rv = open_archive(im->path, &a, e);
    if (rv != 0)
        return rv;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *n = entry_name(ent);
        if (strcmp(n, "manifest.json") == 0)
            rv = read_small(a, n, 1u << 20, &im->manifest_json, &im->manifest_len, e);
        else if (strcmp(n, "index.json") == 0)
            rv = read_small(a, n, AGENT__MANIFEST_MAX, &im->index_json, &im->index_len, e);
        if (rv != 0)
            goto out;
    }
    if (r != ARCHIVE_EOF)
        rv = err_setf(e, ERR_INVALID, "not a tar: %s", archive_error_string(a));
out:
    archive_read_free(a);
    return rv;
}

/* Streams the current entry into a blob (want: its digest, or NULL). */
static int entry_to_blob(struct imp *im, struct archive *a, const char *name, const char *want,
                         char got[AGENT_IMAGE_DIGEST_SIZE], uint64_t *size, unsigned char head[2],
                         struct err *e)
{
    struct agent__blob_writer w;
    char *buf;
    int rv;

    buf = malloc(CHUNK);
    if (buf == NULL)
        return err_setf(e, ERR_NOMEM, "archive: out of memory");
    rv = agent__blob_begin(im->s, &w, e);
    if (rv != 0) {
        free(buf);
        return rv;
    }
    for (;;) {
        la_ssize_t k;
        if (im->cancel != NULL && atomic_load(im->cancel)) {
            rv = err_setf(e, ERR_SHUTDOWN, "cancelled");
            break;
        }
        k = archive_read_data(a, buf, CHUNK);
        if (k < 0) {
            rv = err_setf(e, ERR_INVALID, "%s: %s", name, archive_error_string(a));
            break;
        }
        if (k == 0)
            break;
        if (head != NULL && w.size == 0)
            memcpy(head, buf, k >= 2 ? 2 : 1);
        rv = agent__blob_write(&w, buf, (size_t)k, e);
        if (rv != 0)
            break;
    }
    free(buf);
    if (size != NULL)
        *size = w.size;
    if (rv != 0) {
        agent__blob_abort(&w);
        return rv;
    }
    rv = agent__blob_commit(im->s, &w, want, got, e);
    return rv != 0 ? err_wrapf(e, "%s", name) : 0;
}

/* ---- OCI layout ---- */

static int oci_blobs(struct imp *im, struct err *e)
{
    struct archive *a;
    struct archive_entry *ent;
    int r, rv;

    rv = open_archive(im->path, &a, e);
    if (rv != 0)
        return rv;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *n = entry_name(ent);
        char want[AGENT_IMAGE_DIGEST_SIZE + 8];
        if (strncmp(n, "blobs/sha256/", 13) != 0 || archive_entry_filetype(ent) != AE_IFREG)
            continue;
        snprintf(want, sizeof want, "sha256:%s", n + 13);
        if (!agent__digest_valid(want)) {
            rv = err_setf(e, ERR_INVALID, "%s: name is not a sha256 digest", n);
            goto out;
        }
        if (agent__blob_exists(im->s, want))
            continue;
        rv = entry_to_blob(im, a, n, want, NULL, NULL, NULL, e);
        if (rv != 0)
            goto out;
    }
    if (r != ARCHIVE_EOF)
        rv = err_setf(e, ERR_INVALID, "tar: %s", archive_error_string(a));
out:
    archive_read_free(a);
    return rv;
}

/* The manifest an index entry leads to (through one nested index). */
static int oci_pick(struct imp *im, const json_t *index, char digest[AGENT_IMAGE_DIGEST_SIZE],
                    const char **name, struct err *e)
{
    const json_t *list = json_object_get(index, "manifests"), *m, *ann;
    bool platforms = false;
    char *data = NULL;
    size_t n = 0, i;
    json_t *doc = NULL;
    int kind, rv;
    const char *d;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return err_setf(e, ERR_INVALID, "index.json: manifests: required non-empty array");
    json_array_foreach (list, i, m) {
        if (json_object_get(m, "platform") != NULL)
            platforms = true;
    }
    if (json_array_size(list) > 1 && platforms) {
        rv = agent__index_select(index, "linux", "amd64", digest, e);
        if (rv != 0)
            return err_wrapf(e, "index.json");
        m = NULL;
    } else {
        m = json_array_get(list, 0);
        d = json_string_value(json_object_get(m, "digest"));
        if (!agent__digest_valid(d))
            return err_setf(e, ERR_INVALID, "index.json: manifests[0].digest: bad digest");
        memcpy(digest, d, AGENT_IMAGE_DIGEST_SIZE);
    }
    ann = json_object_get(m, "annotations");
    *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));
    if (*name == NULL)
        *name = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
    rv = agent__blob_read(im->s, digest, AGENT__MANIFEST_MAX, &data, &n, e);
    if (rv == 0)
        rv = agent__doc_parse(data, n, NULL, &doc, &kind, e);
    free(data);
    if (rv != 0)
        return err_wrapf(e, "manifest %s", digest);
    if (kind == AGENT__DOC_INDEX) {
        rv = agent__index_select(doc, "linux", "amd64", digest, e);
        json_decref(doc);
        return rv != 0 ? err_wrapf(e, "index %s", digest) : 0;
    }
    json_decref(doc);
    return 0;
}

static int import_oci(struct imp *im, const char *canon, char digest[AGENT_IMAGE_DIGEST_SIZE],
                      struct err *e)
{
    json_error_t jerr;
    json_t *index;
    const char *name = NULL;
    char named[AGENT_IMAGE_REF_SIZE];
    const char *refs[1];
    size_t n_refs = 0;
    int rv;

    index = json_loadb(im->index_json, im->index_len, 0, &jerr);
    if (!json_is_object(index)) {
        json_decref(index);
        return err_setf(e, ERR_INVALID, "index.json: not a JSON object");
    }
    rv = oci_blobs(im, e);
    if (rv == 0)
        rv = oci_pick(im, index, digest, &name, e);
    if (rv != 0)
        goto out;
    if (canon != NULL) {
        refs[n_refs++] = canon;
    } else if (name != NULL && strpbrk(name, ":/") != NULL) {
        /* a bare tag ("1.36", skopeo's annotation) names no repository */
        struct agent_image_ref r;
        if (agent_image_ref_parse(name, &r, NULL) == 0 &&
            agent_image_ref_format(&r, named, sizeof named, NULL) == 0)
            refs[n_refs++] = named;
    }
    rv = agent__image_commit(im->s, digest, refs, n_refs, im->cancel, e);
out:
    json_decref(index);
    return rv;
}

/* ---- docker save ---- */

struct dfile {
    const char *name; /* borrowed from manifest.json */
    char digest[AGENT_IMAGE_DIGEST_SIZE];
    uint64_t size;
    bool gzip, seen;
};

static int docker_blobs(struct imp *im, struct dfile *files, size_t n, struct err *e)
{
    struct archive *a;
    struct archive_entry *ent;
    int r, rv;
    size_t i;

    rv = open_archive(im->path, &a, e);
    if (rv != 0)
        return rv;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *name = entry_name(ent);
        unsigned char head[2] = {0, 0};
        for (i = 0; i < n; i++)
            if (!files[i].seen && strcmp(files[i].name, name) == 0)
                break;
        if (i == n || archive_entry_filetype(ent) != AE_IFREG)
            continue;
        rv = entry_to_blob(im, a, name, NULL, files[i].digest, &files[i].size, head, e);
        if (rv != 0)
            goto out;
        files[i].gzip = head[0] == 0x1f && head[1] == 0x8b;
        files[i].seen = true;
        /* the same file listed twice (a repeated layer) */
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(files[j].name, name) == 0)
                files[j] = files[i];
    }
    if (r != ARCHIVE_EOF)
        rv = err_setf(e, ERR_INVALID, "tar: %s", archive_error_string(a));
out:
    archive_read_free(a);
    return rv;
}

static json_t *docker_manifest(const struct dfile *files, size_t n)
{
    json_t *layers = json_array(), *m;
    size_t i;
    for (i = 1; layers != NULL && i < n; i++)
        json_array_append_new(
            layers, json_pack("{s:s, s:s, s:I}", "mediaType",
                              files[i].gzip ? AGENT__MT_OCI_LAYER_GZ : AGENT__MT_OCI_LAYER,
                              "digest", files[i].digest, "size", (json_int_t)files[i].size));
    m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                  AGENT__MT_OCI_MANIFEST, "config", "mediaType", AGENT__MT_OCI_CONFIG, "digest",
                  files[0].digest, "size", (json_int_t)files[0].size, "layers", layers);
    return m;
}

static int import_docker(struct imp *im, const char *canon, char digest[AGENT_IMAGE_DIGEST_SIZE],
                         struct err *e)
{
    json_error_t jerr;
    json_t *mj, *img, *layers, *tags, *l, *om = NULL;
    struct dfile *files = NULL;
    char(*names)[AGENT_IMAGE_REF_SIZE] = NULL;
    const char **refs = NULL;
    size_t n, i, n_refs = 0;
    char *text = NULL;
    int rv;

    mj = json_loadb(im->manifest_json, im->manifest_len, 0, &jerr);
    img = json_array_get(mj, 0);
    layers = json_object_get(img, "Layers");
    tags = json_object_get(img, "RepoTags");
    if (!json_is_object(img) || !json_is_string(json_object_get(img, "Config")) ||
        !json_is_array(layers)) {
        rv = err_setf(e, ERR_INVALID, "manifest.json: want [{Config, RepoTags, Layers}]");
        goto out;
    }
    n = json_array_size(layers) + 1;
    files = calloc(n, sizeof *files);
    names = calloc(json_array_size(tags) + 1, sizeof *names);
    refs = calloc(json_array_size(tags) + 1, sizeof *refs);
    if (files == NULL || names == NULL || refs == NULL) {
        rv = err_setf(e, ERR_NOMEM, "import: out of memory");
        goto out;
    }
    files[0].name = json_string_value(json_object_get(img, "Config"));
    json_array_foreach (layers, i, l) {
        if ((files[i + 1].name = json_string_value(l)) == NULL) {
            rv = err_setf(e, ERR_INVALID, "manifest.json: Layers[%zu]: want string", i);
            goto out;
        }
    }
    rv = docker_blobs(im, files, n, e);
    if (rv != 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (!files[i].seen) {
            rv = err_setf(e, ERR_INVALID, "manifest.json: %s: not in the archive", files[i].name);
            goto out;
        }
    }
    om = docker_manifest(files, n);
    text = om ? json_dumps(om, JSON_COMPACT) : NULL;
    if (text == NULL) {
        rv = err_setf(e, ERR_NOMEM, "import: out of memory");
        goto out;
    }
    rv = agent__blob_put(im->s, text, strlen(text), NULL, digest, e);
    if (rv != 0)
        goto out;
    if (canon != NULL) {
        refs[n_refs++] = canon;
    } else {
        json_array_foreach (tags, i, l) {
            struct agent_image_ref r;
            if (agent_image_ref_parse(json_string_value(l), &r, e) != 0 ||
                agent_image_ref_format(&r, names[n_refs], sizeof names[0], e) != 0) {
                rv = err_wrapf(e, "manifest.json: RepoTags[%zu]", i);
                goto out;
            }
            refs[n_refs] = names[n_refs];
            n_refs++;
        }
    }
    rv = agent__image_commit(im->s, digest, refs, n_refs, im->cancel, e);
out:
    free(text);
    json_decref(om);
    free(refs);
    free(names);
    free(files);
    json_decref(mj);
    return rv;
}

int agent_image_import(struct agent_image_store *s, const char *path, const char *ref,
                       const atomic_bool *cancel, char digest_out[AGENT_IMAGE_DIGEST_SIZE],
                       struct err *e)
{
    struct imp im = {.s = s, .path = path, .cancel = cancel};
    char canon[AGENT_IMAGE_REF_SIZE], digest[AGENT_IMAGE_DIGEST_SIZE];
    int rv;

    if (ref != NULL) {
        struct agent_image_ref r;
        rv = agent_image_ref_parse(ref, &r, e);
        if (rv == 0)
            rv = agent_image_ref_format(&r, canon, sizeof canon, e);
        if (rv != 0)
            return err_wrapf(e, "import %s", path);
    }
    agent__store_rdlock(s);
    rv = scan(&im, e);
    if (rv == 0 && im.manifest_json != NULL)
        rv = import_docker(&im, ref ? canon : NULL, digest, e);
    else if (rv == 0 && im.index_json != NULL)
        rv = import_oci(&im, ref ? canon : NULL, digest, e);
    else if (rv == 0)
        rv = err_setf(e, ERR_INVALID,
                      "neither an OCI layout (index.json) nor a docker save (manifest.json)");
    agent__store_unlock(s);
    free(im.manifest_json);
    free(im.index_json);
    if (rv != 0)
        return err_wrapf(e, "import %s", path);
    if (digest_out != NULL)
        memcpy(digest_out, digest, AGENT_IMAGE_DIGEST_SIZE);
    return 0;
}
