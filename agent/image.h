/* agent/image: the node's OCI image store. Owns content-addressed blobs
 * (DIR/blobs/sha256/<hex>, every blob's digest checked as it is written),
 * unpacked layers shared between images (DIR/layers/<diffid hex>/, with short
 * aliases DIR/l/<16 hex> for overlayfs' lowerdir), and the index of references
 * (DIR/refs.json). Images come from a registry (Distribution API v2 over
 * libcurl) or from an OCI / docker-save archive. The runtime asks for an
 * image's config and its layer dirs and mounts them as an overlayfs rootfs.
 * Knows nothing of pods: the caller says which images are in use at GC time.
 *
 * Threads: every call blocks (network, disk) and is meant for the libuv
 * thread pool. A store may be used from several threads at once: a mutex
 * guards the index, and a rwlock keeps remove/GC (writers) from deleting
 * blobs a pull or import (readers) is writing. No globals besides libcurl's
 * one-time global init (curl_global_init, done by the first store opened).
 *
 * Errors: ERR_INVALID names the reference and the problem (bad reference,
 * malformed manifest/config/tar, wrong media type, digest mismatch),
 * ERR_NOTFOUND (unknown image, tag or blob), ERR_IO names the path or URL,
 * ERR_DENIED (registry refused credentials), ERR_SHUTDOWN (cancelled),
 * ERR_TIMEOUT (a request's deadline passed), ERR_NOMEM. */
#ifndef SKIFF_AGENT_IMAGE_H
#define SKIFF_AGENT_IMAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

#define AGENT_IMAGE_DIGEST_SIZE 72  /* "sha256:" + 64 hex + NUL */
#define AGENT_IMAGE_REF_SIZE    512 /* a canonical reference + NUL */

struct agent_image_store;

/* ---- references ---- */

/* A parsed image reference. "busybox" is docker.io/library/busybox:latest,
 * "127.0.0.1:5000/a/b:1" has registry "127.0.0.1:5000" and repo "a/b",
 * "x/y@sha256:<hex>" has a digest and no tag. */
struct agent_image_ref {
    char registry[256];                   /* host[:port]; "docker.io" by default */
    char repo[256];                       /* path: "library/busybox" */
    char tag[129];                        /* "" when only a digest was given */
    char digest[AGENT_IMAGE_DIGEST_SIZE]; /* "sha256:<hex>" or "" */
};

/* Parses s (docker's grammar: lower-case path components, tag [\w][\w.-]{0,127},
 * digest sha256:<64 hex>), applying the docker.io / library / latest defaults.
 * Errors: ERR_INVALID naming s and the part at fault. */
int agent_image_ref_parse(const char *s, struct agent_image_ref *r, struct err *e);

/* Writes the canonical name "registry/repo:tag" (or "registry/repo@digest"
 * when r has a digest) into buf. Returns 0, or ERR_INVALID if cap is short. */
int agent_image_ref_format(const struct agent_image_ref *r, char *buf, size_t cap, struct err *e);

/* ---- the store ---- */

/* Opens (creating dirs as needed) the store rooted at dir, loads refs.json
 * and removes temp files an interrupted write left behind. *out is owned:
 * free with agent_image_store_free. Errors: ERR_IO, ERR_INVALID (refs.json
 * malformed: named, never repaired silently), ERR_NOMEM. */
int agent_image_store_open(const char *dir, struct agent_image_store **out, struct err *e);

/* Frees the store (NULL is fine). No call may be running on it. */
void agent_image_store_free(struct agent_image_store *s);

/* The store's root dir (borrowed, lives as long as s). */
const char *agent_image_store_dir(const struct agent_image_store *s);

/* ---- pull ---- */

/* Progress of one blob: bytes done out of total (total from the manifest).
 * Called on the pulling thread, at most about once per MiB and once at the
 * end of each blob. ref is the canonical reference, digest the blob's. */
typedef void (*agent_image_progress_cb)(void *data, const char *ref, const char *digest,
                                        uint64_t done, uint64_t total);

/* How to reach one registry. Loopback hosts (localhost, 127.*, [::1]) with no
 * entry use plain HTTP, as docker treats them as insecure; other hosts
 * without an entry use HTTPS verified against the system CAs. */
