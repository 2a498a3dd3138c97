/* The image store: references, manifest and index selection, verified
 * blobs, the atomic index, config for the runtime, remove and GC, and (as
 * root) an overlay rootfs honouring whiteouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/xattr.h>

#include "tests/unit/agent/test_image_fixture.h"
#include "tests/unit/helpers/helpers.h"

#define HEX64A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX64B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fx {
    char dir[64];
    char store_dir[128];
    struct agent_image_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err e = {0};
    assert_int_equal(helpers_mkdtemp(f->dir, sizeof f->dir, "skiff-img"), 0);
    snprintf(f->store_dir, sizeof f->store_dir, "%s/images", f->dir);
    if (agent_image_store_open(f->store_dir, &f->s, &e) != 0)
        fail_msg("open: %s", e.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    agent_image_store_free(f->s);
    helpers_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- references ---- */

static void expect_ref(const char *in, const char *registry, const char *repo, const char *tag,
                       const char *digest, const char *canon)
{
    struct agent_image_ref r;
    struct err e = {0};
    char c[AGENT_IMAGE_REF_SIZE];
    if (agent_image_ref_parse(in, &r, &e) != 0)
        fail_msg("%s: %s", in, e.msg);
    assert_string_equal(r.registry, registry);
    assert_string_equal(r.repo, repo);
    assert_string_equal(r.tag, tag);
    assert_string_equal(r.digest, digest);
    assert_int_equal(agent_image_ref_format(&r, c, sizeof c, &e), 0);
    assert_string_equal(c, canon);
}

static void test_ref_parse_applies_docker_defaults(void **state)
{
    (void)state;
    expect_ref("busybox", "docker.io", "library/busybox", "latest", "",
               "docker.io/library/busybox:latest");
    expect_ref("user/app:v1", "docker.io", "user/app", "v1", "", "docker.io/user/app:v1");
    expect_ref("index.docker.io/library/x", "docker.io", "library/x", "latest", "",
               "docker.io/library/x:latest");
}

static void test_ref_parse_host_port_tag_and_digest(void **state)
{
    (void)state;
    expect_ref("127.0.0.1:5000/busybox:1.36", "127.0.0.1:5000", "busybox", "1.36", "",
               "127.0.0.1:5000/busybox:1.36");
    expect_ref("localhost/a/b-c_d.e", "localhost", "a/b-c_d.e", "latest", "",
               "localhost/a/b-c_d.e:latest");
    expect_ref("reg.example.com/x/y@sha256:" HEX64A, "reg.example.com", "x/y", "", "sha256:" HEX64A,
               "reg.example.com/x/y@sha256:" HEX64A);
    /* tag and digest: the digest decides what is pulled */
    expect_ref("h:1/x:t@sha256:" HEX64A, "h:1", "x", "t", "sha256:" HEX64A, "h:1/x@sha256:" HEX64A);
    expect_ref("[::1]:5000/x", "[::1]:5000", "x", "latest", "", "[::1]:5000/x:latest");
}

static void expect_bad_ref(const char *in, const char *needle)
{
    struct agent_image_ref r;
    struct err e = {0};
    assert_int_equal(agent_image_ref_parse(in, &r, &e), ERR_INVALID);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", in, e.msg, needle);
}

static void test_ref_parse_names_the_bad_part(void **state)
{
    (void)state;
    expect_bad_ref("", "empty");
    expect_bad_ref("Busybox", "bad name component \"Busybox\"");
    expect_bad_ref("a//b", "bad name component");
    expect_bad_ref("a:", "bad tag");
    expect_bad_ref("a:-x", "bad tag");
    expect_bad_ref("a@sha256:1234", "digest must be sha256");
    expect_bad_ref("a@md5:" HEX64A, "digest must be sha256");
    expect_bad_ref("h:port/x", "bad registry");
    expect_bad_ref("-a", "bad name component");
    expect_bad_ref("a/b_", "bad name component");
}

/* ---- documents ---- */

static const char *INDEX_DOC =
    "{\"schemaVersion\":2,\"mediaType\":\"" AGENT__MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" AGENT__MT_OCI_MANIFEST "\",\"digest\":\"sha256:" HEX64A "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
    "{\"mediaType\":\"" AGENT__MT_OCI_MANIFEST "\",\"digest\":\"sha256:" HEX64B "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

