#include "lib/pki.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEX_DIGITS       "0123456789abcdef"
#define SERIAL_BYTES     16
#define SECRET_BYTES     (PKI_SECRET_HEX_LEN / 2)
#define BACKDATE_SECONDS (5 * 60) /* a joining node's clock may run a little behind ours */

/* ---- helpers: errors, encodings --------------------------------------------------------- */

/* Sets e to "<fmt>: <openssl reason>" and empties the thread's OpenSSL error queue: a stale
 * entry there would make a later SSL_get_error() on this thread report our failure. OpenSSL's
 * reason strings ("no start line", "bad signature") never contain key material. */
__attribute__((format(printf, 3, 4))) static int ossl_fail(struct err *e, int code, const char *fmt,
                                                           ...)
{
    char what[ERR_MSG_SIZE];
    unsigned long oe = ERR_peek_last_error();
    const char *reason = oe != 0 ? ERR_reason_error_string(oe) : NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    if (reason == NULL)
        return err_setf(e, code, "%s", what);
    return err_setf(e, code, "%s: %s", what, reason);
}

/* Lowercase hex of buf into out (2n + 1 bytes). OpenSSL writes upper case; we fold it because
 * the token format and `sha256sum` use lower case. */
static void hex_lower(const unsigned char *buf, size_t n, char *out, size_t out_size)
{
    size_t len = 0;
    int ok = OPENSSL_buf2hexstr_ex(out, out_size, &len, buf, n, '\0');
    assert(ok == 1 && len == 2 * n + 1);
    (void)ok;
    for (size_t i = 0; i < 2 * n; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
}

/* Checks that s[0..len) is exactly want lowercase hex chars. Positions are 1-based and the
 * message never quotes s: it may be a token secret. */
static int hex_check(const char *s, size_t len, size_t want, const char *what, struct err *e)
{
    if (len != want)
        return err_setf(e, ERR_INVALID, "%s: want %zu characters, got %zu", what, want, len);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' || strchr(HEX_DIGITS, s[i]) == NULL)
            return err_setf(e, ERR_INVALID, "%s: character %zu: want lowercase hex", what, i + 1);
    }
    return 0;
}

static int sha256_hex(const void *data, size_t len, char hash[PKI_HASH_SIZE], struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1)
        return ossl_fail(e, ERR_NOMEM, "sha256");
    assert(md_len * 2 + 1 == PKI_HASH_SIZE);
    hex_lower(md, md_len, hash, PKI_HASH_SIZE);
    return 0;
}

/* ---- helpers: PEM in and out ----------------------------------------------------------- */

/* Refuses encrypted keys instead of letting OpenSSL prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static int bio_open(const char *pem, const char *what, BIO **b, struct err *e)
{
    if (pem == NULL)
        return err_setf(e, ERR_INVALID, "%s: required", what);
    *b = BIO_new_mem_buf(pem, -1);
    if (*b == NULL)
        return ossl_fail(e, ERR_NOMEM, "%s: read", what);
    return 0;
}

static int key_parse(const char *pem, const char *what, EVP_PKEY **out, struct err *e)
{
    BIO *b = NULL;
    int rv = bio_open(pem, what, &b, e);

    if (rv != 0)
        return rv;
    *out = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (*out == NULL)
        return ossl_fail(e, ERR_INVALID, "%s: not a pem private key", what);
    return 0;
}

static int cert_parse(const char *pem, const char *what, X509 **out, struct err *e)
{
    BIO *b = NULL;
    int rv = bio_open(pem, what, &b, e);

    if (rv != 0)
        return rv;
    *out = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (*out == NULL)
        return ossl_fail(e, ERR_INVALID, "%s: not a pem certificate", what);
    return 0;
}

static int req_parse(const char *pem, X509_REQ **out, struct err *e)
{
    BIO *b = NULL;
    int rv = bio_open(pem, "csr", &b, e);

    if (rv != 0)
        return rv;
    *out = PEM_read_bio_X509_REQ(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (*out == NULL)
        return ossl_fail(e, ERR_INVALID, "csr: not a pem certificate request");
    return 0;
}

enum pem_kind { PEM_KEY, PEM_CERT, PEM_REQ };

/* Encodes obj as PEM into a malloc'ed string. Keys go through a secure-heap BIO so the
 * intermediate copy is wiped when the BIO is freed. */