struct agent_image_registry {
    const char *host;     /* matched against the reference's registry part */
    const char *endpoint; /* host[:port] actually contacted (a mirror); NULL: host */
    bool plain_http;      /* http:// instead of https:// */
    bool insecure;        /* https without verifying the certificate */
    const char *ca_file;  /* PEM file to verify the registry (and its token realm) */
    const char *username; /* basic credentials, sent for Basic auth and to */
    const char *password; /*   a Bearer token realm; NULL: anonymous */
};

struct agent_image_pull_opts {
    const struct agent_image_registry *registries; /* borrowed; may be NULL */
    size_t n_registries;
    const char *os, *arch; /* platform picked from an index; NULL: linux/amd64 */
    long timeout_ms;       /* per manifest/token request; 0: 30 s */
    long blob_timeout_ms;  /* per blob request; 0: 10 min */
    int retries;           /* extra attempts on transport errors, 5xx, 429; <0: 0; 0: 3 */
    agent_image_progress_cb progress; /* may be NULL */
    void *progress_data;
    const atomic_bool *cancel; /* checked between chunks; true: ERR_SHUTDOWN */
};

/* Pulls ref (any form agent_image_ref_parse takes) into the store: manifest
 * (an index resolves to the opts' platform), config and layer blobs (those
 * present are skipped), unpacks the layers and points the reference at the
 * manifest. opts may be NULL. digest_out (may be NULL) gets the manifest
 * digest. Bare docker.io names are refused (ERR_INVALID) unless a registry
 * entry for "docker.io" gives an endpoint: nodes have no internet. */
int agent_image_pull(struct agent_image_store *s, const char *ref,
                     const struct agent_image_pull_opts *opts,
                     char digest_out[AGENT_IMAGE_DIGEST_SIZE], struct err *e);

/* ---- import ---- */

/* Imports an archive file: an OCI layout in a tar ("skopeo copy ...
 * oci-archive:FILE") or a "docker save" tar (manifest.json + layer tars).
 * The first image of the archive is imported, tagged with ref when ref is
 * not NULL, else with the names the archive carries (RepoTags, or an OCI
 * ref.name annotation that is a full reference). cancel may be NULL.
 * digest_out (may be NULL) gets the manifest digest. */
int agent_image_import(struct agent_image_store *s, const char *path, const char *ref,
                       const atomic_bool *cancel, char digest_out[AGENT_IMAGE_DIGEST_SIZE],
                       struct err *e);

/* ---- lookups for the runtime ---- */

/* The manifest digest ref points at: ref may be a reference (normalized as
 * by agent_image_ref_parse), "sha256:<hex>" or a unique hex prefix of >= 12
 * characters. Errors: ERR_NOTFOUND, ERR_INVALID. */
int agent_image_resolve(struct agent_image_store *s, const char *ref,
                        char digest_out[AGENT_IMAGE_DIGEST_SIZE], struct err *e);

/* The runtime part of ref's image config: a new object with the keys the
 * image sets among Entrypoint, Cmd, Env (arrays of strings), WorkingDir,
 * User (strings) and ExposedPorts (object). *out is owned: json_decref. */
int agent_image_config(struct agent_image_store *s, const char *ref, json_t **out, struct err *e);

/* The unpacked layer dirs of ref's image, lowest first (short aliases under
 * DIR/l/), unpacking any that are missing; marks the image used now (LRU).
 * *dirs_out is owned: free with agent_image_layers_free. */
int agent_image_layers(struct agent_image_store *s, const char *ref, char ***dirs_out,
                       size_t *n_out, struct err *e);
void agent_image_layers_free(char **dirs, size_t n);

/* Mounts overlayfs at target: lowerdir = lowers[n-1]:...:lowers[0] (lowers
 * given lowest first, as agent_image_layers returns them), upperdir, workdir
 * (same file system as upper; both created if missing). Needs root. Errors:
 * ERR_INVALID (no layers, a path with ':' or ',', options longer than a
 * page), ERR_IO (mount failed; message has the errno and options length). */
int agent_image_mount(const char *const *lowers, size_t n, const char *upper, const char *work,
                      const char *target, struct err *e);
/* Unmounts target (lazily if busy). Errors: ERR_INVALID (not mounted), ERR_IO. */
int agent_image_umount(const char *target, struct err *e);

