/* runc's JSON answers (state, list) as the agent reads them, and runc
 * invocations that need no root: a fake runc script stands in for the
 * binary, so errors, timeouts and exit codes are checked anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "lib/fs.h"

static void assert_contains(const char *s, const char *sub)
{
    if (strstr(s, sub) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

/* ---- parsers ---- */

static void test_state_parse_running_and_stopped(void **state)
{
    struct agent__runc_state st;
    struct err e;

    (void)state;
    assert_int_equal(agent__runc_state_parse(
                         "{\"ociVersion\":\"1.0.2-dev\",\"id\":\"c1\",\"pid\":4242,"
                         "\"status\":\"running\",\"bundle\":\"/b/c1\",\"rootfs\":\"/b/c1/rootfs\","
                         "\"created\":\"2024-01-01T00:00:00Z\",\"owner\":\"\"}",
                         &st, &e),
                     0);
    assert_string_equal(st.id, "c1");
    assert_int_equal(st.pid, 4242);
    assert_int_equal(st.status, AGENT_RUNC_RUNNING);
    assert_string_equal(st.bundle, "/b/c1");

    assert_int_equal(
        agent__runc_state_parse("{\"id\":\"c2\",\"pid\":0,\"status\":\"stopped\"}", &st, &e), 0);
    assert_int_equal(st.status, AGENT_RUNC_STOPPED);
    assert_int_equal(st.pid, 0);
    assert_string_equal(st.bundle, "");
    assert_int_equal(
        agent__runc_state_parse("{\"id\":\"c3\",\"pid\":7,\"status\":\"created\"}", &st, &e), 0);
    assert_int_equal(st.status, AGENT_RUNC_CREATED);
    assert_int_equal(
        agent__runc_state_parse("{\"id\":\"c3\",\"pid\":7,\"status\":\"paused\"}", &st, &e), 0);
    assert_int_equal(st.status, AGENT_RUNC_PAUSED);
}

static void test_state_parse_bad_input_names_the_field(void **state)
{
    struct agent__runc_state st;
    struct err e;

    (void)state;
    assert_int_equal(agent__runc_state_parse("not json", &st, &e), ERR_INVALID);
    assert_contains(e.msg, "state: bad json");
    assert_int_equal(agent__runc_state_parse("[]", &st, &e), ERR_INVALID);
    assert_int_equal(agent__runc_state_parse("{\"pid\":1,\"status\":\"running\"}", &st, &e),
                     ERR_INVALID);
    assert_string_equal(e.msg, "state.id: must be a non-empty string");
    assert_int_equal(agent__runc_state_parse("{\"id\":\"x\",\"status\":\"sleepy\"}", &st, &e),
                     ERR_INVALID);
    assert_string_equal(e.msg, "state.status: unknown status \"sleepy\"");
    assert_int_equal(
        agent__runc_state_parse("{\"id\":\"x\",\"status\":\"running\",\"pid\":-3}", &st, &e),
        ERR_INVALID);
    assert_string_equal(e.msg, "state.pid: must be a non-negative integer");
    assert_int_equal(
        agent__runc_state_parse("{\"id\":\"x\",\"status\":\"running\",\"pid\":\"1\"}", &st, &e),
        ERR_INVALID);
}