static void test_index_select_picks_linux_amd64(void **state)
{
    json_t *doc;
    int kind;
    char d[AGENT_IMAGE_DIGEST_SIZE];
    struct err e = {0};
    (void)state;
    assert_int_equal(agent__doc_parse(INDEX_DOC, strlen(INDEX_DOC), NULL, &doc, &kind, &e), 0);
    assert_int_equal(kind, AGENT__DOC_INDEX);
    assert_int_equal(agent__index_select(doc, "linux", "amd64", d, &e), 0);
    assert_string_equal(d, "sha256:" HEX64B);
    assert_int_equal(agent__index_select(doc, "linux", "s390x", d, &e), ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "no manifest for linux/s390x (has: linux/arm64, linux/amd64)"));
    json_decref(doc);
}

static void test_doc_parse_refuses_bad_documents(void **state)
{
    json_t *doc = NULL;
    int kind;
    struct err e = {0};
    const char *schema1 = "{\"schemaVersion\":1,\"mediaType\":"
                          "\"application/vnd.docker.distribution.manifest.v1+prettyjws\"}";
    const char *plain = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
    (void)state;
    assert_int_equal(agent__doc_parse("{\"a\":", 5, NULL, &doc, &kind, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "not JSON"));
    assert_int_equal(agent__doc_parse("[1]", 3, NULL, &doc, &kind, &e), ERR_INVALID);
    assert_int_equal(agent__doc_parse(schema1, strlen(schema1), NULL, &doc, &kind, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "unsupported media type"));
    /* an index served as a manifest */
    assert_int_equal(
        agent__doc_parse(INDEX_DOC, strlen(INDEX_DOC), AGENT__MT_DOCKER_MANIF, &doc, &kind, &e),
        ERR_INVALID);
    assert_non_null(strstr(e.msg, "disagrees"));
    assert_int_equal(agent__doc_parse(plain, strlen(plain), "text/html", &doc, &kind, &e),
                     ERR_INVALID);
    /* no mediaType at all: the shape decides; the header's parameters are ignored */
    assert_int_equal(
        agent__doc_parse(plain, strlen(plain), "application/json; charset=utf-8", &doc, &kind, &e),
        0);
    assert_int_equal(kind, AGENT__DOC_MANIFEST);
    json_decref(doc);
    assert_null(NULL);
}

static void expect_bad_manifest(const char *text, const char *needle)
{
    json_t *doc;
    struct agent__manifest m;
    struct err e = {0};
    json_error_t jerr;
    doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(agent__manifest_parse(doc, &m, &e), ERR_INVALID);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
    json_decref(doc);
}

#define CFG_OK                                                                                     \
    "{\"mediaType\":\"" AGENT__MT_OCI_CONFIG "\",\"digest\":\"sha256:" HEX64A "\",\"size\":2}"

static void test_manifest_parse_checks_media_types_and_digests(void **state)
{
    (void)state;
    expect_bad_manifest("{\"schemaVersion\":1}", "schemaVersion");
    expect_bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
                        "vnd.cncf.helm.config.v1+json\",\"digest\":\"sha256:" HEX64A
                        "\",\"size\":2},\"layers\":[]}",
                        "is not a container image");
    expect_bad_manifest(
        "{\"schemaVersion\":2,\"config\":" CFG_OK ",\"layers\":[{\"mediaType\":"
        "\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:" HEX64B
        "\",\"size\":3}]}",
        "layers[0].mediaType: unsupported");
    expect_bad_manifest("{\"schemaVersion\":2,\"config\":" CFG_OK
                        ",\"layers\":[{\"mediaType\":\"" AGENT__MT_OCI_LAYER
                        "\",\"digest\":\"sha256:xyz\",\"size\":3}]}",
                        "layers[0].digest");
    expect_bad_manifest("{\"schemaVersion\":2,\"config\":" CFG_OK
                        ",\"layers\":[{\"mediaType\":\"" AGENT__MT_OCI_LAYER
                        "\",\"digest\":\"sha256:" HEX64B "\",\"size\":-3}]}",
                        "layers[0].size");
    expect_bad_manifest("{\"schemaVersion\":2,\"config\":" CFG_OK ",\"layers\":{}}", "layers");
}

/* ---- WWW-Authenticate ---- */

