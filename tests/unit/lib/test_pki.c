#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lib/pki.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=skiff-ca`;
 * GOLDEN_HASH is `openssl x509 -in golden.pem -outform der | sha256sum`. */
static const char GOLDEN_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfDCCASGgAwIBAgIUTvx/DIg6BicUvXk2A4xiqYtFIoIwCgYIKoZIzj0EAwIw\n"
    "EzERMA8GA1UEAwwIc2tpZmYtY2EwHhcNMjYxMTI1MDc1MjMxWhcNMzYxMTIyMDc1\n"
    "MjMxWjATMREwDwYDVQQDDAhza2lmZi1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
    "A0IABLV3seurs5ugtwwDeJEqTNuBUcb3T5a8vA5x01urw9C8sdhem9rJz03YMvwC\n"
    "qYQKiz9kLmUrjZ0nWCkZpB5U1Y6jUzBRMB0GA1UdDgQWBBRL3cHBrzDxf1UOddG5\n"
    "dOfXd0UpszAfBgNVHSMEGDAWgBRL3cHBrzDxf1UOddG5dOfXd0UpszAPBgNVHRMB\n"
    "Af8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDAexj9TzFtdi2X7wdg1V9hAh0Z\n"
    "4uUtITNEEmbXDO8LJwIhAK5EajkItyK0HqIlT7TxfK3VoxbK1fLM1gGxSAbobz3+\n"
    "-----END CERTIFICATE-----\n";
static const char GOLDEN_HASH[] =
    "e89917a27ef768656ab3b4fb0c49545d5cc150bf9371c0541e31d15338eef63e";

/* One CA for the whole group: issuing is what we test, not CA creation every time. */
struct fixture {
    char *ca_cert;
    char *ca_key;
    struct pki_ca ca;
    char dir[64];
};

static int group_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct err e = {0};
    if (f == NULL || pki_ca_new(&f->ca_cert, &f->ca_key, &e) != 0)
        return -1;
    f->ca.cert_pem = f->ca_cert;
    f->ca.key_pem = f->ca_key;
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *f = *state;
    free(f->ca_cert);
    pki_key_pem_free(f->ca_key);
    free(f);
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int dir_setup(void **state)
{
    struct fixture *f = *state;
    snprintf(f->dir, sizeof f->dir, "/tmp/skiff-test-pki-XXXXXX");
    return mkdtemp(f->dir) != NULL ? 0 : -1;
}

static int dir_teardown(void **state)
{
    struct fixture *f = *state;
    return nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- test helpers: inspect with OpenSSL directly, not through the code under test -------- */

static X509 *x509_of(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    return x;
}

static EVP_PKEY *pkey_of(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(pk);
    return pk;
}

static char *pem_of_req(X509_REQ *req)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;
    assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
    len = BIO_get_mem_data(b, &data);
    out = strndup(data, (size_t)len);
    BIO_free(b);
    return out;
}

/* A CSR for pub, signed by signer (a different key gives a bad self-signature), with the given
 * subject entries ("CN", "node-1", "O", "x", NULL) and optional requested extensions. */
static char *csr_raw(EVP_PKEY *pub, EVP_PKEY *signer, const char *const *subject,
                     STACK_OF(X509_EXTENSION) * exts)
{
    X509_REQ *req = X509_REQ_new();
    char *pem;
    for (size_t i = 0; subject[i] != NULL; i += 2)
        assert_int_equal(
            X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), subject[i], MBSTRING_UTF8,
                                       (const unsigned char *)subject[i + 1], -1, -1, 0),
            1);
    assert_int_equal(X509_REQ_set_pubkey(req, pub), 1);
    if (exts != NULL)
        assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
    assert_true(X509_REQ_sign(req, signer, EVP_sha256()) > 0);
    pem = pem_of_req(req);
    X509_REQ_free(req);
    return pem;
}

static long days_left(X509 *x)
{
    int days = 0, secs = 0;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
    return days;
}

