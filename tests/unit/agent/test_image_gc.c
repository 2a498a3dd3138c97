/* Disk-pressure image GC over a real store with a fake file system: the
 * injected usage function reports a disk where "other" bytes are taken by
 * something else and the store's own usage by images, so removing images
 * frees the disk as a real one would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/agent/test_image_fixture.h"
#include "tests/unit/helpers/helpers.h"

struct fake_fs {
    struct agent_image_store *s;
    uint64_t total, other;
    int calls;
    bool fail;
};

static int fake_usage(void *data, const char *path, struct agent_fs_usage *out, struct err *e)
{
    struct fake_fs *f = data;
    uint64_t used = f->other + agent_image_usage(f->s);
    assert_non_null(strstr(path, "/images"));
    f->calls++;
    if (f->fail)
        return err_setf(e, ERR_IO, "statvfs %s: Input/output error", path);
    out->total_bytes = f->total;
    out->avail_bytes = used < f->total ? f->total - used : 0;
    return 0;
}

struct fx {
    char dir[64];
    char store_dir[128];
    struct agent_image_store *s;
    struct fx_layer l[3];
    char d[3][AGENT_IMAGE_DIGEST_SIZE];
};

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *const refs[3] = {"h:1/a:1", "h:1/b:1", "h:1/c:1"};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err e = {0};
    /* layers of equal size, different content */
    static const struct tent a[] = {{"a", 'f', "aaaa", 0, 0}}, b[] = {{"b", 'f', "bbbb", 0, 0}},
                             c[] = {{"c", 'f', "cccc", 0, 0}};
    const struct tent *ents[3] = {a, b, c};
    assert_int_equal(helpers_mkdtemp(f->dir, sizeof f->dir, "skiff-imggc"), 0);
    snprintf(f->store_dir, sizeof f->store_dir, "%s/images", f->dir);
    if (agent_image_store_open(f->store_dir, &f->s, &e) != 0)
        fail_msg("open: %s", e.msg);
    for (size_t i = 0; i < 3; i++) {
        json_t *img;
        fx_layer_make(&f->l[i], ents[i], 1, false);
        fx_image_put(f->s, &f->l[i], 1, NULL, refs[i], f->d[i]);
        /* least recently used first: a, then b, then c */
        img = json_object_get(json_object_get(f->s->idx, "images"), f->d[i]);
        json_object_set_new(img, "last_used", json_integer(100 + (json_int_t)i));
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    agent_image_store_free(f->s);
    for (size_t i = 0; i < 3; i++)
        fx_layer_free(&f->l[i]);
    helpers_rmtree(f->dir);
    free(f);
    return 0;
}

static bool has(struct fx *f, const char *ref)
{
    char d[AGENT_IMAGE_DIGEST_SIZE];
    struct err e;
    return agent_image_resolve(f->s, ref, d, &e) == 0;
}

/* A disk where the three images are 12% and other files 75%: 87% used. */
static struct fake_fs disk_87(struct fx *f)
{
    uint64_t u3 = agent_image_usage(f->s);
    struct fake_fs fs = {f->s, u3 * 100 / 12, 0, 0, false};
    fs.other = fs.total * 75 / 100;
    return fs;
}

static void test_below_high_does_nothing(void **state)
{
    struct fx *f = *state;
    struct fake_fs fs = disk_87(f);
    struct agent_image_gc_opts o = {90, 80, fake_usage, &fs};
    struct agent_image_gc_result r;
    struct err e = {0};
    assert_int_equal(agent_image_gc_disk(f->s, NULL, 0, &o, &r, &e), 0);
    assert_false(r.ran);
    assert_int_equal(r.used_pct_before, 87);
    assert_int_equal(r.freed_bytes, 0);
    assert_true(has(f, refs[0]) && has(f, refs[1]) && has(f, refs[2]));
    assert_int_equal(fs.calls, 1);
}

static void test_lru_not_in_use_down_to_low(void **state)
{
    struct fx *f = *state;
    struct fake_fs fs = disk_87(f);
    struct agent_image_gc_opts o = {0, 0, fake_usage, &fs}; /* defaults 85 / 80 */
    struct agent_image_gc_result r;
    const char *in_use[] = {"h:1/a:1"};
    struct err e = {0};
    /* a is the oldest but in use: b goes, then c (7% of the disk is more
     * than one image's 4%); a stays */
    assert_int_equal(agent_image_gc_disk(f->s, in_use, 1, &o, &r, &e), 0);
    assert_true(r.ran);
    assert_int_equal(r.used_pct_before, 87);
    assert_true(r.used_pct_after <= 80);
    assert_true(r.freed_bytes > 0);
    assert_true(has(f, refs[0]));
    assert_false(has(f, refs[1]));
    assert_false(has(f, refs[2]));
    /* and their blobs and layers went with them */
    assert_true(agent__blob_exists(f->s, f->l[0].digest));
    assert_false(agent__blob_exists(f->s, f->l[1].digest));
    assert_false(agent__blob_exists(f->s, f->l[2].digest));
}

