/* lib/prom: histogram buckets (le boundaries, +Inf), label and HELP
 * escaping, number formatting, and the writer's exact output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "lib/prom.h"

static void test_hist_le_boundaries(void **state)
{
    static const double bounds[] = {0.1, 1, 10};
    struct prom_hist h;
    (void)state;
    prom_hist_init(&h, bounds, 3);
    prom_hist_observe(&h, 0.1); /* le is inclusive: 0.1 goes in le="0.1" */
    prom_hist_observe(&h, 0.10000001);
    prom_hist_observe(&h, 1);
    prom_hist_observe(&h, 10);
    prom_hist_observe(&h, 10.5); /* +Inf */
    prom_hist_observe(&h, -3);   /* below every bound: first bucket */
    prom_hist_observe(&h, NAN);  /* ignored */
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 2);
    assert_int_equal(h.counts[2], 1);
    assert_int_equal(h.counts[3], 1);
    assert_int_equal(h.count, 6);
    assert_true(fabs(h.sum - (0.1 + 0.10000001 + 1 + 10 + 10.5 - 3)) < 1e-9);
}

static void test_hist_zeroed_uses_defaults(void **state)
{
    struct prom_hist h;
    size_t n;
    const double *b;
    (void)state;
    memset(&h, 0, sizeof h);
    b = prom_hist_bounds(&h, &n);
    assert_int_equal(n, 11);
    assert_true(b[0] == 0.005 && b[10] == 10);
    prom_hist_observe(&h, 0.003);
    prom_hist_observe(&h, 0.2);
    prom_hist_observe(&h, 100);
    assert_int_equal(h.counts[0], 1);
    assert_int_equal(h.counts[5], 1); /* le=0.25 */
    assert_int_equal(h.counts[11], 1);
    {
        struct buf out = {0};
        prom_hist_write(&out, "x", NULL, 0, &h);
        assert_non_null(strstr(out.p, "x_bucket{le=\"0.005\"} 1\n"));
        assert_non_null(strstr(out.p, "x_bucket{le=\"0.25\"} 2\n"));
        assert_non_null(strstr(out.p, "x_bucket{le=\"10\"} 2\nx_bucket{le=\"+Inf\"} 3\n"));
        assert_non_null(strstr(out.p, "x_count 3\n"));
        buf_close(&out);
    }
}