static bool is_lower_hex(const char *s, size_t len)
{
    return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* ---- CA --------------------------------------------------------------------------------- */

static void test_ca_hash_matches_openssl_cli_sha256_of_der(void **state)
{
    char hash[PKI_HASH_SIZE];
    struct err e = {0};
    assert_int_equal(pki_ca_hash(GOLDEN_PEM, hash, &e), 0);
    assert_string_equal(hash, GOLDEN_HASH);
}

static void test_ca_hash_ignores_pem_wrapping(void **state)
{
    char hash[PKI_HASH_SIZE];
    struct err e = {0};
    char crlf[2 * sizeof GOLDEN_PEM];
    size_t n = 0;
    /* The same DER with CRLF line ends and a comment line before it. */
    n += (size_t)snprintf(crlf, sizeof crlf, "subject=CN = skiff-ca\r\n");
    for (const char *p = GOLDEN_PEM; *p != '\0'; p++) {
        if (*p == '\n')
            crlf[n++] = '\r';
        crlf[n++] = *p;
    }
    crlf[n] = '\0';
    assert_int_equal(pki_ca_hash(crlf, hash, &e), 0);
    assert_string_equal(hash, GOLDEN_HASH);
}

static void test_new_ca_hash_is_stable_across_file_round_trip(void **state)
{
    struct fixture *f = *state;
    char before[PKI_HASH_SIZE], after[PKI_HASH_SIZE], path[128];
    struct err e = {0};
    char *loaded = NULL;

    assert_int_equal(pki_ca_hash(f->ca_cert, before, &e), 0);
    assert_true(is_lower_hex(before, PKI_HASH_HEX_LEN));
    snprintf(path, sizeof path, "%s/ca.crt", f->dir);
    assert_int_equal(pki_cert_save(path, f->ca_cert, &e), 0);
    assert_int_equal(pki_cert_load(path, &loaded, &e), 0);
    assert_int_equal(pki_ca_hash(loaded, after, &e), 0);
    assert_string_equal(before, after);
    free(loaded);
}

static void test_new_ca_is_critical_ca_with_cert_sign_usage(void **state)
{
    struct fixture *f = *state;
    X509 *x = x509_of(f->ca_cert);
    char *cn = NULL, *o = NULL;
    struct err e = {0};
    int i = X509_get_ext_by_NID(x, NID_basic_constraints, -1);

    assert_int_equal(X509_check_ca(x), 1);
    assert_true(i >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), 1);
    assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_true(X509_check_issued(x, x) == X509_V_OK);
    assert_in_range(days_left(x), PKI_CA_DAYS - 1, PKI_CA_DAYS);
    assert_int_equal(pki_cert_subject(f->ca_cert, &cn, &o, &e), 0);
    assert_string_equal(cn, "skiff-ca");
    assert_null(o);
    free(cn);
    X509_free(x);
}

/* ---- leaves ----------------------------------------------------------------------------- */

static void test_node_cert_from_csr_verifies_and_names_the_node(void **state)
{
    struct fixture *f = *state;
    const char *ips[] = {"10.0.0.5", "fd00::5"};
    char *key = NULL, *csr = NULL, *cert = NULL, *name = NULL, *cn = NULL, *o = NULL;
    struct err e = {0};
    X509 *x;

    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_csr_new(key, "node-1.rack-a", &csr, &e), 0);
    assert_int_equal(pki_csr_check(csr, &name, &e), 0);
    assert_string_equal(name, "node-1.rack-a");
    assert_int_equal(pki_csr_sign(&f->ca, csr, ips, 2, &cert, &e), 0);

    assert_int_equal(pki_cert_verify(f->ca_cert, cert, PKI_PURPOSE_SERVER, &e), 0);
    assert_int_equal(pki_cert_verify(f->ca_cert, cert, PKI_PURPOSE_CLIENT, &e), 0);
    assert_int_equal(pki_cert_subject(cert, &cn, &o, &e), 0);
    assert_string_equal(cn, "node-1.rack-a");
    assert_string_equal(o, "skiff:nodes");

    x = x509_of(cert);
    assert_int_equal(X509_check_host(x, "node-1.rack-a", 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL), 1);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(x, "10.0.0.5", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "fd00::5", 0), 1);
    assert_int_equal(X509_check_host(x, "node-2", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(x, "10.0.0.6", 0), 0);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    assert_in_range(days_left(x), PKI_LEAF_DAYS - 1, PKI_LEAF_DAYS);
    {
        /* The certified key is the joiner's, not the CA's. */
        EVP_PKEY *pk = pkey_of(key);
        assert_int_equal(X509_check_private_key(x, pk), 1);
        EVP_PKEY_free(pk);
    }
    X509_free(x);
    free(o);
    free(cn);
    free(name);
    free(cert);
    free(csr);
    pki_key_pem_free(key);
}

