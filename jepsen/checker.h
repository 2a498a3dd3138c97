/* jepsen checkers: judge a client history recorded by jepsen/client (or
 * written by hand in a test). Owns history parsing, the pairing of
 * invocations with completions, the linearizability checker of a register
 * per key and the set checker. Knows nothing of skiff, HTTP or processes:
 * the input is a file of JSON lines, one event each:
 *
 *   {"process":N,"type":"invoke|ok|fail|info","f":"read|write|cas|add",
 *    "key":"k","value":V,"time_ns":T}
 *
 * The order of the lines is the real-time order (the client writes an
 * invocation before it sends and a completion after it hears back), so
 * time_ns is kept for the reader and never used to order. Values: a read's
 * invocation has null and its ok completion the value read (null: absent);
 * a write has the value written; a cas has [expected, new]; an add has the
 * element; a set read's ok completion has the array of elements.
 *
 * Status, as in Jepsen: ok = happened, fail = certainly did not happen,
 * info = unknown (timeout, lost connection): it may have taken effect at
 * any point after its invocation, or never. An invocation without any
 * completion counts as info. A process runs one op at a time; after an info
 * the client continues under a new process number.
 *
 * Single-threaded, no global state. Not on skiff's loop: used by the
 * jepsen/check binary and the unit tests. */
#ifndef SKIFF_JEPSEN_CHECKER_H
#define SKIFF_JEPSEN_CHECKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/err.h"

enum jepsen_type { JEPSEN_INVOKE, JEPSEN_OK, JEPSEN_FAIL, JEPSEN_INFO };
enum jepsen_f { JEPSEN_F_READ, JEPSEN_F_WRITE, JEPSEN_F_CAS, JEPSEN_F_ADD };
enum jepsen_verdict { JEPSEN_VALID, JEPSEN_INVALID, JEPSEN_UNKNOWN };

#define JEPSEN_NONE SIZE_MAX /* jepsen_op.complete of an op that never completed */

/* One line of a history. */
struct jepsen_event {
    long process;
    enum jepsen_type type;
    enum jepsen_f f;
    char *key;     /* owned by the history; "" when the line has none */
    json_t *value; /* a reference owned by the history; NULL when absent or null */
    int64_t time_ns;
    size_t line; /* 1-based line of the file, for messages */
};

struct jepsen_history {
    struct jepsen_event *events;
    size_t n, cap;
};

/* One operation: an invocation and its completion. */
struct jepsen_op {
    long process;
    enum jepsen_f f;
    enum jepsen_type status; /* JEPSEN_OK, _FAIL or _INFO (also: never completed) */
    const char *key;         /* borrowed from the history */
    json_t *value;           /* borrowed: an ok read's completion value, else the invocation's */
    size_t invoke;           /* index of the invocation in history.events */
    size_t complete;         /* index of the completion, JEPSEN_NONE if none */
};

struct jepsen_counts {
    size_t ops, ok, fail, info;
};

/* Parses len bytes of JSON lines (blank lines skipped) into h, which the
 * caller has zeroed; h is then closed with jepsen_history_close even on
 * failure. ERR_INVALID names the line and field; ERR_NOMEM. */
int jepsen_history_parse(const char *text, size_t len, struct jepsen_history *h, struct err *e);

/* Reads and parses the file at path (ERR_IO when it cannot be read). */
int jepsen_history_load(const char *path, struct jepsen_history *h, struct err *e);

/* Frees everything h owns; h may be zeroed or NULL. */
void jepsen_history_close(struct jepsen_history *h);

/* Pairs invocations with completions, in invocation order. *ops is owned
 * by the caller (free()); its pointers borrow from h. ERR_INVALID when a
 * completion has no open invocation of its process, a process invokes while
 * its previous op is open, or a completion's f or key differs. */
int jepsen_history_ops(const struct jepsen_history *h, struct jepsen_op **ops, size_t *n,
                       struct err *e);

/* Counts ops by status (ops = all invocations). */
void jepsen_ops_count(const struct jepsen_op *ops, size_t n, struct jepsen_counts *c);

/* Names for printing. Static, never NULL. */
const char *jepsen_type_name(enum jepsen_type t);
const char *jepsen_f_name(enum jepsen_f f);
const char *jepsen_verdict_name(enum jepsen_verdict v);

/* ---- linearizability of a read/write/cas register, per key ---- */

struct jepsen_linear_opts {
    size_t max_states; /* per key: memoised search states before "unknown"; 0: 1,000,000 */
    size_t window_max; /* ops in the failing window at most; 0: 24 */
};

struct jepsen_linear_result {
    enum jepsen_verdict verdict;
    size_t keys;   /* keys checked */
    size_t states; /* search states visited, all keys */
    /* JEPSEN_INVALID: the first key found without a linearization (JEPSEN_UNKNOWN:
     * the key where the budget ran out). Owned by the result. */
    char *key;
    /* JEPSEN_INVALID: the failing window: the op whose completion no
     * linearization reaches (the one stuck furthest into the history), the
     * ops concurrent with it, and the last writes completed before it, in
     * invocation order. Owned array; its pointers borrow from the history. */
    struct jepsen_op *window;
    size_t window_n;
    size_t stuck;         /* index into window of the op stuck at */
    char stuck_state[64]; /* the register's value in the furthest linearization */
};

