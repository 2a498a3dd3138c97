/* The image store: its directory, the index of references (refs.json), and
 * the operations on recorded images (resolve, config, layers, list, remove,
 * GC). Pulls live in registry.c, imports in image_import.c, unpacking in
 * layer.c.
 *
 * refs.json:
 *   {"version": 1,
 *    "refs":   {"<canonical ref>": "<manifest digest>"},
 *    "images": {"<manifest digest>": {"manifest_size", "media_type", "config",
 *               "config_size", "created", "last_used",
 *               "layers": [{"digest", "diff_id", "size"}]}},
 *    "layers": {"<diff_id>": {"bytes"}}}
 * It is rewritten whole (temp file, fsync, rename, fsync of the dir) on every
 * change: an index of a few hundred images is a few hundred KB at most, and
 * a reader after a crash sees the old or the new file, never a mix. */
#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include "lib/fs.h"
#include "lib/log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the index file ---- */

static int check_index(json_t *idx, struct err *e)
{
    json_t *refs = json_object_get(idx, "refs"), *images = json_object_get(idx, "images");
    json_t *layers = json_object_get(idx, "layers"), *v, *l;
    const char *k;
    size_t i;

    if (!json_is_object(idx) || json_integer_value(json_object_get(idx, "version")) != 1)
        return err_setf(e, ERR_INVALID, "version: want 1");
    if (!json_is_object(refs) || !json_is_object(images) || !json_is_object(layers))
        return err_setf(e, ERR_INVALID, "refs, images, layers: required objects");
    json_object_foreach (refs, k, v) {
        if (!json_is_object(json_object_get(images, json_string_value(v) ?: "")))
            return err_setf(e, ERR_INVALID, "refs[%s]: unknown image", k);
    }
    json_object_foreach (images, k, v) {
        json_t *ls = json_object_get(v, "layers");
        if (!agent__digest_valid(k) ||
            !agent__digest_valid(json_string_value(json_object_get(v, "config"))) ||
            !json_is_array(ls))
            return err_setf(e, ERR_INVALID, "images[%.80s]: malformed", k);
        json_array_foreach (ls, i, l) {
            if (!agent__digest_valid(json_string_value(json_object_get(l, "digest"))) ||
                !agent__digest_valid(json_string_value(json_object_get(l, "diff_id"))))
                return err_setf(e, ERR_INVALID, "images[%s].layers[%zu]: malformed", k, i);
        }
    }
    return 0;
}

static int fsync_dir(const char *dir, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_setf(e, ERR_IO, "open %s: %s", dir, strerror(errno));
    if (fsync(fd) != 0) {
        close(fd);
        return err_setf(e, ERR_IO, "fsync %s: %s", dir, strerror(errno));
    }
    close(fd);
    return 0;
}

/* Writes idx as DIR/refs.json atomically. Caller holds s->mu. */
static int save_index(struct agent_image_store *s, json_t *idx, struct err *e)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    char *text = json_dumps(idx, JSON_SORT_KEYS | JSON_INDENT(1));
    size_t len, off = 0;
    int fd, rv = 0;

    if (text == NULL)
        return err_setf(e, ERR_NOMEM, "refs.json: encode");
    len = strlen(text);
    snprintf(path, sizeof path, "%s/refs.json", s->dir);
    snprintf(tmp, sizeof tmp, "%s/.refs.json.tmp-XXXXXX", s->dir);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        free(text);
        return err_setf(e, ERR_IO, "create %s: %s", tmp, strerror(errno));
    }
    fchmod(fd, 0644);
    while (off < len) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rv = err_setf(e, ERR_IO, "write %s: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)k;
    }
    if (rv == 0 && fsync(fd) != 0)
        rv = err_setf(e, ERR_IO, "fsync %s: %s", tmp, strerror(errno));
    close(fd);
    free(text);
    if (rv == 0 && rename(tmp, path) != 0)
        rv = err_setf(e, ERR_IO, "rename %s: %s", path, strerror(errno));
    if (rv != 0) {
        unlink(tmp);
        return rv;
    }
    return fsync_dir(s->dir, e);
}

static json_t *empty_index(void)
{
    return json_pack("{s:i, s:{}, s:{}, s:{}}", "version", 1, "refs", "images", "layers");
}

