/* imagePullSecrets: registry credentials from dockerconfigjson / dockercfg
 * Secrets (see agent/pullsecret.h). */
#include "agent/pullsecret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TYPE_CONFIGJSON "kubernetes.io/dockerconfigjson"
#define TYPE_DOCKERCFG  "kubernetes.io/dockercfg"

/* Standard padded base64 (newlines, as some tools wrap, are dropped) into
 * a malloc'ed NUL-terminated buffer. ERR_INVALID without a message. */
static int b64_decode(const char *in, char **out, size_t *n)
{
    size_t len = strlen(in), k = 0, pad = 0;
    char *clean = malloc(len + 1);
    unsigned char *buf;
    int got;
    *out = NULL;
    *n = 0;
    if (clean == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < len; i++)
        if (in[i] != '\n' && in[i] != '\r')
            clean[k++] = in[i];
    clean[k] = '\0';
    if (k % 4 != 0) {
        free(clean);
        return ERR_INVALID;
    }
    buf = malloc(k / 4 * 3 + 1);
    if (buf == NULL) {
        free(clean);
        return ERR_NOMEM;
    }
    got = k ? EVP_DecodeBlock(buf, (const unsigned char *)clean, (int)k) : 0;
    if (k >= 1 && clean[k - 1] == '=')
        pad++;
    if (k >= 2 && clean[k - 2] == '=')
        pad++;
    OPENSSL_cleanse(clean, k);
    free(clean);
    if (got < 0 || (size_t)got < pad) {
        free(buf);
        return ERR_INVALID;
    }
    buf[got - (int)pad] = '\0';
    *out = (char *)buf;
    *n = (size_t)got - pad;
    return 0;
}

static void free_secret(char *s, size_t n)
{
    if (s != NULL)
        OPENSSL_cleanse(s, n);
    free(s);
}

/* "https://host:port/v1/" -> "host:port" into buf (lower-cased). */
static void key_host(const char *key, char *buf, size_t cap)
{
    const char *p = key;
    size_t n;
    if (strncasecmp(p, "https://", 8) == 0)
        p += 8;
    else if (strncasecmp(p, "http://", 7) == 0)
        p += 7;
    n = strcspn(p, "/");
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    buf[n] = '\0';
}

static bool is_docker_hub(const char *h)
{
    return strcmp(h, "docker.io") == 0 || strcmp(h, "index.docker.io") == 0 ||
           strcmp(h, "registry-1.docker.io") == 0;
}

/* "*.example.com[:port]" matches one label: "a.example.com[:port]". */
static bool wildcard_match(const char *pat, const char *host)
{
    const char *dot;
    if (strncmp(pat, "*.", 2) != 0)
        return false;
    dot = strchr(host, '.');
    return dot != NULL && dot != host && strcmp(dot + 1, pat + 2) == 0;
}

/* 0: exact key, 1: same host after normalising, 2: wildcard, -1: no. */
static int match_rank(const char *key, const char *host)
{
    char kh[300];
    if (strcmp(key, host) == 0)
        return 0;
    key_host(key, kh, sizeof kh);
    if (strcasecmp(kh, host) == 0 || (is_docker_hub(kh) && is_docker_hub(host)))
        return 1;
    if (wildcard_match(kh, host))
        return 2;
    return -1;
}

/* One entry {auth, username, password} into cred. field names it. */
static int entry_cred(const json_t *entry, const char *field, struct agent_pull_cred *cred,
                      struct err *e)
{
    const json_t *auth = json_object_get(entry, "auth");
    const json_t *user = json_object_get(entry, "username");
    const json_t *pass = json_object_get(entry, "password");
    if (!json_is_object(entry))
        return err_setf(e, ERR_INVALID, "%s: must be an object", field);
    if (auth != NULL && !json_is_string(auth))
        return err_setf(e, ERR_INVALID, "%s.auth: must be a string", field);
    if (user != NULL && !json_is_string(user))
        return err_setf(e, ERR_INVALID, "%s.username: must be a string", field);
    if (pass != NULL && !json_is_string(pass))
        return err_setf(e, ERR_INVALID, "%s.password: must be a string", field);
    if (auth != NULL && json_string_length(auth) > 0) {
        char *plain, *colon;
        size_t n;
        int rv = b64_decode(json_string_value(auth), &plain, &n);
        if (rv == ERR_NOMEM)
            return err_setf(e, ERR_NOMEM, "%s.auth: out of memory", field);
        if (rv != 0)
            return err_setf(e, ERR_INVALID, "%s.auth: illegal base64 data", field);
        colon = memchr(plain, ':', n);
        if (colon == NULL || memchr(plain, '\0', n) != NULL) {
            free_secret(plain, n);
            return err_setf(e, ERR_INVALID, "%s.auth: must be base64 of \"username:password\"",
                            field);
        }
        *colon = '\0';
        if ((size_t)snprintf(cred->username, sizeof cred->username, "%s", plain) >=
                sizeof cred->username ||
            (size_t)snprintf(cred->password, sizeof cred->password, "%s", colon + 1) >=
                sizeof cred->password) {
            free_secret(plain, n);
            return err_setf(e, ERR_INVALID, "%s.auth: credentials too long", field);
        }
        free_secret(plain, n);
        return 0;
    }
    if (user == NULL)
        return err_setf(e, ERR_INVALID, "%s: needs auth or username and password", field);
    if ((size_t)snprintf(cred->username, sizeof cred->username, "%s", json_string_value(user)) >=
            sizeof cred->username ||
        (size_t)snprintf(cred->password, sizeof cred->password, "%s",
                         pass ? json_string_value(pass) : "") >= sizeof cred->password)
        return err_setf(e, ERR_INVALID, "%s: credentials too long", field);
    return 0;
}