static void test_stops_at_low_mark(void **state)
{
    struct fx *f = *state;
    struct fake_fs fs = disk_87(f);
    /* 87% -> 84% needs 3% only: the least recently used image alone */
    struct agent_image_gc_opts o = {85, 84, fake_usage, &fs};
    struct agent_image_gc_result r;
    struct err e = {0};
    assert_int_equal(agent_image_gc_disk(f->s, NULL, 0, &o, &r, &e), 0);
    assert_true(r.ran);
    assert_false(has(f, refs[0]));
    assert_true(has(f, refs[1]));
    assert_true(has(f, refs[2]));
    assert_true(r.used_pct_after <= 84);
}

static void test_everything_in_use(void **state)
{
    struct fx *f = *state;
    struct fake_fs fs = disk_87(f);
    struct agent_image_gc_opts o = {85, 80, fake_usage, &fs};
    struct agent_image_gc_result r;
    /* by digest, by tag: both protect */
    const char *in_use[] = {f->d[0], "h:1/b:1", f->d[2], "h:1/nope:1"};
    struct err e = {0};
    assert_int_equal(agent_image_gc_disk(f->s, in_use, 4, &o, &r, &e), 0);
    assert_true(r.ran);
    assert_int_equal(r.freed_bytes, 0);
    assert_int_equal(r.used_pct_after, 87);
    assert_true(has(f, refs[0]) && has(f, refs[1]) && has(f, refs[2]));
}

static void test_bad_thresholds_and_usage_error(void **state)
{
    struct fx *f = *state;
    struct fake_fs fs = disk_87(f);
    struct agent_image_gc_opts o = {80, 85, fake_usage, &fs};
    struct err e = {0};
    assert_int_equal(agent_image_gc_disk(f->s, NULL, 0, &o, NULL, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "low threshold"));
    o.high_pct = 101;
    o.low_pct = 50;
    assert_int_equal(agent_image_gc_disk(f->s, NULL, 0, &o, NULL, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "high threshold"));
    o.high_pct = 85;
    fs.fail = true;
    assert_int_equal(agent_image_gc_disk(f->s, NULL, 0, &o, NULL, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "image gc: statvfs"));
    assert_true(has(f, refs[0]));
}

static void test_statvfs_real(void **state)
{
    struct fx *f = *state;
    struct agent_fs_usage u;
    struct agent_image_gc_result r;
    struct agent_image_gc_opts o = {100, 99, NULL, NULL};
    struct err e = {0};
    assert_int_equal(agent_fs_usage_statvfs(NULL, f->store_dir, &u, &e), 0);
    assert_true(u.total_bytes > 0 && u.avail_bytes <= u.total_bytes);
    assert_int_equal(agent_fs_usage_statvfs(NULL, "/no/such/dir", &u, &e), ERR_IO);
    /* a real disk is never more than 100% used: nothing runs */
    assert_int_equal(agent_image_gc_disk(f->s, NULL, 0, &o, &r, &e), 0);
    assert_false(r.ran);
}

static void test_in_use_from_pods(void **state)
{
    const char **v;
    size_t n;
    struct err e = {0};
    json_error_t jerr;
    json_t *pods =
        json_loads("[{\"spec\":{\"containers\":[{\"image\":\"a:1\"},{\"image\":\"b:1\"}],"
                   "\"initContainers\":[{\"image\":\"init:1\"}]},"
                   "\"status\":{\"containerStatuses\":[{\"imageID\":\"r/a@sha256:" HEX64
                   "\"},{\"imageID\":\"\"}]}},"
                   "{\"spec\":{}}, 5]",
                   0, &jerr);
    (void)state;
    assert_non_null(pods);
    assert_int_equal(agent_image_gc_in_use(pods, &v, &n, &e), 0);
    assert_int_equal(n, 4);
    assert_string_equal(v[0], "a:1");
    assert_string_equal(v[1], "b:1");
    assert_string_equal(v[2], "sha256:" HEX64);
    assert_string_equal(v[3], "init:1");
    free(v);
    json_decref(pods);
    pods = json_object();
    assert_int_equal(agent_image_gc_in_use(pods, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(v);
    json_decref(pods);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_below_high_does_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_not_in_use_down_to_low, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stops_at_low_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_everything_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_thresholds_and_usage_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statvfs_real, setup, teardown),
        cmocka_unit_test(test_in_use_from_pods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
