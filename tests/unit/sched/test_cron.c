/* Cron schedules as the CronJob controller reads them: robfig/cron's
 * standard parser (fields, names, steps, descriptors, its error texts) and
 * the next fire time, in UTC and in a TZif zone across DST changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/cron.h"

static int64_t at(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
        fail_msg("bad test time %s", iso);
    return (int64_t)timegm(&tm);
}

static void iso(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t < 0) {
        snprintf(buf, 32, "never");
        return;
    }
    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct next_case {
    const char *spec, *from, *want; /* want "never": no time within 5 years */
};

static void check_next(const struct next_case *cases, size_t n, const struct sched_tz *tz)
{
    for (size_t i = 0; i < n; i++) {
        struct sched_cron c;
        struct err e = {0};
        char got[32];
        if (sched__cron_parse(cases[i].spec, &c, &e) != 0)
            fail_msg("%s: %s", cases[i].spec, e.msg);
        iso(sched__cron_next(&c, tz, at(cases[i].from)), got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s from %s: want %s, got %s", cases[i].spec, cases[i].from, cases[i].want,
                     got);
    }
}

static void test_next_in_utc_follows_fields_steps_names_and_descriptors(void **state)
{
    static const struct next_case cases[] = {
        {"*/1 * * * *", "2024-03-10T10:00:30Z", "2024-03-10T10:01:00Z"},
        {"* * * * *", "2024-03-10T10:00:00Z", "2024-03-10T10:01:00Z"}, /* strictly after */
        {"0 * * * *", "2024-03-10T10:00:00Z", "2024-03-10T11:00:00Z"},
        {"*/15 * * * *", "2024-03-10T10:16:00Z", "2024-03-10T10:30:00Z"},
        {"5-10/2 * * * *", "2024-03-10T10:07:00Z", "2024-03-10T10:09:00Z"},
        {"5-10/2 * * * *", "2024-03-10T10:09:00Z", "2024-03-10T11:05:00Z"},
        {"7/20 * * * *", "2024-03-10T10:30:00Z", "2024-03-10T10:47:00Z"}, /* N/step: N-max */
        {"0 9-17/4 * * *", "2024-03-10T18:00:00Z", "2024-03-11T09:00:00Z"},
        {"0 9-17/4 * * *", "2024-03-10T13:00:00Z", "2024-03-10T17:00:00Z"},
        {"1,2,58 * * * *", "2024-03-10T10:02:00Z", "2024-03-10T10:58:00Z"},
        {"0 0 1 1 *", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"},
        {"@yearly", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"},
        {"@annually", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"},
        {"@monthly", "2024-01-31T12:00:00Z", "2024-02-01T00:00:00Z"},
        {"@weekly", "2024-03-06T08:00:00Z", "2024-03-10T00:00:00Z"}, /* Wed -> Sun */
        {"@daily", "2024-02-28T23:59:59Z", "2024-02-29T00:00:00Z"},  /* leap day */
        {"@midnight", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
        {"@hourly", "2024-03-10T10:59:59Z", "2024-03-10T11:00:00Z"},
        {"0 12 * JAN-MAR,dec *", "2024-04-01T00:00:00Z", "2024-12-01T12:00:00Z"},
        {"30 8 * * Sat,SUN", "2024-01-01T00:00:00Z", "2024-01-06T08:30:00Z"},
        {"0 22 * * 1-5", "2024-01-05T22:00:00Z", "2024-01-08T22:00:00Z"}, /* Fri -> Mon */
        {"59 23 31 12 *", "2024-12-31T23:59:00Z", "2025-12-31T23:59:00Z"},
        {"0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"}, /* April has 30 */
        {"0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
        {"0 0 30 2 *", "2024-01-01T00:00:00Z", "never"},
        {"0 0 ? * *", "2024-01-01T10:00:00Z", "2024-01-02T00:00:00Z"},
        {"  0   0 * * *  ", "2024-01-01T10:00:00Z", "2024-01-02T00:00:00Z"},
        {"TZ=UTC 0 0 * * *", "2024-01-01T10:00:00Z", "2024-01-02T00:00:00Z"},
    };
    (void)state;
    check_next(cases, sizeof cases / sizeof cases[0], NULL);
}

/* 2024-01-01 is a Monday. Day of month and day of week are ORed when both
 * are restricted and ANDed when either is a star ("*", "?", "*\/1"). */
static void test_next_ors_day_of_month_and_week_unless_one_is_a_star(void **state)
{
    static const struct next_case cases[] = {
        {"0 0 13 * FRI", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"}, /* Friday first */
        {"0 0 13 * FRI", "2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z"}, /* then the 13th */
        {"0 0 1 * MON", "2024-01-02T00:00:00Z", "2024-01-08T00:00:00Z"},
        {"0 0 1 * MON", "2024-01-29T00:00:00Z", "2024-02-01T00:00:00Z"},
        {"0 0 * * MON", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"},
        {"0 0 */1 * MON", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"}, /* star kept */
        {"0 0 */2 * MON", "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z"}, /* step: no star */
        {"0 0 1 * *", "2024-01-02T00:00:00Z", "2024-02-01T00:00:00Z"},
        {"0 0 1 * ?", "2024-01-02T00:00:00Z", "2024-02-01T00:00:00Z"},
    };
    (void)state;
    check_next(cases, sizeof cases / sizeof cases[0], NULL);
}

static void test_parse_rejects_bad_expressions_with_robfig_messages(void **state)
{
    static const struct {
        const char *spec, *msg;
    } cases[] = {
        {"", "empty spec string"},
        {"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
        {"* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"},
        {"60 * * * *", "end of range (60) above maximum (59): 60"},
        {"0 24 * * *", "end of range (24) above maximum (23): 24"},
        {"0 0 0 * *", "beginning of range (0) below minimum (1): 0"},
        {"0 0 * 13 *", "end of range (13) above maximum (12): 13"},
        {"0 0 * * 7", "end of range (7) above maximum (6): 7"},
        {"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
        {"0 0 * * SAT-SUN", "beginning of range (6) beyond end of range (0): SAT-SUN"},
        {"*/0 * * * *", "step of range should be a positive number: */0"},
        {"1-2-3 * * * *", "too many hyphens: 1-2-3"},
        {"*/2/3 * * * *", "too many slashes: */2/3"},
        {"a * * * *", "failed to parse int from a: strconv.Atoi: parsing \"a\": invalid syntax"},
        {"1,,2 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax"},
        {"-1 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax"},
        {"*/-2 * * * *", "negative number (-2) not allowed: -2"},
        {"0 0 * FOO *",
         "failed to parse int from FOO: strconv.Atoi: parsing \"FOO\": invalid syntax"},
        {"@every 1h", "unrecognized descriptor: @every 1h"},
        {"@fortnightly", "unrecognized descriptor: @fortnightly"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sched_cron c;
        struct err e = {0};
        int rv = sched__cron_parse(cases[i].spec, &c, &e);
        if (rv != ERR_INVALID)
            fail_msg("%s: want ERR_INVALID, got %d", cases[i].spec, rv);
        if (strcmp(e.msg, cases[i].msg) != 0)
            fail_msg("%s: want \"%s\", got \"%s\"", cases[i].spec, cases[i].msg, e.msg);
    }
    assert_int_equal(sched__cron_parse(NULL, &(struct sched_cron){0}, NULL), ERR_INVALID);
}

static void test_parse_keeps_the_zone_of_a_tz_prefix(void **state)
{
    struct sched_cron c;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched__cron_parse("CRON_TZ=America/New_York 0 9 * * *", &c, &e), 0);
    assert_string_equal(c.tz, "America/New_York");
    assert_int_equal(sched__cron_parse("TZ=Europe/Berlin @daily", &c, &e), 0);
    assert_string_equal(c.tz, "Europe/Berlin");
    assert_int_equal(sched__cron_parse("TZ=UTC", &c, &e), ERR_INVALID);
}

/* America/New_York: EST (-5) in winter, EDT (-4) from 2024-03-10 02:00
 * (wall 02:00-03:00 never happens) to 2024-11-03 02:00 EDT (wall
 * 01:00-02:00 happens twice). robfig walks hours in absolute time: the
 * skipped 02:30 does not fire that day, the repeated 01:30 fires twice. */
static void test_next_in_a_zone_follows_its_offsets_and_dst(void **state)
{
    static const struct next_case cases[] = {
        {"0 9 * * *", "2024-01-15T00:00:00Z", "2024-01-15T14:00:00Z"},
        {"0 9 * * *", "2024-07-15T00:00:00Z", "2024-07-15T13:00:00Z"},
        {"@daily", "2024-07-15T00:00:00Z", "2024-07-15T04:00:00Z"},
        {"30 2 * * *", "2024-03-09T12:00:00Z", "2024-03-11T06:30:00Z"},
        {"30 1 * * *", "2024-11-03T05:00:00Z", "2024-11-03T05:30:00Z"},
        {"30 1 * * *", "2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z"},
        {"30 1 * * *", "2024-11-03T06:30:00Z", "2024-11-04T06:30:00Z"},
        {"0 0 1 * *", "2024-10-15T00:00:00Z", "2024-11-01T04:00:00Z"},
        {"0 0 1 * *", "2024-11-15T00:00:00Z", "2024-12-01T05:00:00Z"},
    };
    struct sched_tz tz;
    struct err e = {0};
    (void)state;
    if (access("/usr/share/zoneinfo/America/New_York", R_OK) != 0)
        skip();
    assert_int_equal(sched__tz_load("America/New_York", &tz, &e), 0);
    assert_true(tz.n > 100);
    assert_int_equal(sched__tz_offset(&tz, at("2024-01-15T00:00:00Z")), -5 * 3600);
    assert_int_equal(sched__tz_offset(&tz, at("2024-07-15T00:00:00Z")), -4 * 3600);
    check_next(cases, sizeof cases / sizeof cases[0], &tz);
    sched__tz_close(&tz);
}

static void test_tz_rejects_unknown_zones_and_bad_data(void **state)
{
    static const unsigned char not_tzif[] = "TZjf0000000000000000000000000000000000000000000";
    unsigned char hdr[44];
    struct sched_tz tz;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched__tz_load("Nowhere/Atlantis", &tz, &e), ERR_NOTFOUND);
    assert_string_equal(e.msg, "unknown time zone Nowhere/Atlantis");
    assert_int_equal(sched__tz_load("../../etc/passwd", &tz, &e), ERR_NOTFOUND);
    assert_int_equal(sched__tz_load("/etc/passwd", &tz, &e), ERR_NOTFOUND);
    assert_int_equal(sched__tz_load("UTC", &tz, &e), 0);
    assert_int_equal(tz.n, 0);
    assert_int_equal(sched__tz_offset(&tz, 0), 0);
    sched__tz_close(&tz);
    assert_int_equal(sched__tz_parse(not_tzif, sizeof not_tzif, &tz, &e), ERR_INVALID);
    assert_int_equal(sched__tz_parse(not_tzif, 3, &tz, &e), ERR_INVALID);
    /* a header promising more than there is */
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, "TZif2", 5);
    hdr[35] = 10; /* timecnt */
    hdr[39] = 1;  /* typecnt */
    assert_int_equal(sched__tz_parse(hdr, sizeof hdr, &tz, &e), ERR_INVALID);
    assert_string_equal(e.msg, "tzif: truncated");
    hdr[39] = 0; /* no types at all */
    assert_int_equal(sched__tz_parse(hdr, sizeof hdr, &tz, &e), ERR_INVALID);
    sched__tz_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_in_utc_follows_fields_steps_names_and_descriptors),
        cmocka_unit_test(test_next_ors_day_of_month_and_week_unless_one_is_a_star),
        cmocka_unit_test(test_parse_rejects_bad_expressions_with_robfig_messages),
        cmocka_unit_test(test_parse_keeps_the_zone_of_a_tz_prefix),
        cmocka_unit_test(test_next_in_a_zone_follows_its_offsets_and_dst),
        cmocka_unit_test(test_tz_rejects_unknown_zones_and_bad_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
