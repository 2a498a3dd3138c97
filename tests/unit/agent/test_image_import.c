/* Importing archives: docker save tars and OCI layouts in a tar (skopeo's
 * oci-archive), built here with libarchive; and bad archives refused with
 * nothing recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/agent/test_image_fixture.h"
#include "tests/unit/helpers/helpers.h"

struct fx {
    char dir[64];
    char store_dir[128];
    char archive[128];
    struct agent_image_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err e = {0};
    assert_int_equal(helpers_mkdtemp(f->dir, sizeof f->dir, "skiff-imp"), 0);
    snprintf(f->store_dir, sizeof f->store_dir, "%s/images", f->dir);
    snprintf(f->archive, sizeof f->archive, "%s/archive.tar", f->dir);
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

static const struct tent LA[] = {{"bin/", 'd', NULL, 0, 0}, {"bin/hello", 'f', "hi", 0755, 0}};
static const struct tent LB[] = {{"etc/", 'd', NULL, 0, 0}, {"etc/motd", 'f', "welcome", 0, 0}};

static void write_archive(struct fx *f, const struct tent *ents, size_t n)
{
    char *tar;
    size_t len;
    tar_mem(ents, n, &tar, &len);
    write_file(f->archive, tar, len);
    free(tar);
}

static size_t n_images(struct fx *f)
{
    struct agent_image_info *rows;
    size_t n;
    struct err e = {0};
    assert_int_equal(agent_image_list(f->s, &rows, &n, &e), 0);
    free(rows);
    return n;
}

static void check_hello(struct fx *f, const char *ref)
{
    char **dirs, p[PATH_MAX];
    size_t n;
    struct err e = {0};
    if (agent_image_layers(f->s, ref, &dirs, &n, &e) != 0)
        fail_msg("layers: %s", e.msg);
    assert_int_equal(n, 2);
    snprintf(p, sizeof p, "%s/bin/hello", dirs[0]);
    assert_int_equal(access(p, X_OK), 0);
    snprintf(p, sizeof p, "%s/etc/motd", dirs[1]);
    assert_int_equal(access(p, R_OK), 0);
    agent_image_layers_free(dirs, n);
}

static void test_import_docker_save(void **state)
{
    struct fx *f = *state;
    struct fx_layer l[2];
    struct err e = {0};
    char *cfg, cfgname[128], mj[512], d[AGENT_IMAGE_DIGEST_SIZE], d2[AGENT_IMAGE_DIGEST_SIZE];
    json_t *c = NULL;

    fx_layer_make(&l[0], LA, 2, false);
    fx_layer_make(&l[1], LB, 2, true); /* newer docker may gzip */
    cfg = fx_config_text(l, 2, "\"Cmd\":[\"/bin/hello\"]", NULL);
    agent__digest_of(cfg, strlen(cfg), d);
    snprintf(cfgname, sizeof cfgname, "%s.json", d + 7);
    snprintf(mj, sizeof mj,
             "[{\"Config\":\"%s\",\"RepoTags\":[\"hello:test\",\"127.0.0.1:5000/hello:1\"],"
             "\"Layers\":[\"aaa/layer.tar\",\"bbb/layer.tar\"]}]",
             cfgname);
    {
        /* manifest.json last, as docker writes it: the import needs two passes */
        const struct tent ents[] = {
            {"aaa/", 'd', NULL, 0, 0},        {"aaa/layer.tar", 'f', l[0].blob, 0, l[0].blob_len},
            {"bbb/", 'd', NULL, 0, 0},        {"bbb/layer.tar", 'f', l[1].blob, 0, l[1].blob_len},
            {cfgname, 'f', cfg, 0, 0},        {"repositories", 'f', "{}", 0, 0},
            {"manifest.json", 'f', mj, 0, 0},
        };
        write_archive(f, ents, sizeof ents / sizeof ents[0]);
    }
    if (agent_image_import(f->s, f->archive, NULL, NULL, d, &e) != 0)
        fail_msg("import: %s", e.msg);
    assert_int_equal(agent_image_resolve(f->s, "hello:test", d2, &e), 0);
    assert_string_equal(d, d2);
    assert_int_equal(agent_image_resolve(f->s, "127.0.0.1:5000/hello:1", d2, &e), 0);
    check_hello(f, "docker.io/library/hello:test");
    assert_int_equal(agent_image_config(f->s, "hello:test", &c, &e), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Cmd"), 0)),
                        "/bin/hello");
    json_decref(c);
    /* importing again changes nothing: same manifest digest */
    assert_int_equal(agent_image_import(f->s, f->archive, "other:1", NULL, d2, &e), 0);
    assert_string_equal(d, d2);
    assert_int_equal(n_images(f), 3);
    free(cfg);
    fx_layer_free(&l[0]);
    fx_layer_free(&l[1]);
}