int agent__pullsecret_find(const json_t *secret, const char *host, struct agent_pull_cred *cred,
                           bool *found, struct err *e)
{
    const char *type = json_string_value(json_object_get(secret, "type"));
    const char *dkey, *val;
    const json_t *data = json_object_get(secret, "data"), *auths, *v, *best = NULL;
    const char *k, *best_key = NULL;
    json_t *doc;
    json_error_t jerr;
    char *raw, field[400];
    size_t n;
    int rv, best_rank = 99;

    memset(cred, 0, sizeof *cred);
    *found = false;
    if (type != NULL && strcmp(type, TYPE_CONFIGJSON) == 0)
        dkey = ".dockerconfigjson";
    else if (type != NULL && strcmp(type, TYPE_DOCKERCFG) == 0)
        dkey = ".dockercfg";
    else
        return err_setf(e, ERR_INVALID, "type: must be %s or %s, got \"%s\"", TYPE_CONFIGJSON,
                        TYPE_DOCKERCFG, type ? type : "");
    val = json_string_value(json_object_get(data, dkey));
    if (val == NULL)
        return err_setf(e, ERR_INVALID, "data[\"%s\"]: required", dkey);
    rv = b64_decode(val, &raw, &n);
    if (rv == ERR_NOMEM)
        return err_setf(e, ERR_NOMEM, "data[\"%s\"]: out of memory", dkey);
    if (rv != 0)
        return err_setf(e, ERR_INVALID, "data[\"%s\"]: illegal base64 data", dkey);
    doc = json_loadb(raw, n, JSON_REJECT_DUPLICATES, &jerr);
    free_secret(raw, n);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return err_setf(e, ERR_INVALID, "data[\"%s\"]: not a JSON object", dkey);
    }
    auths = doc;
    if (strcmp(dkey, ".dockerconfigjson") == 0) {
        auths = json_object_get(doc, "auths");
        if (!json_is_object(auths)) {
            json_decref(doc);
            return err_setf(e, ERR_INVALID, "data[\"%s\"].auths: required object", dkey);
        }
    }
    json_object_foreach ((json_t *)auths, k, v) {
        int rank = match_rank(k, host);
        if (rank >= 0 && rank < best_rank) {
            best_rank = rank;
            best = v;
            best_key = k;
        }
    }
    rv = 0;
    if (best != NULL) {
        snprintf(field, sizeof field, "data[\"%s\"]%s[\"%.200s\"]", dkey,
                 strcmp(dkey, ".dockerconfigjson") == 0 ? ".auths" : "", best_key);
        rv = entry_cred(best, field, cred, e);
        *found = rv == 0;
        if (rv != 0)
            OPENSSL_cleanse(cred, sizeof *cred);
    }
    json_decref(doc);
    return rv;
}

int agent__pullsecret_for_image(const json_t *pod, const char *image,
                                agent_pullsecret_lookup_cb lookup, void *lookup_data,
                                struct agent_pull_cred *cred, bool *found, char *missing,
                                size_t missing_cap, struct err *e)
{
    const json_t *list = json_object_get(json_object_get(pod, "spec"), "imagePullSecrets"), *ref;
    const char *ns =
        json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
    struct agent_image_ref r;
    size_t i, used = 0;
    int rv;

    memset(cred, 0, sizeof *cred);
    *found = false;
    if (missing != NULL && missing_cap > 0)
        missing[0] = '\0';
    if (json_array_size(list) == 0 || lookup == NULL)
        return 0;
    rv = agent_image_ref_parse(image, &r, e);
    if (rv != 0)
        return rv;
    json_array_foreach (list, i, ref) {
        const char *name = json_string_value(json_object_get(ref, "name"));
        const json_t *secret;
        if (name == NULL || name[0] == '\0')
            continue; /* the apiserver allows an empty reference; the kubelet skips it */
        secret = lookup(lookup_data, "Secret", ns ? ns : "default", name);
        if (secret == NULL) {
            if (missing != NULL && used < missing_cap)
                used += (size_t)snprintf(missing + used, missing_cap - used, "%s%s",
                                         used ? ", " : "", name);
            continue;
        }
        rv = agent__pullsecret_find(secret, r.registry, cred, found, e);
        if (rv != 0)
            return err_wrapf(e, "imagePullSecrets[%zu] (%s)", i, name);
        if (*found)
            return 0;
    }
    return 0;
}

static bool loopback(const char *host)
{
    return strncmp(host, "localhost", 9) == 0 || strncmp(host, "127.", 4) == 0 ||
           strncmp(host, "[::1]", 5) == 0;
}

void agent__pullsecret_registries(const struct agent_image_registry *base, size_t n_base,
                                  const char *host, const struct agent_pull_cred *cred,
                                  struct agent_image_registry *out, size_t *n_out)
{
    size_t i;
    bool have = false;
    for (i = 0; i < n_base; i++) {
        out[i] = base[i];
        if (base[i].host != NULL && strcmp(base[i].host, host) == 0) {
            out[i].username = cred->username;
            out[i].password = cred->password;
            have = true;
        }
    }
    if (!have) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].host = host;
        out[i].plain_http = loopback(host);
        out[i].username = cred->username;
        out[i].password = cred->password;
        i++;
    }
    *n_out = i;
}
