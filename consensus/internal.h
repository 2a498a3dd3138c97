/* consensus/internal.h: the peer transport, shared by the consensus/ sources and never included
 * from outside consensus/.
 *
 * cons__transport is a struct raft_uv_transport (canonical/raft 0.15) whose connections are
 * mutually-authenticated TLS (lib/tls): both ends must hold a certificate signed by the
 * cluster CA, checked during the TLS handshake, before any Raft byte is read. Over TLS it
 * speaks raft's own uv_tcp handshake (the connecting side writes protocol 1, its server id,
 * the address length and the address padded to 8 bytes, all uint64 little-endian), so raft
 * gets a plain stream exactly as from raft_uv_tcp_init. The same listener also takes our RPC
 * connections (proposal forwarding): an accepted connection whose first 8 plaintext bytes are
 * CONS_RPC_MAGIC instead of raft's protocol number goes to the rpc accept callback.
 *
 * Addresses are "IP:PORT" (IPv4, or IPv6 as "[::1]:PORT"). Loop thread only. The process
 * must ignore SIGPIPE.
 *
 * Streams handed out (to raft or to RPC callbacks) are uv_pipe_t allocated with raft_malloc:
 * their owner uv_close()s them and raft_free()s them in the close callback, as raft does. */
#ifndef SKIFF_CONSENSUS_INTERNAL_H
#define SKIFF_CONSENSUS_INTERNAL_H

#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "lib/err.h"

/* First 8 plaintext bytes of an RPC connection. Raft's first 8 bytes are the uint64 protocol
 * version 1 (01 00 .. 00), which can never be mistaken for these ASCII bytes. */
#define CONS_RPC_MAGIC     "SKFRPC01"
#define CONS_RPC_MAGIC_LEN 8

/* Default deadline for the TLS handshake and, on accepted connections, for the raft
 * handshake / magic that follows it. */
#define CONS__HANDSHAKE_TIMEOUT_MS 10000

/* Longest address accepted in a peer's raft handshake (padded length, bytes). */
#define CONS__ADDRESS_MAX 256

/* Called for each accepted connection that opened with CONS_RPC_MAGIC (the magic has been
 * consumed). Takes ownership of stream (not reading yet): uv_close() it, then raft_free() it.
 * peer_cn is the client certificate's CN, borrowed for the call. Never called after the
 * transport's close() has been invoked. */
typedef void (*cons__rpc_accept_cb)(void *data, uv_stream_t *stream, const char *peer_cn);

/* Makes t a TLS transport on loop: our certificate chain and key (PEM) for both directions,
 * trusting only ca_file. t's memory is the caller's; t->impl is set and must be released with
 * cons__transport_close() — after raft's close of the transport completed (raft_close cb), or
 * right away if raft never started using it (raft_uv_init/raft_init failed).
 * Returns 0, ERR_INVALID (PEM files; the message names the file) or ERR_NOMEM. */
int cons__transport_init(struct raft_uv_transport *t, uv_loop_t *loop, const char *cert_file,
                         const char *key_file, const char *ca_file, struct err *e);

/* Listen on `address` ("IP:PORT", copied) instead of the address raft was initialised with,
 * which stays the one advertised in handshakes (cf. raft_uv_tcp_set_bind_address). Call before
 * raft starts. Returns 0 or ERR_INVALID. */
int cons__transport_set_bind_address(struct raft_uv_transport *t, const char *address,
                                     struct err *e);

/* Deadline for handshakes (TLS and the raft/magic preamble); 0 restores the default. */
void cons__transport_set_timeout(struct raft_uv_transport *t, uint64_t timeout_ms);

/* Registers the receiver of accepted RPC connections (cb may be NULL: such connections are
 * then closed). data is passed back to cb. */
void cons__transport_set_rpc_cb(struct raft_uv_transport *t, cons__rpc_accept_cb cb, void *data);

/* Releases what a successful cons__transport_init() allocated (see there for when). t itself
 * is the caller's. A NULL t->impl is a no-op. */
void cons__transport_close(struct raft_uv_transport *t);

/* consensus/aio.c: while started, raft_uv's io_destroy(2) calls (made through
 * syscall(3), on the loop thread, ~32 ms each) run on a helper thread
 * instead. Reference-counted; stop drains the queue and joins the thread.
 * Any thread. */
int cons__aio_start(struct err *e);
void cons__aio_stop(void);
/* consensus/core.c: the snapshot threshold (entries after last, the index
 * of the last snapshot) that puts this replica's next snapshot at its phase
 * of period: the replica ranked rank of n snapshots at indices = rank *
 * period / n (mod period), never sooner than period / 2 after the last one.
 * period itself when n < 2. */
unsigned cons__snap_stagger(uint64_t last, unsigned period, uint64_t rank, uint64_t n);

/* io_destroy calls handed to the helper since the process started */
uint64_t cons__aio_offloaded(void);

/* An outbound RPC connection: TLS connect to a peer's transport address, write
 * CONS_RPC_MAGIC, hand back the plain stream. Caller's memory, valid until cb fires. */
struct cons__rpc_connect;

/* Fires exactly once, never from inside cons__rpc_connect().
 * status 0: stream (not reading yet) is owned by the callee: uv_close() then raft_free();
 *   peer_cn is the server certificate's CN, borrowed for the call.
 * otherwise: stream and peer_cn are NULL; req->err says why: ERR_DENIED (TLS refused),
 *   ERR_IO (connect/write failed), ERR_TIMEOUT, ERR_SHUTDOWN (the transport is closing). */
typedef void (*cons__rpc_connect_cb)(struct cons__rpc_connect *req, uv_stream_t *stream, int status,
                                     const char *peer_cn);

struct cons__rpc_connect {
    void *data;              /* caller's */
    struct err err;          /* set when status != 0 */
    cons__rpc_connect_cb cb; /* once, later */
    void *priv;              /* transport's, NULL once cb has fired */
};

/* Starts an RPC connection to address ("IP:PORT", copied). Returns 0 (cb fires later), or
 * ERR_INVALID (bad address), ERR_SHUTDOWN (transport closing), ERR_NOMEM, ERR_IO, with e set
 * and cb never fired. Pending connects are canceled (ERR_SHUTDOWN) by the transport's close. */
int cons__rpc_connect(struct raft_uv_transport *t, struct cons__rpc_connect *req,
                      const char *address, cons__rpc_connect_cb cb, struct err *e);

/* Abandons a pending RPC connect: cb fires later with ERR_SHUTDOWN. No-op once cb fired. */
void cons__rpc_connect_cancel(struct cons__rpc_connect *req);

#endif
