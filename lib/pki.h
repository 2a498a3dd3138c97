/* lib/pki: the cluster PKI and join tokens, as glue over OpenSSL 3.
 *
 * Owns: EC P-256 keys, the self-signed cluster CA, node/admin leaf certificates (issued from a
 * key we hold or from a joining node's CSR), the CA hash a joining node pins, the join-token
 * format `SKF1.<ca-hash>.<secret>` and the hashing/compare of token secrets.
 * Does not own: where keys, certs and token records are stored, token expiry or revocation (the
 * caller keeps those next to the secret hash), TLS sessions, or authorisation (callers authorise
 * on the verified certificate's O, never on its CN alone).
 * Called by `skiff init` / `skiff join` (cli), the join endpoint (api) and TLS setup.
 *
 * Threads: no global state; every call is safe on any thread. Key generation and signing take
 * about a millisecond and the file helpers block on disk, so run them at startup or from
 * uv_queue_work, not on the loop thread.
 *
 * Memory: every `char **out` receives a NUL-terminated string from malloc(); the caller owns it
 * and frees it with free(), or with pki_key_pem_free() when it holds a private key (wipes it).
 * Outputs are written only on success; on failure they are left untouched. All `const char *`
 * inputs are borrowed for the duration of the call. PEM inputs may hold several blocks; only the
 * first of the expected kind is read.
 *
 * Errors: 0 or an ERR_ code from lib/err.h with a lower-case `what: why` message that never
 * contains key material or token secrets. ERR_INVALID: unparsable or unacceptable input
 * (PEM, CSR, name, IP, token). ERR_DENIED: a certificate that does not chain to the CA for the
 * asked purpose. ERR_IO: file errors. ERR_NOMEM: allocation or an internal OpenSSL failure.
 * The OpenSSL error queue of the calling thread is left empty after every call, so a later
 * SSL_get_error() on the same thread is not confused by our failures. */
#ifndef SKIFF_LIB_PKI_H
#define SKIFF_LIB_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define PKI_TOKEN_PREFIX   "SKF1"
#define PKI_HASH_HEX_LEN   64 /* sha256, lowercase hex */
#define PKI_SECRET_HEX_LEN 32 /* 128 random bits, lowercase hex */
#define PKI_TOKEN_ID_LEN   6  /* public token id: the first 6 chars of the secret hash */
#define PKI_NODE_NAME_MAX  253
#define PKI_HASH_SIZE      (PKI_HASH_HEX_LEN + 1)
#define PKI_SECRET_SIZE    (PKI_SECRET_HEX_LEN + 1)
#define PKI_TOKEN_ID_SIZE  (PKI_TOKEN_ID_LEN + 1)
#define PKI_TOKEN_SIZE     (sizeof PKI_TOKEN_PREFIX + PKI_HASH_HEX_LEN + 1 + PKI_SECRET_HEX_LEN + 1)
#define PKI_FILE_MAX_BYTES (1024 * 1024) /* larger PEM files are refused as invalid */

#define PKI_CA_CN     "skiff-ca"
#define PKI_NODE_ORG  "skiff:nodes"
#define PKI_ADMIN_CN  "admin"
#define PKI_ADMIN_ORG "system:masters"
#define PKI_CA_DAYS   3650
#define PKI_LEAF_DAYS 365

/* ---- keys ---------------------------------------------------------------------------------- */

/* Generates an EC P-256 private key. *key_pem: unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"),
 * owned by the caller, free with pki_key_pem_free(). */
int pki_key_new(char **key_pem, struct err *e);

/* Wipes and frees a string holding key material. Accepts NULL. */
void pki_key_pem_free(char *key_pem);

/* ---- files (blocking) ---------------------------------------------------------------------- */

/* Read a PEM file and check that it parses as a private key / certificate (encrypted keys are
 * refused: there is no passphrase prompt). *pem: owned, free with pki_key_pem_free() / free().
 * ERR_NOTFOUND if the file does not exist, ERR_IO, ERR_INVALID. */
int pki_key_load(const char *path, char **key_pem, struct err *e);
int pki_cert_load(const char *path, char **cert_pem, struct err *e);