static void test_challenge_parse_reads_bearer_parameters(void **state)
{
    struct agent__challenge c;
    struct err e = {0};
    (void)state;
    assert_int_equal(agent__challenge_parse("Bearer realm=\"https://auth.example/token\","
                                            "service=\"registry.example\",scope=\"repository:"
                                            "a/b:pull,push\"",
                                            &c, &e),
                     0);
    assert_string_equal(c.scheme, "Bearer");
    assert_string_equal(c.realm, "https://auth.example/token");
    assert_string_equal(c.service, "registry.example");
    assert_string_equal(c.scope, "repository:a/b:pull,push");
    assert_int_equal(agent__challenge_parse("Basic realm=Registry", &c, &e), 0);
    assert_string_equal(c.scheme, "Basic");
    assert_string_equal(c.realm, "Registry");
    assert_int_equal(agent__challenge_parse("Bearer service=\"x\"", &c, &e), ERR_INVALID);
    assert_int_equal(agent__challenge_parse("Bearer realm=\"unterminated", &c, &e), ERR_INVALID);
    assert_int_equal(agent__challenge_parse("Bearer garbage", &c, &e), ERR_INVALID);
    assert_int_equal(agent__challenge_parse("", &c, &e), ERR_INVALID);
}

/* ---- blobs ---- */