static int pem_encode(enum pem_kind kind, void *obj, char **out, struct err *e)
{
    BIO *b = BIO_new(kind == PEM_KEY ? BIO_s_secmem() : BIO_s_mem());
    char *data = NULL;
    long len;
    int ok = 0;
    int rv = 0;

    if (b == NULL)
        return ossl_fail(e, ERR_NOMEM, "pem: encode");
    if (kind == PEM_KEY)
        ok = PEM_write_bio_PrivateKey(b, obj, NULL, NULL, 0, NULL, NULL);
    else if (kind == PEM_CERT)
        ok = PEM_write_bio_X509(b, obj);
    else
        ok = PEM_write_bio_X509_REQ(b, obj);
    len = BIO_get_mem_data(b, &data);
    if (ok != 1 || len <= 0) {
        rv = ossl_fail(e, ERR_NOMEM, "pem: encode");
        goto out_free;
    }
    *out = malloc((size_t)len + 1);
    if (*out == NULL) {
        rv = err_setf(e, ERR_NOMEM, "pem: encode: out of memory");
        goto out_free;
    }
    memcpy(*out, data, (size_t)len);
    (*out)[len] = '\0';
out_free:
    BIO_free(b);
    return rv;
}

/* We only issue and accept P-256: one curve to reason about, and no weak RSA from a joiner. */
static int key_check_p256(EVP_PKEY *pk, const char *what, struct err *e)
{
    char group[64];
    size_t len = 0;

    if (!EVP_PKEY_is_a(pk, "EC") || EVP_PKEY_get_group_name(pk, group, sizeof group, &len) != 1 ||
        strcmp(group, SN_X9_62_prime256v1) != 0) {
        ERR_clear_error();
        return err_setf(e, ERR_INVALID, "%s: want an ec p-256 key", what);
    }
    return 0;
}

/* The one value of nid in name, as a malloc'ed UTF-8 string; *out = NULL when absent. Twice
 * present is refused: which one an authoriser would read is then anybody's guess. */
static int name_get_one(const X509_NAME *name, int nid, const char *what, char **out, struct err *e)
{
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    unsigned char *utf8 = NULL;
    int len;

    *out = NULL;
    if (i < 0)
        return 0;
    if (X509_NAME_get_index_by_NID(name, nid, i) >= 0)
        return err_setf(e, ERR_INVALID, "%s: occurs more than once", what);
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (len < 0)
        return ossl_fail(e, ERR_INVALID, "%s: not a valid string", what);
    if (memchr(utf8, '\0', (size_t)len) != NULL) {
        OPENSSL_free(utf8);
        return err_setf(e, ERR_INVALID, "%s: contains a nul byte", what);
    }
    *out = malloc((size_t)len + 1);
    if (*out != NULL) {
        memcpy(*out, utf8, (size_t)len);
        (*out)[len] = '\0';
    }
    OPENSSL_free(utf8);
    if (*out == NULL)
        return err_setf(e, ERR_NOMEM, "%s: out of memory", what);
    return 0;
}

/* ---- helpers: building certificates --------------------------------------------------- */

/* 16 random octets with the top bit cleared so the INTEGER stays positive and within the
 * 20-octet limit of RFC 5280: 127 bits of entropy per serial. */
