/* skiff up/down/reset: the pure parts (names, subnet arithmetic, up.json
 * round trip and validation, the mounts below a data dir). The commands
 * themselves need root and run in tests/integration/test_up_down.sh. The
 * static functions are tested by including the sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/reset.c"
#include "cli/up.c"

/* ---- names ---- */

static void test_name_ok(void **state)
{
    struct err e;
    (void)state;
    assert_int_equal(up_name_check("skiff", 3, &e), 0);
    assert_int_equal(up_name_check("a", 1, &e), 0);
    assert_int_equal(up_name_check("tup1-x2", 9, &e), 0);
    /* 15 = name + "-v" + digits: 12 for 1..9 nodes, 11 for 10..99 */
    assert_int_equal(up_name_check("abcdefghijkl", 9, &e), 0);
    assert_int_equal(up_name_check("abcdefghijk", 64, &e), 0);
}

static void test_name_bad(void **state)
{
    struct err e;
    (void)state;
    assert_int_equal(up_name_check("", 3, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "--name"));
    assert_int_equal(up_name_check("abcdefghijklm", 9, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "too long"));
    assert_int_equal(up_name_check("abcdefghijkl", 10, &e), ERR_INVALID);
    assert_int_equal(up_name_check("Skiff", 3, &e), ERR_INVALID);
    assert_int_equal(up_name_check("1skiff", 3, &e), ERR_INVALID);
    assert_int_equal(up_name_check("sk_iff", 3, &e), ERR_INVALID);
    assert_int_equal(up_name_check("sk iff", 3, &e), ERR_INVALID);
    assert_int_equal(up_name_check("sk/if", 3, &e), ERR_INVALID);
    assert_int_equal(up_name_check("skiff-", 3, &e), ERR_INVALID);
}

/* ---- subnet and addresses ---- */

static void test_subnet(void **state)
{
    struct err e;
    uint32_t net;
    char a[INET_ADDRSTRLEN];
    (void)state;
    assert_int_equal(up_subnet_parse("10.250.0.0/24", &net, &e), 0);
    assert_int_equal(net, 0x0afa0000u);
    up_addr(net, 1, a, sizeof a);
    assert_string_equal(a, "10.250.0.1");
    up_addr(net, 254, a, sizeof a);
    assert_string_equal(a, "10.250.0.254");
    assert_int_equal(up_subnet_parse("192.168.7.0/24", &net, &e), 0);
    up_addr(net, 4, a, sizeof a);
    assert_string_equal(a, "192.168.7.4");

    assert_int_equal(up_subnet_parse("10.250.0.1/24", &net, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "host part"));
    assert_int_equal(up_subnet_parse("10.250.0.0/16", &net, &e), ERR_INVALID);
    assert_int_equal(up_subnet_parse("10.250.0.0", &net, &e), ERR_INVALID);
    assert_int_equal(up_subnet_parse("/24", &net, &e), ERR_INVALID);
    assert_int_equal(up_subnet_parse("10.250.0/24", &net, &e), ERR_INVALID);
    assert_int_equal(up_subnet_parse("10.250.0.0.0/24", &net, &e), ERR_INVALID);
    assert_int_equal(up_subnet_parse("x/24", &net, &e), ERR_INVALID);
    assert_int_equal(up_subnet_parse("10.250.0.0/24 ", &net, &e), ERR_INVALID);
}

static void test_state_init(void **state)
{
    struct up_state *st = calloc(1, sizeof *st);
    struct err e;
    (void)state;
    assert_int_equal(up_state_init(st, "skiff", "/tmp/x", "10.250.0.0/24", 3, &e), 0);
    assert_string_equal(st->bridge, "skiff-br");
    assert_string_equal(st->host_ip, "10.250.0.1");
    assert_string_equal(st->nft_table, "skiff-up");
    assert_int_equal(st->n, 3);
    assert_string_equal(st->nodes[0].name, "skiff-n1");
    assert_string_equal(st->nodes[0].veth, "skiff-v1");
    assert_string_equal(st->nodes[0].ip, "10.250.0.2");
    assert_string_equal(st->nodes[0].data_dir, "/tmp/x/n1");
    assert_string_equal(st->nodes[2].name, "skiff-n3");
    assert_string_equal(st->nodes[2].ip, "10.250.0.4");

    /* the last node of the largest cluster: .65, and a 2-digit veth */
    assert_int_equal(up_state_init(st, "big", "/d", "10.1.2.0/24", 64, &e), 0);
    assert_string_equal(st->nodes[63].ip, "10.1.2.65");
    assert_string_equal(st->nodes[63].veth, "big-v64");

    assert_int_equal(up_state_init(st, "skiff", "/tmp/x", "10.250.0.0/24", 0, &e), ERR_INVALID);
    assert_int_equal(up_state_init(st, "skiff", "/tmp/x", "10.250.0.0/24", 65, &e), ERR_INVALID);
    assert_int_equal(up_state_init(st, "skiff", "rel/dir", "10.250.0.0/24", 3, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "--dir"));
    free(st);
}