static void test_blob_digest_mismatch_leaves_nothing(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    char got[AGENT_IMAGE_DIGEST_SIZE], want[AGENT_IMAGE_DIGEST_SIZE], dir[256];
    char *data = NULL;
    size_t n;

    agent__digest_of("hello", 5, want);
    assert_string_equal(want,
                        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_int_equal(agent__blob_put(f->s, "hellO", 5, want, got, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "digest mismatch: want sha256:2cf24dba"));
    assert_non_null(strstr(e.msg, " got sha256:"));
    snprintf(dir, sizeof dir, "%s/blobs/sha256", f->store_dir);
    assert_int_equal(count_entries(dir), 0);
    assert_false(agent__blob_exists(f->s, want));

    assert_int_equal(agent__blob_put(f->s, "hello", 5, want, got, &e), 0);
    assert_string_equal(got, want);
    assert_true(agent__blob_exists(f->s, want));
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(agent__blob_read(f->s, want, 100, &data, &n, &e), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(data, "hello", 5);
    free(data);
    assert_int_equal(agent__blob_read(f->s, want, 4, &data, &n, &e), ERR_INVALID);
    assert_int_equal(agent__blob_read(f->s, "sha256:" HEX64A, 4, &data, &n, &e), ERR_NOTFOUND);
    assert_int_equal(agent__blob_read(f->s, "../etc/passwd", 4, &data, &n, &e), ERR_INVALID);
}

static void test_blob_read_detects_damage_on_disk(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    char d[AGENT_IMAGE_DIGEST_SIZE], path[PATH_MAX];
    char *data = NULL;
    size_t n;
    assert_int_equal(agent__blob_put(f->s, "content", 7, NULL, d, &e), 0);
    assert_int_equal(agent__blob_path(f->s, d, path, sizeof path, &e), 0);
    write_file(path, "CONTENT", 7);
    assert_int_equal(agent__blob_read(f->s, d, 100, &data, &n, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "digest mismatch"));
}

/* ---- images in the store ---- */

static const struct tent L1[] = {
    {"bin/", 'd', NULL, 0, 0},      {"bin/sh", 'f', "#!shell", 0755, 0},
    {"a/", 'd', NULL, 0, 0},        {"a/f1", 'f', "one", 0, 0},
    {"a/f2", 'f', "two", 0, 0},     {"b/", 'd', NULL, 0, 0},
    {"b/x", 'f', "x", 0, 0},        {"etc/", 'd', NULL, 0, 0},
    {"etc/os", 'f', "skiff", 0, 0}, {"lnk", 's', "/etc/os", 0, 0},
};
static const struct tent L2[] = {
    {"a/", 'd', NULL, 0, 0},           {"a/.wh.f1", 'f', "", 0, 0}, {"b/", 'd', NULL, 0, 0},
    {"b/.wh..wh..opq", 'f', "", 0, 0}, {"b/y", 'f', "y", 0, 0},
};
static const struct tent L3[] = {{"other", 'f', "3", 0, 0}};

#define REF1 "127.0.0.1:5000/one:1"
#define REF2 "127.0.0.1:5000/two:1"

static void test_index_survives_reopen_and_refuses_garbage(void **state)
{
    struct fx *f = *state;
    struct fx_layer l;
    struct err e = {0};
    char d[AGENT_IMAGE_DIGEST_SIZE], d2[AGENT_IMAGE_DIGEST_SIZE], path[PATH_MAX];
    struct agent_image_store *s2 = NULL;

    fx_layer_make(&l, L1, sizeof L1 / sizeof L1[0], true);
    fx_image_put(f->s, &l, 1, NULL, REF1, d);
    /* leftovers of interrupted writes go at the next open */
    snprintf(path, sizeof path, "%s/.refs.json.tmp-abcdef", f->store_dir);
    write_file(path, "{", 1);
    snprintf(path, sizeof path, "%s/blobs/sha256/.tmp-abcdef", f->store_dir);
    write_file(path, "x", 1);
    assert_int_equal(agent_image_store_open(f->store_dir, &s2, &e), 0);
    assert_int_equal(agent_image_resolve(s2, REF1, d2, &e), 0);
    assert_string_equal(d, d2);
    assert_int_equal(agent_image_resolve(s2, d + 7, d2, &e), 0); /* full id */
    assert_int_equal(agent_image_resolve(s2, "127.0.0.1:5000/one:2", d2, &e), ERR_NOTFOUND);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/.refs.json.tmp-abcdef", f->store_dir);
    assert_int_equal(access(path, F_OK), -1);
    agent_image_store_free(s2);

    /* a damaged index is named, not silently replaced */
    snprintf(path, sizeof path, "%s/refs.json", f->store_dir);
    write_file(path,
               "{\"version\":1,\"refs\":{\"x\":\"sha256:" HEX64A "\"},\"images\":{},\"layers\":{}}",
               strlen("{\"version\":1,\"refs\":{\"x\":\"sha256:" HEX64A
                      "\"},\"images\":{},\"layers\":{}}"));
    assert_int_equal(agent_image_store_open(f->store_dir, &s2, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "refs[x]: unknown image"));
    write_file(path, "{\"vers", 6);
    assert_int_equal(agent_image_store_open(f->store_dir, &s2, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "refs.json"));
    assert_null(s2);
    fx_layer_free(&l);
}

static void test_config_gives_runtime_fields(void **state)
{
    struct fx *f = *state;
    struct fx_layer l;
    struct err e = {0};
    char d[AGENT_IMAGE_DIGEST_SIZE];
    json_t *c = NULL;
    char *text;

    fx_layer_make(&l, L3, 1, false);
    fx_image_put(f->s, &l, 1,
                 "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],\"Env\":[\"A=1\"],"
                 "\"WorkingDir\":\"/w\",\"User\":\"1000:1000\",\"ExposedPorts\":{\"80/tcp\":{}},"
                 "\"Labels\":{\"x\":\"y\"}",
                 REF1, d);
    assert_int_equal(agent_image_config(f->s, REF1, &c, &e), 0);
    text = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"Cmd\":[\"echo hi\"],\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
                              "\"Env\":[\"A=1\"],\"ExposedPorts\":{\"80/tcp\":{}},"
                              "\"User\":\"1000:1000\",\"WorkingDir\":\"/w\"}");
    free(text);
    json_decref(c);

    fx_image_put(f->s, &l, 1, "\"Cmd\":\"not an array\"", REF2, d);
    assert_int_equal(agent_image_config(f->s, REF2, &c, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "config.Cmd: want array of strings"));
    assert_int_equal(agent_image_config(f->s, "127.0.0.1:5000/nope:1", &c, &e), ERR_NOTFOUND);
    fx_layer_free(&l);
}

static void test_remove_keeps_shared_layers(void **state)
{
    struct fx *f = *state;
    struct fx_layer l1, l3;
    struct fx_layer both[2];
    struct err e = {0};
    char d1[AGENT_IMAGE_DIGEST_SIZE], d2[AGENT_IMAGE_DIGEST_SIZE], p[PATH_MAX];
    struct agent_image_info *rows;
    size_t n;

    fx_layer_make(&l1, L1, sizeof L1 / sizeof L1[0], true);
    fx_layer_make(&l3, L3, 1, false);
    fx_image_put(f->s, &l1, 1, NULL, REF1, d1);
    both[0] = l1;
    both[1] = l3;
    fx_image_put(f->s, both, 2, NULL, REF2, d2);
    /* a second tag for image 2 */
    {
        const char *refs[1] = {"127.0.0.1:5000/two:latest"};
        assert_int_equal(agent__image_commit(f->s, d2, refs, 1, NULL, &e), 0);
    }
    assert_int_equal(agent_image_list(f->s, &rows, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].ref, REF1);
    assert_string_equal(rows[1].ref, REF2);
    assert_string_equal(rows[2].digest, d2);
    assert_true(rows[1].size > l1.blob_len + l3.blob_len);
    assert_string_equal(rows[0].created, "2024-01-01T00:00:00Z");
    free(rows);

    /* dropping one of two tags keeps the image */
    assert_int_equal(agent_image_remove(f->s, "127.0.0.1:5000/two:latest", &e), 0);
    assert_int_equal(agent_image_resolve(f->s, REF2, d2, &e), 0);
    /* dropping the last tag deletes what only it used */
    assert_int_equal(agent_image_remove(f->s, REF2, &e), 0);
    assert_int_equal(agent_image_resolve(f->s, REF2, d2, &e), ERR_NOTFOUND);
    assert_false(agent__blob_exists(f->s, l3.digest));
    assert_false(agent__blob_exists(f->s, d2));
    assert_true(agent__blob_exists(f->s, l1.digest));
    snprintf(p, sizeof p, "%s/layers/%s", f->store_dir, l3.diff_id + 7);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/layers/%s", f->store_dir, l1.diff_id + 7);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/l", f->store_dir);
    assert_int_equal(count_entries(p), 1);
    /* by id: the image and its tags */
    assert_int_equal(agent_image_remove(f->s, "nonexistent:tag", &e), ERR_NOTFOUND);
    assert_int_equal(agent_image_remove(f->s, d1, &e), 0);
    assert_int_equal(agent_image_list(f->s, &rows, &n, &e), 0);
    assert_int_equal(n, 0);
    free(rows);
    snprintf(p, sizeof p, "%s/blobs/sha256", f->store_dir);
    assert_int_equal(count_entries(p), 0);
    snprintf(p, sizeof p, "%s/layers", f->store_dir);
    assert_int_equal(count_entries(p), 0);
    assert_int_equal(agent_image_usage(f->s), 0);
    fx_layer_free(&l1);
    fx_layer_free(&l3);
}