static int serial_set(X509 *x, struct err *e)
{
    unsigned char buf[SERIAL_BYTES];
    BIGNUM *bn;
    int rv = 0;

    if (RAND_bytes(buf, sizeof buf) != 1)
        return ossl_fail(e, ERR_NOMEM, "serial: random");
    buf[0] &= 0x7f;
    bn = BN_bin2bn(buf, sizeof buf, NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        rv = ossl_fail(e, ERR_NOMEM, "serial: set");
    BN_free(bn);
    return rv;
}

/* Version, serial, subject (O then CN, as kubeadm writes them), issuer, validity and public
 * key. issuer NULL means self-signed. The leaf never outlives its issuer: a verifier would
 * refuse it after the CA expires anyway, and a truthful notAfter makes renewal plannable. */
static int cert_init(X509 *x, EVP_PKEY *pub, const char *org, const char *cn, long days,
                     X509 *issuer, struct err *e)
{
    X509_NAME *subj = X509_get_subject_name(x);
    int rv;

    if (X509_set_version(x, X509_VERSION_3) != 1)
        return ossl_fail(e, ERR_NOMEM, "certificate: version");
    rv = serial_set(x, e);
    if (rv != 0)
        return rv;
    if ((org != NULL && X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8,
                                                   (const unsigned char *)org, -1, -1, 0) != 1) ||
        X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1)
        return ossl_fail(e, ERR_NOMEM, "certificate: subject");
    if (X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subj) != 1)
        return ossl_fail(e, ERR_NOMEM, "certificate: issuer");
    if (X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) == NULL)
        return ossl_fail(e, ERR_NOMEM, "certificate: validity");
    if (issuer != NULL &&
        ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0 &&
        X509_set1_notAfter(x, X509_get0_notAfter(issuer)) != 1)
        return ossl_fail(e, ERR_NOMEM, "certificate: validity");
    if (X509_set_pubkey(x, pub) != 1)
        return ossl_fail(e, ERR_NOMEM, "certificate: public key");
    return 0;
}

struct ext {
    int nid;
    const char *value; /* OpenSSL config syntax; constants only, never user input */
};

static int exts_add(X509 *x, X509 *issuer, const struct ext *exts, size_t n, struct err *e)
{
    X509V3_CTX ctx;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
        int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
        X509_EXTENSION_free(ext);
        if (!ok)
            return ossl_fail(e, ERR_NOMEM, "certificate: extension %s", OBJ_nid2sn(exts[i].nid));
    }
    return 0;
}

static int san_push(GENERAL_NAMES *gens, int type, const void *data, int len)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *s = type == GEN_DNS ? ASN1_IA5STRING_new() : ASN1_OCTET_STRING_new();

    if (gn == NULL || s == NULL || ASN1_STRING_set(s, data, len) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_STRING_free(s);
        return 0;
    }
    GENERAL_NAME_set0_value(gn, type, s);
    if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
        GENERAL_NAME_free(gn);
        return 0;
    }
    return 1;
}

/* Built as a structure, not as a config string, so no caller text is ever parsed by OpenSSL's
 * config syntax. IPs are parsed by inet_pton: a2i_IPADDRESS would accept "10.0.0.1junk". */
static int sans_add(X509 *x, const char *dns, const char *const *ips, size_t n_ips, struct err *e)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    unsigned char ip[16];
    int rv = 0;

    if (gens == NULL || !san_push(gens, GEN_DNS, dns, -1) ||
        !san_push(gens, GEN_DNS, "localhost", -1)) {
        rv = ossl_fail(e, ERR_NOMEM, "certificate: subject alt names");
        goto out_free;
    }
    for (size_t i = 0; i < n_ips; i++) {
        int len = 0;
        if (ips[i] != NULL && inet_pton(AF_INET, ips[i], ip) == 1)
            len = 4;
        else if (ips[i] != NULL && inet_pton(AF_INET6, ips[i], ip) == 1)
            len = 16;
        if (len == 0) {
            rv = err_setf(e, ERR_INVALID, "ips[%zu]: not an ip address", i);
            goto out_free;
        }
        if (!san_push(gens, GEN_IPADD, ip, len)) {
            rv = ossl_fail(e, ERR_NOMEM, "certificate: subject alt names");
            goto out_free;
        }
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
        rv = ossl_fail(e, ERR_NOMEM, "certificate: subject alt names");
out_free:
    GENERAL_NAMES_free(gens);
    return rv;
}

static int cert_sign(X509 *x, EVP_PKEY *key, char **cert_pem, struct err *e)
{
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        return ossl_fail(e, ERR_NOMEM, "certificate: sign");
    return pem_encode(PEM_CERT, x, cert_pem, e);
}

/* ---- keys ------------------------------------------------------------------------------ */

int pki_key_new(char **key_pem, struct err *e)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    int rv;

    if (pk == NULL)
        return ossl_fail(e, ERR_NOMEM, "key: generate");
    rv = pem_encode(PEM_KEY, pk, key_pem, e);
    EVP_PKEY_free(pk);
    return rv;
}

void pki_key_pem_free(char *key_pem)
{
    if (key_pem == NULL)
        return;
    OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
}

/* ---- files ------------------------------------------------------------------------------ */

