/* lib/prom: the pieces of Prometheus instrumentation, without a registry.
 * A histogram type each module keeps inside its own struct (no global
 * state: the /metrics handler asks every module at scrape time), and a
 * writer that appends the text exposition format 0.0.4 (# HELP, # TYPE,
 * samples with escaped label values) to a lib/buf. Nothing here locks: a
 * histogram has one writer, the loop thread that owns the struct it lives
 * in, and is read on that same thread. Any thread may use the writer on
 * its own buffer. */
#ifndef SKIFF_LIB_PROM_H
#define SKIFF_LIB_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define PROM_BUCKETS_MAX 16

/* A histogram with fixed upper bounds (ascending, static storage). A zeroed
 * struct is a valid histogram with PROM_LATENCY_BUCKETS, so it can sit in
 * a calloc'ed struct without an init call. */
struct prom_hist {
    const double *bounds;                  /* borrowed, static; NULL = prom_latency_buckets */
    size_t n_bounds;                       /* <= PROM_BUCKETS_MAX */
    uint64_t counts[PROM_BUCKETS_MAX + 1]; /* per bucket, not cumulative; [n_bounds] = +Inf */
    double sum;
    uint64_t count;
};

/* Prometheus' client default buckets, in seconds (5 ms .. 10 s). */
extern const double prom_latency_buckets[];
extern const size_t prom_latency_buckets_n;

/* Uses bounds[0..n) (borrowed: static storage; ascending; n <= PROM_BUCKETS_MAX,
 * more are ignored) and zeroes the counts. */
void prom_hist_init(struct prom_hist *h, const double *bounds, size_t n);
/* Counts v in the first bucket whose bound is >= v (Prometheus' "le"), or
 * +Inf. NaN is ignored. */
void prom_hist_observe(struct prom_hist *h, double v);
/* The bounds in use (the defaults for a zeroed histogram); n in *n. */
const double *prom_hist_bounds(const struct prom_hist *h, size_t *n);

/* ---- text exposition 0.0.4 ----
 * Names (metric and label) are the caller's literals and must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*; values are escaped here. Appends never fail on
 * their own: a buf that ran out of memory has oom set (check once). */

struct prom_label {
    const char *name;
    const char *value; /* any bytes but NUL; escaped */
};

/* "# HELP name help\n# TYPE name type\n"; type is "counter", "gauge",
 * "histogram", "summary" or "untyped". help is escaped (\\ and \n). */
void prom_family(struct buf *b, const char *name, const char *type, const char *help);
/* "name{l1="v1",...} value\n" (no braces when n_labels is 0). The value is
 * written the way Go's strconv does: shortest round-trip form, +Inf, -Inf,
 * NaN. */
void prom_sample(struct buf *b, const char *name, const struct prom_label *labels, size_t n_labels,
                 double value);
/* The same with an exact integer value (counters above 2^53 stay exact). */
void prom_sample_u64(struct buf *b, const char *name, const struct prom_label *labels,
                     size_t n_labels, uint64_t value);
/* name_bucket{labels...,le="b"} (cumulative, ending with le="+Inf"),
 * name_sum and name_count. The family line is the caller's (once per
 * name, before every labelled series of it). */
void prom_hist_write(struct buf *b, const char *name, const struct prom_label *labels,
                     size_t n_labels, const struct prom_hist *h);

/* Escaped label value (\\, \" and \n) appended to b. */
void prom_escape_label(struct buf *b, const char *value);
/* A double in the exposition's format into out (at least 32 bytes). */
void prom_format_double(double v, char *out, size_t size);

#endif
