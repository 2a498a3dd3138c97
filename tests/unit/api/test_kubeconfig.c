#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/internal.h"

/* base64 of "PEM\n" */
static const char kubectl_style[] = "apiVersion: v1\n"
                                    "kind: Config\n"
                                    "clusters:\n"
                                    "- name: other\n"
                                    "  cluster:\n"
                                    "    server: https://10.9.9.9:6443\n"
                                    "- name: local\n"
                                    "  cluster:\n"
                                    "    server: https://127.0.0.1:6443\n"
                                    "    certificate-authority-data: UEVNCg==\n"
                                    "users:\n"
                                    "- name: admin\n"
                                    "  user:\n"
                                    "    token: s3cr3t\n"
                                    "contexts:\n"
                                    "- name: first\n"
                                    "  context: {cluster: other, user: admin}\n"
                                    "- name: mine\n"
                                    "  context:\n"
                                    "    cluster: local\n"
                                    "    user: admin\n"
                                    "current-context: mine\n";

static void test_kubeconfig_resolves_current_context(void **state)
{
    struct cli_kubeconfig k;
    struct err e;
    (void)state;
    assert_int_equal(cli_kubeconfig_parse(kubectl_style, strlen(kubectl_style), &k, &e), 0);
    assert_string_equal(k.context, "mine");
    assert_string_equal(k.server, "https://127.0.0.1:6443");
    assert_string_equal(k.ca_pem, "PEM\n");
    assert_int_equal(k.ca_len, 4);
    assert_string_equal(k.token, "s3cr3t");
    cli_kubeconfig_close(&k);
}

static void expect_bad(const char *yaml, const char *needle)
{
    struct cli_kubeconfig k;
    struct err e;
    err_clear(&e);
    assert_int_equal(cli_kubeconfig_parse(yaml, strlen(yaml), &k, &e), ERR_INVALID);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
}

static void test_kubeconfig_errors_name_the_field(void **state)
{
    (void)state;
    expect_bad("- a\n", "not a YAML mapping");
    expect_bad("a: [\n", "kubeconfig: line");
    expect_bad("current-context: x\ncontexts: []\n", "contexts[x]: not found");
    expect_bad("contexts:\n- name: c\n  context: {cluster: k}\n", "clusters[k]: not found");
    expect_bad("contexts:\n- name: c\n  context: {cluster: k}\nclusters:\n- name: k\n  cluster: "
               "{}\n",
               "clusters[k].cluster.server: required");
    expect_bad("contexts:\n- name: c\n  context: {cluster: k}\nclusters:\n- name: k\n  cluster: "
               "{server: 'https://x', certificate-authority-data: '@@@'}\n",
               "certificate-authority-data: not base64");
    expect_bad("contexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n "
               " cluster: {server: 'https://x'}\n",
               "users[u]: not found");
}

static void test_kubeconfig_write_then_load(void **state)
{
    char dir[] = "/tmp/skiff-kc-XXXXXX", path[256];
    struct cli_kubeconfig k;
    struct stat st;
    struct err e;
    const char *pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/admin.kubeconfig", dir);
    assert_int_equal(cli_kubeconfig_write(path, "127.0.0.1:6443", pem, "tok", NULL, NULL, &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cli_kubeconfig_load(path, &k, &e), 0);
    assert_string_equal(k.server, "https://127.0.0.1:6443");
    assert_string_equal(k.ca_pem, pem);
    assert_string_equal(k.token, "tok");
    assert_string_equal(k.context, "skiff-admin");
    cli_kubeconfig_close(&k);
    unlink(path);
    rmdir(dir);
    assert_int_equal(cli_kubeconfig_load("/nonexistent/kc", &k, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "/nonexistent/kc"));
}

static void test_yaml_print_quotes_ambiguous_strings(void **state)
{
    json_t *j =
        json_loads("{\"a\":\"true\",\"b\":\"12\",\"c\":12,\"d\":[\"x\"],\"e\":null}", 0, NULL);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct err e;
    (void)state;
    assert_int_equal(cli_yaml_print(f, j, &e), 0);
    fclose(f);
    assert_non_null(strstr(buf, "a: 'true'"));
    assert_non_null(strstr(buf, "b: '12'"));
    assert_non_null(strstr(buf, "c: 12"));
    assert_non_null(strstr(buf, "- x"));
    free(buf);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubeconfig_resolves_current_context),
        cmocka_unit_test(test_kubeconfig_errors_name_the_field),
        cmocka_unit_test(test_kubeconfig_write_then_load),
        cmocka_unit_test(test_yaml_print_quotes_ambiguous_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