static int file_read(const char *path, char **out, struct err *e)
{
    struct stat st;
    size_t n = 0;
    char *buf;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rv = 0;

    if (fd < 0 && errno == ENOENT)
        return err_setf(e, ERR_NOTFOUND, "%s: not found", path);
    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rv = err_setf(e, ERR_IO, "%s: stat: %s", path, strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > PKI_FILE_MAX_BYTES) {
        rv = err_setf(e, ERR_INVALID, "%s: not a regular file of at most %d bytes", path,
                      PKI_FILE_MAX_BYTES);
        goto out_close;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rv = err_setf(e, ERR_NOMEM, "%s: out of memory", path);
        goto out_close;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rv = err_setf(e, ERR_IO, "%s: read: %s", path, strerror(errno));
            OPENSSL_cleanse(buf, n); /* what we read so far may be a key */
            free(buf);
            goto out_close;
        }
        if (r == 0)
            break; /* the file shrank under us; parsing decides if what we have is whole */
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
out_close:
    close(fd);
    return rv;
}

static int dir_sync(const char *path, struct err *e)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, rv = 0;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: open directory: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        rv = err_setf(e, ERR_IO, "%s: fsync directory: %s", path, strerror(errno));
    close(fd);
    return rv;
}

/* Temp file + fsync + rename + directory fsync: after a crash the path holds the old or the new
 * contents, never a torn key. The mode is set before the first byte is written, so a key is
 * never readable by others even briefly, whatever the umask. */
static int file_write_atomic(const char *path, const char *data, mode_t mode, struct err *e)
{
    char tmp[PATH_MAX];
    size_t len = strlen(data), n = 0;
    int fd, rv = 0;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
        return err_setf(e, ERR_INVALID, "%s: path too long", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: create temp file: %s", path, strerror(errno));
    if (fchmod(fd, mode) != 0)
        rv = err_setf(e, ERR_IO, "%s: chmod: %s", path, strerror(errno));
    while (rv == 0 && n < len) {
        ssize_t w = write(fd, data + n, len - n);
        if (w < 0 && errno != EINTR)
            rv = err_setf(e, ERR_IO, "%s: write: %s", path, strerror(errno));
        else if (w > 0)
            n += (size_t)w;
    }
    if (rv == 0 && fsync(fd) != 0)
        rv = err_setf(e, ERR_IO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && rv == 0)
        rv = err_setf(e, ERR_IO, "%s: close: %s", path, strerror(errno));
    if (rv == 0 && rename(tmp, path) != 0)
        rv = err_setf(e, ERR_IO, "%s: rename: %s", path, strerror(errno));
    if (rv != 0) {
        unlink(tmp);
        return rv;
    }
    return dir_sync(path, e);
}

int pki_key_load(const char *path, char **key_pem, struct err *e)
{
    EVP_PKEY *pk = NULL;
    char *pem = NULL;
    int rv = file_read(path, &pem, e);

    if (rv != 0)
        return rv;
    rv = key_parse(pem, path, &pk, e);
    EVP_PKEY_free(pk);
    if (rv != 0) {
        pki_key_pem_free(pem);
        return rv;
    }
    *key_pem = pem;
    return 0;
}

int pki_cert_load(const char *path, char **cert_pem, struct err *e)
{
    X509 *x = NULL;
    char *pem = NULL;
    int rv = file_read(path, &pem, e);

    if (rv != 0)
        return rv;
    rv = cert_parse(pem, path, &x, e);
    X509_free(x);
    if (rv != 0) {
        free(pem);
        return rv;
    }
    *cert_pem = pem;
    return 0;
}

int pki_key_save(const char *path, const char *key_pem, struct err *e)
{
    return file_write_atomic(path, key_pem, 0600, e);
}

int pki_cert_save(const char *path, const char *cert_pem, struct err *e)
{
    return file_write_atomic(path, cert_pem, 0644, e);
}

/* ---- cluster CA ------------------------------------------------------------------------ */

int pki_ca_new(char **ca_cert_pem, char **ca_key_pem, struct err *e)
{
    static const struct ext exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"},
    };
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    char *cert = NULL;
    char *key = NULL;
    int rv;

    if (pk == NULL || x == NULL) {
        rv = ossl_fail(e, ERR_NOMEM, "ca: generate");
        goto out_free;
    }
    rv = cert_init(x, pk, NULL, PKI_CA_CN, PKI_CA_DAYS, NULL, e);
    if (rv == 0)
        rv = exts_add(x, x, exts, sizeof exts / sizeof exts[0], e);
    if (rv == 0)
        rv = cert_sign(x, pk, &cert, e);
    if (rv == 0)
        rv = pem_encode(PEM_KEY, pk, &key, e);
    if (rv != 0) {
        err_wrapf(e, "ca");
        free(cert);
        goto out_free;
    }
    *ca_cert_pem = cert;
    *ca_key_pem = key;
out_free:
    X509_free(x);
    EVP_PKEY_free(pk);
    return rv;
}

