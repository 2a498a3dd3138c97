/* Layer extraction: whiteouts and opaque dirs become overlayfs ones, paths
 * that would escape the layer are refused, the diff_id is the digest of the
 * uncompressed stream, and bad streams fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "tests/unit/agent/test_image_fixture.h"
#include "tests/unit/helpers/helpers.h"

struct fx {
    char dir[64];
    char root[128]; /* the layer root */
    char blob[128];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char real[PATH_MAX];
    assert_int_equal(helpers_mkdtemp(f->dir, sizeof f->dir, "skiff-layer"), 0);
    assert_non_null(realpath(f->dir, real));
    snprintf(f->dir, sizeof f->dir, "%s", real);
    snprintf(f->root, sizeof f->root, "%s/root", f->dir);
    snprintf(f->blob, sizeof f->blob, "%s/blob", f->dir);
    assert_int_equal(mkdir(f->root, 0755), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    helpers_rmtree(f->dir);
    free(f);
    return 0;
}

/* Writes the layer blob for ents and extracts it into f->root. */
static int extract(struct fx *f, const struct tent *ents, size_t n, bool gz, struct fx_layer *l,
                   char got[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    fx_layer_make(l, ents, n, gz);
    write_file(f->blob, l->blob, l->blob_len);
    return agent__layer_extract(f->blob, f->root, NULL, got, e);
}

static bool exists(struct fx *f, const char *rel, struct stat *st)
{
    char p[PATH_MAX];
    struct stat tmp;
    snprintf(p, sizeof p, "%s/%s", f->root, rel);
    return lstat(p, st ? st : &tmp) == 0;
}

static void test_extract_converts_whiteouts_and_opaque_dirs(void **state)
{
    struct fx *f = *state;
    static const struct tent ents[] = {
        {"./", 'd', NULL, 0755, 0},
        {"./etc/", 'd', NULL, 0, 0},
        {"./etc/.wh.passwd", 'f', "", 0, 0},
        {"./var/.wh..wh..opq", 'f', "", 0, 0}, /* before its dir entry, as some tools write */
        {"./var/", 'd', NULL, 0700, 0},
        {"./var/new", 'f', "n", 0, 0},
        {"./deep/er/.wh.gone", 'f', "", 0, 0}, /* parents not in the tar */
        {"./.wh..wh.plnk", 'f', "", 0, 0},     /* AUFS metadata: ignored */
    };
    struct fx_layer l;
    struct err e = {0};
    char got[AGENT_IMAGE_DIGEST_SIZE], p[PATH_MAX], val[8];
    struct stat st;
    ssize_t k;

    if (geteuid() != 0)
        skip(); /* 0/0 devices and trusted.* xattrs */
    if (extract(f, ents, sizeof ents / sizeof ents[0], true, &l, got, &e) != 0)
        fail_msg("extract: %s", e.msg);
    assert_string_equal(got, l.diff_id);
    assert_true(exists(f, "etc/passwd", &st));
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    assert_false(exists(f, "etc/.wh.passwd", NULL));
    assert_true(exists(f, "deep/er/gone", &st) && S_ISCHR(st.st_mode));
    assert_false(exists(f, ".wh..wh.plnk", NULL));
    assert_false(exists(f, "var/.wh..wh..opq", NULL));
    assert_true(exists(f, "var/new", NULL));
    assert_true(exists(f, "var", &st));
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(p, sizeof p, "%s/var", f->root);
    k = lgetxattr(p, "trusted.overlay.opaque", val, sizeof val);
    assert_int_equal(k, 1);
    assert_int_equal(val[0], 'y');
    fx_layer_free(&l);
}

static void test_extract_keeps_modes_links_and_mtimes(void **state)
{
    struct fx *f = *state;
    static const struct tent ents[] = {
        {"bin/", 'd', NULL, 0, 0},
        {"bin/busybox", 'f', "ELF", 04755, 0},
        {"bin/sh", 's', "busybox", 0, 0},
        {"bin/abs", 's', "/etc/shadow", 0, 0}, /* absolute link targets are fine */
        {"bin/hard", 'h', "bin/busybox", 0, 0},
        {"dev/", 'd', NULL, 0, 0},
        {"dev/null", 'c', NULL, 0, 0},
    };
    struct fx_layer l;
    struct err e = {0};
    char got[AGENT_IMAGE_DIGEST_SIZE], target[64];
    struct stat st, st2;
    char p[PATH_MAX];
    ssize_t k;

    if (extract(f, ents, sizeof ents / sizeof ents[0], false, &l, got, &e) != 0)
        fail_msg("extract: %s", e.msg);
    assert_string_equal(got, l.diff_id);
    assert_string_equal(l.digest, l.diff_id); /* uncompressed: blob digest is the diff_id */
    assert_true(exists(f, "bin/busybox", &st));
    assert_int_equal(st.st_mode & 07777, geteuid() == 0 ? 04755 : 0755);
    assert_int_equal(st.st_mtime, 1000000000);
    assert_true(exists(f, "bin/hard", &st2));
    assert_int_equal(st.st_ino, st2.st_ino);
    snprintf(p, sizeof p, "%s/bin/abs", f->root);
    k = readlink(p, target, sizeof target - 1);
    assert_true(k > 0);
    target[k] = '\0';
    assert_string_equal(target, "/etc/shadow");
    if (geteuid() == 0) {
        assert_true(exists(f, "dev/null", &st));
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_uid, 0);
    } else {
        assert_false(exists(f, "dev/null", NULL)); /* skipped without root */
    }
    fx_layer_free(&l);
}