static int load_index(struct agent_image_store *s, struct err *e)
{
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *idx;
    int rv;

    snprintf(path, sizeof path, "%s/refs.json", s->dir);
    if (access(path, F_OK) != 0) {
        s->idx = empty_index();
        if (s->idx == NULL)
            return err_setf(e, ERR_NOMEM, "refs.json: out of memory");
        return save_index(s, s->idx, e);
    }
    idx = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (idx == NULL)
        return err_setf(e, ERR_INVALID, "%s: line %d: %s", path, jerr.line, jerr.text);
    rv = check_index(idx, e);
    if (rv != 0) {
        json_decref(idx);
        return err_wrapf(e, "%s", path);
    }
    s->idx = idx;
    return 0;
}

/* Temp files and dirs left by writes a crash interrupted. Only at open:
 * later, a temp file may belong to a pull in progress. */
static void remove_temps(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[PATH_MAX];
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        fs_rmtree(p);
    }
    closedir(d);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    /* curl_global_init is not thread-safe; run it once, before any pull */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int agent_image_store_open(const char *dir, struct agent_image_store **out, struct err *e)
{
    static const char *const subdirs[] = {"", "/blobs", "/blobs/sha256", "/layers", "/l"};
    struct agent_image_store *s;
    char p[PATH_MAX];
    size_t i;
    int rv;

    *out = NULL;
    if (dir == NULL || dir[0] != '/')
        return err_setf(e, ERR_INVALID, "image store dir %s: must be absolute", dir ? dir : "");
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return err_setf(e, ERR_NOMEM, "image store: out of memory");
    if (snprintf(s->dir, sizeof s->dir, "%s", dir) >= (int)sizeof s->dir - 1) {
        free(s);
        return err_setf(e, ERR_INVALID, "image store dir %.64s...: too long", dir);
    }
    for (i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        snprintf(p, sizeof p, "%s%s", s->dir, subdirs[i]);
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rv = err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
            free(s);
            return rv;
        }
    }
    snprintf(p, sizeof p, "%s/oci-layout", s->dir);
    if (access(p, F_OK) != 0) {
        FILE *f = fopen(p, "w");
        if (f != NULL) {
            fputs("{\"imageLayoutVersion\":\"1.0.0\"}", f);
            fclose(f);
        }
    }
    snprintf(p, sizeof p, "%s/blobs/sha256", s->dir);
    remove_temps(p, ".tmp-");
    snprintf(p, sizeof p, "%s/layers", s->dir);
    remove_temps(p, ".tmp-");
    remove_temps(s->dir, ".refs.json.tmp-");
    rv = load_index(s, e);
    if (rv != 0) {
        json_decref(s->idx);
        free(s);
        return rv;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_rwlock_init(&s->gc, NULL);
    pthread_once(&curl_once, curl_init_once);
    *out = s;
    return 0;
}

void agent_image_store_free(struct agent_image_store *s)
{
    if (s == NULL)
        return;
    json_decref(s->idx);
    pthread_mutex_destroy(&s->mu);
    pthread_rwlock_destroy(&s->gc);
    free(s);
}

const char *agent_image_store_dir(const struct agent_image_store *s)
{
    return s->dir;
}

void agent__store_rdlock(struct agent_image_store *s)
{
    pthread_rwlock_rdlock(&s->gc);
}

void agent__store_unlock(struct agent_image_store *s)
{
    pthread_rwlock_unlock(&s->gc);
}

/* ---- resolving ---- */