static void test_import_oci_archive(void **state)
{
    struct fx *f = *state;
    struct fx_layer l[2];
    struct err e = {0};
    char *cfg, *man, idx[1024], d[AGENT_IMAGE_DIGEST_SIZE], d2[AGENT_IMAGE_DIGEST_SIZE];
    char names[4][128], dig[AGENT_IMAGE_DIGEST_SIZE];
    struct agent_image_info *rows;
    size_t n;

    fx_layer_make(&l[0], LA, 2, true);
    fx_layer_make(&l[1], LB, 2, true);
    cfg = fx_config_text(l, 2, NULL, NULL);
    man = fx_manifest_text(cfg, l, 2);
    agent__digest_of(man, strlen(man), d);
    snprintf(idx, sizeof idx,
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" AGENT__MT_OCI_MANIFEST
             "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{"
             "\"org.opencontainers.image.ref.name\":\"1.0\"}}]}",
             d, strlen(man));
    snprintf(names[0], sizeof names[0], "blobs/sha256/%s", l[0].digest + 7);
    snprintf(names[1], sizeof names[1], "blobs/sha256/%s", l[1].digest + 7);
    agent__digest_of(cfg, strlen(cfg), dig);
    snprintf(names[2], sizeof names[2], "blobs/sha256/%s", dig + 7);
    snprintf(names[3], sizeof names[3], "blobs/sha256/%s", d + 7);
    {
        const struct tent ents[] = {
            {"oci-layout", 'f', "{\"imageLayoutVersion\":\"1.0.0\"}", 0, 0},
            {"index.json", 'f', idx, 0, 0},
            {"blobs/", 'd', NULL, 0, 0},
            {"blobs/sha256/", 'd', NULL, 0, 0},
            {names[0], 'f', l[0].blob, 0, l[0].blob_len},
            {names[1], 'f', l[1].blob, 0, l[1].blob_len},
            {names[2], 'f', cfg, 0, 0},
            {names[3], 'f', man, 0, 0},
        };
        write_archive(f, ents, sizeof ents / sizeof ents[0]);
    }
    /* without a name: "1.0" names no repository, the image stays untagged */
    assert_int_equal(agent_image_import(f->s, f->archive, NULL, NULL, d2, &e), 0);
    assert_string_equal(d, d2);
    assert_int_equal(agent_image_list(f->s, &rows, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].ref, "");
    assert_string_equal(rows[0].digest, d);
    free(rows);
    assert_int_equal(agent_image_import(f->s, f->archive, "127.0.0.1:5000/x:1", NULL, d2, &e), 0);
    check_hello(f, "127.0.0.1:5000/x:1");

    /* a blob whose content is not its name */
    {
        const struct tent ents[] = {
            {"oci-layout", 'f', "{\"imageLayoutVersion\":\"1.0.0\"}", 0, 0},
            {"index.json", 'f', idx, 0, 0},
            {names[3], 'f', "tampered", 0, 0},
        };
        assert_int_equal(agent_image_remove(f->s, d, &e), 0);
        write_archive(f, ents, 3);
    }
    assert_int_equal(agent_image_import(f->s, f->archive, "127.0.0.1:5000/x:1", NULL, d2, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "digest mismatch"));
    assert_int_equal(n_images(f), 0);
    free(cfg);
    free(man);
    fx_layer_free(&l[0]);
    fx_layer_free(&l[1]);
}

static void expect_import_fails(struct fx *f, int code, const char *needle)
{
    struct err e = {0};
    char d[AGENT_IMAGE_DIGEST_SIZE];
    assert_int_equal(agent_image_import(f->s, f->archive, "x:1", NULL, d, &e), code);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
    assert_int_equal(n_images(f), 0);
}

static void test_import_refuses_bad_archives(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    char d[AGENT_IMAGE_DIGEST_SIZE];
    static const struct tent missing[] = {
        {"manifest.json", 'f', "[{\"Config\":\"c.json\",\"RepoTags\":null,\"Layers\":[\"l.tar\"]}]",
         0, 0},
        {"c.json", 'f', "{}", 0, 0},
    };
    static const struct tent garbage_mj[] = {{"manifest.json", 'f', "{\"not\":\"a list\"}", 0, 0}};
    static const struct tent neither[] = {{"README", 'f', "hello", 0, 0}};
    static const struct tent bad_config[] = {
        {"manifest.json", 'f', "[{\"Config\":\"c.json\",\"Layers\":[]}]", 0, 0},
        {"c.json", 'f', "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}}", 0, 0},
    };

    write_archive(f, missing, 2);
    expect_import_fails(f, ERR_INVALID, "l.tar: not in the archive");
    write_archive(f, garbage_mj, 1);
    expect_import_fails(f, ERR_INVALID, "manifest.json: want");
    write_archive(f, neither, 1);
    expect_import_fails(f, ERR_INVALID, "neither an OCI layout");
    write_archive(f, bad_config, 2);
    expect_import_fails(f, ERR_INVALID, "rootfs.diff_ids");
    write_file(f->archive, "definitely not a tar file, no sir", 33);
    expect_import_fails(f, ERR_INVALID, "import");
    assert_int_equal(agent_image_import(f->s, "/nonexistent.tar", NULL, NULL, d, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "/nonexistent.tar"));
    assert_int_equal(agent_image_import(f->s, f->archive, "Bad Ref", NULL, d, &e), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_docker_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_oci_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_refuses_bad_archives, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