/* ---- list, remove, GC ---- */

struct agent_image_info {
    char ref[AGENT_IMAGE_REF_SIZE];       /* canonical reference; "" for an untagged image */
    char digest[AGENT_IMAGE_DIGEST_SIZE]; /* manifest digest */
    uint64_t size;                        /* bytes of its blobs (compressed layers) */
    char created[64];                     /* the config's "created", or "" */
    int64_t last_used;                    /* unix seconds of last pull/import/use */
};

/* One row per reference (and one with ref "" per image without any), sorted
 * by ref. *out is owned: free(). */
int agent_image_list(struct agent_image_store *s, struct agent_image_info **out, size_t *n_out,
                     struct err *e);

/* Removes ref: a tag or name@digest drops that reference; "sha256:<hex>" (or
 * a unique hex prefix) drops the image with all its references. An image
 * left without references is deleted, then every blob and layer no image
 * references any more. Errors: ERR_NOTFOUND. */
int agent_image_remove(struct agent_image_store *s, const char *ref, struct err *e);

/* When the store's usage (unique blobs + unpacked layers) exceeds
 * high_bytes, deletes least-recently-used images not in in_use (references
 * or digests, as agent_image_resolve takes; unknown ones are ignored) until
 * usage <= low_bytes or nothing more may go, then sweeps unreferenced blobs
 * and layers. freed_out (may be NULL) gets the bytes the index accounted for. */
int agent_image_gc(struct agent_image_store *s, uint64_t high_bytes, uint64_t low_bytes,
                   const char *const *in_use, size_t n_in_use, uint64_t *freed_out, struct err *e);

/* Bytes the index accounts for: unique blobs plus unpacked layers. */
uint64_t agent_image_usage(struct agent_image_store *s);

/* ---- disk-pressure GC (agent/image_gc.c) ---- */

#define AGENT_IMAGE_GC_HIGH_PCT 85 /* kubelet's imageGCHighThresholdPercent */
#define AGENT_IMAGE_GC_LOW_PCT  80 /* kubelet's imageGCLowThresholdPercent */

/* The file system holding path: total and available (to unprivileged
 * users, as df shows) bytes. */
struct agent_fs_usage {
    uint64_t total_bytes;
    uint64_t avail_bytes;
};
typedef int (*agent_fs_usage_fn)(void *data, const char *path, struct agent_fs_usage *out,
                                 struct err *e);
/* statvfs(path): f_blocks and f_bavail times f_frsize. ERR_IO naming path. */
int agent_fs_usage_statvfs(void *data, const char *path, struct agent_fs_usage *out, struct err *e);

struct agent_image_gc_opts {
    int high_pct;            /* GC starts above this much of the disk used; 0: 85 */
    int low_pct;             /* and frees down to this; 0: 80 (must be < high) */
    agent_fs_usage_fn usage; /* NULL: agent_fs_usage_statvfs (tests inject one) */
    void *usage_data;
};

struct agent_image_gc_result {
    bool ran;             /* usage was above high_pct */
    int used_pct_before;  /* of the file system holding the store */
    int used_pct_after;   /* measured again after the GC (== before when !ran) */
    uint64_t freed_bytes; /* what the store's index accounted for */
};

/* Disk-pressure image GC, as the kubelet's: when the file system holding
 * the store is more than high_pct used, removes images no container uses
 * (in_use: references or digests, as agent_image_gc takes), least recently
 * used first (agent_image_layers marks an image used when a container's
 * rootfs is built from it), until the file system is at most low_pct used
 * or nothing more may go; then blobs and unpacked layers no image
 * references. Blocking (thread pool). res may be NULL. Returns 0,
 * ERR_INVALID (thresholds not 0 < low < high <= 100), ERR_IO (usage). A
 * disk still above low_pct after removing everything allowed is not an
 * error: res says so. */
int agent_image_gc_disk(struct agent_image_store *s, const char *const *in_use, size_t n_in_use,
                        const struct agent_image_gc_opts *opts, struct agent_image_gc_result *res,
                        struct err *e);

/* The images a node's pods use: spec.containers[].image and
 * initContainers[].image, and status.(init)containerStatuses[].imageID
 * (the digest actually run) of every pod in pods (a JSON array or an
 * object of pods, borrowed). *out is an array of strings borrowed from
 * pods (free() the array only), NULL when empty. ERR_NOMEM. */
