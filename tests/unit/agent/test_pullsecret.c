/* imagePullSecrets: dockerconfigjson and dockercfg Secrets, docker's key
 * matching, auth vs username/password, errors naming the field, the pod's
 * list of secrets and the registry list a pull gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "agent/pullsecret.h"

static char *b64(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    assert_non_null(out);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

/* A Secret of type with data[dkey] = base64(doc). */
static json_t *secret(const char *type, const char *dkey, const char *doc)
{
    char *enc = b64(doc);
    json_t *s = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "kind", "Secret", "type", type,
                          "data", dkey, enc, "metadata", "name", "regcred", "namespace", "default");
    free(enc);
    assert_non_null(s);
    return s;
}

static json_t *cfgjson(const char *auths_doc)
{
    return secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", auths_doc);
}

static void test_auth_field(void **state)
{
    struct agent_pull_cred c;
    struct err e;
    bool found;
    char doc[512], *a = b64("alice:s3cr:et");
    json_t *s;
    (void)state;
    snprintf(doc, sizeof doc, "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"%s\"}}}", a);
    free(a);
    s = cfgjson(doc);
    assert_int_equal(agent__pullsecret_find(s, "127.0.0.1:5000", &c, &found, &e), 0);
    assert_true(found);
    assert_string_equal(c.username, "alice");
    assert_string_equal(c.password, "s3cr:et"); /* only the first ':' splits */
    /* another port is another registry */
    assert_int_equal(agent__pullsecret_find(s, "127.0.0.1:5001", &c, &found, &e), 0);
    assert_false(found);
    assert_string_equal(c.username, "");
    json_decref(s);
}

static void test_username_password(void **state)
{
    struct agent_pull_cred c;
    struct err e;
    bool found;
    json_t *s = cfgjson("{\"auths\":{\"reg.example.com\":{\"username\":\"bob\","
                        "\"password\":\"pw\",\"email\":\"b@x\"}}}");
    (void)state;
    assert_int_equal(agent__pullsecret_find(s, "reg.example.com", &c, &found, &e), 0);
    assert_true(found);
    assert_string_equal(c.username, "bob");
    assert_string_equal(c.password, "pw");
    json_decref(s);
}

static void test_auth_wins_over_username(void **state)
{
    struct agent_pull_cred c;
    struct err e;
    bool found;
    char doc[512], *a = b64("fromauth:1");
    json_t *s;
    (void)state;
    snprintf(doc, sizeof doc,
             "{\"auths\":{\"r.io\":{\"username\":\"u\",\"password\":\"p\",\"auth\":\"%s\"}}}", a);
    free(a);
    s = cfgjson(doc);
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), 0);
    assert_string_equal(c.username, "fromauth");
    assert_string_equal(c.password, "1");
    json_decref(s);
}

static void test_matching_rules(void **state)
{
    struct agent_pull_cred c;
    struct err e;
    bool found;
    json_t *s;
    (void)state;
    /* an https:// key with a path matches the bare host; the exact key wins */
    s = cfgjson("{\"auths\":{"
                "\"https://reg.example.com/v1/\":{\"username\":\"url\",\"password\":\"x\"},"
                "\"reg.example.com\":{\"username\":\"exact\",\"password\":\"x\"},"
                "\"http://plain.example.com:8080\":{\"username\":\"http\",\"password\":\"x\"},"
                "\"*.wild.example.com\":{\"username\":\"wild\",\"password\":\"x\"},"
                "\"https://index.docker.io/v1/\":{\"username\":\"hub\",\"password\":\"x\"}}}");
    assert_int_equal(agent__pullsecret_find(s, "reg.example.com", &c, &found, &e), 0);
    assert_true(found);
    assert_string_equal(c.username, "exact");
    assert_int_equal(agent__pullsecret_find(s, "plain.example.com:8080", &c, &found, &e), 0);
    assert_string_equal(c.username, "http");
    assert_int_equal(agent__pullsecret_find(s, "plain.example.com", &c, &found, &e), 0);
    assert_false(found);
    assert_int_equal(agent__pullsecret_find(s, "a.wild.example.com", &c, &found, &e), 0);
    assert_string_equal(c.username, "wild");
    /* one label only */
    assert_int_equal(agent__pullsecret_find(s, "a.b.wild.example.com", &c, &found, &e), 0);
    assert_false(found);
    assert_int_equal(agent__pullsecret_find(s, "docker.io", &c, &found, &e), 0);
    assert_string_equal(c.username, "hub");
    json_decref(s);
    /* https:// key alone, case-insensitive host */
    s = cfgjson(
        "{\"auths\":{\"https://Reg.Example.com\":{\"username\":\"u\",\"password\":\"p\"}}}");
    assert_int_equal(agent__pullsecret_find(s, "reg.example.com", &c, &found, &e), 0);
    assert_true(found);
    json_decref(s);
}

