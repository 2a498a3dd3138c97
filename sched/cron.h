/* sched/cron.h: cron schedules for the CronJob controller (sched/ only).
 * The standard 5-field syntax as Kubernetes parses it (robfig/cron's
 * ParseStandard: lists, ranges, steps, JAN-DEC and SUN-SAT names, "?",
 * the @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly
 * descriptors, a "TZ=" or "CRON_TZ=" prefix), the next fire time after a
 * given instant with robfig's day-of-month/day-of-week rule (either field a
 * star: both must match; else either may), and time zones read from TZif
 * files (the system zoneinfo) without touching the process-global TZ.
 * Pure functions of their arguments; no loop, no globals. */
#ifndef SKIFF_SCHED_CRON_H
#define SKIFF_SCHED_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define SCHED_CRON_TZ_MAX 128 /* longest zone name kept from a TZ= prefix */

struct sched_cron {
    uint64_t minute;            /* bit i: minute i (0..59) */
    uint32_t hour;              /* bit i: hour i (0..23) */
    uint32_t dom;               /* bit i: day of month i (1..31) */
    uint32_t month;             /* bit i: month i (1..12) */
    uint32_t dow;               /* bit i: weekday i (0 = Sunday .. 6) */
    bool dom_star;              /* the field was "*" or "?" (step 1): AND with dow */
    bool dow_star;              /* likewise for day of week */
    char tz[SCHED_CRON_TZ_MAX]; /* zone of a "TZ=" / "CRON_TZ=" prefix, or "" */
};

/* A time zone: UTC offsets and the instants they change (TZif data). */
struct sched_tz {
    size_t n;          /* transitions */
    int64_t *at;       /* n instants (seconds since the epoch), ascending */
    int32_t *off_at;   /* n offsets in force from at[i] */
    int32_t first_off; /* offset before at[0] (or always, when n == 0) */
};

/* Parses spec into out. ERR_INVALID with robfig's message ("expected
 * exactly 5 fields, found 4: [...]", "end of range (60) above maximum
 * (59): 0-60", ...) when it does not parse. */
int sched__cron_parse(const char *spec, struct sched_cron *out, struct err *e);

/* The first instant strictly after t (seconds since the epoch, any
 * sub-minute part ignored as robfig does) at which c fires, evaluated in
 * the wall clock of tz (NULL: UTC). -1 when it never fires within five
 * years (e.g. "0 0 30 2 *"). */
int64_t sched__cron_next(const struct sched_cron *c, const struct sched_tz *tz, int64_t t);

/* UTC offset in force at instant t (seconds), 0 for tz NULL. */
int32_t sched__tz_offset(const struct sched_tz *tz, int64_t t);

/* Decodes a TZif file (versions 1-4; the 64-bit block when present) into
 * out, which then owns heap memory: release with sched__tz_close. Past
 * the last transition the last offset holds (the footer's POSIX rule is
 * not read: the system's "fat" files list transitions through 2037).
 * ERR_INVALID for data that is not TZif, ERR_NOMEM. */
int sched__tz_parse(const void *data, size_t len, struct sched_tz *out, struct err *e);

/* Reads /usr/share/zoneinfo/<name> (name checked: no "..", no leading '/')
 * into out; "UTC", "Etc/UTC" and "" need no file. Blocking file read of a
 * few KB: callers cache the result. ERR_NOTFOUND for an unknown zone. */
int sched__tz_load(const char *name, struct sched_tz *out, struct err *e);

/* Frees what sched__tz_parse/_load allocated; tz itself is the caller's. */
void sched__tz_close(struct sched_tz *tz);

#endif