/* Checks every key of h independently (P-compositionality: a history is
 * linearizable iff each key's sub-history is). Reads, writes and cas ops
 * only; fail ops are dropped, info reads constrain nothing and are
 * dropped, info writes and cas may be linearized anywhere after their
 * invocation or not at all. The register starts at null. Search: Wing &
 * Gong with Lowe's just-in-time linearization and memoisation of
 * (linearized set, value). r is zeroed here; close it with
 * jepsen_linear_result_close. Returns 0 with r->verdict set, or
 * ERR_INVALID (an add op, a malformed cas value, a bad pairing), ERR_NOMEM. */
int jepsen_linear_check(const struct jepsen_history *h, const struct jepsen_linear_opts *o,
                        struct jepsen_linear_result *r, struct err *e);

void jepsen_linear_result_close(struct jepsen_linear_result *r);

/* Prints the verdict and, when invalid, the window with line numbers. */
void jepsen_linear_result_print(const struct jepsen_history *h,
                                const struct jepsen_linear_result *r, FILE *out);

/* ---- set: unique adds, reads of the whole set ---- */

#define JEPSEN_SET_SAMPLE 8 /* elements kept per category for the report */

struct jepsen_set_result {
    enum jepsen_verdict verdict; /* UNKNOWN when no read succeeded */
    size_t attempted;            /* add invocations */
    size_t acknowledged;         /* ok adds */
    size_t present;              /* elements in the final read */
    size_t lost;                 /* acknowledged before the final read began, absent from it */
    size_t unexpected;           /* in some read, never attempted */
    size_t stale;                /* (read, element): acknowledged before that read began, absent
                                  * from it, present in the final read */
    size_t recovered;            /* info (or unfinished) adds present in the final read */
    size_t reads;                /* ok reads */
    /* up to JEPSEN_SET_SAMPLE examples each, canonical JSON, owned */
    char *lost_sample[JEPSEN_SET_SAMPLE];
    char *unexpected_sample[JEPSEN_SET_SAMPLE];
    size_t lost_sample_n, unexpected_sample_n;
};

/* Set checker over adds (f=add) and reads (f=read, ok value an array).
 * The final read is the last ok read. Invalid when lost, unexpected or
 * stale is non-zero. Elements compare by canonical JSON. r is zeroed here;
 * close with jepsen_set_result_close. ERR_INVALID (a read whose value is
 * not an array, a cas/write op), ERR_NOMEM. */
int jepsen_set_check(const struct jepsen_history *h, struct jepsen_set_result *r, struct err *e);

void jepsen_set_result_close(struct jepsen_set_result *r);

void jepsen_set_result_print(const struct jepsen_set_result *r, FILE *out);

/* ---- orchestrator: the converged state of a run ---- */

#define JEPSEN_ORCH_SAMPLE 16 /* problem texts kept for the report */

struct jepsen_orch_result {
    enum jepsen_verdict verdict;
    size_t views, deployments, pods, acknowledged; /* what was judged */
    size_t problems;                               /* the sum of the counts below */
    size_t unanswered;     /* a kind's list missing from a view (the node did not answer) */
    size_t disagree;       /* an object missing from a view, or at another resourceVersion */
    size_t replicas_wrong; /* a Deployment without exactly spec.replicas Running pods */
    size_t not_running;    /* a live pod of a Deployment not Running */
    size_t unbound;        /* a pod without spec.nodeName */
    size_t bound_twice;    /* a pod (uid or namespace/name) listed twice */
    size_t on_gone_node;   /* a pod bound to a node that is not in the Node list */
    size_t missing_ack;    /* a Deployment an ok write acknowledged, absent */
    size_t terminating;    /* a pod with a deletionTimestamp still listed: a
                              converged cluster has removed it */
    char *sample[JEPSEN_ORCH_SAMPLE]; /* the first problems, owned */
    size_t n_sample;
};

/* Judges state, the lists of every kind as each node served them:
 *   {"views":[{"url":U,"lists":{"pods":LIST|null,"deployments":...,...}}]}
 * (jepsen/client --dump-state). Views agree: every kind's objects, with
 * their resourceVersions, the same in every view. In the first view: every
 * Deployment has exactly spec.replicas (default 1) pods that are owned
 * through a ReplicaSet, not terminating and Running; no pod is still
 * terminating; every pod is bound, once, to a node of the Node list; and
 * every Deployment h acknowledges
 * (an ok write with its name as key; h may be NULL) is listed. r is zeroed
 * here; close it with jepsen_orch_result_close. Returns 0 with r->verdict
 * set, ERR_INVALID when state has no views, ERR_NOMEM. */
int jepsen_orch_check(const struct jepsen_history *h, const json_t *state,
                      struct jepsen_orch_result *r, struct err *e);

void jepsen_orch_result_close(struct jepsen_orch_result *r);

void jepsen_orch_result_print(const struct jepsen_orch_result *r, FILE *out);

#endif