static void test_gc_removes_lru_images_not_in_use(void **state)
{
    struct fx *f = *state;
    struct fx_layer l[3];
    static const struct tent a[] = {{"a", 'f', "aaaa", 0, 0}}, b[] = {{"b", 'f', "bbbb", 0, 0}},
                             c[] = {{"c", 'f', "cccc", 0, 0}};
    const char *refs[3] = {"h:1/a:1", "h:1/b:1", "h:1/c:1"};
    char d[3][AGENT_IMAGE_DIGEST_SIZE], out[AGENT_IMAGE_DIGEST_SIZE];
    struct err e = {0};
    uint64_t freed, before;
    char **dirs;
    size_t n, i;
    json_t *img;

    fx_layer_make(&l[0], a, 1, false);
    fx_layer_make(&l[1], b, 1, false);
    fx_layer_make(&l[2], c, 1, false);
    for (i = 0; i < 3; i++)
        fx_image_put(f->s, &l[i], 1, NULL, refs[i], d[i]);
    /* make a the least recently used, then b, then c */
    for (i = 0; i < 3; i++) {
        img = json_object_get(json_object_get(f->s->idx, "images"), d[i]);
        json_object_set_new(img, "last_used", json_integer(100 + (json_int_t)i));
    }
    before = agent_image_usage(f->s);
    assert_true(before > 0);
    /* below the threshold: nothing happens */
    assert_int_equal(agent_image_gc(f->s, before, 0, NULL, 0, &freed, &e), 0);
    assert_int_equal(freed, 0);
    /* a is in use: b goes first; one image is enough to reach the low mark */
    {
        const char *in_use[2] = {"h:1/a:1", "h:1/unknown:1"};
        assert_int_equal(agent_image_gc(f->s, 0, before - 1, in_use, 2, &freed, &e), 0);
    }
    assert_true(freed > 0);
    assert_int_equal(agent_image_resolve(f->s, "h:1/a:1", out, &e), 0);
    assert_int_equal(agent_image_resolve(f->s, "h:1/b:1", out, &e), ERR_NOTFOUND);
    assert_int_equal(agent_image_resolve(f->s, "h:1/c:1", out, &e), 0);
    assert_false(agent__blob_exists(f->s, l[1].digest));
    /* using c makes it recent; gc to zero with nothing in use removes all */
    assert_int_equal(agent_image_layers(f->s, "h:1/c:1", &dirs, &n, &e), 0);
    assert_int_equal(n, 1);
    agent_image_layers_free(dirs, n);
    assert_int_equal(agent_image_gc(f->s, 0, 0, NULL, 0, &freed, &e), 0);
    assert_int_equal(agent_image_usage(f->s), 0);
    for (i = 0; i < 3; i++)
        fx_layer_free(&l[i]);
}