int agent_image_gc_in_use(const json_t *pods, const char ***out, size_t *n_out, struct err *e);

/* ======================================================================
 * Internal to agent/image*.c, registry*.c, layer*.c (and their tests).
 * ====================================================================== */

#ifdef SKIFF_AGENT_IMAGE_INTERNAL

#include <limits.h>
#include <pthread.h>

#include <openssl/evp.h>

struct agent_image_store {
    char dir[PATH_MAX - 64]; /* room for "/blobs/sha256/<hex>" under PATH_MAX */
    pthread_mutex_t mu;      /* guards idx and refs.json */
    pthread_rwlock_t gc;     /* readers: pull/import/layers; writers: remove/gc */
    json_t *idx;             /* refs.json: {version, refs, images, layers} */
};

#define AGENT__MT_OCI_INDEX     "application/vnd.oci.image.index.v1+json"
#define AGENT__MT_OCI_MANIFEST  "application/vnd.oci.image.manifest.v1+json"
#define AGENT__MT_OCI_CONFIG    "application/vnd.oci.image.config.v1+json"
#define AGENT__MT_OCI_LAYER     "application/vnd.oci.image.layer.v1.tar"
#define AGENT__MT_OCI_LAYER_GZ  "application/vnd.oci.image.layer.v1.tar+gzip"
#define AGENT__MT_DOCKER_LIST   "application/vnd.docker.distribution.manifest.list.v2+json"
#define AGENT__MT_DOCKER_MANIF  "application/vnd.docker.distribution.manifest.v2+json"
#define AGENT__MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define AGENT__MT_DOCKER_LAYER  "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define AGENT__MANIFEST_MAX (4u << 20) /* bytes of a manifest or index we accept */
#define AGENT__CONFIG_MAX   (8u << 20) /* bytes of an image config */

/* true when d is "sha256:" followed by exactly 64 lower-case hex digits */
bool agent__digest_valid(const char *d);
/* sha256 of data as "sha256:<hex>" */
void agent__digest_of(const void *data, size_t n, char out[AGENT_IMAGE_DIGEST_SIZE]);

/* A blob being written: a temp file in blobs/sha256 hashed as it grows. */
struct agent__blob_writer {
    char tmp[PATH_MAX];
    int fd;
    EVP_MD_CTX *md;
    uint64_t size;
};
/* Creates the temp file. On error nothing is left behind. */
int agent__blob_begin(struct agent_image_store *s, struct agent__blob_writer *w, struct err *e);
int agent__blob_write(struct agent__blob_writer *w, const void *p, size_t n, struct err *e);
/* Truncates to empty and restarts the hash (a retried download). */
int agent__blob_reset(struct agent__blob_writer *w, struct err *e);
/* fsyncs and renames the temp file to blobs/sha256/<hex> if its digest is
 * want (want NULL: any; got gets the digest, may be NULL). On mismatch:
 * ERR_INVALID "digest mismatch: want .. got ..", temp removed. The writer is
 * finished either way. */
int agent__blob_commit(struct agent_image_store *s, struct agent__blob_writer *w, const char *want,
                       char got[AGENT_IMAGE_DIGEST_SIZE], struct err *e);
/* Removes the temp file; safe after commit and on a zeroed writer. */
void agent__blob_abort(struct agent__blob_writer *w);
/* begin + write + commit of bytes in memory */
int agent__blob_put(struct agent_image_store *s, const void *data, size_t n, const char *want,
                    char got[AGENT_IMAGE_DIGEST_SIZE], struct err *e);
bool agent__blob_exists(struct agent_image_store *s, const char *digest);
/* Reads a whole blob of at most max bytes (re-verifying its digest);
 * *data is owned (free), NUL-terminated. */
int agent__blob_read(struct agent_image_store *s, const char *digest, size_t max, char **data,
                     size_t *n, struct err *e);
/* DIR/blobs/sha256/<hex>; ERR_INVALID for a malformed digest or short buf */
int agent__blob_path(struct agent_image_store *s, const char *digest, char *buf, size_t cap,
                     struct err *e);