static void test_csr_sign_ignores_requested_extensions_and_subject_fields(void **state)
{
    struct fixture *f = *state;
    const char *subject[] = {"O", "system:masters", "CN", "node-2", NULL};
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    char *key = NULL, *csr, *cert = NULL, *cn = NULL, *o = NULL;
    struct err e = {0};
    EVP_PKEY *pk;
    X509 *x;

    assert_int_equal(pki_key_new(&key, &e), 0);
    pk = pkey_of(key);
    sk_X509_EXTENSION_push(
        exts, X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE"));
    sk_X509_EXTENSION_push(exts,
                           X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:evil.com"));
    csr = csr_raw(pk, pk, subject, exts);

    assert_int_equal(pki_csr_sign(&f->ca, csr, NULL, 0, &cert, &e), 0);
    x = x509_of(cert);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_check_host(x, "evil.com", 0, 0, NULL), 0);
    assert_int_equal(pki_cert_subject(cert, &cn, &o, &e), 0);
    assert_string_equal(cn, "node-2");
    assert_string_equal(o, "skiff:nodes");

    X509_free(x);
    free(o);
    free(cn);
    free(cert);
    free(csr);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    EVP_PKEY_free(pk);
    pki_key_pem_free(key);
}

static void test_node_cert_from_own_key_refuses_bad_ip(void **state)
{
    struct fixture *f = *state;
    const char *good[] = {"127.0.0.1"};
    const char *bad[] = {"10.0.0.1", "10.0.0.1junk"};
    char *key = NULL, *cert = NULL;
    struct err e = {0};
    X509 *x;

    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_node_cert_new(&f->ca, key, "n1", good, 1, &cert, &e), 0);
    x = x509_of(cert);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(pki_cert_verify(f->ca_cert, cert, PKI_PURPOSE_SERVER, &e), 0);
    X509_free(x);
    free(cert);
    cert = NULL;

    assert_int_equal(pki_node_cert_new(&f->ca, key, "n1", bad, 2, &cert, &e), ERR_INVALID);
    assert_string_equal(e.msg, "ips[1]: not an ip address");
    assert_null(cert);
    pki_key_pem_free(key);
}

static void test_admin_cert_is_for_clients_only(void **state)
{
    struct fixture *f = *state;
    char *key = NULL, *cert = NULL, *cn = NULL, *o = NULL;
    struct err e = {0};

    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_admin_cert_new(&f->ca, key, &cert, &e), 0);
    assert_int_equal(pki_cert_verify(f->ca_cert, cert, PKI_PURPOSE_CLIENT, &e), 0);
    assert_int_equal(pki_cert_verify(f->ca_cert, cert, PKI_PURPOSE_SERVER, &e), ERR_DENIED);
    assert_string_equal(e.msg, "certificate: unsuitable certificate purpose");
    assert_int_equal(pki_cert_subject(cert, &cn, &o, &e), 0);
    assert_string_equal(cn, "admin");
    assert_string_equal(o, "system:masters");
    free(o);
    free(cn);
    free(cert);
    pki_key_pem_free(key);
}