/* ---- rootfs (root only) ---- */

static void test_rootfs_overlay_applies_whiteouts(void **state)
{
    struct fx *f = *state;
    struct fx_layer ls[2];
    struct err e = {0};
    char d[AGENT_IMAGE_DIGEST_SIZE], up[256], wk[256], mnt[256], p[512];
    char **dirs;
    size_t n;
    struct stat st;

    if (geteuid() != 0)
        skip();
    fx_layer_make(&ls[0], L1, sizeof L1 / sizeof L1[0], true);
    fx_layer_make(&ls[1], L2, sizeof L2 / sizeof L2[0], false);
    fx_image_put(f->s, ls, 2, NULL, REF1, d);
    assert_int_equal(agent_image_layers(f->s, REF1, &dirs, &n, &e), 0);
    assert_int_equal(n, 2);
    snprintf(p, sizeof p, "%s/l/%.16s", f->store_dir, ls[0].diff_id + 7);
    assert_string_equal(dirs[0], p); /* lowest first */
    snprintf(up, sizeof up, "%s/up", f->dir);
    snprintf(wk, sizeof wk, "%s/work", f->dir);
    snprintf(mnt, sizeof mnt, "%s/root", f->dir);
    if (agent_image_mount((const char *const *)dirs, n, up, wk, mnt, &e) != 0) {
        agent_image_layers_free(dirs, n);
        fail_msg("mount: %s", e.msg);
    }
    snprintf(p, sizeof p, "%s/a/f1", mnt);
    assert_int_equal(lstat(p, &st), -1); /* whited out */
    snprintf(p, sizeof p, "%s/a/f2", mnt);
    assert_int_equal(lstat(p, &st), 0);
    snprintf(p, sizeof p, "%s/b/x", mnt);
    assert_int_equal(lstat(p, &st), -1); /* opaque dir hides the lower b/ */
    snprintf(p, sizeof p, "%s/b/y", mnt);
    assert_int_equal(lstat(p, &st), 0);
    snprintf(p, sizeof p, "%s/bin/sh", mnt);
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(st.st_mtime, 1000000000);
    assert_int_equal(agent_image_umount(mnt, &e), 0);
    assert_int_equal(agent_image_umount(mnt, &e), ERR_INVALID);
    /* bad option characters never reach mount(2) */
    assert_int_equal(agent_image_mount((const char *const *)dirs, n, "/tmp/a:b", wk, mnt, &e),
                     ERR_INVALID);
    assert_int_equal(agent_image_mount((const char *const *)dirs, 0, up, wk, mnt, &e), ERR_INVALID);
    agent_image_layers_free(dirs, n);
    fx_layer_free(&ls[0]);
    fx_layer_free(&ls[1]);
}

static void test_mount_refuses_options_longer_than_a_page(void **state)
{
    char *lowers[200];
    char buf[200][64];
    struct err e = {0};
    size_t i;
    (void)state;
    for (i = 0; i < 200; i++) {
        snprintf(buf[i], sizeof buf[i], "/var/lib/skiff/images/l/%016zx", i);
        lowers[i] = buf[i];
    }
    assert_int_equal(
        agent_image_mount((const char *const *)lowers, 200, "/tmp/u", "/tmp/w", "/tmp/m", &e),
        ERR_INVALID);
    assert_non_null(strstr(e.msg, "mount options longer than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_parse_applies_docker_defaults),
        cmocka_unit_test(test_ref_parse_host_port_tag_and_digest),
        cmocka_unit_test(test_ref_parse_names_the_bad_part),
        cmocka_unit_test(test_index_select_picks_linux_amd64),
        cmocka_unit_test(test_doc_parse_refuses_bad_documents),
        cmocka_unit_test(test_manifest_parse_checks_media_types_and_digests),
        cmocka_unit_test(test_challenge_parse_reads_bearer_parameters),
        cmocka_unit_test_setup_teardown(test_blob_digest_mismatch_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_read_detects_damage_on_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_survives_reopen_and_refuses_garbage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_gives_runtime_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_keeps_shared_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_removes_lru_images_not_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_overlay_applies_whiteouts, setup, teardown),
        cmocka_unit_test(test_mount_refuses_options_longer_than_a_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