static bool hex_prefix(const char *s)
{
    size_t i, n = strlen(s);
    if (n < 12 || n > 64)
        return false;
    for (i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    return true;
}

/* Caller holds s->mu. *canon (may be NULL) gets the canonical reference
 * when ref names one ("" for a digest or id). */
static int resolve_locked(struct agent_image_store *s, const char *ref,
                          char digest[AGENT_IMAGE_DIGEST_SIZE], char *canon, size_t canon_cap,
                          struct err *e)
{
    json_t *images = json_object_get(s->idx, "images");
    struct agent_image_ref r;
    struct err perr = {0};
    char c[AGENT_IMAGE_REF_SIZE];
    const char *d = NULL, *k;
    json_t *v;

    if (canon != NULL)
        canon[0] = '\0';
    if (ref == NULL)
        return err_setf(e, ERR_INVALID, "image reference: empty");
    if (agent__digest_valid(ref)) {
        if (json_object_get(images, ref) == NULL)
            return err_setf(e, ERR_NOTFOUND, "image %s: not in store", ref);
        memcpy(digest, ref, AGENT_IMAGE_DIGEST_SIZE);
        return 0;
    }
    if (agent_image_ref_parse(ref, &r, &perr) == 0 &&
        agent_image_ref_format(&r, c, sizeof c, &perr) == 0) {
        d = json_string_value(json_object_get(json_object_get(s->idx, "refs"), c));
        if (d == NULL && r.digest[0] != '\0' && json_object_get(images, r.digest) != NULL &&
            canon == NULL)
            d = r.digest; /* any name@digest reads the same content */
        if (d != NULL) {
            if (canon != NULL)
                snprintf(canon, canon_cap, "%s", c);
            memcpy(digest, d, AGENT_IMAGE_DIGEST_SIZE);
            return 0;
        }
    }
    if (hex_prefix(ref)) {
        json_object_foreach (images, k, v) {
            if (strncmp(k + 7, ref, strlen(ref)) != 0)
                continue;
            if (d != NULL)
                return err_setf(e, ERR_INVALID, "image id %s: ambiguous", ref);
            d = k;
        }
        if (d != NULL) {
            memcpy(digest, d, AGENT_IMAGE_DIGEST_SIZE);
            return 0;
        }
    }
    if (perr.code != 0 && !hex_prefix(ref))
        return err_setf(e, perr.code, "%s", perr.msg);
    return err_setf(e, ERR_NOTFOUND, "image %s: not in store", ref);
}

/* `skiff image import` writes refs.json from another process (the CLI):
 * on a miss, re-read the index once before saying no. */
static void reload_index_locked(struct agent_image_store *s)
{
    json_t *old = s->idx;
    struct err e;
    s->idx = NULL;
    if (load_index(s, &e) != 0) {
        s->idx = old;
        return;
    }
    json_decref(old);
}

int agent_image_resolve(struct agent_image_store *s, const char *ref,
                        char digest_out[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    int rv;
    pthread_mutex_lock(&s->mu);
    rv = resolve_locked(s, ref, digest_out, NULL, 0, e);
    if (rv == ERR_NOTFOUND) {
        reload_index_locked(s);
        rv = resolve_locked(s, ref, digest_out, NULL, 0, e);
    }
    pthread_mutex_unlock(&s->mu);
    return rv;
}

/* ---- commit ---- */

static json_t *image_entry(const struct agent__manifest *m, const char *mt, size_t manifest_size,
                           const json_t *config)
{
    const char *created = json_string_value(json_object_get(config, "created"));
    json_t *layers = json_array(), *img;
    size_t i;
    for (i = 0; layers != NULL && i < m->n_layers; i++)
        json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "digest", m->layers[i].digest,
                                                "diff_id", m->layers[i].diff_id, "size",
                                                (json_int_t)m->layers[i].size));
    img = json_pack("{s:I, s:s, s:s, s:I, s:s, s:I, s:o}", "manifest_size",
                    (json_int_t)manifest_size, "media_type", mt, "config", m->config, "config_size",
                    (json_int_t)m->config_size, "created", created ? created : "", "last_used",
                    (json_int_t)time(NULL), "layers", layers);
    return img;
}

/* Reads and checks the manifest and config blobs of an image. */
static int load_image(struct agent_image_store *s, const char *digest, struct agent__manifest *m,
                      json_t **config, size_t *manifest_size, struct err *e)
{
    char *data = NULL;
    size_t n = 0;
    json_t *doc = NULL;
    json_error_t jerr;
    int kind, rv;

    *config = NULL;
    rv = agent__blob_read(s, digest, AGENT__MANIFEST_MAX, &data, &n, e);
    if (rv != 0)
        return rv;
    *manifest_size = n;
    rv = agent__doc_parse(data, n, NULL, &doc, &kind, e);
    free(data);
    if (rv != 0)
        return rv;
    if (kind != AGENT__DOC_MANIFEST) {
        json_decref(doc);
        return err_setf(e, ERR_INVALID, "manifest %s: an index, not an image manifest", digest);
    }
    rv = agent__manifest_parse(doc, m, e);
    json_decref(doc);
    if (rv != 0)
        return rv;
    rv = agent__blob_read(s, m->config, AGENT__CONFIG_MAX, &data, &n, e);
    if (rv != 0)
        goto fail;
    *config = json_loadb(data, n, 0, &jerr);
    free(data);
    if (*config == NULL) {
        rv = err_setf(e, ERR_INVALID, "config %s: not JSON: %s", m->config, jerr.text);
        goto fail;
    }
    rv = agent__config_apply(*config, m, e);
    if (rv != 0)
        goto fail;
    return 0;
fail:
    json_decref(*config);
    *config = NULL;
    agent__manifest_close(m);
    return rv;
}

