/* Shared by the image store tests: small tars built in memory with
 * libarchive, gzip of a buffer, and images assembled straight into a store
 * (layer, config and manifest blobs, then agent__image_commit) so tests need
 * no registry. Static functions only: each test binary includes it once. */
#ifndef SKIFF_TESTS_UNIT_AGENT_TEST_IMAGE_FIXTURE_H
#define SKIFF_TESTS_UNIT_AGENT_TEST_IMAGE_FIXTURE_H

#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"

/* one tar entry: type 'f' file, 'd' dir, 's' symlink, 'h' hardlink, 'c' char dev */
struct tent {
    const char *name;
    char type;
    const char *data; /* file content, or link target */
    int mode;         /* 0: 0644 / 0755 */
    size_t len;       /* bytes of data; 0: strlen(data) */
};

struct membuf {
    char *p;
    size_t len, cap;
};

static __attribute__((unused)) la_ssize_t membuf_write(struct archive *a, void *ud, const void *buf,
                                                       size_t n)
{
    struct membuf *m = ud;
    (void)a;
    if (m->len + n > m->cap) {
        size_t cap = (m->len + n) * 2 + 1024;
        char *np = realloc(m->p, cap);
        if (np == NULL)
            return -1;
        m->p = np;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, n);
    m->len += n;
    return (la_ssize_t)n;
}

/* An uncompressed (pax) tar of ents. *out owned (free). */
static __attribute__((unused)) void tar_mem(const struct tent *ents, size_t n, char **out,
                                            size_t *len)
{
    struct archive *a = archive_write_new();
    struct membuf m = {0};
    size_t i;
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &m, NULL, membuf_write, NULL);
    for (i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        const struct tent *t = &ents[i];
        archive_entry_set_pathname(e, t->name);
        archive_entry_set_mtime(e, 1000000000, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        switch (t->type) {
        case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, t->mode ? t->mode : 0755);
            break;
        case 's':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_symlink(e, t->data);
            break;
        case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_hardlink(e, t->data);
            break;
        case 'c':
            archive_entry_set_filetype(e, AE_IFCHR);
            archive_entry_set_perm(e, 0666);
            archive_entry_set_rdevmajor(e, 1);
            archive_entry_set_rdevminor(e, 3);
            break;
        default:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, t->mode ? t->mode : 0644);
            archive_entry_set_size(e, (la_int64_t)(t->len    ? t->len
                                                   : t->data ? strlen(t->data)
                                                             : 0));
        }
        archive_write_header(a, e);
        if (t->type == 'f' && t->data != NULL)
            archive_write_data(a, t->data, t->len ? t->len : strlen(t->data));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    *out = m.p;
    *len = m.len;
}

/* gzip of a buffer (libarchive's raw format with the gzip filter). */
static __attribute__((unused)) void gzip_mem(const char *in, size_t n, char **out, size_t *len)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    struct membuf m = {0};
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    archive_write_set_bytes_per_block(a, 0);
    archive_write_open(a, &m, NULL, membuf_write, NULL);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_pathname(e, "x");
    archive_entry_set_size(e, (la_int64_t)n);
    archive_write_header(a, e);
    archive_write_data(a, in, n);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    *out = m.p;
    *len = m.len;
}

static __attribute__((unused)) void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("open %s", path);
    if (n > 0 && fwrite(data, 1, n, f) != n)
        fail_msg("write %s", path);
    fclose(f);
}

/* A layer: its blob bytes (gzip or not), digest and diff_id. */
struct fx_layer {
    char *blob;
    size_t blob_len;
    char digest[AGENT_IMAGE_DIGEST_SIZE];
    char diff_id[AGENT_IMAGE_DIGEST_SIZE];
    bool gzip;
};

