/* The register linearizability checker and history parsing, on histories
 * written by hand: known-good ones (sequential, concurrent overlaps, info
 * ops that may or must have happened) and known-bad ones (stale read, lost
 * write, split-brain double cas). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/jepsen/hist.h"

/* Runs the checker on h (which it then closes) and returns the verdict;
 * the result is left in *r for the caller to inspect and close. */
static enum jepsen_verdict check(struct jepsen_history *h, size_t max_states,
                                 struct jepsen_linear_result *r)
{
    struct jepsen_linear_opts o = {.max_states = max_states};
    struct err e = {0};
    if (jepsen_linear_check(h, &o, r, &e) != 0)
        fail_msg("check: %s", e.msg);
    return r->verdict;
}

static enum jepsen_verdict verdict_of(struct jepsen_history *h)
{
    struct jepsen_linear_result r;
    enum jepsen_verdict v = check(h, 0, &r);
    jepsen_linear_result_close(&r);
    jepsen_history_close(h);
    return v;
}

static void test_sequential_history_is_linearizable(void **state)
{
    struct jepsen_history h;
    HIST(&h, "0 invoke read x", "0 ok read x null", "0 invoke write x 1", "0 ok write x 1",
         "1 invoke read x", "1 ok read x 1", "1 invoke cas x [1,2]", "1 ok cas x [1,2]",
         "0 invoke cas x [1,3]", "0 fail cas x [1,3]", "0 invoke read x", "0 ok read x 2");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
}

static void test_stale_read_after_acknowledged_write_is_caught(void **state)
{
    struct jepsen_history h;
    struct jepsen_linear_result r;
    HIST(&h, "0 invoke write x 1", "0 ok write x 1", "1 invoke write x 2", "1 ok write x 2",
         "2 invoke read x", "2 ok read x 1");
    assert_int_equal(check(&h, 0, &r), JEPSEN_INVALID);
    assert_string_equal(r.key, "x");
    /* the window names the stale read, and the write it missed */
    assert_true(r.window_n >= 2);
    assert_int_equal(r.window[r.stuck].f, JEPSEN_F_READ);
    assert_int_equal(h.events[r.window[r.stuck].invoke].line, 5);
    assert_string_equal(r.stuck_state, "2");
    assert_int_equal(r.window[r.window_n - 2].f, JEPSEN_F_WRITE);
    jepsen_linear_result_print(&h, &r, stdout);
    jepsen_linear_result_close(&r);
    jepsen_history_close(&h);
}

static void test_lost_write_is_caught(void **state)
{
    struct jepsen_history h;
    /* an acknowledged write, then every later read sees the value before it */
    HIST(&h, "0 invoke write x 0", "0 ok write x 0", "1 invoke write x 1", "1 ok write x 1",
         "2 invoke read x", "2 ok read x 1", "3 invoke read x", "3 ok read x 0");
    assert_int_equal(verdict_of(&h), JEPSEN_INVALID);
    HIST(&h, "1 invoke write x 1", "1 ok write x 1", "2 invoke read x", "2 ok read x null");
    assert_int_equal(verdict_of(&h), JEPSEN_INVALID);
}

static void test_split_brain_double_cas_is_caught(void **state)
{
    struct jepsen_history h;
    /* two leaders each accept a cas from the same value: even fully
     * concurrent, at most one of them can have succeeded */
    HIST(&h, "0 invoke write x 0", "0 ok write x 0", "1 invoke cas x [0,1]", "2 invoke cas x [0,2]",
         "1 ok cas x [0,1]", "2 ok cas x [0,2]");
    assert_int_equal(verdict_of(&h), JEPSEN_INVALID);
    /* one success and one failure is fine */
    HIST(&h, "0 invoke write x 0", "0 ok write x 0", "1 invoke cas x [0,1]", "2 invoke cas x [0,2]",
         "1 ok cas x [0,1]", "2 fail cas x [0,2]", "3 invoke read x", "3 ok read x 1");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
}

static void test_concurrent_overlapping_ops_are_fine(void **state)
{
    struct jepsen_history h;
    /* reads concurrent with a write may see either value, in an order
     * some linearization explains; the write's own order does not matter */
    HIST(&h, "0 invoke write x 1", "1 invoke read x", "2 invoke read x", "3 invoke write x 2",
         "1 ok read x 2", "2 ok read x 1", "3 ok write x 2", "0 ok write x 1", "4 invoke read x",
         "4 ok read x 1");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
    /* but once a read saw the new value, a later read cannot see the old */
    HIST(&h, "0 invoke write x 0", "0 ok write x 0", "0 invoke write x 1", "1 invoke read x",
         "1 ok read x 1", "2 invoke read x", "2 ok read x 0", "0 ok write x 1");
    assert_int_equal(verdict_of(&h), JEPSEN_INVALID);
}