static void test_cert_from_another_ca_is_denied(void **state)
{
    struct fixture *f = *state;
    char *other_cert = NULL, *other_key = NULL, *key = NULL, *cert = NULL;
    struct pki_ca other;
    struct err e = {0};

    assert_int_equal(pki_ca_new(&other_cert, &other_key, &e), 0);
    other.cert_pem = other_cert;
    other.key_pem = other_key;
    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_node_cert_new(&other, key, "n1", NULL, 0, &cert, &e), 0);

    assert_int_equal(pki_cert_verify(f->ca_cert, cert, PKI_PURPOSE_SERVER, &e), ERR_DENIED);
    assert_string_equal(e.msg, "certificate: unable to get local issuer certificate");
    assert_int_equal(ERR_peek_error(), 0); /* no stale entry left for the next SSL call */
    assert_int_equal(pki_cert_verify(other_cert, cert, PKI_PURPOSE_SERVER, &e), 0);

    free(cert);
    pki_key_pem_free(key);
    free(other_cert);
    pki_key_pem_free(other_key);
}

static void test_issuing_refuses_a_ca_key_that_does_not_match(void **state)
{
    struct fixture *f = *state;
    char *key = NULL, *cert = NULL;
    struct pki_ca mixed;
    struct err e = {0};

    assert_int_equal(pki_key_new(&key, &e), 0);
    mixed.cert_pem = f->ca_cert;
    mixed.key_pem = key;
    assert_int_equal(pki_admin_cert_new(&mixed, key, &cert, &e), ERR_INVALID);
    assert_string_equal(e.msg, "ca key: does not match the ca certificate");
    assert_null(cert);
    pki_key_pem_free(key);
}

static void test_leaf_serials_are_random_and_positive(void **state)
{
    struct fixture *f = *state;
    char *key = NULL, *c1 = NULL, *c2 = NULL;
    struct err e = {0};
    X509 *x1, *x2;

    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_admin_cert_new(&f->ca, key, &c1, &e), 0);
    assert_int_equal(pki_admin_cert_new(&f->ca, key, &c2, &e), 0);
    x1 = x509_of(c1);
    x2 = x509_of(c2);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(x1), X509_get0_serialNumber(x2)),
                         0);
    assert_int_equal(ASN1_STRING_type(X509_get0_serialNumber(x1)), V_ASN1_INTEGER);
    assert_true(ASN1_STRING_length(X509_get0_serialNumber(x1)) <= 16);
    assert_true(ASN1_STRING_length(X509_get0_serialNumber(x1)) >= 8);
    X509_free(x2);
    X509_free(x1);
    free(c2);
    free(c1);
    pki_key_pem_free(key);
}

/* A CA made outside pki (or one near its end of life) that expires in 30 days. */
static void short_ca(bool key_usage, char **cert_pem, char **key_pem)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;

    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                               (const unsigned char *)"old-ca", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_time_adj_ex(X509_getm_notAfter(x), 30, 0, NULL);
    X509_set_pubkey(x, pk);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (key_usage) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign");
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    PEM_write_bio_X509(b, x);
    len = BIO_get_mem_data(b, &data);
    *cert_pem = strndup(data, (size_t)len);
    BIO_reset(b);
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    len = BIO_get_mem_data(b, &data);
    *key_pem = strndup(data, (size_t)len);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void test_leaf_never_outlives_its_ca(void **state)
{
    char *ca_cert, *ca_key, *key = NULL, *cert = NULL;
    struct pki_ca ca;
    struct err e = {0};
    X509 *x, *cx;

    short_ca(true, &ca_cert, &ca_key);
    ca.cert_pem = ca_cert;
    ca.key_pem = ca_key;
    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_node_cert_new(&ca, key, "n1", NULL, 0, &cert, &e), 0);
    x = x509_of(cert);
    cx = x509_of(ca_cert);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(cx)), 0);
    assert_int_equal(pki_cert_verify(ca_cert, cert, PKI_PURPOSE_SERVER, &e), 0);
    X509_free(cx);
    X509_free(x);
    free(cert);
    pki_key_pem_free(key);
    free(ca_key);
    free(ca_cert);
}

static void test_verify_refuses_a_ca_without_key_usage(void **state)
{
    char *ca_cert, *ca_key, *key = NULL, *cert = NULL;
    struct pki_ca ca;
    struct err e = {0};

    short_ca(false, &ca_cert, &ca_key);
    ca.cert_pem = ca_cert;
    ca.key_pem = ca_key;
    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_admin_cert_new(&ca, key, &cert, &e), 0);
    /* X509_V_FLAG_X509_STRICT: RFC 5280 requires keyUsage on a CA certificate. */
    assert_int_equal(pki_cert_verify(ca_cert, cert, PKI_PURPOSE_CLIENT, &e), ERR_DENIED);
    assert_string_equal(e.msg, "certificate: CA cert does not include key usage extension");
    free(cert);
    pki_key_pem_free(key);
    free(ca_key);
    free(ca_cert);
}