static __attribute__((unused)) void fx_layer_make(struct fx_layer *l, const struct tent *ents,
                                                  size_t n, bool gzip)
{
    char *tar;
    size_t len;
    tar_mem(ents, n, &tar, &len);
    agent__digest_of(tar, len, l->diff_id);
    l->gzip = gzip;
    if (gzip) {
        gzip_mem(tar, len, &l->blob, &l->blob_len);
        free(tar);
    } else {
        l->blob = tar;
        l->blob_len = len;
    }
    agent__digest_of(l->blob, l->blob_len, l->digest);
}

static __attribute__((unused)) void fx_layer_free(struct fx_layer *l)
{
    free(l->blob);
    l->blob = NULL;
}

/* The config text for layers (cfg_extra: JSON members for "config", e.g.
 * "\"Cmd\":[\"/bin/sh\"]"). Owned: free. */
static __attribute__((unused)) char *fx_config_text(const struct fx_layer *ls, size_t n,
                                                    const char *cfg_extra, const char *created)
{
    json_t *ids = json_array(), *c, *cfg;
    json_error_t jerr;
    char buf[1024];
    char *text;
    size_t i;
    for (i = 0; i < n; i++)
        json_array_append_new(ids, json_string(ls[i].diff_id));
    snprintf(buf, sizeof buf, "{%s}", cfg_extra ? cfg_extra : "");
    cfg = json_loads(buf, 0, &jerr);
    assert_non_null(cfg);
    c = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:o}}", "architecture", "amd64", "os", "linux",
                  "created", created ? created : "2024-01-01T00:00:00Z", "config", cfg, "rootfs",
                  "type", "layers", "diff_ids", ids);
    text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return text;
}

/* The manifest text for config + layers. Owned: free. */
static __attribute__((unused)) char *fx_manifest_text(const char *config_text,
                                                      const struct fx_layer *ls, size_t n)
{
    char cdig[AGENT_IMAGE_DIGEST_SIZE];
    json_t *layers = json_array(), *m;
    char *text;
    size_t i;
    agent__digest_of(config_text, strlen(config_text), cdig);
    for (i = 0; i < n; i++)
        json_array_append_new(
            layers, json_pack("{s:s, s:s, s:I}", "mediaType",
                              ls[i].gzip ? AGENT__MT_OCI_LAYER_GZ : AGENT__MT_OCI_LAYER, "digest",
                              ls[i].digest, "size", (json_int_t)ls[i].blob_len));
    m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                  AGENT__MT_OCI_MANIFEST, "config", "mediaType", AGENT__MT_OCI_CONFIG, "digest",
                  cdig, "size", (json_int_t)strlen(config_text), "layers", layers);
    text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return text;
}

/* Puts an image into the store and points ref (canonical, may be NULL) at it. */
static __attribute__((unused)) void fx_image_put(struct agent_image_store *s,
                                                 const struct fx_layer *ls, size_t n,
                                                 const char *cfg_extra, const char *ref,
                                                 char digest[AGENT_IMAGE_DIGEST_SIZE])
{
    struct err e = {0};
    char *cfg = fx_config_text(ls, n, cfg_extra, NULL);
    char *man = fx_manifest_text(cfg, ls, n);
    const char *refs[1] = {ref};
    size_t i;
    for (i = 0; i < n; i++)
        assert_int_equal(agent__blob_put(s, ls[i].blob, ls[i].blob_len, ls[i].digest, NULL, &e), 0);
    assert_int_equal(agent__blob_put(s, cfg, strlen(cfg), NULL, NULL, &e), 0);
    assert_int_equal(agent__blob_put(s, man, strlen(man), NULL, digest, &e), 0);
    if (agent__image_commit(s, digest, refs, ref ? 1 : 0, NULL, &e) != 0)
        fail_msg("commit: %s", e.msg);
    free(cfg);
    free(man);
}

/* Number of entries in dir, "." and ".." aside. */
static __attribute__((unused)) int count_entries(const char *dir)
{
    char cmd[PATH_MAX + 64];
    FILE *p;
    int n = -1;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    p = popen(cmd, "r");
    if (p != NULL) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

#endif