static void test_info_ops_may_or_may_not_have_happened(void **state)
{
    struct jepsen_history h;
    /* a timed-out write seen later: it took effect */
    HIST(&h, "0 invoke write x 1", "0 info write x 1", "1 invoke read x", "1 ok read x 1");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
    /* ... or not seen: it never happened */
    HIST(&h, "0 invoke write x 1", "0 info write x 1", "1 invoke read x", "1 ok read x null");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
    /* it may take effect long after it timed out, even after other ops */
    HIST(&h, "0 invoke write x 1", "0 info write x 1", "1 invoke write x 2", "1 ok write x 2",
         "2 invoke read x", "2 ok read x 2", "2 invoke read x", "2 ok read x 1");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
    /* an invocation that never completes counts as info */
    HIST(&h, "5 invoke cas x [null,7]", "1 invoke read x", "1 ok read x 7");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
}

static void test_info_ops_cannot_happen_before_invocation_or_twice(void **state)
{
    struct jepsen_history h;
    /* a value read before the (only) write of it was invoked */
    HIST(&h, "1 invoke read x", "1 ok read x 1", "0 invoke write x 1", "0 info write x 1");
    assert_int_equal(verdict_of(&h), JEPSEN_INVALID);
    /* once it happened it cannot un-happen: 0 is never written again */
    HIST(&h, "0 invoke write x 0", "0 ok write x 0", "1 invoke write x 1", "1 info write x 1",
         "2 invoke read x", "2 ok read x 1", "2 invoke read x", "2 ok read x 0");
    assert_int_equal(verdict_of(&h), JEPSEN_INVALID);
    /* an info read tells nothing; a failed write did not happen */
    HIST(&h, "0 invoke write x 1", "0 fail write x 1", "1 invoke read x", "1 info read x",
         "2 invoke read x", "2 ok read x null");
    assert_int_equal(verdict_of(&h), JEPSEN_VALID);
}

static void test_keys_are_checked_independently(void **state)
{
    struct jepsen_history h;
    struct jepsen_linear_result r;
    HIST(&h, "0 invoke write a 1", "1 invoke write b 1", "0 ok write a 1", "1 ok write b 1",
         "2 invoke read a", "3 invoke read b", "2 ok read a 1", "3 ok read b null");
    assert_int_equal(check(&h, 0, &r), JEPSEN_INVALID);
    assert_string_equal(r.key, "b");
    assert_int_equal(r.keys, 2);
    jepsen_linear_result_close(&r);
    jepsen_history_close(&h);
}

static void test_search_budget_gives_unknown(void **state)
{
    struct jepsen_history h;
    struct jepsen_linear_result r;
    /* eight concurrent writes, then a read of the first: the greedy order
     * fails and the search has to try others */
    HIST(&h, "1 invoke write x 1", "2 invoke write x 2", "3 invoke write x 3", "4 invoke write x 4",
         "5 invoke write x 5", "6 invoke write x 6", "7 invoke write x 7", "8 invoke write x 8",
         "1 ok write x 1", "2 ok write x 2", "3 ok write x 3", "4 ok write x 4", "5 ok write x 5",
         "6 ok write x 6", "7 ok write x 7", "8 ok write x 8", "9 invoke read x", "9 ok read x 1");
    assert_int_equal(check(&h, 5, &r), JEPSEN_UNKNOWN);
    assert_string_equal(r.key, "x");
    jepsen_linear_result_close(&r);
    assert_int_equal(check(&h, 0, &r), JEPSEN_VALID);
    jepsen_linear_result_close(&r);
    jepsen_history_close(&h);
}