int agent__image_commit(struct agent_image_store *s, const char *manifest_digest,
                        const char *const *refs, size_t n_refs, const atomic_bool *cancel,
                        struct err *e)
{
    struct agent__manifest m;
    json_t *config = NULL, *idx = NULL, *img, *layers;
    uint64_t *bytes = NULL;
    size_t msize = 0, i;
    int rv;

    rv = load_image(s, manifest_digest, &m, &config, &msize, e);
    if (rv != 0)
        return rv;
    bytes = calloc(m.n_layers + 1, sizeof *bytes);
    if (bytes == NULL) {
        rv = err_setf(e, ERR_NOMEM, "image: out of memory");
        goto out;
    }
    for (i = 0; i < m.n_layers; i++) {
        if (!agent__blob_exists(s, m.layers[i].digest)) {
            rv = err_setf(e, ERR_NOTFOUND, "layer %s: blob missing", m.layers[i].digest);
            goto out;
        }
        rv = agent__layer_ensure(s, &m.layers[i], cancel, &bytes[i], e);
        if (rv != 0)
            goto out;
    }
    pthread_mutex_lock(&s->mu);
    /* change a copy and swap it in only once it is on disk: a failed save
     * leaves memory and file agreeing */
    idx = json_deep_copy(s->idx);
    img = image_entry(&m, m.media_type, msize, config);
    if (idx == NULL || img == NULL) {
        json_decref(img);
        rv = err_setf(e, ERR_NOMEM, "image: out of memory");
        goto out_unlock;
    }
    json_object_set_new(json_object_get(idx, "images"), manifest_digest, img);
    layers = json_object_get(idx, "layers");
    for (i = 0; i < m.n_layers; i++) {
        const char *key = m.layers[i].diff_id;
        if (bytes[i] == UINT64_MAX && json_object_get(layers, key) != NULL)
            continue;
        if (bytes[i] == UINT64_MAX) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s/layers/%s", s->dir, key + 7);
            bytes[i] = agent__tree_bytes(dir);
        }
        json_object_set_new(layers, key, json_pack("{s:I}", "bytes", (json_int_t)bytes[i]));
    }
    for (i = 0; i < n_refs; i++)
        json_object_set_new(json_object_get(idx, "refs"), refs[i], json_string(manifest_digest));
    rv = save_index(s, idx, e);
    if (rv == 0) {
        json_decref(s->idx);
        s->idx = idx;
        idx = NULL;
    }
out_unlock:
    pthread_mutex_unlock(&s->mu);
out:
    json_decref(idx);
    free(bytes);
    json_decref(config);
    agent__manifest_close(&m);
    return rv;
}

/* ---- lookups ---- */

static int check_strings(const json_t *a, const char *ref, const char *key, struct err *e)
{
    size_t i;
    const json_t *v;
    if (!json_is_array(a))
        return err_setf(e, ERR_INVALID, "image %s: config.%s: want array of strings", ref, key);
    json_array_foreach (a, i, v) {
        if (!json_is_string(v))
            return err_setf(e, ERR_INVALID, "image %s: config.%s[%zu]: want string", ref, key, i);
    }
    return 0;
}

