/* The set checker on hand-written histories: lost, unexpected, stale and
 * recovered elements, and when there is nothing to judge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/jepsen/hist.h"

static enum jepsen_verdict check(struct jepsen_history *h, struct jepsen_set_result *r)
{
    struct err e = {0};
    if (jepsen_set_check(h, r, &e) != 0)
        fail_msg("check: %s", e.msg);
    jepsen_history_close(h);
    return r->verdict;
}

static void test_every_acknowledged_add_present_is_valid(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    HIST(&h, "1 invoke add s 1", "2 invoke add s 2", "1 ok add s 1", "2 fail add s 2",
         "3 invoke add s 3", "3 ok add s 3", "9 invoke read s", "9 ok read s [3,1]");
    assert_int_equal(check(&h, &r), JEPSEN_VALID);
    assert_int_equal(r.attempted, 3);
    assert_int_equal(r.acknowledged, 2);
    assert_int_equal(r.present, 2);
    assert_int_equal(r.lost + r.unexpected + r.stale + r.recovered, 0);
    jepsen_set_result_close(&r);
}

static void test_lost_add_is_caught(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    HIST(&h, "1 invoke add s 1", "1 ok add s 1", "1 invoke add s 2", "1 ok add s 2",
         "9 invoke read s", "9 ok read s [1]");
    assert_int_equal(check(&h, &r), JEPSEN_INVALID);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.lost_sample_n, 1);
    assert_string_equal(r.lost_sample[0], "2");
    jepsen_set_result_print(&r, stdout);
    jepsen_set_result_close(&r);
}

static void test_add_acknowledged_during_final_read_is_not_lost(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    HIST(&h, "1 invoke add s 1", "9 invoke read s", "1 ok add s 1", "9 ok read s []");
    assert_int_equal(check(&h, &r), JEPSEN_VALID);
    assert_int_equal(r.lost, 0);
    jepsen_set_result_close(&r);
}

static void test_unexpected_element_is_caught(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    HIST(&h, "1 invoke add s 1", "1 ok add s 1", "8 invoke read s", "8 ok read s [1,\"x\"]",
         "9 invoke read s", "9 ok read s [1,\"x\"]");
    assert_int_equal(check(&h, &r), JEPSEN_INVALID);
    assert_int_equal(r.unexpected, 1);
    assert_string_equal(r.unexpected_sample[0], "\"x\"");
    jepsen_set_result_close(&r);
}

static void test_info_adds_present_are_recovered(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    HIST(&h, "1 invoke add s 1", "1 info add s 1", "11 invoke add s 2", "11 info add s 2",
         "21 invoke add s 3", "9 invoke read s", "9 ok read s [1,3]");
    assert_int_equal(check(&h, &r), JEPSEN_VALID);
    assert_int_equal(r.recovered, 2);
    assert_int_equal(r.lost, 0);
    jepsen_set_result_close(&r);
}

static void test_stale_read_is_counted(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    /* read 8 began after add 2 was acknowledged and missed it; the final
     * read has it, so it is stale rather than lost */
    HIST(&h, "1 invoke add s 1", "1 ok add s 1", "1 invoke add s 2", "1 ok add s 2",
         "8 invoke read s", "8 ok read s [1]", "9 invoke read s", "9 ok read s [1,2]");
    assert_int_equal(check(&h, &r), JEPSEN_INVALID);
    assert_int_equal(r.stale, 1);
    assert_int_equal(r.lost, 0);
    assert_int_equal(r.reads, 2);
    jepsen_set_result_close(&r);
}

static void test_no_successful_read_is_unknown(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    HIST(&h, "1 invoke add s 1", "1 ok add s 1", "9 invoke read s", "9 info read s");
    assert_int_equal(check(&h, &r), JEPSEN_UNKNOWN);
    jepsen_set_result_close(&r);
}

static void test_bad_set_histories_are_rejected(void **state)
{
    struct jepsen_history h;
    struct jepsen_set_result r;
    struct err e;
    HIST(&h, "9 invoke read s", "9 ok read s 3");
    assert_int_equal(jepsen_set_check(&h, &r, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "line 2: read value: must be an array"));
    jepsen_history_close(&h);
    HIST(&h, "1 invoke write s 1", "1 ok write s 1");
    assert_int_equal(jepsen_set_check(&h, &r, &e), ERR_INVALID);
    jepsen_history_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_acknowledged_add_present_is_valid),
        cmocka_unit_test(test_lost_add_is_caught),
        cmocka_unit_test(test_add_acknowledged_during_final_read_is_not_lost),
        cmocka_unit_test(test_unexpected_element_is_caught),
        cmocka_unit_test(test_info_adds_present_are_recovered),
        cmocka_unit_test(test_stale_read_is_counted),
        cmocka_unit_test(test_no_successful_read_is_unknown),
        cmocka_unit_test(test_bad_set_histories_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