static void test_many_concurrent_ops_stay_tractable(void **state)
{
    char lines[4000][64];
    const char *ptr[4001];
    struct jepsen_history h;
    struct jepsen_linear_result r;
    size_t n = 0;
    /* 1000 rounds of 4 processes: two writers of distinct values and two
     * readers overlapping both; memoisation keeps this linear-ish */
    for (int i = 0; i < 500; i++) {
        snprintf(lines[n++], 64, "1 invoke write x %d", 2 * i);
        snprintf(lines[n++], 64, "2 invoke write x %d", 2 * i + 1);
        snprintf(lines[n++], 64, "3 invoke read x");
        snprintf(lines[n++], 64, "1 ok write x %d", 2 * i);
        snprintf(lines[n++], 64, "3 ok read x %d", 2 * i);
        snprintf(lines[n++], 64, "2 ok write x %d", 2 * i + 1);
        snprintf(lines[n++], 64, "4 invoke read x");
        snprintf(lines[n++], 64, "4 ok read x %d", i % 2 ? 2 * i : 2 * i + 1);
    }
    for (size_t i = 0; i < n; i++)
        ptr[i] = lines[i];
    ptr[n] = NULL;
    hist_parse(&h, ptr);
    /* odd rounds: read 4 saw 2i, so write 2i+1 came before write 2i */
    assert_int_equal(check(&h, 0, &r), JEPSEN_VALID);
    assert_true(r.states < 100000);
    jepsen_linear_result_close(&r);
    jepsen_history_close(&h);
}

static void test_bad_histories_are_rejected_with_the_line(void **state)
{
    struct jepsen_history h = {0};
    struct jepsen_linear_result r;
    struct err e = {0};
    const char *bad[] = {
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\"}\nnot json\n",
        "{\"process\":\"a\",\"type\":\"invoke\",\"f\":\"read\"}\n",
        "{\"process\":1,\"type\":\"begin\",\"f\":\"read\"}\n",
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":7}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(jepsen_history_parse(bad[i], strlen(bad[i]), &h, &e), ERR_INVALID);
        assert_non_null(strstr(e.msg, "line "));
        jepsen_history_close(&h);
    }
    HIST(&h, "1 ok read x 1");
    assert_int_equal(jepsen_linear_check(&h, NULL, &r, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "line 1: process 1: ok without an invocation"));
    jepsen_history_close(&h);
    HIST(&h, "1 invoke read x", "1 invoke read x");
    assert_int_equal(jepsen_linear_check(&h, NULL, &r, &e), ERR_INVALID);
    jepsen_history_close(&h);
    HIST(&h, "1 invoke cas x 3", "1 ok cas x 3");
    assert_int_equal(jepsen_linear_check(&h, NULL, &r, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "cas value"));
    jepsen_history_close(&h);
    HIST(&h, "1 invoke add s 3", "1 ok add s 3");
    assert_int_equal(jepsen_linear_check(&h, NULL, &r, &e), ERR_INVALID);
    jepsen_history_close(&h);
}

static void test_ops_pair_and_count(void **state)
{
    struct jepsen_history h;
    struct jepsen_op *ops;
    struct jepsen_counts c;
    struct err e;
    size_t n;
    HIST(&h, "1 invoke write x 1", "2 invoke read x", "1 ok write x 1", "2 ok read x 1",
         "1 invoke write x 2", "1 info write x 2", "11 invoke cas x [2,3]", "11 fail cas x [2,3]",
         "2 invoke read x");
    assert_int_equal(jepsen_history_ops(&h, &ops, &n, &e), 0);
    assert_int_equal(n, 5);
    assert_int_equal(ops[1].f, JEPSEN_F_READ);
    assert_int_equal(json_integer_value(ops[1].value), 1);
    assert_int_equal(ops[1].complete, 3);
    assert_int_equal(ops[4].complete, JEPSEN_NONE);
    jepsen_ops_count(ops, n, &c);
    assert_int_equal(c.ops, 5);
    assert_int_equal(c.ok, 2);
    assert_int_equal(c.fail, 1);
    assert_int_equal(c.info, 2);
    free(ops);
    jepsen_history_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_history_is_linearizable),
        cmocka_unit_test(test_stale_read_after_acknowledged_write_is_caught),
        cmocka_unit_test(test_lost_write_is_caught),
        cmocka_unit_test(test_split_brain_double_cas_is_caught),
        cmocka_unit_test(test_concurrent_overlapping_ops_are_fine),
        cmocka_unit_test(test_info_ops_may_or_may_not_have_happened),
        cmocka_unit_test(test_info_ops_cannot_happen_before_invocation_or_twice),
        cmocka_unit_test(test_keys_are_checked_independently),
        cmocka_unit_test(test_search_budget_gives_unknown),
        cmocka_unit_test(test_many_concurrent_ops_stay_tractable),
        cmocka_unit_test(test_bad_histories_are_rejected_with_the_line),
        cmocka_unit_test(test_ops_pair_and_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
