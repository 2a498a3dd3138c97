/* consensus/aio.c: io_destroy(2) made through syscall(3) runs on the helper
 * thread while cons__aio_start() is in effect, and synchronously otherwise;
 * every other syscall passes through unchanged. The kernel AIO contexts are
 * real (io_setup); "destroyed" is checked by the kernel refusing a second
 * io_destroy of the same context with EINVAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "consensus/internal.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static aio_context_t setup_ctx(void)
{
    aio_context_t ctx = 0;
    assert_int_equal(syscall(SYS_io_setup, 1, &ctx), 0);
    assert_true(ctx != 0);
    return ctx;
}

/* the kernel no longer knows ctx */
static void assert_destroyed(aio_context_t ctx)
{
    errno = 0;
    assert_int_equal(syscall(SYS_io_destroy, ctx), -1);
    assert_int_equal(errno, EINVAL);
}

static void test_passthrough_when_stopped(void **state)
{
    (void)state;
    assert_int_equal(syscall(SYS_getpid), getpid());
    uint64_t before = cons__aio_offloaded();
    aio_context_t ctx = setup_ctx();
    assert_int_equal(syscall(SYS_io_destroy, ctx), 0);
    assert_destroyed(ctx); /* synchronous: gone at once */
    assert_int_equal(cons__aio_offloaded(), before);
}

static void test_offloaded_when_started(void **state)
{
    (void)state;
    struct err e;
    assert_int_equal(cons__aio_start(&e), 0);
    uint64_t before = cons__aio_offloaded();
    aio_context_t ctx[8];
    for (int i = 0; i < 8; i++)
        ctx[i] = setup_ctx();
    double t0 = now_ms();
    for (int i = 0; i < 8; i++)
        assert_int_equal(syscall(SYS_io_destroy, ctx[i]), 0);
    double took = now_ms() - t0;
    assert_int_equal(cons__aio_offloaded(), before + 8);
    /* a synchronous io_destroy takes ~30 ms here; eight queued ones return
     * without waiting for any (generous bound for a loaded machine) */
    assert_true(took < 100.0);
    assert_int_equal(syscall(SYS_getppid), getppid());
    cons__aio_stop(); /* drains the queue */
    for (int i = 0; i < 8; i++)
        assert_destroyed(ctx[i]);
}

static void test_reference_counted(void **state)
{
    (void)state;
    struct err e;
    assert_int_equal(cons__aio_start(&e), 0);
    assert_int_equal(cons__aio_start(&e), 0);
    cons__aio_stop(); /* one user left: still offloading */
    uint64_t before = cons__aio_offloaded();
    aio_context_t ctx = setup_ctx();
    assert_int_equal(syscall(SYS_io_destroy, ctx), 0);
    assert_int_equal(cons__aio_offloaded(), before + 1);
    cons__aio_stop();
    assert_destroyed(ctx);
    cons__aio_stop(); /* an extra stop is harmless */
    before = cons__aio_offloaded();
    ctx = setup_ctx();
    assert_int_equal(syscall(SYS_io_destroy, ctx), 0);
    assert_destroyed(ctx);
    assert_int_equal(cons__aio_offloaded(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passthrough_when_stopped),
        cmocka_unit_test(test_offloaded_when_started),
        cmocka_unit_test(test_reference_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