static void test_dockercfg(void **state)
{
    struct agent_pull_cred c;
    struct err e;
    bool found;
    char doc[512], *a = b64("old:style");
    json_t *s;
    (void)state;
    snprintf(doc, sizeof doc, "{\"https://old.example.com\":{\"auth\":\"%s\",\"email\":\"x\"}}", a);
    free(a);
    s = secret("kubernetes.io/dockercfg", ".dockercfg", doc);
    assert_int_equal(agent__pullsecret_find(s, "old.example.com", &c, &found, &e), 0);
    assert_true(found);
    assert_string_equal(c.username, "old");
    assert_string_equal(c.password, "style");
    json_decref(s);
}

static void test_errors_name_the_field(void **state)
{
    struct agent_pull_cred c;
    struct err e;
    bool found;
    json_t *s;
    (void)state;
    s = secret("Opaque", "x", "{}");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "type: must be kubernetes.io/dockerconfigjson"));
    json_decref(s);

    s = json_pack("{s:s, s:{s:s}}", "type", "kubernetes.io/dockerconfigjson", "data",
                  ".dockerconfigjson", "!!!notbase64");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_string_equal(e.msg, "data[\".dockerconfigjson\"]: illegal base64 data");
    json_decref(s);

    s = json_pack("{s:s, s:{}}", "type", "kubernetes.io/dockerconfigjson", "data");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_string_equal(e.msg, "data[\".dockerconfigjson\"]: required");
    json_decref(s);

    s = cfgjson("[1,2]");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_string_equal(e.msg, "data[\".dockerconfigjson\"]: not a JSON object");
    json_decref(s);

    s = cfgjson("{\"notauths\":{}}");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_string_equal(e.msg, "data[\".dockerconfigjson\"].auths: required object");
    json_decref(s);

    s = cfgjson("{\"auths\":{\"r.io\":{\"auth\":\"bm9jb2xvbg==\"}}}"); /* "nocolon" */
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_string_equal(e.msg, "data[\".dockerconfigjson\"].auths[\"r.io\"].auth: must be base64 "
                               "of \"username:password\"");
    assert_false(found);
    json_decref(s);

    s = cfgjson("{\"auths\":{\"r.io\":{\"auth\":\"###\"}}}");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_string_equal(e.msg, "data[\".dockerconfigjson\"].auths[\"r.io\"].auth: illegal base64 "
                               "data");
    json_decref(s);

    s = cfgjson("{\"auths\":{\"r.io\":{\"username\":5}}}");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_string_equal(e.msg, "data[\".dockerconfigjson\"].auths[\"r.io\"].username: must be a "
                               "string");
    json_decref(s);

    s = cfgjson("{\"auths\":{\"r.io\":{}}}");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "needs auth or username"));
    json_decref(s);

    /* a malformed entry for another registry does not matter */
    s = cfgjson("{\"auths\":{\"other.io\":{\"auth\":\"###\"}}}");
    assert_int_equal(agent__pullsecret_find(s, "r.io", &c, &found, &e), 0);
    assert_false(found);
    json_decref(s);
}

/* ---- the pod's list ---- */

struct fake_secrets {
    json_t *by_name; /* name -> Secret */
    char last_ns[64];
};

