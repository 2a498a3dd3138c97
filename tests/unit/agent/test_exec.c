/* agent_exec's mapping of runc exec outcomes, with a fake runc (a shell
 * script) so it runs without root: the command's output and exit code,
 * a program that cannot be found (127) or started (126) as the command's
 * failure with runc's message on stderr, a stopped or missing container as
 * ERR_NOTFOUND, the container id "<uid>_<ctr>". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/runtime.h"
#include "api/api.h"
#include "tests/unit/helpers/helpers.h"

int agent__exec_in(const struct agent__runc *rc, const char *uid, const char *ctr,
                   const char *const *argv, int timeout_ms, struct api_exec_result *res,
                   struct err *e);

/* The fake: `runc --root R --log-format json exec --pid-file F ID ARGS...`;
 * the last argument picks the behaviour. */
static const char fake[] =
    "#!/bin/sh\n"
    "id=$8; shift 8\n"
    "case \"$id\" in u1_c) ;; *) echo '{\"level\":\"error\",\"msg\":\"container does not exist\"}' "
    ">&2; exit 255;; esac\n"
    "case \"$1\" in\n"
    "ok) echo \"out:$2\"; echo err >&2; exit 7;;\n"
    "missing) echo '{\"level\":\"error\",\"msg\":\"exec failed: unable to start container process: "
    "exec: \\\"missing\\\": executable file not found in $PATH\"}' >&2; exit 255;;\n"
    "denied) echo '{\"level\":\"error\",\"msg\":\"exec failed: unable to start container process: "
    "exec: \\\"/etc\\\": permission denied\"}' >&2; exit 255;;\n"
    "stopped) echo '{\"level\":\"error\",\"msg\":\"cannot exec in a stopped container\"}' >&2; "
    "exit 255;;\n"
    "esac\n"
    "exit 1\n";

struct fx {
    char dir[64];
    struct agent__runc rc;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char bin[128], root[128];
    struct err e;
    FILE *fp;
    assert_int_equal(helpers_mkdtemp(f->dir, sizeof f->dir, "skiff-exec"), 0);
    snprintf(bin, sizeof bin, "%s/runc", f->dir);
    snprintf(root, sizeof root, "%s/root", f->dir);
    fp = fopen(bin, "w");
    assert_non_null(fp);
    fputs(fake, fp);
    fclose(fp);
    chmod(bin, 0755);
    assert_int_equal(agent__runc_init(&f->rc, bin, root, 5000, &e), 0);
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

static void test_output_and_exit_code(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"ok", "a b", NULL};
    struct api_exec_result r;
    struct err e = {0};
    assert_int_equal(agent__exec_in(&f->rc, "u1", "c", argv, 5000, &r, &e), 0);
    assert_int_equal(r.exit_code, 7);
    assert_false(r.timed_out);
    assert_string_equal(r.out, "out:a b\n");
    assert_string_equal(r.err, "err\n");
    free(r.out);
    free(r.err);
}

static void test_cannot_start(void **state)
{
    struct fx *f = *state;
    const char *missing[] = {"missing", NULL}, *denied[] = {"denied", NULL};
    struct api_exec_result r;
    struct err e = {0};
    assert_int_equal(agent__exec_in(&f->rc, "u1", "c", missing, 5000, &r, &e), 0);
    assert_int_equal(r.exit_code, 127);
    assert_non_null(strstr(r.err, "executable file not found"));
    assert_null(r.out);
    free(r.err);
    assert_int_equal(agent__exec_in(&f->rc, "u1", "c", denied, 5000, &r, &e), 0);
    assert_int_equal(r.exit_code, 126);
    assert_non_null(strstr(r.err, "permission denied"));
    free(r.err);
}

static void test_not_running(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"stopped", NULL}, *ok[] = {"ok", NULL};
    struct api_exec_result r;
    struct err e = {0};
    assert_int_equal(agent__exec_in(&f->rc, "u1", "c", argv, 5000, &r, &e), ERR_NOTFOUND);
    assert_null(r.out);
    assert_null(r.err);
    /* another id: runc has no such container */
    assert_int_equal(agent__exec_in(&f->rc, "u2", "c", ok, 5000, &r, &e), ERR_NOTFOUND);
    assert_int_equal(agent__exec_in(&f->rc, "", "c", ok, 5000, &r, &e), ERR_INVALID);
}

static void test_agent_exec_root(void **state)
{
    const char *ok[] = {"ok", NULL};
    struct api_exec_result r;
    struct err e = {0};
    (void)state;
    /* no data dir: refused before any runc */
    assert_int_equal(agent_exec(NULL, "u1", "c", ok, 1000, &r, &e), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_output_and_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_running, setup, teardown),
        cmocka_unit_test(test_agent_exec_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
