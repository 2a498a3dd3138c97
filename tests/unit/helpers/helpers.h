/* tests/unit/helpers: pieces shared by unit tests that need certificates,
 * temp dirs, loopback ports or a libuv loop driven to a deadline. The
 * Makefile links every .c file of tests/unit/helpers/ into every unit test binary,
 * so these files define no main, no cmocka test and nothing that runs
 * unless called. Loop thread only (tests are single-threaded). */
#ifndef SKIFF_TESTS_UNIT_HELPERS_HELPERS_H
#define SKIFF_TESTS_UNIT_HELPERS_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* ---- certificates (openssl CLI) ---- */

/* A temp dir holding a test PKI:
 *   ca.crt/ca.key        the cluster CA (CN skiff-test-ca)
 *   <name>.crt/<name>.key for each requested name (CN <name>), signed by ca
 *   evilca.crt/evilca.key another CA (CN evil-ca)
 *   evil.crt/evil.key    CN evil, signed by evilca (a stranger's identity) */
struct helpers_certs {
    char dir[64];
};

/* Creates the dir (mkdtemp of "/tmp/<prefix>-XXXXXX") and the files above
 * for names[0..n_names). Names are plain [a-z0-9-]. Returns 0, or -1 (dir
 * removed again). Takes ~50 ms per key pair: call it once per group. */
int helpers_certs_create(struct helpers_certs *c, const char *prefix, const char *const *names,
                         size_t n_names);

/* "<dir>/<name>". Returns one of 16 rotating static buffers: valid until
 * 16 more calls, enough for every argument of one call. */
const char *helpers_certs_path(const struct helpers_certs *c, const char *name);

/* Removes the dir and everything in it. */
void helpers_certs_remove(struct helpers_certs *c);

/* ---- files and ports ---- */

/* mkdtemp of "/tmp/<prefix>-XXXXXX" into dir (cap >= strlen(prefix) + 13).
 * Returns 0 or -1. */
int helpers_mkdtemp(char *dir, size_t cap, const char *prefix);

/* rm -rf dir (no symlinks followed). */
void helpers_rmtree(const char *dir);

/* A loopback TCP port nobody listens on right now (bound, read, released),
 * or -1. Another process may take it before the test binds it; good enough
 * on a test machine. */
int helpers_free_port(void);

/* ---- loop ---- */

/* No-op timer callback: a repeating timer with it keeps uv_run(UV_RUN_ONCE)
 * from blocking forever when nothing else is pending. */
void helpers_tick_cb(uv_timer_t *t);

/* Runs the loop until nothing is alive any more (every handle closed, no
 * request pending) or 10 s pass, then uv_loop_close(). Handles still open
 * are printed to stderr (type, address) to tell which one leaked. Returns
 * uv_loop_close's result: 0 when everything was closed. */
int helpers_loop_close(uv_loop_t *loop);

/* The macros below work on a fixture pointer f with `uv_loop_t loop` and an
 * initialised (stopped) `uv_timer_t tick`, and need cmocka.h included first. */

/* Runs the loop one iteration at a time until cond holds or ms pass, then
 * asserts cond. Never sleeps blindly: each iteration waits at most 10 ms. */
#define RUN_UNTIL(f, cond, ms)                                                                     \
    do {                                                                                           \
        uint64_t deadline_ = uv_now(&(f)->loop) + (ms);                                            \
        uv_timer_start(&(f)->tick, helpers_tick_cb, 10, 10);                                       \
        while (!(cond) && uv_now(&(f)->loop) < deadline_)                                          \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                       \
        uv_timer_stop(&(f)->tick);                                                                 \
        assert_true(cond);                                                                         \
    } while (0)

/* Runs the loop for ms, whatever happens. */
#define RUN_FOR(f, ms)                                                                             \
    do {                                                                                           \
        uint64_t until_ = uv_now(&(f)->loop) + (ms);                                               \
        uv_timer_start(&(f)->tick, helpers_tick_cb, 10, 10);                                       \
        while (uv_now(&(f)->loop) < until_)                                                        \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                       \
        uv_timer_stop(&(f)->tick);                                                                 \
    } while (0)

#endif