/* Write PEM text atomically: temp file in the same directory, fsync, rename over path, fsync the
 * directory. Keys get mode 0600, certificates (and CSRs) 0644, whatever the umask. A reader
 * sees either the old file or the whole new one. ERR_IO. */
int pki_key_save(const char *path, const char *key_pem, struct err *e);
int pki_cert_save(const char *path, const char *cert_pem, struct err *e);

/* ---- cluster CA ---------------------------------------------------------------------------- */

/* The CA that issues leaves: both borrowed PEM strings. Every issuing call checks that the key
 * matches the certificate (ERR_INVALID otherwise). */
struct pki_ca {
    const char *cert_pem;
    const char *key_pem;
};

/* Creates a new P-256 key and a self-signed CA certificate for it: CN "skiff-ca", 10 years,
 * basicConstraints critical CA:TRUE, keyUsage critical keyCertSign|cRLSign, subject key id,
 * random serial. Both outputs owned; free *ca_key_pem with pki_key_pem_free(). */
int pki_ca_new(char **ca_cert_pem, char **ca_key_pem, struct err *e);

/* sha256 over the DER encoding of the (first) certificate in cert_pem, as 64 lowercase hex chars
 * plus NUL into hash. Equal to `openssl x509 -outform der | sha256sum`. This is the <ca-hash> of
 * a join token and what a joining node pins. ERR_INVALID if cert_pem does not parse. */
int pki_ca_hash(const char *cert_pem, char hash[PKI_HASH_SIZE], struct err *e);

/* ---- leaf certificates --------------------------------------------------------------------- */

/* Node certificate for the public half of key_pem (a P-256 private key we hold): CN node_name,
 * O "skiff:nodes", SANs DNS:node_name, DNS:localhost and IP:ips[i] (IPv4 or IPv6 text, n_ips may
 * be 0 and ips NULL), EKU serverAuth+clientAuth, keyUsage digitalSignature, CA:FALSE, 1 year
 * (never past the CA's own expiry), backdated 5 minutes for clock skew, random 128-bit serial.
 * ERR_INVALID for a bad node name (see pki_node_name_check), a bad IP or a non-P-256 key. */
int pki_node_cert_new(const struct pki_ca *ca, const char *key_pem, const char *node_name,
                      const char *const *ips, size_t n_ips, char **cert_pem, struct err *e);

/* Admin client certificate for the public half of key_pem: CN "admin", O "system:masters",
 * EKU clientAuth only, no SANs, otherwise as above. */
int pki_admin_cert_new(const struct pki_ca *ca, const char *key_pem, char **cert_pem,
                       struct err *e);

/* Joining side: a CSR (PEM) with subject CN node_name, for key_pem's public key, self-signed
 * with that key (sha256). It carries no extensions: the CA decides them. Owned output. */
int pki_csr_new(const char *key_pem, const char *node_name, char **csr_pem, struct err *e);

/* Server side, before issuing: checks that csr_pem parses, that its self-signature verifies,
 * that its key is EC P-256 and that its subject has exactly one CN which passes
 * pki_node_name_check. On success *node_name (owned, may be NULL if not wanted) is that CN.
 * ERR_INVALID naming the fault otherwise. */
int pki_csr_check(const char *csr_pem, char **node_name, struct err *e);

/* Server side: pki_csr_check, then a node certificate exactly as pki_node_cert_new issues, for
 * the CSR's public key and CN. Nothing else is taken from the CSR: its other subject fields,
 * requested extensions and attributes are ignored, so a joiner cannot ask for CA:TRUE, extra
 * SANs or another O. The IPs come from the caller (e.g. the peer address it saw). */
int pki_csr_sign(const struct pki_ca *ca, const char *csr_pem, const char *const *ips, size_t n_ips,
                 char **cert_pem, struct err *e);

/* 0 if name is a DNS-1123 subdomain as Kubernetes requires of node names: 1..253 chars of
 * lowercase [a-z0-9-.], dot-separated labels of 1..63 chars that start and end alphanumeric.
 * ERR_INVALID with a message naming the fault otherwise. */