static void test_hist_too_many_bounds(void **state)
{
    static const double many[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                    11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    struct prom_hist h;
    (void)state;
    prom_hist_init(&h, many, 20);
    assert_int_equal(h.n_bounds, PROM_BUCKETS_MAX);
    prom_hist_observe(&h, 19); /* beyond the kept bounds: +Inf */
    assert_int_equal(h.counts[PROM_BUCKETS_MAX], 1);
}

static void test_escape_label(void **state)
{
    struct buf b = {0};
    (void)state;
    prom_escape_label(&b, "a\\b\"c\nd");
    assert_string_equal(b.p, "a\\\\b\\\"c\\nd");
    buf_close(&b);
    prom_escape_label(&b, "");
    assert_true(b.p == NULL || b.p[0] == '\0');
    buf_close(&b);
}

static void test_format_double(void **state)
{
    char s[40];
    (void)state;
    prom_format_double(0.1, s, sizeof s);
    assert_string_equal(s, "0.1");
    prom_format_double(2.5, s, sizeof s);
    assert_string_equal(s, "2.5");
    prom_format_double(1, s, sizeof s);
    assert_string_equal(s, "1");
    prom_format_double(0.005, s, sizeof s);
    assert_string_equal(s, "0.005");
    prom_format_double(10, s, sizeof s);
    assert_string_equal(s, "10");
    prom_format_double(0, s, sizeof s);
    assert_string_equal(s, "0");
    prom_format_double(123456, s, sizeof s);
    assert_string_equal(s, "123456");
    prom_format_double(999999.5, s, sizeof s);
    assert_string_equal(s, "999999.5");
    prom_format_double(1e6, s, sizeof s); /* Go switches to %e at exponent 6 */
    assert_string_equal(s, "1e+06");
    prom_format_double(1234567, s, sizeof s);
    assert_string_equal(s, "1.234567e+06");
    prom_format_double(0.0001, s, sizeof s);
    assert_string_equal(s, "0.0001");
    prom_format_double(0.00001, s, sizeof s);
    assert_string_equal(s, "1e-05");
    prom_format_double(-2.5, s, sizeof s);
    assert_string_equal(s, "-2.5");
    prom_format_double(0.1 + 0.2, s, sizeof s); /* needs all 17 digits */
    assert_string_equal(s, "0.30000000000000004");
    prom_format_double(1e21, s, sizeof s);
    assert_string_equal(s, "1e+21");
    prom_format_double(INFINITY, s, sizeof s);
    assert_string_equal(s, "+Inf");
    prom_format_double(-INFINITY, s, sizeof s);
    assert_string_equal(s, "-Inf");
    prom_format_double(NAN, s, sizeof s);
    assert_string_equal(s, "NaN");
}

static void test_writer_exact(void **state)
{
    static const double bounds[] = {0.5, 1};
    struct prom_label l[] = {{"verb", "GET"}, {"path", "a\"b\\c\nd"}};
    struct prom_hist h;
    struct buf b = {0};
    (void)state;

    prom_family(&b, "skiff_x_total", "counter", "Things.\nWith a \\ in help");
    prom_sample_u64(&b, "skiff_x_total", l, 2, 18446744073709551615ull);
    prom_sample_u64(&b, "skiff_x_total", NULL, 0, 0);
    prom_family(&b, "skiff_g", "gauge", "A gauge.");
    prom_sample(&b, "skiff_g", NULL, 0, 0.25);
    prom_hist_init(&h, bounds, 2);
    prom_hist_observe(&h, 0.25);
    prom_hist_observe(&h, 0.75);
    prom_hist_observe(&h, 3);
    prom_family(&b, "skiff_lat_seconds", "histogram", "Latency.");
    prom_hist_write(&b, "skiff_lat_seconds", l, 1, &h);
    prom_hist_write(&b, "skiff_lat_seconds", NULL, 0, &h);
    assert_false(b.oom);
    assert_string_equal(b.p, "# HELP skiff_x_total Things.\\nWith a \\\\ in help\n"
                             "# TYPE skiff_x_total counter\n"
                             "skiff_x_total{verb=\"GET\",path=\"a\\\"b\\\\c\\nd\"} "
                             "18446744073709551615\n"
                             "skiff_x_total 0\n"
                             "# HELP skiff_g A gauge.\n"
                             "# TYPE skiff_g gauge\n"
                             "skiff_g 0.25\n"
                             "# HELP skiff_lat_seconds Latency.\n"
                             "# TYPE skiff_lat_seconds histogram\n"
                             "skiff_lat_seconds_bucket{verb=\"GET\",le=\"0.5\"} 1\n"
                             "skiff_lat_seconds_bucket{verb=\"GET\",le=\"1\"} 2\n"
                             "skiff_lat_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 3\n"
                             "skiff_lat_seconds_sum{verb=\"GET\"} 4\n"
                             "skiff_lat_seconds_count{verb=\"GET\"} 3\n"
                             "skiff_lat_seconds_bucket{le=\"0.5\"} 1\n"
                             "skiff_lat_seconds_bucket{le=\"1\"} 2\n"
                             "skiff_lat_seconds_bucket{le=\"+Inf\"} 3\n"
                             "skiff_lat_seconds_sum 4\n"
                             "skiff_lat_seconds_count 3\n");
    buf_close(&b);
}

static void test_writer_oom_sticky(void **state)
{
    struct buf b = {0};
    (void)state;
    b.oom = true; /* as after a failed realloc: appends are no-ops */
    prom_family(&b, "skiff_a", "gauge", "x");
    prom_sample(&b, "skiff_a", NULL, 0, 1);
    assert_null(b.p);
    buf_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_le_boundaries),
        cmocka_unit_test(test_hist_zeroed_uses_defaults),
        cmocka_unit_test(test_hist_too_many_bounds),
        cmocka_unit_test(test_escape_label),
        cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_writer_exact),
        cmocka_unit_test(test_writer_oom_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