int pki_ca_hash(const char *cert_pem, char hash[PKI_HASH_SIZE], struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    X509 *x = NULL;
    int rv = cert_parse(cert_pem, "ca certificate", &x, e);

    if (rv != 0)
        return rv;
    /* X509_digest hashes the DER encoding, the same bytes `openssl x509 -outform der` emits,
     * so the hash survives any PEM re-wrapping. */
    if (X509_digest(x, EVP_sha256(), md, &md_len) != 1)
        rv = ossl_fail(e, ERR_NOMEM, "ca certificate: sha256");
    else
        hex_lower(md, md_len, hash, PKI_HASH_SIZE);
    X509_free(x);
    return rv;
}

/* Parses the CA and refuses a key that does not match its certificate, or a certificate that is
 * not a CA: either would issue leaves that never verify. */
static int ca_load(const struct pki_ca *ca, X509 **cert, EVP_PKEY **key, struct err *e)
{
    int rv = cert_parse(ca->cert_pem, "ca certificate", cert, e);

    if (rv != 0)
        return rv;
    rv = key_parse(ca->key_pem, "ca key", key, e);
    if (rv != 0)
        goto out_cert;
    if (X509_check_ca(*cert) < 1) {
        rv = err_setf(e, ERR_INVALID, "ca certificate: not a ca");
        goto out_key;
    }
    if (X509_check_private_key(*cert, *key) != 1) {
        ERR_clear_error();
        rv = err_setf(e, ERR_INVALID, "ca key: does not match the ca certificate");
        goto out_key;
    }
    return 0;
out_key:
    EVP_PKEY_free(*key);
    *key = NULL;
out_cert:
    X509_free(*cert);
    *cert = NULL;
    return rv;
}

/* ---- leaf certificates ----------------------------------------------------------------- */

struct leaf {
    const char *org;
    const char *cn;
    const char *eku;        /* extendedKeyUsage value */
    bool node;              /* add SANs: DNS cn, DNS localhost, IP ips[] */
    const char *const *ips; /* borrowed */
    size_t n_ips;
};

/* Every extension is ours; nothing comes from a CSR. ECDSA keys only sign in TLS, hence
 * digitalSignature alone (keyEncipherment is an RSA key-transport usage). */
static int leaf_issue(const struct pki_ca *ca, EVP_PKEY *pub, const struct leaf *l, char **cert_pem,
                      struct err *e)
{
    const struct ext exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, l->eku},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"},
    };
    EVP_PKEY *ca_key = NULL;
    X509 *ca_cert = NULL;
    X509 *x = NULL;
    int rv;

    rv = key_check_p256(pub, "key", e);
    if (rv != 0)
        return rv;
    rv = ca_load(ca, &ca_cert, &ca_key, e);
    if (rv != 0)
        return rv;
    x = X509_new();
    if (x == NULL) {
        rv = ossl_fail(e, ERR_NOMEM, "certificate: new");
        goto out_free;
    }
    rv = cert_init(x, pub, l->org, l->cn, PKI_LEAF_DAYS, ca_cert, e);
    if (rv == 0)
        rv = exts_add(x, ca_cert, exts, sizeof exts / sizeof exts[0], e);
    if (rv == 0 && l->node)
        rv = sans_add(x, l->cn, l->ips, l->n_ips, e);
    if (rv == 0)
        rv = cert_sign(x, ca_key, cert_pem, e);
out_free:
    X509_free(x);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    return rv;
}