static void expect_refused(struct fx *f, const struct tent *ents, size_t n, const char *needle)
{
    struct fx_layer l;
    struct err e = {0};
    char got[AGENT_IMAGE_DIGEST_SIZE];
    assert_int_equal(extract(f, ents, n, true, &l, got, &e), ERR_INVALID);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
    fx_layer_free(&l);
}

static void test_extract_refuses_paths_escaping_the_layer(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX];
    static const struct tent dotdot[] = {{"a/../../escaped", 'f', "x", 0, 0}};
    static const struct tent absolute[] = {{"/escaped", 'f', "x", 0, 0}};
    static const struct tent via_link[] = {{"out", 's', "..", 0, 0},
                                           {"out/escaped", 'f', "x", 0, 0}};
    static const struct tent via_abs_link[] = {{"etc", 's', "/tmp", 0, 0},
                                               {"etc/skiff-escaped", 'f', "x", 0, 0}};
    static const struct tent hard_out[] = {{"h", 'h', "../outside", 0, 0}};
    static const struct tent wh_via_link[] = {{"w", 's', "..", 0, 0},
                                              {"w/.wh.outside", 'f', "", 0, 0}};
    static const struct tent wh_dotdot[] = {{"a/.wh...", 'f', "", 0, 0}};

    expect_refused(f, dotdot, 1, "escapes the layer");
    expect_refused(f, absolute, 1, "absolute path");
    expect_refused(f, via_link, 2, "out/escaped");
    expect_refused(f, via_abs_link, 2, "etc/skiff-escaped");
    expect_refused(f, hard_out, 1, "hardlink");
    expect_refused(f, wh_via_link, 2, "w/.wh.outside");
    expect_refused(f, wh_dotdot, 1, "bad whiteout name");
    snprintf(p, sizeof p, "%s/escaped", f->dir);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(access("/escaped", F_OK), -1);
    assert_int_equal(access("/tmp/skiff-escaped", F_OK), -1);
}

static void test_extract_refuses_bad_streams(void **state)
{
    struct fx *f = *state;
    static const struct tent ents[] = {{"a", 'f', "some content for the file", 0, 0}};
    struct fx_layer l;
    struct err e = {0};
    char got[AGENT_IMAGE_DIGEST_SIZE];

    /* truncated gzip */
    fx_layer_make(&l, ents, 1, true);
    write_file(f->blob, l.blob, l.blob_len / 2);
    assert_int_equal(agent__layer_extract(f->blob, f->root, NULL, got, &e), ERR_INVALID);
    fx_layer_free(&l);
    /* not a tar */
    write_file(f->blob, "this is not a tar archive at all, just some text", 48);
    assert_int_equal(agent__layer_extract(f->blob, f->root, NULL, got, &e), ERR_INVALID);
    /* empty */
    write_file(f->blob, "", 0);
    assert_int_equal(agent__layer_extract(f->blob, f->root, NULL, got, &e), ERR_INVALID);
    /* missing */
    assert_int_equal(agent__layer_extract("/nonexistent/blob", f->root, NULL, got, &e),
                     ERR_INVALID);
}

static void test_extract_stops_when_cancelled(void **state)
{
    struct fx *f = *state;
    static const struct tent ents[] = {{"a", 'f', "x", 0, 0}};
    struct fx_layer l;
    struct err e = {0};
    char got[AGENT_IMAGE_DIGEST_SIZE];
    atomic_bool cancel = true;
    fx_layer_make(&l, ents, 1, true);
    write_file(f->blob, l.blob, l.blob_len);
    assert_int_equal(agent__layer_extract(f->blob, f->root, &cancel, got, &e), ERR_SHUTDOWN);
    fx_layer_free(&l);
}

static void test_layer_ensure_checks_diff_id(void **state)
{
    struct fx *f = *state;
    static const struct tent ents[] = {{"a", 'f', "x", 0, 0}};
    struct agent_image_store *s;
    struct agent__layer_desc d = {0};
    struct fx_layer l;
    struct err e = {0};
    char sdir[PATH_MAX];
    uint64_t bytes;

    snprintf(sdir, sizeof sdir, "%s/store", f->dir);
    assert_int_equal(agent_image_store_open(sdir, &s, &e), 0);
    fx_layer_make(&l, ents, 1, true);
    assert_int_equal(agent__blob_put(s, l.blob, l.blob_len, NULL, d.digest, &e), 0);
    snprintf(d.diff_id, sizeof d.diff_id, "%s", l.digest); /* wrong: the gzip's digest */
    assert_int_equal(agent__layer_ensure(s, &d, NULL, &bytes, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "diff_id mismatch"));
    snprintf(sdir, sizeof sdir, "%s/store/layers", f->dir);
    assert_int_equal(count_entries(sdir), 0); /* the temp dir is gone */
    snprintf(d.diff_id, sizeof d.diff_id, "%s", l.diff_id);
    assert_int_equal(agent__layer_ensure(s, &d, NULL, &bytes, &e), 0);
    assert_true(bytes > 0 && bytes != UINT64_MAX);
    assert_int_equal(agent__layer_ensure(s, &d, NULL, &bytes, &e), 0); /* present: no work */
    assert_int_equal(bytes, UINT64_MAX);
    assert_int_equal(count_entries(sdir), 1);
    agent_image_store_free(s);
    fx_layer_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extract_converts_whiteouts_and_opaque_dirs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_keeps_modes_links_and_mtimes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_refuses_paths_escaping_the_layer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extract_refuses_bad_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_stops_when_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layer_ensure_checks_diff_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