/* ---- CSR refusals ----------------------------------------------------------------------- */

static void test_csr_with_bad_signature_is_refused(void **state)
{
    struct fixture *f = *state;
    const char *subject[] = {"CN", "node-1", NULL};
    char *k1 = NULL, *k2 = NULL, *csr, *cert = NULL;
    struct err e = {0};
    EVP_PKEY *p1, *p2;

    assert_int_equal(pki_key_new(&k1, &e), 0);
    assert_int_equal(pki_key_new(&k2, &e), 0);
    p1 = pkey_of(k1);
    p2 = pkey_of(k2);
    /* Asks for k1's public key but cannot prove it holds k1. */
    csr = csr_raw(p1, p2, subject, NULL);
    assert_int_equal(pki_csr_sign(&f->ca, csr, NULL, 0, &cert, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "csr: signature does not verify"));
    assert_null(cert);
    assert_int_equal(ERR_peek_error(), 0);
    free(csr);
    EVP_PKEY_free(p2);
    EVP_PKEY_free(p1);
    pki_key_pem_free(k2);
    pki_key_pem_free(k1);
}

static void test_csr_with_bad_cn_is_refused(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *subject[5];
        const char *msg;
    } cases[] = {
        {{"CN", "Node_1", NULL}, "csr: subject: cn: node name: character 1: want [a-z0-9.-]"},
        {{"CN", "-node", NULL},
         "csr: subject: cn: node name: character 1: label must start with [a-z0-9]"},
        {{"CN", "node\nINFO forged", NULL},
         "csr: subject: cn: node name: character 5: want [a-z0-9.-]"},
        {{"O", "skiff:nodes", NULL}, "csr: subject: cn: required"},
        {{"CN", "a", "CN", "b"}, "csr: subject: cn: occurs more than once"},
    };
    char *key = NULL, *cert = NULL, *name = NULL;
    struct err e = {0};
    EVP_PKEY *pk;

    assert_int_equal(pki_key_new(&key, &e), 0);
    pk = pkey_of(key);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *csr = csr_raw(pk, pk, cases[i].subject, NULL);
        assert_int_equal(pki_csr_check(csr, &name, &e), ERR_INVALID);
        assert_string_equal(e.msg, cases[i].msg);
        assert_int_equal(pki_csr_sign(&f->ca, csr, NULL, 0, &cert, &e), ERR_INVALID);
        assert_string_equal(e.msg, cases[i].msg);
        assert_null(cert);
        assert_null(name);
        free(csr);
    }
    EVP_PKEY_free(pk);
    pki_key_pem_free(key);
}