int pki_node_cert_new(const struct pki_ca *ca, const char *key_pem, const char *node_name,
                      const char *const *ips, size_t n_ips, char **cert_pem, struct err *e)
{
    struct leaf l = {PKI_NODE_ORG, node_name, "serverAuth,clientAuth", true, ips, n_ips};
    EVP_PKEY *pk = NULL;
    int rv = pki_node_name_check(node_name, e);

    if (rv != 0)
        return rv;
    rv = key_parse(key_pem, "key", &pk, e);
    if (rv != 0)
        return rv;
    rv = leaf_issue(ca, pk, &l, cert_pem, e);
    EVP_PKEY_free(pk);
    return rv;
}

int pki_admin_cert_new(const struct pki_ca *ca, const char *key_pem, char **cert_pem, struct err *e)
{
    struct leaf l = {PKI_ADMIN_ORG, PKI_ADMIN_CN, "clientAuth", false, NULL, 0};
    EVP_PKEY *pk = NULL;
    int rv = key_parse(key_pem, "key", &pk, e);

    if (rv != 0)
        return rv;
    rv = leaf_issue(ca, pk, &l, cert_pem, e);
    EVP_PKEY_free(pk);
    return rv;
}

int pki_csr_new(const char *key_pem, const char *node_name, char **csr_pem, struct err *e)
{
    EVP_PKEY *pk = NULL;
    X509_REQ *req = NULL;
    int rv = pki_node_name_check(node_name, e);

    if (rv != 0)
        return rv;
    rv = key_parse(key_pem, "key", &pk, e);
    if (rv != 0)
        return rv;
    rv = key_check_p256(pk, "key", e);
    if (rv != 0)
        goto out_free;
    req = X509_REQ_new();
    if (req == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                   (const unsigned char *)node_name, -1, -1, 0) != 1 ||
        X509_REQ_set_pubkey(req, pk) != 1 || X509_REQ_sign(req, pk, EVP_sha256()) <= 0) {
        rv = ossl_fail(e, ERR_NOMEM, "csr: build");
        goto out_free;
    }
    rv = pem_encode(PEM_REQ, req, csr_pem, e);
out_free:
    X509_REQ_free(req);
    EVP_PKEY_free(pk);
    return rv;
}

/* Parses and checks a CSR; on success *req and *cn are the caller's. The self-signature proves
 * the joiner holds the private key for the public key it asks us to certify. */
static int csr_load(const char *csr_pem, X509_REQ **req, char **cn, struct err *e)
{
    EVP_PKEY *pub;
    int rv = req_parse(csr_pem, req, e);

    if (rv != 0)
        return rv;
    pub = X509_REQ_get0_pubkey(*req);
    if (pub == NULL) {
        rv = ossl_fail(e, ERR_INVALID, "csr: public key");
        goto out_req;
    }
    rv = key_check_p256(pub, "csr: key", e);
    if (rv != 0)
        goto out_req;
    if (X509_REQ_verify(*req, pub) != 1) {
        rv = ossl_fail(e, ERR_INVALID, "csr: signature does not verify");
        goto out_req;
    }
    rv = name_get_one(X509_REQ_get_subject_name(*req), NID_commonName, "csr: subject: cn", cn, e);
    if (rv == 0 && *cn == NULL)
        rv = err_setf(e, ERR_INVALID, "csr: subject: cn: required");
    if (rv == 0 && pki_node_name_check(*cn, e) != 0)
        rv = err_wrapf(e, "csr: subject: cn");
    if (rv == 0)
        return 0;
    free(*cn);
    *cn = NULL;
out_req:
    X509_REQ_free(*req);
    *req = NULL;
    return rv;
}

int pki_csr_check(const char *csr_pem, char **node_name, struct err *e)
{
    X509_REQ *req = NULL;
    char *cn = NULL;
    int rv = csr_load(csr_pem, &req, &cn, e);

    if (rv != 0)
        return rv;
    X509_REQ_free(req);
    if (node_name != NULL)
        *node_name = cn;
    else
        free(cn);
    return 0;
}

int pki_csr_sign(const struct pki_ca *ca, const char *csr_pem, const char *const *ips, size_t n_ips,
                 char **cert_pem, struct err *e)
{
    X509_REQ *req = NULL;
    char *cn = NULL;
    struct leaf l = {PKI_NODE_ORG, NULL, "serverAuth,clientAuth", true, ips, n_ips};
    int rv = csr_load(csr_pem, &req, &cn, e);

    if (rv != 0)
        return rv;
    l.cn = cn;
    rv = leaf_issue(ca, X509_REQ_get0_pubkey(req), &l, cert_pem, e);
    free(cn);
    X509_REQ_free(req);
    return rv;
}