static const json_t *lookup(void *data, const char *kind, const char *ns, const char *name)
{
    struct fake_secrets *f = data;
    assert_string_equal(kind, "Secret");
    snprintf(f->last_ns, sizeof f->last_ns, "%s", ns);
    return json_object_get(f->by_name, name);
}

static void test_for_image(void **state)
{
    struct fake_secrets f = {json_object(), ""};
    struct agent_pull_cred c;
    struct err e;
    bool found;
    char missing[128];
    json_t *pod =
        json_pack("{s:{s:s}, s:{s:[{s:s},{s:s},{s:s}]}}", "metadata", "namespace", "team", "spec",
                  "imagePullSecrets", "name", "gone", "name", "other", "name", "mine");
    (void)state;
    json_object_set_new(f.by_name, "other",
                        cfgjson("{\"auths\":{\"x.io\":{\"username\":\"x\",\"password\":\"x\"}}}"));
    json_object_set_new(
        f.by_name, "mine",
        cfgjson("{\"auths\":{\"127.0.0.1:5000\":{\"username\":\"me\",\"password\":\"pw\"}}}"));
    assert_int_equal(agent__pullsecret_for_image(pod, "127.0.0.1:5000/busybox:1.36", lookup, &f, &c,
                                                 &found, missing, sizeof missing, &e),
                     0);
    assert_true(found);
    assert_string_equal(c.username, "me");
    assert_string_equal(missing, "gone");
    assert_string_equal(f.last_ns, "team");
    /* no entry anywhere: anonymous */
    assert_int_equal(agent__pullsecret_for_image(pod, "quay.io/a/b:1", lookup, &f, &c, &found,
                                                 missing, sizeof missing, &e),
                     0);
    assert_false(found);
    /* a malformed secret in the list is named */
    json_object_set_new(f.by_name, "other", secret("Opaque", "x", "{}"));
    assert_int_equal(agent__pullsecret_for_image(pod, "127.0.0.1:5000/busybox:1.36", lookup, &f, &c,
                                                 &found, NULL, 0, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "imagePullSecrets[1] (other): type: must be"));
    /* a bad reference */
    assert_int_equal(
        agent__pullsecret_for_image(pod, "UPPER/case", lookup, &f, &c, &found, NULL, 0, &e),
        ERR_INVALID);
    json_decref(pod);
    /* no list */
    pod = json_pack("{s:{}}", "spec");
    assert_int_equal(
        agent__pullsecret_for_image(pod, "busybox", lookup, &f, &c, &found, NULL, 0, &e), 0);
    assert_false(found);
    json_decref(pod);
    json_decref(f.by_name);
}

static void test_registries(void **state)
{
    struct agent_image_registry base[2] = {
        {.host = "mirror.io", .endpoint = "10.0.0.1:5000", .plain_http = true},
        {.host = "r.io", .ca_file = "/ca.pem"},
    };
    struct agent_image_registry out[3];
    struct agent_pull_cred c = {"u", "p"};
    size_t n;
    (void)state;
    agent__pullsecret_registries(base, 2, "r.io", &c, out, &n);
    assert_int_equal(n, 2);
    assert_string_equal(out[1].ca_file, "/ca.pem");
    assert_string_equal(out[1].username, "u");
    assert_string_equal(out[1].password, "p");
    assert_null(out[0].username);
    assert_true(out[0].plain_http);
    agent__pullsecret_registries(base, 2, "127.0.0.1:5000", &c, out, &n);
    assert_int_equal(n, 3);
    assert_string_equal(out[2].host, "127.0.0.1:5000");
    assert_true(out[2].plain_http); /* loopback, as without an entry */
    assert_string_equal(out[2].username, "u");
    agent__pullsecret_registries(NULL, 0, "quay.io", &c, out, &n);
    assert_int_equal(n, 1);
    assert_false(out[0].plain_http);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_field),
        cmocka_unit_test(test_username_password),
        cmocka_unit_test(test_auth_wins_over_username),
        cmocka_unit_test(test_matching_rules),
        cmocka_unit_test(test_dockercfg),
        cmocka_unit_test(test_errors_name_the_field),
        cmocka_unit_test(test_for_image),
        cmocka_unit_test(test_registries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