int pki_node_name_check(const char *name, struct err *e);

/* ---- reading and verifying certificates ---------------------------------------------------- */

/* Subject CN and O of the first certificate in cert_pem, as UTF-8. Either out may be NULL if
 * not wanted. An absent O gives *o = NULL and success; an absent CN, a field that occurs twice,
 * or an embedded NUL gives ERR_INVALID. Does not verify anything: call pki_cert_verify first
 * when the certificate came from a peer. Owned outputs. */
int pki_cert_subject(const char *cert_pem, char **cn, char **o, struct err *e);

enum pki_purpose {
    PKI_PURPOSE_SERVER, /* a peer or API server we connect to: needs EKU serverAuth */
    PKI_PURPOSE_CLIENT, /* a node or admin connecting to us: needs EKU clientAuth */
};

/* Verifies that the first certificate in cert_pem is signed by the CA in ca_cert_pem (the only
 * trust anchor; no intermediates), is within its validity period now and is fit for purpose.
 * ERR_DENIED with OpenSSL's reason ("certificate: certificate has expired"), or ERR_INVALID if
 * either PEM does not parse. */
int pki_cert_verify(const char *ca_cert_pem, const char *cert_pem, enum pki_purpose purpose,
                    struct err *e);

/* ---- join tokens --------------------------------------------------------------------------- */

/* A join token `SKF1.<ca_hash>.<secret>`, e.g.
 *   SKF1.3f5a…(64 hex)….0123456789abcdef0123456789abcdef
 * The secret is the only confidential part: never log it or put it in an error message. The
 * server stores only secret_hash and identifies the token (list, revoke, logs) by id.
 * All fields are NUL-terminated lowercase hex. Wipe with pki_token_wipe() when done. */
struct pki_token {
    char ca_hash[PKI_HASH_SIZE];     /* sha256 of the CA cert DER, see pki_ca_hash */
    char secret[PKI_SECRET_SIZE];    /* 16 bytes from RAND_priv_bytes, hex */
    char secret_hash[PKI_HASH_SIZE]; /* pki_secret_hash(secret): what the server stores */
    char id[PKI_TOKEN_ID_SIZE];      /* first PKI_TOKEN_ID_LEN chars of secret_hash; public */
};

/* Fills *t with a fresh secret for the CA in ca_cert_pem. Ids are 24 bits: a caller that keeps
 * many tokens should regenerate on an id collision. ERR_INVALID if the PEM does not parse. */
int pki_token_new(const char *ca_cert_pem, struct pki_token *t, struct err *e);

/* Writes `SKF1.<ca_hash>.<secret>` and a NUL into out. */
void pki_token_format(const struct pki_token *t, char out[PKI_TOKEN_SIZE]);

/* Parses a token string into *t (all four fields). ERR_INVALID with a message naming the fault:
 *   "token: want SKF1.<ca-hash>.<secret>, got 2 dot-separated fields"
 *   "token: prefix: want SKF1"
 *   "token: ca hash: want 64 characters, got 63"
 *   "token: ca hash: character 5: want lowercase hex"
 *   "token: secret: want 32 characters, got 31"
 *   "token: secret: character 1: want lowercase hex"
 * The message never repeats any part of the input. On failure *t is left untouched. */
int pki_token_parse(const char *token, struct pki_token *t, struct err *e);

/* sha256 over the secret's 32 ASCII hex chars, as lowercase hex into hash (equal to
 * `printf %s SECRET | sha256sum`). ERR_INVALID ("secret: ...") if secret is not 32 lowercase
 * hex chars: it may come from a joining node. */
int pki_secret_hash(const char *secret, char hash[PKI_HASH_SIZE], struct err *e);

/* true if a and b are both exactly PKI_HASH_HEX_LEN chars long and equal. The comparison of the
 * contents takes constant time (CRYPTO_memcmp); only the lengths leak, and they are public. */
bool pki_hash_equal(const char *a, const char *b);

/* Overwrites *t (OPENSSL_cleanse) so the secret does not linger in memory. Accepts NULL. */
void pki_token_wipe(struct pki_token *t);

#endif