int pki_node_name_check(const char *name, struct err *e)
{
    size_t len, label = 0;

    if (name == NULL || name[0] == '\0')
        return err_setf(e, ERR_INVALID, "node name: required");
    len = strnlen(name, PKI_NODE_NAME_MAX + 1);
    if (len > PKI_NODE_NAME_MAX)
        return err_setf(e, ERR_INVALID, "node name: longer than %d characters", PKI_NODE_NAME_MAX);
    /* Positions only, never the name itself: it may come from a stranger's CSR and hold
     * control characters that would forge log lines. */
    for (size_t i = 0; i <= len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c == '.' || c == '\0') {
            if (label == 0)
                return err_setf(e, ERR_INVALID, "node name: character %zu: empty label", i + 1);
            if (name[i - 1] == '-')
                return err_setf(e, ERR_INVALID,
                                "node name: character %zu: label must end with [a-z0-9]", i);
            label = 0;
            continue;
        }
        if (!alnum && c != '-')
            return err_setf(e, ERR_INVALID, "node name: character %zu: want [a-z0-9.-]", i + 1);
        if (label == 0 && !alnum)
            return err_setf(e, ERR_INVALID,
                            "node name: character %zu: label must start with [a-z0-9]", i + 1);
        if (++label > 63)
            return err_setf(e, ERR_INVALID, "node name: character %zu: label longer than 63",
                            i + 1);
    }
    return 0;
}

/* ---- reading and verifying certificates ------------------------------------------------ */

int pki_cert_subject(const char *cert_pem, char **cn, char **o, struct err *e)
{
    X509 *x = NULL;
    char *c = NULL;
    char *org = NULL;
    int rv = cert_parse(cert_pem, "certificate", &x, e);

    if (rv != 0)
        return rv;
    rv = name_get_one(X509_get_subject_name(x), NID_commonName, "certificate: subject: cn", &c, e);
    if (rv == 0 && c == NULL)
        rv = err_setf(e, ERR_INVALID, "certificate: subject: cn: required");
    if (rv == 0)
        rv = name_get_one(X509_get_subject_name(x), NID_organizationName, "certificate: subject: o",
                          &org, e);
    X509_free(x);
    if (rv != 0) {
        free(c);
        return rv;
    }
    if (cn != NULL)
        *cn = c;
    else
        free(c);
    if (o != NULL)
        *o = org;
    else
        free(org);
    return 0;
}

int pki_cert_verify(const char *ca_cert_pem, const char *cert_pem, enum pki_purpose purpose,
                    struct err *e)
{
    X509 *ca = NULL;
    X509 *leaf = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    int rv = cert_parse(ca_cert_pem, "ca certificate", &ca, e);