static void test_list_parse(void **state)
{
    struct agent__runc_state *l;
    struct err e;
    size_t n;

    (void)state;
    assert_int_equal(agent__runc_list_parse("null", &l, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(l);
    assert_int_equal(agent__runc_list_parse("[]", &l, &n, &e), 0);
    assert_int_equal(n, 0);
    free(l);
    assert_int_equal(agent__runc_list_parse(
                         "[{\"id\":\"a\",\"pid\":10,\"status\":\"running\",\"bundle\":\"/b/a\"},"
                         " {\"id\":\"b\",\"pid\":0,\"status\":\"stopped\",\"bundle\":\"/b/b\"}]",
                         &l, &n, &e),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].id, "a");
    assert_string_equal(l[0].bundle, "/b/a");
    assert_int_equal(l[1].status, AGENT_RUNC_STOPPED);
    free(l);
    assert_int_equal(
        agent__runc_list_parse("[{\"id\":\"a\",\"status\":\"running\"}, 3]", &l, &n, &e),
        ERR_INVALID);
    assert_string_equal(e.msg, "list[1]: must be an object");
    assert_null(l);
    assert_int_equal(agent__runc_list_parse("{}", &l, &n, &e), ERR_INVALID);
}

/* ---- a fake runc ---- */

struct fx {
    char dir[64];
    struct agent__runc r;
};

/* A shell script in place of runc: prints its arguments to args.txt and
 * behaves by the subcommand. */
static const char fake[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "echo \"$@\" > \"$d/args.txt\"\n"
    "while [ $# -gt 0 ]; do case \"$1\" in --log) log=$2; shift 2;; --root|--log-format) shift 2;; "
    "*) break;; esac; done\n"
    "cmd=$1; shift\n"
    "case \"$cmd\" in\n"
    "state) if [ \"$1\" = c1 ]; then echo '{\"id\":\"c1\",\"pid\":99,\"status\":\"running\"}'; "
    "else echo '{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"t\"}' >&2; "
    "exit 1; fi;;\n"
    "list) echo null;;\n"
    "kill) echo '{\"level\":\"error\",\"msg\":\"container not running\",\"time\":\"t\"}' >&2; exit "
    "1;;\n"
    "delete) echo 'plain failure line' >&2; echo 'second' >&2; exit 1;;\n"
    "start) exec sleep 5;;\n"
    "exec) while [ \"$1\" != c1 ]; do [ \"$1\" = --pid-file ] && pf=$2; shift; done; shift;\n"
    "      if [ \"$1\" = hang ]; then sleep 30 & echo $! > \"$pf\"; wait; exit $?; fi\n"
    "      echo out-line; echo err-line >&2; exit 5;;\n"
    "create) echo '{\"level\":\"error\",\"msg\":\"rootfs missing\",\"time\":\"t\"}' > \"$log\"; "
    "exit 1;;\n"
    "esac\n";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char p[128];
    FILE *o;
    struct err e;

    snprintf(f->dir, sizeof f->dir, "/tmp/skiff-runc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(p, sizeof p, "%s/runc", f->dir);
    o = fopen(p, "w");
    assert_non_null(o);
    fputs(fake, o);
    fclose(o);
    chmod(p, 0755);
    assert_int_equal(agent__runc_init(&f->r, p, "/tmp/skiff-runc-root-unused", 2000, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fs_rmtree(f->dir);
    free(f);
    return 0;
}

static void test_state_and_errors_through_the_binary(void **state)
{
    struct fx *f = *state;
    struct agent__runc_state st;
    struct agent__runc_state *l;
    size_t n;
    struct err e;

    assert_int_equal(agent__runc_state(&f->r, "c1", &st, &e), 0);
    assert_int_equal(st.pid, 99);
    assert_int_equal(agent__runc_state(&f->r, "c9", &st, &e), ERR_NOTFOUND);
    assert_string_equal(e.msg, "runc state c9: container does not exist");
    assert_int_equal(agent__runc_kill(&f->r, "c1", SIGTERM, true, &e), ERR_NOTFOUND);
    assert_string_equal(e.msg, "runc kill c1: container not running");
    /* a non-json error: its first line */
    assert_int_equal(agent__runc_delete(&f->r, "c1", true, &e), ERR_IO);
    assert_string_equal(e.msg, "runc delete c1: plain failure line");
    assert_int_equal(agent__runc_list(&f->r, &l, &n, &e), 0);
    assert_int_equal(n, 0);
    /* bad ids never reach runc */
    assert_int_equal(agent__runc_start(&f->r, "../x", &e), ERR_INVALID);
    assert_int_equal(agent__runc_start(&f->r, "--help", &e), ERR_INVALID);
}

static void test_every_call_has_a_deadline(void **state)
{
    struct fx *f = *state;
    struct timespec a, b;
    struct err e;

    f->r.timeout_ms = 200;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(agent__runc_start(&f->r, "c1", &e), ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_string_equal(e.msg, "runc start c1: timed out after 200 ms");
    assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 3000);
}

static void test_exec_captures_output_and_exit_code(void **state)
{
    struct fx *f = *state;
    const char *args[] = {"sh", "-c", "x", NULL};
    const char *env[] = {"A=1", NULL};
    struct agent__exec_result res;
    struct err e;

    assert_int_equal(agent__runc_exec(&f->r, "c1", args, env, "/tmp", 5000, &res, &e), 0);
    assert_int_equal(res.exit_code, 5);
    assert_false(res.timed_out);
    assert_string_equal(res.out, "out-line\n");
    assert_string_equal(res.err, "err-line\n");
    agent__exec_result_close(&res);
}

static void test_exec_timeout_kills_the_process(void **state)
{
    struct fx *f = *state;
    const char *args[] = {"hang", NULL};
    struct agent__exec_result res;
    struct timespec a, b;
    struct err e;

    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(agent__runc_exec(&f->r, "c1", args, NULL, NULL, 300, &res, &e), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(res.timed_out);
    assert_int_equal(res.exit_code, -1);
    assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 3000);
    agent__exec_result_close(&res);
}

static void test_create_failure_carries_runc_log_error(void **state)
{
    struct fx *f = *state;
    char bundle[96], log[128];
    pid_t pid;
    struct err e;

    snprintf(bundle, sizeof bundle, "%s/b", f->dir);
    assert_int_equal(mkdir(bundle, 0755), 0);
    snprintf(log, sizeof log, "%s/c.log", f->dir);
    assert_int_equal(agent__runc_create(&f->r, "c1", bundle, log, log, &pid, &e), ERR_IO);
    assert_string_equal(e.msg, "runc create c1: rootfs missing");
    assert_int_equal(pid, 0);
    assert_int_equal(access(log, F_OK), 0); /* the container log exists for the caller */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_parse_running_and_stopped),
        cmocka_unit_test(test_state_parse_bad_input_names_the_field),
        cmocka_unit_test(test_list_parse),
        cmocka_unit_test_setup_teardown(test_state_and_errors_through_the_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_call_has_a_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_captures_output_and_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_timeout_kills_the_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_failure_carries_runc_log_error, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
