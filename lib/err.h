/* lib/err: error codes and a message that gains context as it rises.
 * Modelled on canonical/raft's errmsg + ErrMsgWrapf. Every fallible skiff call
 * returns 0 or one of the ERR_ codes and fills the `struct err *e` passed last.
 * No allocation; safe on any thread. */
#ifndef SKIFF_LIB_ERR_H
#define SKIFF_LIB_ERR_H

#include <stddef.h>

enum {
    ERR_OK = 0,
    ERR_NOMEM,       /* allocation failed */
    ERR_INVALID,     /* bad input: names the field or peer at fault */
    ERR_NOTFOUND,    /* key/object/member absent */
    ERR_CONFLICT,    /* a compare failed (mod_rev changed, key exists) */
    ERR_COMPACTED,   /* revision older than the watch/history window */
    ERR_NOTLEADER,   /* this node cannot serve the request as it is not leader */
    ERR_IO,          /* disk or network I/O failed */
    ERR_TIMEOUT,     /* a deadline passed */
    ERR_SHUTDOWN,    /* the owner is closing; pending requests fail with this */
    ERR_UNAVAILABLE, /* no leader / no quorum right now; retry later */
    ERR_DENIED,      /* authentication or authorisation refused */
    ERR__COUNT
};

#define ERR_MSG_SIZE 256

struct err {
    int code;
    char msg[ERR_MSG_SIZE];
};

/* Sets code and a formatted message; returns code so callers can
 * `return err_setf(e, ERR_INVALID, "spec: required")`. e may be NULL. */
int err_setf(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the current message with context: "ctx: old message".
 * Returns e->code. e may be NULL (returns 0 then). */
int err_wrapf(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears e to { 0, "" }. */
void err_clear(struct err *e);

/* Static name of a code, e.g. "invalid", "conflict". Never NULL. */
const char *err_name(int code);

#endif