static void test_csr_that_is_not_pem_is_refused(void **state)
{
    char *name = NULL;
    struct err e = {0};
    assert_int_equal(pki_csr_check("hello", &name, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "csr: not a pem certificate request"));
    assert_int_equal(pki_csr_check(GOLDEN_PEM, &name, &e), ERR_INVALID);
    assert_int_equal(pki_csr_check(NULL, &name, &e), ERR_INVALID);
    assert_string_equal(e.msg, "csr: required");
    assert_null(name);
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_node_name_check_accepts_subdomains_and_names_the_fault(void **state)
{
    static const struct {
        const char *name;
        const char *msg; /* NULL: valid */
    } cases[] = {
        {"node-1", NULL},
        {"ip-10-0-0-1.ec2.internal", NULL},
        {"0", NULL},
        {"", "node name: required"},
        {"Node", "node name: character 1: want [a-z0-9.-]"},
        {"node-", "node name: character 5: label must end with [a-z0-9]"},
        {"a..b", "node name: character 3: empty label"},
        {"a.", "node name: character 3: empty label"},
        {".a", "node name: character 1: empty label"},
        {"a.-b", "node name: character 3: label must start with [a-z0-9]"},
        {"a b", "node name: character 2: want [a-z0-9.-]"},
        {"0123456789012345678901234567890123456789012345678901234567890123",
         "node name: character 64: label longer than 63"},
    };
    struct err e = {0};
    char long_name[PKI_NODE_NAME_MAX + 2];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rv = pki_node_name_check(cases[i].name, &e);
        if (cases[i].msg == NULL) {
            assert_int_equal(rv, 0);
            continue;
        }
        assert_int_equal(rv, ERR_INVALID);
        assert_string_equal(e.msg, cases[i].msg);
    }
    memset(long_name, 'a', sizeof long_name - 1);
    for (size_t i = 50; i < sizeof long_name - 1; i += 51)
        long_name[i] = '.';
    long_name[PKI_NODE_NAME_MAX] = '\0';
    assert_int_equal(pki_node_name_check(long_name, &e), 0);
    long_name[PKI_NODE_NAME_MAX] = 'a';
    long_name[PKI_NODE_NAME_MAX + 1] = '\0';
    assert_int_equal(pki_node_name_check(long_name, &e), ERR_INVALID);
    assert_string_equal(e.msg, "node name: longer than 253 characters");
}

static void test_csr_new_refuses_a_bad_node_name(void **state)
{
    char *key = NULL, *csr = NULL;
    struct err e = {0};
    assert_int_equal(pki_key_new(&key, &e), 0);
    assert_int_equal(pki_csr_new(key, "UPPER", &csr, &e), ERR_INVALID);
    assert_string_equal(e.msg, "node name: character 1: want [a-z0-9.-]");
    assert_null(csr);
    pki_key_pem_free(key);
}

/* ---- tokens ----------------------------------------------------------------------------- */

static void test_token_round_trips_through_its_string(void **state)
{
    struct fixture *f = *state;
    struct pki_token t, parsed;
    char s[PKI_TOKEN_SIZE], ca_hash[PKI_HASH_SIZE], hash[PKI_HASH_SIZE];
    struct err e = {0};

    assert_int_equal(pki_token_new(f->ca_cert, &t, &e), 0);
    assert_int_equal(pki_ca_hash(f->ca_cert, ca_hash, &e), 0);
    assert_string_equal(t.ca_hash, ca_hash);
    assert_true(is_lower_hex(t.secret, PKI_SECRET_HEX_LEN));
    assert_int_equal(pki_secret_hash(t.secret, hash, &e), 0);
    assert_string_equal(t.secret_hash, hash);
    assert_true(is_lower_hex(t.id, PKI_TOKEN_ID_LEN));
    assert_memory_equal(t.id, t.secret_hash, PKI_TOKEN_ID_LEN);

    pki_token_format(&t, s);
    assert_int_equal(strlen(s), PKI_TOKEN_SIZE - 1);
    assert_memory_equal(s, "SKF1.", 5);
    assert_int_equal(pki_token_parse(s, &parsed, &e), 0);
    assert_memory_equal(&parsed, &t, sizeof t);

    pki_token_wipe(&t);
    assert_int_equal(t.secret[0], '\0');
}

static void test_tokens_get_fresh_secrets(void **state)
{
    struct fixture *f = *state;
    struct pki_token a, b;
    struct err e = {0};
    assert_int_equal(pki_token_new(f->ca_cert, &a, &e), 0);
    assert_int_equal(pki_token_new(f->ca_cert, &b, &e), 0);
    assert_string_not_equal(a.secret, b.secret);
    assert_string_equal(a.ca_hash, b.ca_hash);
}

static void test_secret_hash_is_sha256_of_the_hex_text(void **state)
{
    char hash[PKI_HASH_SIZE];
    struct err e = {0};
    /* printf %s 0123456789abcdef0123456789abcdef | sha256sum */
    assert_int_equal(pki_secret_hash("0123456789abcdef0123456789abcdef", hash, &e), 0);
    assert_string_equal(hash, "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9");
}