/* A layer of a manifest. */
struct agent__layer_desc {
    char digest[AGENT_IMAGE_DIGEST_SIZE];  /* the blob's */
    char diff_id[AGENT_IMAGE_DIGEST_SIZE]; /* the uncompressed tar's, from the config */
    char media_type[128];
    int64_t size;
};

/* An image manifest, reduced to what the store needs. */
struct agent__manifest {
    char media_type[128];
    char config[AGENT_IMAGE_DIGEST_SIZE];
    char config_media_type[128];
    int64_t config_size;
    struct agent__layer_desc *layers; /* owned */
    size_t n_layers;
};

enum { AGENT__DOC_INDEX = 1, AGENT__DOC_MANIFEST = 2 };

/* Parses a manifest or index document (bytes) as the registry or archive
 * gave it. content_type (may be NULL or "") is the HTTP Content-Type; the
 * document's own mediaType wins when present and both must agree on kind.
 * *doc is owned (json_decref). *kind is AGENT__DOC_INDEX or _MANIFEST.
 * ERR_INVALID with what is wrong ("not JSON at ..", "unsupported media type ..").*/
int agent__doc_parse(const char *data, size_t n, const char *content_type, json_t **doc, int *kind,
                     struct err *e);
/* The manifest for os/arch in an index (OCI or docker list). Errors:
 * ERR_NOTFOUND "no manifest for linux/amd64 (has: ...)", ERR_INVALID. */
int agent__index_select(const json_t *index, const char *os, const char *arch,
                        char digest[AGENT_IMAGE_DIGEST_SIZE], struct err *e);
/* Fills m from a manifest document: schemaVersion 2, config and layer
 * descriptors with known media types (gzip or plain tar layers), digests
 * valid. Close with agent__manifest_close. */
int agent__manifest_parse(const json_t *doc, struct agent__manifest *m, struct err *e);
void agent__manifest_close(struct agent__manifest *m);
/* Checks the config (object, rootfs.type "layers", one diff_id per layer)
 * and copies the diff_ids into m's layers. */
int agent__config_apply(const json_t *config, struct agent__manifest *m, struct err *e);

/* Records an image whose manifest, config and layer blobs are in the store:
 * unpacks missing layers, then points refs (canonical strings) at it and
 * saves the index. Caller holds the rwlock for reading. */
int agent__image_commit(struct agent_image_store *s, const char *manifest_digest,
                        const char *const *refs, size_t n_refs, const atomic_bool *cancel,
                        struct err *e);

/* Reader side of the remove/GC lock (pulls and imports hold it throughout). */
void agent__store_rdlock(struct agent_image_store *s);
void agent__store_unlock(struct agent_image_store *s);

/* Extracts the layer tar (gzip or plain) at blob_path into the existing dir
 * root (absolute, no symlinks in it), converting AUFS whiteouts to overlayfs
 * ones, refusing entries that escape root, and hashes the uncompressed
 * stream: diff_id_out gets its digest. ERR_INVALID names the entry at fault;
 * the caller removes root on error. */
int agent__layer_extract(const char *blob_path, const char *root, const atomic_bool *cancel,
                         char diff_id_out[AGENT_IMAGE_DIGEST_SIZE], struct err *e);

/* Makes sure the layer is unpacked at DIR/layers/<diff hex> (with alias
 * DIR/l/<16 hex>), checking the diff_id; *bytes_out gets its disk usage. */
int agent__layer_ensure(struct agent_image_store *s, const struct agent__layer_desc *l,
                        const atomic_bool *cancel, uint64_t *bytes_out, struct err *e);
/* DIR/l/<16 hex of diff_id> */
int agent__layer_alias(struct agent_image_store *s, const char *diff_id, char *buf, size_t cap,
                       struct err *e);
/* Disk usage of a tree in bytes (st_blocks), not following symlinks. */
uint64_t agent__tree_bytes(const char *path);

/* A WWW-Authenticate challenge. */
struct agent__challenge {
    char scheme[16]; /* "Bearer" or "Basic" */
    char realm[512];
    char service[256];
    char scope[512];
};
/* Parses a WWW-Authenticate header value. ERR_INVALID when malformed. */
int agent__challenge_parse(const char *hdr, struct agent__challenge *c, struct err *e);

#endif /* SKIFF_AGENT_IMAGE_INTERNAL */

#endif
