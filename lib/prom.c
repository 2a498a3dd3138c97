#include "lib/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double prom_latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t prom_latency_buckets_n = sizeof prom_latency_buckets / sizeof prom_latency_buckets[0];

void prom_hist_init(struct prom_hist *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n_bounds = n > PROM_BUCKETS_MAX ? PROM_BUCKETS_MAX : n;
}

const double *prom_hist_bounds(const struct prom_hist *h, size_t *n)
{
    if (h->bounds == NULL) {
        *n = prom_latency_buckets_n;
        return prom_latency_buckets;
    }
    *n = h->n_bounds;
    return h->bounds;
}

void prom_hist_observe(struct prom_hist *h, double v)
{
    size_t n, i;
    const double *b = prom_hist_bounds(h, &n);
    if (isnan(v))
        return;
    /* a linear scan: a dozen bounds cost less than a branchy binary search */
    for (i = 0; i < n && v > b[i]; i++)
        ;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

static void append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void prom_format_double(double v, char *out, size_t size)
{
    if (isnan(v)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* Go's FormatFloat(v, 'g', -1, 64), as client_golang writes: the
     * fewest significant digits that read back as the same double (0.1 is
     * "0.1", not "0.10000000000000001"), in %e form only when the exponent
     * is < -4 or >= 6 (hence "10" and "1e+06") */
    int prec, exp = 0;
    for (prec = 1; prec < 17; prec++) {
        snprintf(out, size, "%.*e", prec - 1, v);
        if (strtod(out, NULL) == v)
            break;
    }
    snprintf(out, size, "%.*e", prec - 1, v);
    {
        const char *e = strchr(out, 'e');
        if (e != NULL)
            exp = atoi(e + 1);
    }
    if (exp < -4 || exp >= 6)
        return;
    snprintf(out, size, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
}

void prom_escape_label(struct buf *b, const char *value)
{
    const char *s = value, *run = value;
    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc == NULL)
            continue;
        buf_append(b, run, (size_t)(s - run));
        buf_append(b, esc, 2);
        run = s + 1;
    }
    buf_append(b, run, (size_t)(s - run));
}

/* HELP text escapes only backslash and line feed (no quotes to close) */
static void escape_help(struct buf *b, const char *help)
{
    const char *s = help, *run = help;
    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : NULL;
        if (esc == NULL)
            continue;
        buf_append(b, run, (size_t)(s - run));
        buf_append(b, esc, 2);
        run = s + 1;
    }
    buf_append(b, run, (size_t)(s - run));
}

void prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
    append_str(b, "# HELP ");
    append_str(b, name);
    append_str(b, " ");
    escape_help(b, help);
    append_str(b, "\n# TYPE ");
    append_str(b, name);
    append_str(b, " ");
    append_str(b, type);
    append_str(b, "\n");
}

/* name{labels[,extra="v"]} */
static void series(struct buf *b, const char *name, const char *suffix,
                   const struct prom_label *labels, size_t n_labels, const char *extra_name,
                   const char *extra_value)
{
    append_str(b, name);
    append_str(b, suffix);
    if (n_labels == 0 && extra_name == NULL)
        return;
    append_str(b, "{");
    for (size_t i = 0; i < n_labels; i++) {
        if (i > 0)
            append_str(b, ",");
        append_str(b, labels[i].name);
        append_str(b, "=\"");
        prom_escape_label(b, labels[i].value ? labels[i].value : "");
        append_str(b, "\"");
    }
    if (extra_name != NULL) {
        if (n_labels > 0)
            append_str(b, ",");
        append_str(b, extra_name);
        append_str(b, "=\"");
        prom_escape_label(b, extra_value);
        append_str(b, "\"");
    }
    append_str(b, "}");
}

static void value_u64(struct buf *b, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, " %" PRIu64 "\n", v);
    append_str(b, num);
}

void prom_sample(struct buf *b, const char *name, const struct prom_label *labels, size_t n_labels,
                 double value)
{
    char num[40];
    series(b, name, "", labels, n_labels, NULL, NULL);
    prom_format_double(value, num, sizeof num);
    append_str(b, " ");
    append_str(b, num);
    append_str(b, "\n");
}

void prom_sample_u64(struct buf *b, const char *name, const struct prom_label *labels,
                     size_t n_labels, uint64_t value)
{
    series(b, name, "", labels, n_labels, NULL, NULL);
    value_u64(b, value);
}

void prom_hist_write(struct buf *b, const char *name, const struct prom_label *labels,
                     size_t n_labels, const struct prom_hist *h)
{
    size_t n, i;
    const double *bounds = prom_hist_bounds(h, &n);
    uint64_t cum = 0;
    char le[40], num[40];

    for (i = 0; i < n; i++) {
        cum += h->counts[i];
        prom_format_double(bounds[i], le, sizeof le);
        series(b, name, "_bucket", labels, n_labels, "le", le);
        value_u64(b, cum);
    }
    cum += h->counts[n];
    series(b, name, "_bucket", labels, n_labels, "le", "+Inf");
    value_u64(b, cum);
    series(b, name, "_sum", labels, n_labels, NULL, NULL);
    prom_format_double(h->sum, num, sizeof num);
    append_str(b, " ");
    append_str(b, num);
    append_str(b, "\n");
    series(b, name, "_count", labels, n_labels, NULL, NULL);
    value_u64(b, h->count);
}
