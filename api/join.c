/* Join tokens and the join endpoint.
 *
 * A token is SKF1.<sha256 of the CA cert>.<secret>. The store keeps only the
 * secret's sha256 under /skiff/tokens/<id> (id = first 6 hex of that hash,
 * public), with its expiry and whether it was revoked. A joining node first
 * pins the CA by the hash (client side, cli/daemon.c), then POSTs here with
 * the secret and a CSR; we check the token, sign the CSR with the cluster CA
 * and propose, in one txn guarded by the token record's mod_rev, the member
 * record and the Node object. The leader's membership loop then adds the
 * node to raft. */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "api/internal.h"
#include "lib/jsonmp.h"
#include "lib/log.h"
#include "lib/pki.h"

#define TOKEN_TTL_DEFAULT_S (24 * 3600)

static void rfc3339(int64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int api_token_kv(const struct pki_token *t, int64_t expires_unix, const char *description,
                 char *key, size_t key_size, void **value, size_t *len, struct err *e)
{
    json_t *rec;
    int rv;
    if (snprintf(key, key_size, "%s%s", API_TOKEN_PREFIX, t->id) >= (int)key_size)
        return err_setf(e, ERR_INVALID, "token key: too long");
    rec = json_pack("{s:s, s:s, s:I, s:I, s:s, s:b}", "id", t->id, "hash", t->secret_hash,
                    "expires", (json_int_t)expires_unix, "created", (json_int_t)time(NULL),
                    "description", description ? description : "", "revoked", 0);
    if (rec == NULL)
        return err_setf(e, ERR_NOMEM, "token record: out of memory");
    rv = jsonmp_pack(rec, value, len, e);
    json_decref(rec);
    return rv;
}

/* Reads a token record; *rec is a new reference. */
static int token_get(struct store *s, const char *id, json_t **rec, uint64_t *mod_rev,
                     struct err *e)
{
    char key[128];
    struct store_kv kv;
    int rv;
    snprintf(key, sizeof key, "%s%s", API_TOKEN_PREFIX, id);
    rv = store_get(s, key, &kv, e);
    if (rv != 0)
        return rv;
    rv = jsonmp_unpack(kv.value, kv.value_len, rec, e);
    *mod_rev = kv.mod_rev;
    store_kv_close(&kv);
    return rv;
}

static json_t *token_public(const json_t *rec)
{
    char exp[32];
    json_int_t expires = json_integer_value(json_object_get(rec, "expires"));
    rfc3339(expires, exp, sizeof exp);
    return json_pack("{s:O, s:s, s:O, s:b, s:b}", "id", json_object_get(rec, "id"), "expires", exp,
                     "description", json_object_get(rec, "description"), "expired",
                     (int)(expires <= (json_int_t)time(NULL)), "revoked",
                     json_is_true(json_object_get(rec, "revoked")));
}

/* ---- token create / list / revoke ---- */

struct token_create {
    char token[PKI_TOKEN_SIZE];
    char id[PKI_TOKEN_ID_SIZE];
    int64_t expires;
};

static void on_token_created(struct api_req *r, int status)
{
    struct token_create *tc = r->data;
    char exp[32];
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        goto out;
    }
    rfc3339(tc->expires, exp, sizeof exp);
    /* The only time the secret leaves the server: shown once, like kubeadm. */
    api_reply_json(r, 201,
                   json_pack("{s:s, s:s, s:s}", "id", tc->id, "token", tc->token, "expires", exp));
out:
    memset(tc->token, 0, sizeof tc->token);
}

static int ca_pem_read(struct api_req *r, char **pem, struct err *e)
{
    return pki_cert_load(api__ca_file(r->api), pem, e);
}

