/* lib/tls: mutually-authenticated TLS (OpenSSL) on a libuv loop, without blocking.
 *
 * Owns: building SSL_CTXs from PEM files, and the "bridge": one TCP connection whose TLS
 * handshake it drives through memory BIOs and whose plaintext it then pumps to and from a
 * local socketpair. The caller gets the other end of that socketpair as a plain uv_pipe_t, so
 * anything that speaks a byte stream (raft's transport contract, our RPC framing) runs
 * through TLS unchanged. Knows nothing of Raft or of what the bytes mean.
 *
 * Identity: both sides must present a certificate chaining to the one CA file given to the
 * ctx constructor (no system trust store). No hostname/IP check is made: any certificate the
 * cluster CA signed is a peer, and its subject CN is reported so the caller can decide more.
 *
 * Loop thread only. The process must ignore SIGPIPE (libuv writes with write(2)).
 */
#ifndef SKIFF_LIB_TLS_H
#define SKIFF_LIB_TLS_H

#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "lib/err.h"

/* Handshake deadline used when a caller passes 0. */
#define TLS_HANDSHAKE_TIMEOUT_MS 10000

/* Longest subject CN reported (longer ones are truncated; X.509 caps CN at 64). */
#define TLS_CN_MAX 256

/* Builds a server-side SSL_CTX: our certificate chain (cert_file, PEM) and private key
 * (key_file, PEM), trusting only the CA certificates in ca_file; TLS 1.2 minimum; requires and
 * verifies a client certificate (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
 * Session resumption is off: peer connections are long-lived and every one re-verifies.
 * On success *out is owned by the caller: free with tls_ctx_free(). The ctx is reference
 * counted by OpenSSL, so it may be freed while bridges that use it are still running.
 * Returns 0, ERR_INVALID (unreadable/mismatched PEM, naming the file) or ERR_NOMEM. */
int tls_ctx_server_new(const char *cert_file, const char *key_file, const char *ca_file,
                       SSL_CTX **out, struct err *e);

/* Same for the client side: presents our certificate and verifies the server's against
 * ca_file (SSL_VERIFY_PEER). */
int tls_ctx_client_new(const char *cert_file, const char *key_file, const char *ca_file,
                       SSL_CTX **out, struct err *e);

/* Releases a ctx from the constructors above. NULL is a no-op. */
void tls_ctx_free(SSL_CTX *ctx);

/* A pending bridge handshake. Shaped like raft's request structs: the caller owns the
 * memory, which must stay valid until cb has fired. */
struct tls_req;

/* Fires exactly once, never from inside the call that started the request.
 * status 0: the handshake succeeded; the pipe passed to the start call is now an initialised
 *   uv_pipe_t on the same loop carrying the plaintext (not yet reading). The caller owns it:
 *   uv_close() it, then release its memory. Closing it (or shutting down its write side)
 *   ends the TLS connection: close_notify is sent and the TCP connection closed.
 *   peer_cn is the peer certificate's subject CN, borrowed for the duration of the call
 *   ("" if the certificate has none).
 * status != 0: the pipe memory was never initialised; req->err says why; peer_cn is NULL.
 *   ERR_DENIED  the handshake was refused (peer certificate missing or not from our CA,
 *               protocol mismatch, not TLS at all), either by us or by the peer's alert
 *   ERR_IO      TCP connect/read/write failed or the peer closed during the handshake
 *   ERR_TIMEOUT the deadline passed before the handshake completed
 *   ERR_SHUTDOWN tls_cancel() was called
 * When cb fires with an error every resource of the bridge has already been released. */
typedef void (*tls_req_cb)(struct tls_req *req, int status, const char *peer_cn);

struct tls_req {
    void *data;             /* caller's */
    struct err err;         /* set when status != 0 */
    tls_req_cb cb;          /* once, later */
    struct tls__conn *conn; /* private: NULL once cb has fired */
};

/* Accepts one pending connection from `listener` (call it from the listener's connection
 * callback) and runs the server side of the handshake with ctx.
 * `pipe` is caller memory for the plaintext stream (see tls_req_cb); it must stay valid and
 * untouched until cb fires, and after it if status was 0.
 * timeout_ms bounds the handshake (0: TLS_HANDSHAKE_TIMEOUT_MS).
 * Returns 0 and cb fires later, or a code with e set and cb never fires (ERR_IO: uv_accept
 * failed, ERR_NOMEM). Borrows ctx (takes a reference) and listener. */
int tls_accept(struct tls_req *req, uv_loop_t *loop, SSL_CTX *ctx, uv_stream_t *listener,
               uint64_t timeout_ms, uv_pipe_t *pipe, tls_req_cb cb, struct err *e);

/* Connects TCP to addr (IPv4 or IPv6) and runs the client side of the handshake; the
 * deadline covers the TCP connect too. Otherwise as tls_accept(). Borrows addr. */
int tls_connect(struct tls_req *req, uv_loop_t *loop, SSL_CTX *ctx, const struct sockaddr *addr,
                uint64_t timeout_ms, uv_pipe_t *pipe, tls_req_cb cb, struct err *e);

/* Runs the handshake over an already connected TCP socket fd, as server if is_server is
 * non-zero, else as client. Takes ownership of fd on success (closed when the bridge ends);
 * on failure the caller keeps it. Otherwise as tls_accept(). */
int tls_open(struct tls_req *req, uv_loop_t *loop, SSL_CTX *ctx, int fd, int is_server,
             uint64_t timeout_ms, uv_pipe_t *pipe, tls_req_cb cb, struct err *e);

/* Abandons a pending handshake: cb fires later with ERR_SHUTDOWN (or with the status it was
 * already about to report). A no-op when cb has already fired. An established bridge is
 * ended by closing its pipe instead. */
void tls_cancel(struct tls_req *req);

#endif