int agent_image_config(struct agent_image_store *s, const char *ref, json_t **out, struct err *e)
{
    static const char *const arrays[] = {"Entrypoint", "Cmd", "Env"};
    static const char *const strings[] = {"WorkingDir", "User"};
    char digest[AGENT_IMAGE_DIGEST_SIZE], cdig[AGENT_IMAGE_DIGEST_SIZE];
    json_t *config = NULL, *c, *res = NULL, *v;
    json_error_t jerr;
    char *data = NULL;
    size_t n = 0, i;
    int rv;

    *out = NULL;
    pthread_mutex_lock(&s->mu);
    rv = resolve_locked(s, ref, digest, NULL, 0, e);
    if (rv == 0)
        snprintf(cdig, sizeof cdig, "%s",
                 json_string_value(json_object_get(
                     json_object_get(json_object_get(s->idx, "images"), digest), "config")));
    pthread_mutex_unlock(&s->mu);
    if (rv != 0)
        return rv;
    rv = agent__blob_read(s, cdig, AGENT__CONFIG_MAX, &data, &n, e);
    if (rv != 0)
        return err_wrapf(e, "image %s", ref);
    config = json_loadb(data, n, 0, &jerr);
    free(data);
    if (!json_is_object(config)) {
        rv = err_setf(e, ERR_INVALID, "image %s: config: not a JSON object", ref);
        goto out;
    }
    res = json_object();
    if (res == NULL) {
        rv = err_setf(e, ERR_NOMEM, "image %s: out of memory", ref);
        goto out;
    }
    c = json_object_get(config, "config");
    if (c == NULL || json_is_null(c))
        goto done;
    if (!json_is_object(c)) {
        rv = err_setf(e, ERR_INVALID, "image %s: config.config: want object", ref);
        goto out;
    }
    for (i = 0; i < 3; i++) {
        v = json_object_get(c, arrays[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if ((rv = check_strings(v, ref, arrays[i], e)) != 0)
            goto out;
        json_object_set(res, arrays[i], v);
    }
    for (i = 0; i < 2; i++) {
        v = json_object_get(c, strings[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_string(v)) {
            rv = err_setf(e, ERR_INVALID, "image %s: config.%s: want string", ref, strings[i]);
            goto out;
        }
        json_object_set(res, strings[i], v);
    }
    v = json_object_get(c, "ExposedPorts");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_object(v)) {
            rv = err_setf(e, ERR_INVALID, "image %s: config.ExposedPorts: want object", ref);
            goto out;
        }
        json_object_set(res, "ExposedPorts", v);
    }
done:
    *out = json_deep_copy(res); /* detached from the config we free */
    if (*out == NULL)
        rv = err_setf(e, ERR_NOMEM, "image %s: out of memory", ref);
out:
    json_decref(res);
    json_decref(config);
    return rv;
}

void agent_image_layers_free(char **dirs, size_t n)
{
    size_t i;
    if (dirs == NULL)
        return;
    for (i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}

static int layers_locked_copy(struct agent_image_store *s, const char *digest,
                              struct agent__layer_desc **out, size_t *n, struct err *e)
{
    json_t *img = json_object_get(json_object_get(s->idx, "images"), digest);
    json_t *ls = json_object_get(img, "layers"), *l;
    size_t i;
    *out = calloc(json_array_size(ls) + 1, sizeof **out);
    if (*out == NULL)
        return err_setf(e, ERR_NOMEM, "image: out of memory");
    json_array_foreach (ls, i, l) {
        snprintf((*out)[i].digest, AGENT_IMAGE_DIGEST_SIZE, "%s",
                 json_string_value(json_object_get(l, "digest")));
        snprintf((*out)[i].diff_id, AGENT_IMAGE_DIGEST_SIZE, "%s",
                 json_string_value(json_object_get(l, "diff_id")));
    }
    *n = json_array_size(ls);
    json_object_set_new(img, "last_used", json_integer((json_int_t)time(NULL)));
    return 0;
}

int agent_image_layers(struct agent_image_store *s, const char *ref, char ***dirs_out,
                       size_t *n_out, struct err *e)
{
    char digest[AGENT_IMAGE_DIGEST_SIZE], p[PATH_MAX];
    struct agent__layer_desc *ls = NULL;
    struct err serr;
    char **dirs = NULL;
    size_t n = 0, i;
    uint64_t bytes;
    int rv;

    *dirs_out = NULL;
    *n_out = 0;
    agent__store_rdlock(s);
    pthread_mutex_lock(&s->mu);
    rv = resolve_locked(s, ref, digest, NULL, 0, e);
    if (rv == 0)
        rv = layers_locked_copy(s, digest, &ls, &n, e);
    /* last_used is advisory (GC order): a failed save costs nothing else */
    if (rv == 0 && save_index(s, s->idx, &serr) != 0)
        LOG_WARN("agent", "image_index_save", "image=%s err=\"%s\"", ref, serr.msg);
    pthread_mutex_unlock(&s->mu);
    if (rv != 0)
        goto out;
    dirs = calloc(n + 1, sizeof *dirs);
    if (dirs == NULL) {
        rv = err_setf(e, ERR_NOMEM, "image: out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        rv = agent__layer_ensure(s, &ls[i], NULL, &bytes, e);
        if (rv == 0)
            rv = agent__layer_alias(s, ls[i].diff_id, p, sizeof p, e);
        if (rv == 0 && (dirs[i] = strdup(p)) == NULL)
            rv = err_setf(e, ERR_NOMEM, "image: out of memory");
        if (rv != 0) {
            err_wrapf(e, "image %s", ref);
            agent_image_layers_free(dirs, i);
            dirs = NULL;
            goto out;
        }
    }
    *dirs_out = dirs;
    *n_out = n;
out:
    free(ls);
    agent__store_unlock(s);
    return rv;
}

/* ---- list ---- */

static uint64_t image_size(const json_t *img)
{
    uint64_t sum = (uint64_t)json_integer_value(json_object_get(img, "manifest_size")) +
                   (uint64_t)json_integer_value(json_object_get(img, "config_size"));
    const json_t *l;
    size_t i;
    json_array_foreach (json_object_get(img, "layers"), i, l) {
        sum += (uint64_t)json_integer_value(json_object_get(l, "size"));
    }
    return sum;
}

static void fill_info(struct agent_image_info *in, const char *ref, const char *digest,
                      const json_t *img)
{
    snprintf(in->ref, sizeof in->ref, "%s", ref);
    snprintf(in->digest, sizeof in->digest, "%s", digest);
    in->size = image_size(img);
    snprintf(in->created, sizeof in->created, "%s",
             json_string_value(json_object_get(img, "created")) ?: "");
    in->last_used = json_integer_value(json_object_get(img, "last_used"));
}

static int info_cmp(const void *a, const void *b)
{
    const struct agent_image_info *x = a, *y = b;
    int c = strcmp(x->ref, y->ref);
    return c ? c : strcmp(x->digest, y->digest);
}

int agent_image_list(struct agent_image_store *s, struct agent_image_info **out, size_t *n_out,
                     struct err *e)
{
    json_t *refs, *images, *v, *tagged;
    const char *k;
    size_t n = 0, cap;
    struct agent_image_info *rows;

    *out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&s->mu);
    refs = json_object_get(s->idx, "refs");
    images = json_object_get(s->idx, "images");
    cap = json_object_size(refs) + json_object_size(images) + 1;
    rows = calloc(cap, sizeof *rows);
    tagged = json_object();
    if (rows == NULL || tagged == NULL) {
        pthread_mutex_unlock(&s->mu);
        free(rows);
        json_decref(tagged);
        return err_setf(e, ERR_NOMEM, "image list: out of memory");
    }
    json_object_foreach (refs, k, v) {
        const char *d = json_string_value(v);
        fill_info(&rows[n++], k, d, json_object_get(images, d));
        json_object_set_new(tagged, d, json_true());
    }
    json_object_foreach (images, k, v) {
        if (json_object_get(tagged, k) == NULL)
            fill_info(&rows[n++], "", k, v);
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(tagged);
    qsort(rows, n, sizeof *rows, info_cmp);
    *out = rows;
    *n_out = n;
    return 0;
}

/* ---- usage, sweep, remove, GC ---- */

static const char *layer_key(const json_t *l)
{
    return json_string_value(json_object_get(l, "diff_id"));
}

/* Unique blobs and unpacked layers of the images in idx. */
static uint64_t usage_of(const json_t *idx)
{
    json_t *blobs = json_object(), *lays = json_object(), *img, *l;
    const char *k, *cfg;
    uint64_t sum = 0;
    size_t i;

    if (blobs == NULL || lays == NULL)
        goto out;
    json_object_foreach (json_object_get(idx, "images"), k, img) {
        if (json_object_get(blobs, k) == NULL) {
            sum += (uint64_t)json_integer_value(json_object_get(img, "manifest_size"));
            json_object_set_new(blobs, k, json_true());
        }
        cfg = json_string_value(json_object_get(img, "config"));
        if (cfg != NULL && json_object_get(blobs, cfg) == NULL) {
            sum += (uint64_t)json_integer_value(json_object_get(img, "config_size"));
            json_object_set_new(blobs, cfg, json_true());
        }
        json_array_foreach (json_object_get(img, "layers"), i, l) {
            const char *d = json_string_value(json_object_get(l, "digest"));
            const char *lk = layer_key(l);
            if (d != NULL && json_object_get(blobs, d) == NULL) {
                sum += (uint64_t)json_integer_value(json_object_get(l, "size"));
                json_object_set_new(blobs, d, json_true());
            }
            if (lk != NULL && json_object_get(lays, lk) == NULL) {
                json_t *rec = json_object_get(json_object_get(idx, "layers"), lk);
                sum += (uint64_t)json_integer_value(json_object_get(rec, "bytes"));
                json_object_set_new(lays, lk, json_true());
            }
        }
    }
out:
    json_decref(blobs);
    json_decref(lays);
    return sum;
}

uint64_t agent_image_usage(struct agent_image_store *s)
{
    uint64_t u;
    pthread_mutex_lock(&s->mu);
    u = usage_of(s->idx);
    pthread_mutex_unlock(&s->mu);
    return u;
}

static void drop_image(json_t *idx, const char *digest)
{
    json_t *refs = json_object_get(idx, "refs"), *v;
    const char *k;
    void *tmp;
    json_object_foreach_safe(refs, tmp, k, v)
    {
        if (strcmp(json_string_value(v) ?: "", digest) == 0)
            json_object_del(refs, k);
    }
    json_object_del(json_object_get(idx, "images"), digest);
}

/* Deletes blobs, layer dirs and aliases no image of s->idx references, and
 * temp files (every writer holds the rwlock for reading, so none is live).
 * Caller holds the rwlock for writing and s->mu. */
static void sweep(struct agent_image_store *s)
{
    json_t *keep = json_object(), *keep_l = json_object(), *img, *l, *lays;
    const char *k;
    char dir[PATH_MAX], p[PATH_MAX + 300];
    struct dirent *de;
    void *tmp;
    size_t i;
    DIR *d;

    if (keep == NULL || keep_l == NULL)
        goto out;
    json_object_foreach (json_object_get(s->idx, "images"), k, img) {
        json_object_set_new(keep, k + 7, json_true());
        json_object_set_new(keep, json_string_value(json_object_get(img, "config")) + 7,
                            json_true());
        json_array_foreach (json_object_get(img, "layers"), i, l) {
            json_object_set_new(keep, json_string_value(json_object_get(l, "digest")) + 7,
                                json_true());
            json_object_set_new(keep_l, layer_key(l) + 7, json_true());
        }
    }
    snprintf(dir, sizeof dir, "%s/blobs/sha256", s->dir);
    if ((d = opendir(dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
                continue;
            if (json_object_get(keep, de->d_name) == NULL) {
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    snprintf(dir, sizeof dir, "%s/layers", s->dir);
    if ((d = opendir(dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (json_object_get(keep_l, de->d_name) == NULL) {
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                fs_rmtree(p);
            }
        }
        closedir(d);
    }
    snprintf(dir, sizeof dir, "%s/l", s->dir);
    if ((d = opendir(dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char target[128];
            ssize_t n;
            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            n = readlink(p, target, sizeof target - 1);
            if (n >= 0)
                target[n] = '\0';
            if (n < 10 || strncmp(target, "../layers/", 10) != 0 ||
                json_object_get(keep_l, target + 10) == NULL)
                unlink(p);
        }
        closedir(d);
    }
    lays = json_object_get(s->idx, "layers");
    json_object_foreach_safe(lays, tmp, k, l)
    {
        if (strlen(k) < 7 || json_object_get(keep_l, k + 7) == NULL)
            json_object_del(lays, k);
    }
out:
    json_decref(keep);
    json_decref(keep_l);
}

static bool image_has_refs(const json_t *idx, const char *digest)
{
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(idx, "refs"), k, v) {
        if (strcmp(json_string_value(v) ?: "", digest) == 0)
            return true;
    }
    return false;
}

int agent_image_remove(struct agent_image_store *s, const char *ref, struct err *e)
{
    char digest[AGENT_IMAGE_DIGEST_SIZE], canon[AGENT_IMAGE_REF_SIZE];
    json_t *idx = NULL;
    int rv;

    pthread_rwlock_wrlock(&s->gc);
    pthread_mutex_lock(&s->mu);
    rv = resolve_locked(s, ref, digest, canon, sizeof canon, e);
    if (rv != 0)
        goto out;
    idx = json_deep_copy(s->idx);
    if (idx == NULL) {
        rv = err_setf(e, ERR_NOMEM, "image remove: out of memory");
        goto out;
    }
    if (canon[0] != '\0') {
        json_object_del(json_object_get(idx, "refs"), canon);
        if (!image_has_refs(idx, digest))
            json_object_del(json_object_get(idx, "images"), digest);
    } else {
        drop_image(idx, digest);
    }
    rv = save_index(s, idx, e);
    if (rv != 0)
        goto out;
    json_decref(s->idx);
    s->idx = idx;
    idx = NULL;
    sweep(s);
    rv = save_index(s, s->idx, e); /* the layers map lost swept entries */
out:
    json_decref(idx);
    pthread_mutex_unlock(&s->mu);
    pthread_rwlock_unlock(&s->gc);
    return rv;
}

struct cand {
    const char *digest;
    int64_t last_used;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->last_used != y->last_used)
        return x->last_used < y->last_used ? -1 : 1;
    return strcmp(x->digest, y->digest);
}

int agent_image_gc(struct agent_image_store *s, uint64_t high_bytes, uint64_t low_bytes,
                   const char *const *in_use, size_t n_in_use, uint64_t *freed_out, struct err *e)
{
    json_t *idx = NULL, *busy = NULL, *img;
    struct cand *c = NULL;
    uint64_t before, usage;
    size_t n = 0, i;
    const char *k;
    int rv = 0;

    if (freed_out != NULL)
        *freed_out = 0;
    pthread_rwlock_wrlock(&s->gc);
    pthread_mutex_lock(&s->mu);
    before = usage = usage_of(s->idx);
    if (usage <= high_bytes)
        goto out;
    busy = json_object();
    idx = json_deep_copy(s->idx);
    c = calloc(json_object_size(json_object_get(idx, "images")) + 1, sizeof *c);
    if (busy == NULL || idx == NULL || c == NULL) {
        rv = err_setf(e, ERR_NOMEM, "image gc: out of memory");
        goto out;
    }
    for (i = 0; i < n_in_use; i++) {
        char d[AGENT_IMAGE_DIGEST_SIZE];
        if (resolve_locked(s, in_use[i], d, NULL, 0, NULL) == 0)
            json_object_set_new(busy, d, json_true());
    }
    json_object_foreach (json_object_get(idx, "images"), k, img) {
        if (json_object_get(busy, k) != NULL)
            continue;
        c[n].digest = k;
        c[n++].last_used = json_integer_value(json_object_get(img, "last_used"));
    }
    qsort(c, n, sizeof *c, cand_cmp);
    /* deleting an image frees only what no other image shares: recount
     * after each one (O(images^2), fine for a node's few hundred) */
    for (i = 0; i < n && usage > low_bytes; i++) {
        char d[AGENT_IMAGE_DIGEST_SIZE];
        snprintf(d, sizeof d, "%s", c[i].digest); /* the key dies with the entry */
        LOG_INFO("agent", "image_gc", "image=%s last_used=%lld", d, (long long)c[i].last_used);
        drop_image(idx, d);
        usage = usage_of(idx);
    }
    rv = save_index(s, idx, e);
    if (rv != 0)
        goto out;
    json_decref(s->idx);
    s->idx = idx;
    idx = NULL;
    sweep(s);
    rv = save_index(s, s->idx, e);
    if (freed_out != NULL)
        *freed_out = before - usage_of(s->idx);
out:
    free(c);
    json_decref(idx);
    json_decref(busy);
    pthread_mutex_unlock(&s->mu);
    pthread_rwlock_unlock(&s->gc);
    return rv;
}
