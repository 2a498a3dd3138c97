/* Pull through a real registry, driven by tests/integration/
 * test_image_registry.sh through the environment; skipped when
 * SKIFF_TEST_REGISTRY is unset (the plain unit test run).
 *   SKIFF_TEST_STORE   image store dir (absolute)
 *   SKIFF_TEST_REF     reference to pull
 *   SKIFF_TEST_EXPECT  ok | invalid | notfound | io | timeout | denied
 *   SKIFF_TEST_MSG     text the error message must contain (optional)
 *   SKIFF_TEST_RUN     1: mount the rootfs, chroot /bin/busybox echo hello,
 *                      check a whiteout of the top layer, unmount
 *   SKIFF_TEST_USER, SKIFF_TEST_PASS  credentials for the ref's registry
 * Prints "digest=<manifest digest>" on success, "error=<message>" else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

struct progress {
    int calls;
    uint64_t last_done, last_total;
};

static void on_progress(void *data, const char *ref, const char *digest, uint64_t done,
                        uint64_t total)
{
    struct progress *p = data;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    fprintf(stderr, "progress ref=%s digest=%.19s done=%llu total=%llu\n", ref, digest,
            (unsigned long long)done, (unsigned long long)total);
}

static int code_of(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } names[] = {{"ok", 0},
                 {"invalid", ERR_INVALID},
                 {"notfound", ERR_NOTFOUND},
                 {"io", ERR_IO},
                 {"timeout", ERR_TIMEOUT},
                 {"denied", ERR_DENIED},
                 {"shutdown", ERR_SHUTDOWN}};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].code;
    fail_msg("SKIFF_TEST_EXPECT=%s: unknown", name);
    return -1;
}

/* chroot root /bin/busybox <args>; returns its stdout (static buffer). */
static const char *run_in(const char *root, const char *const *argv)
{
    static char out[256];
    int fds[2], status;
    ssize_t n, used = 0;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        if (chroot(root) != 0 || chdir("/") != 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    while ((n = read(fds[0], out + used, sizeof out - 1 - (size_t)used)) > 0)
        used += n;
    out[used] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s in %s: exit status %d", argv[0], root, status);
    return out;
}

static void check_rootfs(struct agent_image_store *s, const char *ref, const char *store_dir)
{
    char up[PATH_MAX], wk[PATH_MAX], mnt[PATH_MAX], p[PATH_MAX];
    const char *echo[] = {"/bin/busybox", "echo", "hello", NULL};
    const char *cat[] = {"/bin/busybox", "cat", "/etc/skiff-hello", NULL};
    struct err e = {0};
    char **dirs;
    size_t n;
    json_t *cfg;
    int rv;

    if (agent_image_layers(s, ref, &dirs, &n, &e) != 0)
        fail_msg("layers: %s", e.msg);
    snprintf(up, sizeof up, "%s-up", store_dir);
    snprintf(wk, sizeof wk, "%s-work", store_dir);
    snprintf(mnt, sizeof mnt, "%s-root", store_dir);
    rv = agent_image_mount((const char *const *)dirs, n, up, wk, mnt, &e);
    agent_image_layers_free(dirs, n);
    if (rv != 0)
        fail_msg("mount: %s", e.msg);
    assert_string_equal(run_in(mnt, echo), "hello\n");
    assert_string_equal(run_in(mnt, cat), "hi from skiff\n");
    /* the top layer deleted /bin/echo: its whiteout hides the lower one */
    snprintf(p, sizeof p, "%s/bin/echo", mnt);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(agent_image_umount(mnt, &e), 0);
    assert_int_equal(agent_image_config(s, ref, &cfg, &e), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "Cmd"), 0)),
                        "/bin/sh");
    json_decref(cfg);
    fprintf(stderr, "rootfs ok: chroot echo hello, whiteout honoured\n");
}

static void test_pull_as_the_environment_says(void **state)
{
    const char *reg = getenv("SKIFF_TEST_REGISTRY");
    const char *dir = getenv("SKIFF_TEST_STORE"), *ref = getenv("SKIFF_TEST_REF");
    const char *expect = getenv("SKIFF_TEST_EXPECT"), *msg = getenv("SKIFF_TEST_MSG");
    const char *run = getenv("SKIFF_TEST_RUN");
    struct agent_image_store *s = NULL;
    struct agent_image_pull_opts o = {0};
    struct progress prog = {0};
    struct agent_image_registry reg_cfg = {0};
    struct agent_image_ref r;
    char digest[AGENT_IMAGE_DIGEST_SIZE];
    struct err e = {0};
    int want, rv;
    (void)state;

    if (reg == NULL || reg[0] == '\0')
        skip();
    if (dir == NULL || ref == NULL)
        fail_msg("SKIFF_TEST_STORE and SKIFF_TEST_REF are required");
    want = code_of(expect ? expect : "ok");
    if (agent_image_store_open(dir, &s, &e) != 0)
        fail_msg("open %s: %s", dir, e.msg);
    if (getenv("SKIFF_TEST_USER") != NULL) {
        assert_int_equal(agent_image_ref_parse(ref, &r, &e), 0);
        reg_cfg.host = r.registry;
        reg_cfg.plain_http = true;
        reg_cfg.username = getenv("SKIFF_TEST_USER");
        reg_cfg.password = getenv("SKIFF_TEST_PASS");
        o.registries = &reg_cfg;
        o.n_registries = 1;
    }
    o.timeout_ms = 5000;
    o.retries = 1;
    o.progress = on_progress;
    o.progress_data = &prog;
    rv = agent_image_pull(s, ref, &o, digest, &e);
    if (rv == 0)
        printf("digest=%s\n", digest);
    else
        printf("error=%s (%s)\n", e.msg, err_name(rv));
    fflush(stdout);
    if (rv != want)
        fail_msg("pull %s: got %s, want %s: %s", ref, err_name(rv), expect, e.msg);
    if (msg != NULL && rv != 0 && strstr(e.msg, msg) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, msg);
    if (rv == 0) {
        struct progress again = {0};
        char d2[AGENT_IMAGE_DIGEST_SIZE];
        /* a fresh store downloads each blob once and reports it; a second
         * pull finds every blob present and transfers none */
        o.progress_data = &again;
        assert_int_equal(agent_image_pull(s, ref, &o, d2, &e), 0);
        assert_string_equal(digest, d2);
        assert_int_equal(again.calls, 0);
        if (prog.calls > 0)
            assert_int_equal(prog.last_done, prog.last_total);
        if (run != NULL && strcmp(run, "1") == 0)
            check_rootfs(s, ref, dir);
    }
    agent_image_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull_as_the_environment_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