/* ---- up.json ---- */

static void test_json_roundtrip(void **state)
{
    struct up_state *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    struct err e;
    json_t *j;
    (void)state;
    assert_int_equal(up_state_init(a, "tup1", "/tmp/d", "10.251.3.0/24", 2, &e), 0);
    a->nodes[0].pid = 1234;
    j = up_state_to_json(a);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "bridge")), "tup1-br");
    assert_int_equal(up_state_from_json(j, b, &e), 0);
    assert_memory_equal(a, b, sizeof *a);
    json_decref(j);
    free(a);
    free(b);
}

static int from_text(const char *text, struct up_state *st, struct err *e)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    int rv;
    assert_non_null(j);
    rv = up_state_from_json(j, st, e);
    json_decref(j);
    return rv;
}

static void test_json_bad(void **state)
{
    struct up_state *st = calloc(1, sizeof *st);
    struct err e;
    (void)state;
    assert_int_equal(from_text("[]", st, &e), ERR_INVALID);
    assert_int_equal(
        from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\"}", st, &e),
        ERR_INVALID);
    assert_non_null(strstr(e.msg, "nodes"));
    assert_int_equal(from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[]}",
                               st, &e),
                     ERR_INVALID);
    /* a missing field is named */
    assert_int_equal(from_text("{\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[{\"name\":\"a-n1\",\"pid\":0}]}",
                               st, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "name: required string"));
    /* a name down would pass to ip must be one up derives */
    assert_int_equal(from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[{\"name\":\"eth0\",\"pid\":0}]}",
                               st, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "nodes[0].name"));
    assert_int_equal(from_text("{\"name\":\"a b\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[{\"name\":\"a b-n1\",\"pid\":0}]}",
                               st, &e),
                     ERR_INVALID);
    assert_int_equal(from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[{\"name\":\"a-n1\",\"pid\":-4}]}",
                               st, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "pid"));
    assert_int_equal(from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[{\"name\":\"a-n1\",\"pid\":\"1\"}]}",
                               st, &e),
                     ERR_INVALID);
    assert_int_equal(from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[7]}",
                               st, &e),
                     ERR_INVALID);
    assert_int_equal(from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/8\","
                               "\"nodes\":[{\"name\":\"a-n1\",\"pid\":1}]}",
                               st, &e),
                     ERR_INVALID);
    assert_int_equal(from_text("{\"name\":\"a\",\"dir\":\"/d\",\"subnet\":\"10.0.0.0/24\","
                               "\"nodes\":[{\"name\":\"a-n1\",\"pid\":1}]}",
                               st, &e),
                     0);
    assert_int_equal(st->nodes[0].pid, 1);
    free(st);
}

static void test_state_files(void **state)
{
    char dir[] = "/tmp/test_up.XXXXXX", p[64];
    struct up_state *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    struct err e;
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(up_state_load(dir, b, &e), ERR_NOTFOUND);
    assert_int_equal(up_state_init(a, "skiff", dir, "10.250.0.0/24", 3, &e), 0);
    a->nodes[2].pid = 99;
    assert_int_equal(up_state_save(a, &e), 0);
    assert_int_equal(up_state_load(dir, b, &e), 0);
    assert_memory_equal(a, b, sizeof *a);
    snprintf(p, sizeof p, "%s/up.json", dir);
    f = fopen(p, "w");
    fputs("{\"name\": ", f);
    fclose(f);
    assert_int_equal(up_state_load(dir, b, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "up.json"));
    unlink(p);
    rmdir(dir);
    free(a);
    free(b);
}

