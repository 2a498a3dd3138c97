/* cons__snap_stagger: each replica snapshots at its own phase of the
 * interval, so that replicas never serialise the store at the same index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>

#include "consensus/internal.h"

static void test_single_replica_uses_the_period(void **state)
{
    (void)state;
    assert_int_equal(cons__snap_stagger(0, 4096, 0, 1), 4096);
    assert_int_equal(cons__snap_stagger(12345, 4096, 0, 1), 4096);
    assert_int_equal(cons__snap_stagger(100, 1, 0, 3), 1);
    assert_int_equal(cons__snap_stagger(100, 4096, 3, 3), 4096); /* bad rank */
}

/* Three and five replicas, from the same start, over many periods: each one
 * lands on its own phase, never sooner than half a period after its last
 * snapshot nor later than one and a half, and no two share an index. */
static void test_replicas_keep_distinct_phases(void **state)
{
    (void)state;
    const unsigned periods[] = {4096, 10000, 65536};
    const uint64_t sizes[] = {3, 5};
    for (size_t p = 0; p < 3; p++) {
        for (size_t z = 0; z < 2; z++) {
            unsigned period = periods[p];
            uint64_t n = sizes[z];
            uint64_t snaps[5][12];
            for (uint64_t r = 0; r < n; r++) {
                uint64_t last = 777; /* all start from the same snapshot */
                for (int k = 0; k < 12; k++) {
                    unsigned t = cons__snap_stagger(last, period, r, n);
                    assert_true(t > period / 2);
                    assert_true(t <= period + period / 2);
                    last += t;
                    snaps[r][k] = last;
                    assert_int_equal(last % period, r * period / n);
                }
            }
            for (uint64_t a = 0; a < n; a++)
                for (uint64_t b = a + 1; b < n; b++)
                    for (int i = 0; i < 12; i++)
                        for (int j = 0; j < 12; j++) {
                            uint64_t x = snaps[a][i], y = snaps[b][j];
                            uint64_t d = x > y ? x - y : y - x;
                            assert_true(d >= period / n - 1);
                        }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_replica_uses_the_period),
        cmocka_unit_test(test_replicas_keep_distinct_phases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