static void test_malformed_tokens_name_what_is_wrong(void **state)
{
    static const char H[] = "e89917a27ef768656ab3b4fb0c49545d5cc150bf9371c0541e31d15338eef63e";
    static const char S[] = "00112233445566778899aabbccddeeff";
    static const struct {
        const char *fmt; /* %1$s = ca hash, %2$s = secret */
        const char *msg;
    } cases[] = {
        {"", "token: required"},
        {"%1$s.%2$s", "token: want SKF1.<ca-hash>.<secret>, got 2 dot-separated fields"},
        {"SKF1.%1$s.%2$s.x", "token: want SKF1.<ca-hash>.<secret>, got 4 dot-separated fields"},
        {"%2$s", "token: want SKF1.<ca-hash>.<secret>, got 1 dot-separated field"},
        {"SKF2.%1$s.%2$s", "token: prefix: want SKF1"},
        {"skf1.%1$s.%2$s", "token: prefix: want SKF1"},
        {".%1$s.%2$s", "token: prefix: want SKF1"},
        {"SKF1.%1$.63s.%2$s", "token: ca hash: want 64 characters, got 63"},
        {"SKF1.%1$sa.%2$s", "token: ca hash: want 64 characters, got 65"},
        {"SKF1..%2$s", "token: ca hash: want 64 characters, got 0"},
        {"SKF1.E%1$.63s.%2$s", "token: ca hash: character 1: want lowercase hex"},
        {"SKF1.%1$.60sxyzw.%2$s", "token: ca hash: character 61: want lowercase hex"},
        {"SKF1.%1$s.%2$.31s", "token: secret: want 32 characters, got 31"},
        {"SKF1.%1$s.%2$s\n", "token: secret: want 32 characters, got 33"},
        {"SKF1.%1$s.", "token: secret: want 32 characters, got 0"},
        {"SKF1.%1$s.%2$.4sG%2$.27s", "token: secret: character 5: want lowercase hex"},
    };
    struct pki_token t;
    struct err e = {0};
    char s[256];

    memset(&t, 'z', sizeof t);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(s, sizeof s, cases[i].fmt, H, S);
#pragma GCC diagnostic pop
        assert_int_equal(pki_token_parse(s, &t, &e), ERR_INVALID);
        assert_string_equal(e.msg, cases[i].msg);
        assert_null(strstr(e.msg, "00112233")); /* never echoes the secret */
        assert_int_equal(t.secret[0], 'z');     /* output untouched on failure */
    }
    assert_int_equal(pki_token_parse(NULL, &t, &e), ERR_INVALID);
}

static void test_secret_hash_compare(void **state)
{
    char h1[PKI_HASH_SIZE], h2[PKI_HASH_SIZE], h1_copy[PKI_HASH_SIZE];
    struct err e = {0};

    assert_int_equal(pki_secret_hash("00000000000000000000000000000001", h1, &e), 0);
    assert_int_equal(pki_secret_hash("00000000000000000000000000000002", h2, &e), 0);
    memcpy(h1_copy, h1, sizeof h1);
    assert_true(pki_hash_equal(h1, h1_copy));
    assert_false(pki_hash_equal(h1, h2));
    assert_false(pki_hash_equal(h1, "abc"));
    assert_false(pki_hash_equal(h1, NULL));
    h1_copy[PKI_HASH_HEX_LEN - 1] ^= 1; /* differs only in the last char */
    assert_false(pki_hash_equal(h1, h1_copy));

    assert_int_equal(pki_secret_hash("short", h1, &e), ERR_INVALID);
    assert_string_equal(e.msg, "secret: want 32 characters, got 5");
    assert_int_equal(pki_secret_hash("0000000000000000000000000000000X", h1, &e), ERR_INVALID);
    assert_string_equal(e.msg, "secret: character 32: want lowercase hex");
}

/* ---- files ------------------------------------------------------------------------------ */