static void test_abs_dir(void **state)
{
    char out[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 16];
    struct err e;
    (void)state;
    assert_int_equal(abs_dir("/a/b/", out, sizeof out, &e), 0);
    assert_string_equal(out, "/a/b");
    assert_int_equal(abs_dir("/", out, sizeof out, &e), 0);
    assert_string_equal(out, "/");
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "%s/skiff-local", cwd);
    assert_int_equal(abs_dir("skiff-local", out, sizeof out, &e), 0);
    assert_string_equal(out, want);
}

/* ---- up arguments ---- */

static void test_args(void **state)
{
    struct up_args a;
    char *ok[] = {"up", "--nodes",        "2",        "--image", "x.tar", "--name", "t1",
                  "--", "--fake-runtime", "--voters", "3",       NULL};
    char *none[] = {"up", NULL};
    (void)state;
    assert_int_equal(up_args_parse(11, ok, &a), 0);
    assert_int_equal(a.nodes, 2);
    assert_string_equal(a.name, "t1");
    assert_int_equal(a.n_images, 1);
    assert_int_equal(a.n_extra, 3);
    assert_string_equal(a.extra[0], "--fake-runtime");
    assert_string_equal(a.extra[2], "3");
    assert_int_equal(up_args_parse(1, none, &a), 0);
    assert_int_equal(a.nodes, 3);
    assert_string_equal(a.dir, "skiff-local");
    assert_int_equal(a.n_extra, 0);
}

/* ---- mounts below a data dir ---- */

static const char *MOUNTINFO =
    "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
    "30 22 0:26 / /var/lib/skiff rw - ext4 /dev/sdb1 rw\n"
    "31 30 0:27 / /var/lib/skiff/agent/sandboxes/u1/shm rw - tmpfs shm rw\n"
    "32 30 0:4 net:[4026532] /var/lib/skiff/agent/sandboxes/u1/net rw - nsfs nsfs rw\n"
    "33 30 0:28 / /var/lib/skiff/agent/pods/u1/c/web/rootfs rw - overlay overlay rw\n"
    "34 33 0:29 / /var/lib/skiff/agent/pods/u1/c/web/rootfs/www rw - tmpfs tmpfs rw\n"
    "35 22 0:30 / /var/lib/skiff2/x rw - tmpfs tmpfs rw\n"
    "36 30 0:31 / /var/lib/skiff/with\\040space rw - tmpfs tmpfs rw\n"
    "37 22 0:32 / /var/lib/skiffy rw - tmpfs tmpfs rw\n"
    "garbage line\n"
    "38 30 0:31 / /var/lib/skiff/agent/sandboxes/u1/shm rw - tmpfs shm rw";

static void test_mounts_below(void **state)
{
    char **v;
    size_t n, i;
    struct err e;
    (void)state;
    assert_int_equal(reset_mounts_below(MOUNTINFO, "/var/lib/skiff", &v, &n, &e), 0);
    assert_int_equal(n, 6);
    /* deepest first; dir itself, skiff2 and skiffy are not below it */
    assert_string_equal(v[0], "/var/lib/skiff/agent/pods/u1/c/web/rootfs/www");
    assert_string_equal(v[1], "/var/lib/skiff/agent/pods/u1/c/web/rootfs");
    for (i = 1; i < n; i++)
        assert_true(depth(v[i - 1]) >= depth(v[i]));
    assert_string_equal(v[n - 1], "/var/lib/skiff/with space");
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);

    assert_int_equal(reset_mounts_below(MOUNTINFO, "/var/lib/skiff/", &v, &n, &e), 0);
    assert_int_equal(n, 6);
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);

    assert_int_equal(reset_mounts_below(MOUNTINFO, "/nowhere", &v, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(v);
    assert_int_equal(reset_mounts_below("", "/var/lib/skiff", &v, &n, &e), 0);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_ok),        cmocka_unit_test(test_name_bad),
        cmocka_unit_test(test_subnet),         cmocka_unit_test(test_state_init),
        cmocka_unit_test(test_json_roundtrip), cmocka_unit_test(test_json_bad),
        cmocka_unit_test(test_state_files),    cmocka_unit_test(test_abs_dir),
        cmocka_unit_test(test_args),           cmocka_unit_test(test_mounts_below),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