static void h_token_create(struct api_req *r)
{
    if (!api__is_admin(r))
        return;
    struct token_create *tc = api_req_alloc(r, sizeof *tc);
    json_t *ttl = r->json ? json_object_get(r->json, "ttlSeconds") : NULL;
    json_t *desc = r->json ? json_object_get(r->json, "description") : NULL;
    struct pki_token t;
    struct store_cmp cmp;
    struct store_op op;
    struct store_txn txn = {&cmp, 1, &op, 1};
    char key[128], *ca = NULL;
    void *val = NULL;
    size_t len;
    struct err e;
    json_int_t ttl_s = TOKEN_TTL_DEFAULT_S;

    if (tc == NULL)
        return api_reply_error(r, ERR_NOMEM, "out of memory");
    r->data = tc;
    if (ttl != NULL && (!json_is_integer(ttl) || json_integer_value(ttl) <= 0))
        return api_reply_error(r, ERR_INVALID, "ttlSeconds: must be a positive integer");
    if (ttl != NULL)
        ttl_s = json_integer_value(ttl);
    if (desc != NULL && !json_is_string(desc))
        return api_reply_error(r, ERR_INVALID, "description: must be a string");
    if (ca_pem_read(r, &ca, &e) != 0 || pki_token_new(ca, &t, &e) != 0) {
        free(ca);
        return api_reply_err(r, &e);
    }
    free(ca);
    tc->expires = (int64_t)time(NULL) + ttl_s;
    pki_token_format(&t, tc->token);
    memcpy(tc->id, t.id, sizeof tc->id);
    if (api_token_kv(&t, tc->expires, desc ? json_string_value(desc) : "", key, sizeof key, &val,
                     &len, &e) != 0) {
        pki_token_wipe(&t);
        return api_reply_err(r, &e);
    }
    pki_token_wipe(&t);
    cmp = (struct store_cmp){STORE_CMP_ABSENT, key, 0};
    op = (struct store_op){STORE_OP_PUT, key, val, len};
    if (api_req_propose(r, &txn, on_token_created, &e) != 0)
        api_reply_err(r, &e);
    free(val);
}

static void h_token_list(struct api_req *r)
{
    if (!api__is_admin(r))
        return;
    struct store_list l;
    struct err e;
    json_t *items = json_array();
    if (store_range(r->store, API_TOKEN_PREFIX, NULL, 0, &l, &e) != 0) {
        json_decref(items);
        return api_reply_err(r, &e);
    }
    for (size_t i = 0; i < l.n; i++) {
        json_t *rec;
        if (jsonmp_unpack(l.kvs[i].value, l.kvs[i].value_len, &rec, &e) != 0)
            continue;
        json_array_append_new(items, token_public(rec));
        json_decref(rec);
    }
    store_list_close(&l);
    api_reply_json(r, 200, json_pack("{s:s, s:o}", "kind", "JoinTokenList", "items", items));
}

static void on_token_revoked(struct api_req *r, int status)
{
    if (status != 0)
        return api_reply_err(r, &r->op.propose.err);
    if (r->op.propose.result.failed_cmp >= 0)
        return api_reply_error(r, ERR_CONFLICT, "token %s changed meanwhile; retry", r->caps[0]);
    api_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s}", "kind", "Status", "status", "Success", "message",
                             "token revoked"));
}

/* Revocation keeps a tombstone (revoked: true) so a join with that token is
 * told it was revoked rather than that it never existed. */
static void h_token_revoke(struct api_req *r)
{
    if (!api__is_admin(r))
        return;
    json_t *rec;
    uint64_t mod_rev;
    struct err e;
    struct store_cmp cmp;
    struct store_op op;
    struct store_txn txn = {&cmp, 1, &op, 1};
    char key[128];
    void *val;
    size_t len;
    int rv = token_get(r->store, r->caps[0], &rec, &mod_rev, &e);
    if (rv == ERR_NOTFOUND)
        return api_reply_error(r, ERR_NOTFOUND, "join token %s not found", r->caps[0]);
    if (rv != 0)
        return api_reply_err(r, &e);
    json_object_set_new(rec, "revoked", json_true());
    rv = jsonmp_pack(rec, &val, &len, &e);
    json_decref(rec);
    if (rv != 0)
        return api_reply_err(r, &e);
    snprintf(key, sizeof key, "%s%s", API_TOKEN_PREFIX, r->caps[0]);
    cmp = (struct store_cmp){STORE_CMP_MOD_REV, key, mod_rev};
    op = (struct store_op){STORE_OP_PUT, key, val, len};
    if (api_req_propose(r, &txn, on_token_revoked, &e) != 0)
        api_reply_err(r, &e);
    free(val);
}

/* ---- join ---- */

struct join {
    char name[64];
    uint64_t id;
    char *cert;
};

