/* Cron schedules and time zones for the CronJob controller. The parser and
 * the next-time walk follow robfig/cron v3 (what the Kubernetes CronJob
 * controller runs), so a schedule fires here exactly when it would there,
 * DST included: the walk advances months and days on the wall clock (Go's
 * time.Date/AddDate) but hours and minutes in absolute time (time.Add), so
 * a wall time skipped by a spring-forward gap does not fire that day and
 * one repeated by a fall-back fires twice, as in kube. Zones come from
 * TZif files read here: setenv("TZ")/tzset would change the whole
 * process. */
#include "sched/cron.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TZ_DIR       "/usr/share/zoneinfo"
#define TZ_FILE_MAX  (1 << 20)
#define TZ_TRANS_MAX 100000

/* ---- parsing ---- */

struct bounds {
    unsigned min, max;
    const char *const *names; /* names[i] stands for min + i */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct bounds field_bounds[5] = {
    {0, 59, NULL}, {0, 23, NULL}, {1, 31, NULL}, {1, 12, month_names}, {0, 6, dow_names}};

#define STAR_BIT (1ULL << 63) /* robfig's starBit: "*" or "?" with step 1 */

static uint64_t bits(unsigned lo, unsigned hi, unsigned step)
{
    uint64_t b = 0;
    for (unsigned i = lo; i <= hi; i += step)
        b |= 1ULL << i;
    return b;
}

/* strconv.Atoi, then mustParseInt's rule against negatives */
static int parse_int(const char *s, unsigned *out, struct err *e)
{
    const char *p = s;
    bool neg = false;
    unsigned long long v;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
        return err_setf(e, ERR_INVALID,
                        "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax",
                        s, s);
    if (strlen(p) > 18)
        return err_setf(e, ERR_INVALID,
                        "failed to parse int from %s: strconv.Atoi: parsing \"%s\": value out of "
                        "range",
                        s, s);
    v = strtoull(p, NULL, 10);
    if (neg && v != 0)
        return err_setf(e, ERR_INVALID, "negative number (-%llu) not allowed: %s", v, s);
    /* anything this large fails the range checks anyway */
    *out = v > 1000000 ? 1000000 : (unsigned)v;
    return 0;
}

static int parse_int_or_name(const char *s, const struct bounds *b, unsigned *out, struct err *e)
{
    for (size_t i = 0; b->names != NULL && b->names[i] != NULL; i++)
        if (strcasecmp(s, b->names[i]) == 0) {
            *out = b->min + (unsigned)i;
            return 0;
        }
    return parse_int(s, out, e);
}

/* one comma-separated part: "*", "?", "N", "N-M", any of them "/step" */
static int parse_range(const char *expr, const struct bounds *b, uint64_t *acc, struct err *e)
{
    char buf[128], *slash, *hy;
    unsigned start, end, step = 1;
    uint64_t extra = 0;
    bool single;
    int rv;
    if (strlen(expr) >= sizeof buf)
        return err_setf(e, ERR_INVALID, "field too long: %.40s...", expr);
    snprintf(buf, sizeof buf, "%s", expr);
    slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    hy = strchr(buf, '-');
    single = hy == NULL;
    if (hy != NULL)
        *hy = '\0';
    if (strcmp(buf, "*") == 0 || strcmp(buf, "?") == 0) {
        /* robfig ignores whatever follows "*-" */
        start = b->min;
        end = b->max;
        extra = STAR_BIT;
    } else {
        if ((rv = parse_int_or_name(buf, b, &start, e)) != 0)
            return rv;
        if (hy == NULL)
            end = start;
        else if (strchr(hy + 1, '-') != NULL)
            return err_setf(e, ERR_INVALID, "too many hyphens: %s", expr);
        else if ((rv = parse_int_or_name(hy + 1, b, &end, e)) != 0)
            return rv;
    }
    if (slash != NULL) {
        if (strchr(slash + 1, '/') != NULL)
            return err_setf(e, ERR_INVALID, "too many slashes: %s", expr);
        if ((rv = parse_int(slash + 1, &step, e)) != 0)
            return rv;
        if (single) /* "N/step" means "N-max/step" */
            end = b->max;
        if (step > 1)
            extra = 0;
    }
    if (start < b->min)
        return err_setf(e, ERR_INVALID, "beginning of range (%u) below minimum (%u): %s", start,
                        b->min, expr);
    if (end > b->max)
        return err_setf(e, ERR_INVALID, "end of range (%u) above maximum (%u): %s", end, b->max,
                        expr);
    if (start > end)
        return err_setf(e, ERR_INVALID, "beginning of range (%u) beyond end of range (%u): %s",
                        start, end, expr);
    if (step == 0)
        return err_setf(e, ERR_INVALID, "step of range should be a positive number: %s", expr);
    *acc |= bits(start, end, step) | extra;
    return 0;
}

static int parse_field(const char *field, const struct bounds *b, uint64_t *out, struct err *e)
{
    const char *p = field;
    *out = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char part[128];
        int rv;
        if (n >= sizeof part)
            return err_setf(e, ERR_INVALID, "field too long: %.40s...", p);
        memcpy(part, p, n);
        part[n] = '\0';
        if ((rv = parse_range(part, b, out, e)) != 0)
            return rv;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static void set_fields(struct sched_cron *c, const uint64_t f[5])
{
    c->minute = f[0] & ~STAR_BIT;
    c->hour = (uint32_t)(f[1] & ~STAR_BIT);
    c->dom = (uint32_t)(f[2] & ~STAR_BIT);
    c->month = (uint32_t)(f[3] & ~STAR_BIT);
    c->dow = (uint32_t)(f[4] & ~STAR_BIT);
    c->dom_star = (f[2] & STAR_BIT) != 0;
    c->dow_star = (f[4] & STAR_BIT) != 0;
}

static int parse_descriptor(const char *s, struct sched_cron *c, struct err *e)
{
    const uint64_t all_h = bits(0, 23, 1) | STAR_BIT, all_dom = bits(1, 31, 1) | STAR_BIT;
    const uint64_t all_mon = bits(1, 12, 1) | STAR_BIT, all_dow = bits(0, 6, 1) | STAR_BIT;
    uint64_t f[5] = {1, 1, all_dom, all_mon, all_dow};
    if (strcmp(s, "@yearly") == 0 || strcmp(s, "@annually") == 0) {
        f[2] = 1ULL << 1;
        f[3] = 1ULL << 1;
    } else if (strcmp(s, "@monthly") == 0) {
        f[2] = 1ULL << 1;
    } else if (strcmp(s, "@weekly") == 0) {
        f[4] = 1;
    } else if (strcmp(s, "@daily") == 0 || strcmp(s, "@midnight") == 0) {
        /* the defaults */
    } else if (strcmp(s, "@hourly") == 0) {
        f[1] = all_h;
    } else {
        /* "@every <duration>" is robfig's extension; Kubernetes validation
         * accepts it but it is not cron, and skiff's API rejects it */
        return err_setf(e, ERR_INVALID, "unrecognized descriptor: %s", s);
    }
    set_fields(c, f);
    return 0;
}

int sched__cron_parse(const char *spec, struct sched_cron *out, struct err *e)
{
    char buf[512], *fields[6], *save = NULL, *tok;
    uint64_t f[5];
    size_t count = 0;
    const char *s = spec;
    int rv;

    memset(out, 0, sizeof *out);
    if (spec == NULL || spec[0] == '\0')
        return err_setf(e, ERR_INVALID, "empty spec string");
    if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0) {
        const char *eq = strchr(s, '='), *sp = strchr(s, ' ');
        size_t n;
        if (sp == NULL)
            return err_setf(e, ERR_INVALID, "provided bad location %s: missing schedule", s);
        n = (size_t)(sp - eq - 1);
        if (n >= sizeof out->tz)
            return err_setf(e, ERR_INVALID, "provided bad location: name too long");
        memcpy(out->tz, eq + 1, n);
        out->tz[n] = '\0';
        s = sp;
        while (*s == ' ' || *s == '\t')
            s++;
    }
    if (s[0] == '@')
        return parse_descriptor(s, out, e);
    if (strlen(s) >= sizeof buf)
        return err_setf(e, ERR_INVALID, "spec too long");
    snprintf(buf, sizeof buf, "%s", s);
    for (tok = strtok_r(buf, " \t\n\r\v\f", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\n\r\v\f", &save)) {
        if (count < 6)
            fields[count] = tok;
        count++;
    }
    if (count != 5) {
        /* robfig prints the fields as a Go slice */
        char list[300] = "";
        size_t used = 0;
        for (size_t i = 0; i < count && i < 6; i++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "", fields[i]);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        return err_setf(e, ERR_INVALID, "expected exactly 5 fields, found %zu: [%s%s]", count, list,
                        count > 6 ? " ..." : "");
    }
    for (size_t i = 0; i < 5; i++)
        if ((rv = parse_field(fields[i], &field_bounds[i], &f[i], e)) != 0)
            return rv;
    set_fields(out, f);
    return 0;
}

/* ---- civil time (proleptic Gregorian; Howard Hinnant's algorithms) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* ---- zones ---- */

/* Go's Location.lookup: the offset at t and the span [start, end) it holds */
static int32_t lookup(const struct sched_tz *tz, int64_t t, int64_t *start, int64_t *end)
{
    size_t lo, hi;
    *start = INT64_MIN;
    *end = INT64_MAX;
    if (tz == NULL)
        return 0;
    if (tz->n == 0 || t < tz->at[0]) {
        if (tz->n > 0)
            *end = tz->at[0];
        return tz->first_off;
    }
    lo = 0;
    hi = tz->n; /* at[lo] <= t < at[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    *start = tz->at[lo];
    if (hi < tz->n)
        *end = tz->at[hi];
    return tz->off_at[lo];
}

int32_t sched__tz_offset(const struct sched_tz *tz, int64_t t)
{
    int64_t s, e;
    return lookup(tz, t, &s, &e);
}

struct wall {
    int64_t year;
    int month, day, hour, minute, second, wday;
};

static struct wall wall_of(const struct sched_tz *tz, int64_t t)
{
    struct wall w;
    int64_t l = t + sched__tz_offset(tz, t), days = floor_div(l, 86400), secs = l - days * 86400;
    civil_from_days(days, &w.year, &w.month, &w.day);
    w.hour = (int)(secs / 3600);
    w.minute = (int)(secs / 60 % 60);
    w.second = (int)(secs % 60);
    w.wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    return w;
}

/* Go's time.Date: normalizes month and day overflow, then picks the offset
 * the way Go does for wall times that a transition skips or repeats */
static int64_t date(const struct sched_tz *tz, int64_t y, int64_t mo, int64_t d, int h, int mi)
{
    int64_t wall_s, start, end, utc;
    int32_t off;
    y += floor_div(mo - 1, 12);
    mo = mo - 1 - floor_div(mo - 1, 12) * 12 + 1;
    wall_s = (days_from_civil(y, mo, 1) + d - 1) * 86400 + h * 3600 + mi * 60;
    off = lookup(tz, wall_s, &start, &end);
    if (off != 0) {
        utc = wall_s - off;
        if (utc < start || utc >= end)
            off = lookup(tz, utc, &start, &end);
        wall_s -= off;
    }
    return wall_s;
}

static bool day_matches(const struct sched_cron *c, const struct wall *w)
{
    bool dom = (c->dom >> w->day) & 1, dow = (c->dow >> w->wday) & 1;
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow;
}

int64_t sched__cron_next(const struct sched_cron *c, const struct sched_tz *tz, int64_t t)
{
    struct wall w;
    bool added = false;
    int64_t year_limit;

    t += 1; /* the earliest candidate is the next second */
    w = wall_of(tz, t);
    year_limit = w.year + 5;
wrap:
    w = wall_of(tz, t);
    if (w.year > year_limit)
        return -1;
    while (!((c->month >> w.month) & 1)) {
        if (!added) {
            added = true;
            t = date(tz, w.year, w.month, 1, 0, 0);
            w = wall_of(tz, t);
        }
        t = date(tz, w.year, w.month + 1, w.day, w.hour, w.minute);
        w = wall_of(tz, t);
        if (w.month == 1)
            goto wrap;
    }
    while (!day_matches(c, &w)) {
        if (!added) {
            added = true;
            t = date(tz, w.year, w.month, w.day, 0, 0);
            w = wall_of(tz, t);
        }
        t = date(tz, w.year, w.month, w.day + 1, w.hour, w.minute);
        w = wall_of(tz, t);
        /* a midnight that DST moved: back to the day's start */
        if (w.hour != 0) {
            t += w.hour > 12 ? (int64_t)(24 - w.hour) * 3600 : -(int64_t)w.hour * 3600;
            w = wall_of(tz, t);
        }
        if (w.day == 1)
            goto wrap;
    }
    while (!((c->hour >> w.hour) & 1)) {
        if (!added) {
            added = true;
            t = date(tz, w.year, w.month, w.day, w.hour, 0);
        }
        t += 3600;
        w = wall_of(tz, t);
        if (w.hour == 0)
            goto wrap;
    }
    while (!((c->minute >> w.minute) & 1)) {
        if (!added) {
            added = true;
            t -= ((t % 60) + 60) % 60;
        }
        t += 60;
        w = wall_of(tz, t);
        if (w.minute == 0)
            goto wrap;
    }
    /* the standard parser's seconds field is "0" */
    while (w.second != 0) {
        added = true;
        t += 1;
        w = wall_of(tz, t);
        if (w.second == 0)
            goto wrap;
    }
    return t;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_hdr {
    char version;
    uint32_t isut, isstd, leap, time, type, chars;
};

static int read_hdr(const unsigned char *p, size_t len, struct tzif_hdr *h, struct err *e)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return err_setf(e, ERR_INVALID, "tzif: bad magic");
    h->version = (char)p[4];
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    if (h->type == 0 || h->type > 256 || h->time > TZ_TRANS_MAX || h->chars > 65536 ||
        h->leap > 65536 || h->isut > 256 || h->isstd > 256)
        return err_setf(e, ERR_INVALID, "tzif: bad counts");
    return 0;
}

static size_t block_len(const struct tzif_hdr *h, size_t tsize)
{
    return (size_t)h->time * tsize + h->time + (size_t)h->type * 6 + h->chars +
           (size_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

int sched__tz_parse(const void *data, size_t len, struct sched_tz *out, struct err *e)
{
    const unsigned char *p = data;
    struct tzif_hdr h;
    size_t tsize = 4, need;
    const unsigned char *times, *idx, *types;
    int rv;

    memset(out, 0, sizeof *out);
    if ((rv = read_hdr(p, len, &h, e)) != 0)
        return rv;
    need = 44 + block_len(&h, 4);
    if (need > len)
        return err_setf(e, ERR_INVALID, "tzif: truncated");
    if (h.version >= '2') {
        /* the 64-bit block follows the 32-bit one */
        p += need;
        len -= need;
        if ((rv = read_hdr(p, len, &h, e)) != 0)
            return rv;
        tsize = 8;
        if (44 + block_len(&h, 8) > len)
            return err_setf(e, ERR_INVALID, "tzif: truncated");
    }
    times = p + 44;
    idx = times + (size_t)h.time * tsize;
    types = idx + h.time;
    out->first_off = (int32_t)be32(types);
    if (h.time == 0)
        return 0;
    out->at = malloc(h.time * sizeof *out->at);
    out->off_at = malloc(h.time * sizeof *out->off_at);
    if (out->at == NULL || out->off_at == NULL) {
        sched__tz_close(out);
        return err_setf(e, ERR_NOMEM, "tzif: out of memory");
    }
    for (uint32_t i = 0; i < h.time; i++) {
        const unsigned char *tp = times + (size_t)i * tsize;
        out->at[i] = tsize == 8 ? be64(tp) : (int64_t)(int32_t)be32(tp);
        if (idx[i] >= h.type || (i > 0 && out->at[i] <= out->at[i - 1])) {
            sched__tz_close(out);
            return err_setf(e, ERR_INVALID, "tzif: bad transition %u", i);
        }
        out->off_at[i] = (int32_t)be32(types + (size_t)idx[i] * 6);
    }
    out->n = h.time;
    return 0;
}

static bool zone_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= 256 || name[0] == '/' || name[len - 1] == '/' ||
        strstr(name, "..") != NULL || strstr(name, "//") != NULL)
        return false;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-_0123456789+/") ==
           len;
}

int sched__tz_load(const char *name, struct sched_tz *out, struct err *e)
{
    char path[300];
    unsigned char *buf = NULL;
    size_t used = 0;
    int fd, rv;

    memset(out, 0, sizeof *out);
    if (name == NULL || name[0] == '\0' || strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
        return 0;
    if (!zone_name_ok(name))
        return err_setf(e, ERR_NOTFOUND, "unknown time zone %s", name);
    snprintf(path, sizeof path, TZ_DIR "/%s", name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_setf(e, ERR_NOTFOUND, "unknown time zone %s", name);
    buf = malloc(TZ_FILE_MAX);
    if (buf == NULL) {
        rv = err_setf(e, ERR_NOMEM, "tzif: out of memory");
        goto out_close;
    }
    for (;;) {
        ssize_t r = read(fd, buf + used, TZ_FILE_MAX - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rv = err_setf(e, ERR_IO, "time zone %s: read: %s", name, strerror(errno));
            goto out_free;
        }
        if (r == 0 || used + (size_t)r == TZ_FILE_MAX) {
            used += (size_t)r;
            break;
        }
        used += (size_t)r;
    }
    rv = sched__tz_parse(buf, used, out, e);
    if (rv != 0)
        err_wrapf(e, "time zone %s", name);
out_free:
    free(buf);
out_close:
    close(fd);
    return rv;
}

void sched__tz_close(struct sched_tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->at);
    free(tz->off_at);
    tz->at = NULL;
    tz->off_at = NULL;
    tz->n = 0;
}