    if (rv != 0)
        return rv;
    rv = cert_parse(cert_pem, "certificate", &leaf, e);
    if (rv != 0)
        goto out_free;
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    if (store == NULL || ctx == NULL || X509_STORE_add_cert(store, ca) != 1 ||
        X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1 ||
        X509_STORE_CTX_set_purpose(ctx, purpose == PKI_PURPOSE_SERVER
                                            ? X509_PURPOSE_SSL_SERVER
                                            : X509_PURPOSE_SSL_CLIENT) != 1) {
        rv = ossl_fail(e, ERR_NOMEM, "certificate: verify setup");
        goto out_free;
    }
    /* Strict RFC 5280 checks: everything we issue passes them, anything odd is refused. */
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
    if (X509_verify_cert(ctx) != 1) {
        rv = err_setf(e, ERR_DENIED, "certificate: %s",
                      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        ERR_clear_error();
    }
out_free:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(leaf);
    X509_free(ca);
    return rv;
}

/* ---- join tokens ------------------------------------------------------------------------ */

/* Fills secret_hash and id from secret. */
static int token_derive(struct pki_token *t, struct err *e)
{
    int rv = pki_secret_hash(t->secret, t->secret_hash, e);

    if (rv != 0)
        return rv;
    memcpy(t->id, t->secret_hash, PKI_TOKEN_ID_LEN);
    t->id[PKI_TOKEN_ID_LEN] = '\0';
    return 0;
}

int pki_token_new(const char *ca_cert_pem, struct pki_token *t, struct err *e)
{
    unsigned char raw[SECRET_BYTES];
    struct pki_token tmp;
    int rv = pki_ca_hash(ca_cert_pem, tmp.ca_hash, e);

    if (rv != 0)
        return rv;
    /* The private DRBG: OpenSSL keeps secrets apart from public randomness such as serials. */
    if (RAND_priv_bytes(raw, sizeof raw) != 1)
        return ossl_fail(e, ERR_NOMEM, "token: random");
    hex_lower(raw, sizeof raw, tmp.secret, sizeof tmp.secret);
    OPENSSL_cleanse(raw, sizeof raw);
    rv = token_derive(&tmp, e);
    if (rv == 0)
        *t = tmp;
    pki_token_wipe(&tmp);
    return rv;
}

void pki_token_format(const struct pki_token *t, char out[PKI_TOKEN_SIZE])
{
    int n =
        snprintf(out, PKI_TOKEN_SIZE, "%s.%.64s.%.32s", PKI_TOKEN_PREFIX, t->ca_hash, t->secret);
    assert(n >= 0 && (size_t)n < PKI_TOKEN_SIZE);
    (void)n;
}

int pki_token_parse(const char *token, struct pki_token *t, struct err *e)
{
    const size_t prefix_len = strlen(PKI_TOKEN_PREFIX);
    struct pki_token tmp;
    const char *dot1, *dot2;
    size_t fields = 1;
    int rv;

    if (token == NULL || token[0] == '\0')
        return err_setf(e, ERR_INVALID, "token: required");
    for (const char *p = token; *p != '\0'; p++)
        fields += *p == '.';
    if (fields != 3)
        return err_setf(e, ERR_INVALID,
                        "token: want %s.<ca-hash>.<secret>, got %zu dot-separated field%s",
                        PKI_TOKEN_PREFIX, fields, fields == 1 ? "" : "s");
    dot1 = strchr(token, '.');
    dot2 = strchr(dot1 + 1, '.');
    if ((size_t)(dot1 - token) != prefix_len || memcmp(token, PKI_TOKEN_PREFIX, prefix_len) != 0)
        return err_setf(e, ERR_INVALID, "token: prefix: want %s", PKI_TOKEN_PREFIX);
    rv = hex_check(dot1 + 1, (size_t)(dot2 - dot1 - 1), PKI_HASH_HEX_LEN, "token: ca hash", e);
    if (rv != 0)
        return rv;
    rv = hex_check(dot2 + 1, strlen(dot2 + 1), PKI_SECRET_HEX_LEN, "token: secret", e);
    if (rv != 0)
        return rv;
    memcpy(tmp.ca_hash, dot1 + 1, PKI_HASH_HEX_LEN);
    tmp.ca_hash[PKI_HASH_HEX_LEN] = '\0';
    memcpy(tmp.secret, dot2 + 1, PKI_SECRET_HEX_LEN);
    tmp.secret[PKI_SECRET_HEX_LEN] = '\0';
    rv = token_derive(&tmp, e);
    if (rv == 0)
        *t = tmp;
    pki_token_wipe(&tmp);
    return rv;
}

int pki_secret_hash(const char *secret, char hash[PKI_HASH_SIZE], struct err *e)
{
    size_t len;
    int rv;

    if (secret == NULL)
        return err_setf(e, ERR_INVALID, "secret: required");
    len = strnlen(secret, PKI_SECRET_HEX_LEN + 1);
    rv = hex_check(secret, len, PKI_SECRET_HEX_LEN, "secret", e);
    if (rv != 0)
        return rv;
    return sha256_hex(secret, len, hash, e);
}

bool pki_hash_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL || strnlen(a, PKI_HASH_SIZE) != PKI_HASH_HEX_LEN ||
        strnlen(b, PKI_HASH_SIZE) != PKI_HASH_HEX_LEN)
        return false;
    return CRYPTO_memcmp(a, b, PKI_HASH_HEX_LEN) == 0;
}

void pki_token_wipe(struct pki_token *t)
{
    if (t != NULL)
        OPENSSL_cleanse(t, sizeof *t);
}