static void on_joined(struct api_req *r, int status)
{
    struct join *j = r->data;
    struct store_txn_result *res = &r->op.propose.result;
    char *ca = NULL;
    struct err e;
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        goto out;
    }
    if (res->failed_cmp == 0) {
        api_reply_error(r, ERR_DENIED, "join token was revoked or changed while joining; retry");
        goto out;
    }
    if (res->failed_cmp > 0) {
        api_reply_error(r, ERR_CONFLICT, "node name %s is already a member", j->name);
        goto out;
    }
    if (ca_pem_read(r, &ca, &e) != 0) {
        api_reply_err(r, &e);
        goto out;
    }
    LOG_INFO("api", "node_joined", "node=%s id=%llu", j->name, (unsigned long long)j->id);
    api_reply_json(r, 201,
                   json_pack("{s:s, s:I, s:s, s:s}", "name", j->name, "id", (json_int_t)j->id,
                             "certificate", j->cert, "ca", ca));
out:
    free(ca);
    free(j->cert);
    j->cert = NULL;
}

static const char *str_field(const json_t *body, const char *name)
{
    json_t *v = body ? json_object_get(body, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Checks the token against the record; ERR_DENIED with the reason. */
static int token_check(struct api_req *r, const char *token, json_t **rec, uint64_t *mod_rev,
                       struct err *e)
{
    struct pki_token t;
    char hash[PKI_HASH_SIZE], *ca = NULL;
    int rv = pki_token_parse(token, &t, e);
    if (rv != 0)
        return err_setf(e, ERR_DENIED, "join token: %s", e->msg);
    rv = ca_pem_read(r, &ca, e);
    if (rv == 0)
        rv = pki_ca_hash(ca, hash, e);
    free(ca);
    if (rv != 0)
        goto out;
    if (!pki_hash_equal(hash, t.ca_hash)) {
        rv = err_setf(e, ERR_DENIED, "join token is for another cluster CA");
        goto out;
    }
    rv = token_get(r->store, t.id, rec, mod_rev, e);
    if (rv == ERR_NOTFOUND) {
        rv = err_setf(e, ERR_DENIED, "join token %s is unknown to this cluster", t.id);
        goto out;
    }
    if (rv != 0)
        goto out;
    if (!pki_hash_equal(t.secret_hash, json_string_value(json_object_get(*rec, "hash")))) {
        rv = err_setf(e, ERR_DENIED, "join token %s: wrong secret", t.id);
    } else if (json_is_true(json_object_get(*rec, "revoked"))) {
        rv = err_setf(e, ERR_DENIED, "join token %s was revoked", t.id);
    } else if (json_integer_value(json_object_get(*rec, "expires")) <= (json_int_t)time(NULL)) {
        char exp[32];
        rfc3339(json_integer_value(json_object_get(*rec, "expires")), exp, sizeof exp);
        rv = err_setf(e, ERR_DENIED, "join token %s expired at %s", t.id, exp);
    }
    if (rv != 0) {
        json_decref(*rec);
        *rec = NULL;
    }
out:
    pki_token_wipe(&t);
    return rv;
}

static void host_of(const char *addr, char *out, size_t n)
{
    const char *colon = strrchr(addr, ':');
    size_t len = colon ? (size_t)(colon - addr) : strlen(addr);
    if (len >= n)
        len = n - 1;
    memcpy(out, addr, len);
    out[len] = '\0';
}

static int sign_node(struct api_req *r, const char *csr, const char *peer, const char *apiaddr,
                     char **cert, struct err *e)
{
    struct store_kv key;
    struct pki_ca ca = {NULL, NULL};
    char *ca_pem = NULL, *key_pem = NULL, h1[64], h2[64];
    const char *ips[3] = {"127.0.0.1", h1, h2};
    int rv = store_get(r->store, API_CA_KEY, &key, e);
    if (rv != 0)
        return err_wrapf(e, "cluster CA key");
    key_pem = strndup(key.value, key.value_len);
    store_kv_close(&key);
    rv = key_pem ? ca_pem_read(r, &ca_pem, e) : err_setf(e, ERR_NOMEM, "out of memory");
    if (rv != 0)
        goto out;
    host_of(peer, h1, sizeof h1);
    host_of(apiaddr, h2, sizeof h2);
    ca.cert_pem = ca_pem;
    ca.key_pem = key_pem;
    rv = pki_csr_sign(&ca, csr, ips, 3, cert, e);
out:
    if (key_pem)
        OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
    free(ca_pem);
    return rv;
}

static void join_checked(struct api_req *r, int status);

/* The token check reads the local replica: on a node that joined a moment
 * ago it may lag, so first catch up with the leader (linearizable read). */
static void h_join(struct api_req *r)
{
    struct err e;
    if (api_req_barrier(r, join_checked, &e) != 0)
        api_reply_err(r, &e);
}

static void join_checked(struct api_req *r, int status)
{
    const char *token = str_field(r->json, "token"), *csr = str_field(r->json, "csr");
    const char *peer = str_field(r->json, "peerAddress"),
               *apiaddr = str_field(r->json, "apiAddress");
    struct join *j = api_req_alloc(r, sizeof *j);
    char *name = NULL, tkey[128], mkey[256], nkey[STORE_KEY_MAX + 1];
    json_t *rec = NULL, *node = NULL;
    uint64_t tok_rev;
    void *mval = NULL, *nval = NULL;
    size_t mlen, nlen;
    struct err e;
    int rv;

    if (status != 0)
        return api_reply_err(r, &r->op.propose.err);
    if (j == NULL)
        return api_reply_error(r, ERR_NOMEM, "out of memory");
    r->data = j;
    if (token == NULL)
        return api_reply_error(r, ERR_INVALID, "token: required string");
    if (csr == NULL)
        return api_reply_error(r, ERR_INVALID, "csr: required string");
    if (peer == NULL || strchr(peer, ':') == NULL)
        return api_reply_error(r, ERR_INVALID, "peerAddress: required IP:PORT");
    if (apiaddr == NULL || strchr(apiaddr, ':') == NULL)
        return api_reply_error(r, ERR_INVALID, "apiAddress: required IP:PORT");
    rv = token_check(r, token, &rec, &tok_rev, &e);
    if (rv != 0) {
        LOG_WARN("api", "join_refused", "err=\"%s\"", e.msg);
        return api_reply_err(r, &e);
    }
    json_decref(rec);
    if (pki_csr_check(csr, &name, &e) != 0)
        return api_reply_error(r, ERR_INVALID, "csr: %s", e.msg);
    if (strlen(name) >= sizeof j->name) {
        free(name);
        return api_reply_error(r, ERR_INVALID, "csr: node name longer than 63 characters");
    }
    snprintf(j->name, sizeof j->name, "%s", name);
    free(name);
    do {
        RAND_bytes((unsigned char *)&j->id, sizeof j->id);
    } while (j->id == 0);
    j->id >>= 1; /* keep ids positive in JSON (int64) */
    if (j->id == 0)
        j->id = 1;
    rv = sign_node(r, csr, peer, apiaddr, &j->cert, &e);
    if (rv == 0)
        rv = cons_member_encode(j->name, j->id, peer, apiaddr, &mval, &mlen, &e);
    if (rv == 0) {
        const char *addrs[1] = {peer};
        rv = api_node_build(j->name, addrs, 1, &node, &e);
    }
    if (rv == 0)
        rv = api_node_kv(node, nkey, sizeof nkey, &nval, &nlen, &e);
    json_decref(node);
    if (rv == 0) {
        struct store_cmp cmps[3] = {{STORE_CMP_MOD_REV, tkey, tok_rev},
                                    {STORE_CMP_ABSENT, mkey, 0},
                                    {STORE_CMP_ABSENT, nkey, 0}};
        struct store_op ops[2] = {{STORE_OP_PUT, mkey, mval, mlen},
                                  {STORE_OP_PUT, nkey, nval, nlen}};
        struct store_txn txn = {cmps, 3, ops, 2};
        struct pki_token t;
        pki_token_parse(token, &t, &e);
        snprintf(tkey, sizeof tkey, "%s%s", API_TOKEN_PREFIX, t.id);
        pki_token_wipe(&t);
        snprintf(mkey, sizeof mkey, "%s%s", CONS_MEMBER_PREFIX, j->name);
        rv = api_req_propose(r, &txn, on_joined, &e);
    }
    free(mval);
    free(nval);
    if (rv != 0) {
        free(j->cert);
        j->cert = NULL;
        api_reply_err(r, &e);
    }
}

static const struct api_route join_routes[] = {
    {"POST", "/skiff/v1/join", API_ROUTE_NOAUTH, h_join},
    {"GET", "/skiff/v1/tokens", 0, h_token_list},
    {"POST", "/skiff/v1/tokens", 0, h_token_create},
    {"DELETE", "/skiff/v1/tokens/{}", 0, h_token_revoke},
};

int api__join_routes_add(struct api *a, struct err *e)
{
    for (size_t i = 0; i < sizeof join_routes / sizeof join_routes[0]; i++) {
        int rv = api_route_add(a, &join_routes[i], e);
        if (rv != 0)
            return rv;
    }
    return 0;
}