static void test_saved_key_file_is_0600_whatever_the_umask(void **state)
{
    struct fixture *f = *state;
    char key_path[128], cert_path[128];
    char *loaded = NULL;
    struct err e = {0};
    struct stat st;
    mode_t old = umask(0);

    snprintf(key_path, sizeof key_path, "%s/node.key", f->dir);
    snprintf(cert_path, sizeof cert_path, "%s/ca.crt", f->dir);
    assert_int_equal(pki_key_save(key_path, f->ca_key, &e), 0);
    assert_int_equal(pki_cert_save(cert_path, f->ca_cert, &e), 0);
    umask(old);

    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(cert_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);

    /* Overwrite in place, then load back what we wrote. */
    assert_int_equal(pki_key_save(key_path, f->ca_key, &e), 0);
    assert_int_equal(pki_key_load(key_path, &loaded, &e), 0);
    assert_string_equal(loaded, f->ca_key);
    pki_key_pem_free(loaded);
}

static void test_load_refuses_missing_wrong_and_encrypted_files(void **state)
{
    struct fixture *f = *state;
    char path[128];
    char *out = NULL;
    struct err e = {0};
    EVP_PKEY *pk = pkey_of(f->ca_key);
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;

    snprintf(path, sizeof path, "%s/missing.key", f->dir);
    assert_int_equal(pki_key_load(path, &out, &e), ERR_NOTFOUND);

    snprintf(path, sizeof path, "%s/cert-not-key.pem", f->dir);
    assert_int_equal(pki_cert_save(path, f->ca_cert, &e), 0);
    assert_int_equal(pki_key_load(path, &out, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "not a pem private key"));

    /* An encrypted key is refused, not prompted for. */
    assert_int_equal(PEM_write_bio_PrivateKey(b, pk, EVP_aes_128_cbc(), (const unsigned char *)"pw",
                                              2, NULL, NULL),
                     1);
    len = BIO_get_mem_data(b, &data);
    data = strndup(data, (size_t)len);
    snprintf(path, sizeof path, "%s/encrypted.key", f->dir);
    assert_int_equal(pki_key_save(path, data, &e), 0);
    assert_int_equal(pki_key_load(path, &out, &e), ERR_INVALID);
    assert_int_equal(pki_cert_load(f->dir, &out, &e), ERR_INVALID);
    assert_null(out);
    assert_int_equal(ERR_peek_error(), 0);

    free(data);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_hash_matches_openssl_cli_sha256_of_der),
        cmocka_unit_test(test_ca_hash_ignores_pem_wrapping),
        cmocka_unit_test_setup_teardown(test_new_ca_hash_is_stable_across_file_round_trip,
                                        dir_setup, dir_teardown),
        cmocka_unit_test(test_new_ca_is_critical_ca_with_cert_sign_usage),
        cmocka_unit_test(test_node_cert_from_csr_verifies_and_names_the_node),
        cmocka_unit_test(test_csr_sign_ignores_requested_extensions_and_subject_fields),
        cmocka_unit_test(test_node_cert_from_own_key_refuses_bad_ip),
        cmocka_unit_test(test_admin_cert_is_for_clients_only),
        cmocka_unit_test(test_cert_from_another_ca_is_denied),
        cmocka_unit_test(test_issuing_refuses_a_ca_key_that_does_not_match),
        cmocka_unit_test(test_leaf_serials_are_random_and_positive),
        cmocka_unit_test(test_leaf_never_outlives_its_ca),
        cmocka_unit_test(test_verify_refuses_a_ca_without_key_usage),
        cmocka_unit_test(test_csr_with_bad_signature_is_refused),
        cmocka_unit_test(test_csr_with_bad_cn_is_refused),
        cmocka_unit_test(test_csr_that_is_not_pem_is_refused),
        cmocka_unit_test(test_node_name_check_accepts_subdomains_and_names_the_fault),
        cmocka_unit_test(test_csr_new_refuses_a_bad_node_name),
        cmocka_unit_test(test_token_round_trips_through_its_string),
        cmocka_unit_test(test_tokens_get_fresh_secrets),
        cmocka_unit_test(test_secret_hash_is_sha256_of_the_hex_text),
        cmocka_unit_test(test_malformed_tokens_name_what_is_wrong),
        cmocka_unit_test(test_secret_hash_compare),
        cmocka_unit_test_setup_teardown(test_saved_key_file_is_0600_whatever_the_umask, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_load_refuses_missing_wrong_and_encrypted_files,
                                        dir_setup, dir_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
