/* The CLI's pure printing parts: kubectl-style names, type arguments
 * ("all", comma lists), tables from a meta.k8s.io/v1 Table and the rollout
 * status lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/internal.h"

static void test_kind_names_are_group_qualified_like_kubectl(void **state)
{
    char buf[128];
    (void)state;
    cli__kind_name(api_kind_lookup("deploy"), "nginx", buf, sizeof buf);
    assert_string_equal(buf, "deployment.apps/nginx");
    cli__kind_name(api_kind_lookup("svc"), "web", buf, sizeof buf);
    assert_string_equal(buf, "service/web");
    cli__kind_name(api_kind_lookup("cj"), "c", buf, sizeof buf);
    assert_string_equal(buf, "cronjob.batch/c");
    cli__kind_ref(api_kind_lookup("configmaps"), buf, sizeof buf);
    assert_string_equal(buf, "configmap");
    cli__kind_ref(api_kind_lookup("leases"), buf, sizeof buf);
    assert_string_equal(buf, "lease.coordination.k8s.io");
}

static void test_kinds_parse_expands_all_and_comma_lists(void **state)
{
    const struct api_kind *k[16];
    size_t n, i, count, want = 0;
    const struct api_kind *all = api_kinds(&count);
    struct err e = {0};
    (void)state;
    assert_int_equal(cli__kinds_parse("deployments.apps,po,SVC", k, 16, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(k[0]->kind, "Deployment");
    assert_string_equal(k[1]->kind, "Pod");
    assert_string_equal(k[2]->kind, "Service");
    assert_int_equal(cli__kinds_parse("all", k, 16, &n, &e), 0);
    for (i = 0; i < count; i++)
        want += all[i].in_all;
    assert_int_equal(n, want);
    for (i = 0; i < n; i++)
        assert_true(k[i]->in_all);
    assert_int_equal(cli__kinds_parse("deploy,Deploymnt", k, 16, &n, &e), ERR_INVALID);
    assert_string_equal(e.msg, "the server doesn't have a resource type \"Deploymnt\"");
    assert_int_equal(cli__kinds_parse("po,,svc", k, 16, &n, &e), ERR_INVALID);
}

static const char table_json[] =
    "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/"
    "v1\",\"metadata\":{\"resourceVersion\":\"9\"},"
    "\"columnDefinitions\":["
    "{\"name\":\"Name\",\"type\":\"string\",\"format\":\"name\",\"priority\":0},"
    "{\"name\":\"Ready\",\"type\":\"string\",\"format\":\"\",\"priority\":0},"
    "{\"name\":\"Up-to-date\",\"type\":\"integer\",\"format\":\"\",\"priority\":0},"
    "{\"name\":\"Age\",\"type\":\"string\",\"format\":\"\",\"priority\":0},"
    "{\"name\":\"Images\",\"type\":\"string\",\"format\":\"\",\"priority\":1}],"
    "\"rows\":["
    "{\"cells\":[\"nginx-deployment\",\"3/3\",3,\"5m\",\"nginx:1.14.2\"],"
    "\"object\":{\"metadata\":{\"name\":\"nginx-deployment\",\"namespace\":\"default\","
    "\"labels\":{\"tier\":\"web\",\"app\":\"nginx\"}}}},"
    "{\"cells\":[\"db\",\"0/1\",0,\"2h\",null],"
    "\"object\":{\"metadata\":{\"name\":\"db\",\"namespace\":\"prod\"}}}]}";

static char *print_table(const struct cli_print_opts *po)
{
    json_t *t = json_loads(table_json, 0, NULL);
    struct cli_tab tab;
    struct err e = {0};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(t);
    assert_int_equal(cli__tab_init(&tab, t, po, &e), 0);
    assert_int_equal(cli__tab_add(&tab, t, &e), 0);
    cli__tab_print(&tab, f);
    cli__tab_close(&tab);
    fclose(f);
    json_decref(t);
    return out;
}

static void test_table_prints_priority_zero_columns_aligned_by_three_spaces(void **state)
{
    struct cli_print_opts po = {0};
    char *out = print_table(&po);
    (void)state;
    assert_string_equal(out, "NAME               READY   UP-TO-DATE   AGE\n"
                             "nginx-deployment   3/3     3            5m\n"
                             "db                 0/1     0            2h\n");
    free(out);
}

static void test_table_wide_all_namespaces_labels_and_prefix(void **state)
{
    struct cli_print_opts po = {
        .wide = true, .all_ns = true, .show_labels = true, .name_prefix = "deployment.apps/"};
    char *out = print_table(&po);
    (void)state;
    assert_string_equal(
        out, "NAMESPACE   NAME                               READY   UP-TO-DATE   AGE   IMAGES     "
             "    LABELS\n"
             "default     deployment.apps/nginx-deployment   3/3     3            5m    "
             "nginx:1.14.2   app=nginx,tier=web\n"
             "prod        deployment.apps/db                 0/1     0            2h    <none>    "
             "     <none>\n");
    free(out);
    po = (struct cli_print_opts){.no_headers = true};
    out = print_table(&po);
    assert_string_equal(out, "nginx-deployment   3/3   3   5m\n"
                             "db                 0/1   0   2h\n");
    free(out);
}

static void test_table_rejects_a_non_table(void **state)
{
    struct cli_print_opts po = {0};
    struct cli_tab tab;
    struct err e = {0};
    json_t *j = json_pack("{s:s}", "kind", "ConfigMap");
    (void)state;
    assert_int_equal(cli__tab_init(&tab, j, &po, &e), ERR_INVALID);
    json_decref(j);
}

static json_t *deploy(int gen, int observed, int want, int replicas, int updated, int available)
{
    return json_pack("{s:{s:s, s:i}, s:{s:i}, s:{s:i, s:i, s:i, s:i}}", "metadata", "name", "web",
                     "generation", gen, "spec", "replicas", want, "status", "observedGeneration",
                     observed, "replicas", replicas, "updatedReplicas", updated,
                     "availableReplicas", available);
}

static void test_rollout_status_lines_match_kubectl(void **state)
{
    char msg[256];
    json_t *d;
    (void)state;
    d = deploy(2, 1, 2, 2, 2, 2);
    assert_int_equal(cli__rollout_status(d, msg, sizeof msg), 0);
    assert_string_equal(msg, "Waiting for deployment spec update to be observed...");
    json_decref(d);
    d = deploy(2, 2, 2, 2, 1, 1);
    assert_int_equal(cli__rollout_status(d, msg, sizeof msg), 0);
    assert_string_equal(msg, "Waiting for deployment \"web\" rollout to finish: 1 out of 2 new "
                             "replicas have been updated...");
    json_decref(d);
    d = deploy(2, 2, 2, 3, 2, 2);
    assert_int_equal(cli__rollout_status(d, msg, sizeof msg), 0);
    assert_string_equal(msg, "Waiting for deployment \"web\" rollout to finish: 1 old replicas "
                             "are pending termination...");
    json_decref(d);
    d = deploy(2, 2, 2, 2, 2, 1);
    assert_int_equal(cli__rollout_status(d, msg, sizeof msg), 0);
    assert_string_equal(msg, "Waiting for deployment \"web\" rollout to finish: 1 of 2 updated "
                             "replicas are available...");
    json_decref(d);
    d = deploy(2, 2, 2, 2, 2, 2);
    assert_int_equal(cli__rollout_status(d, msg, sizeof msg), 1);
    assert_string_equal(msg, "deployment \"web\" successfully rolled out");
    json_object_set_new(
        json_object_get(d, "status"), "conditions",
        json_pack("[{s:s, s:s}]", "type", "Progressing", "reason", "ProgressDeadlineExceeded"));
    assert_int_equal(cli__rollout_status(d, msg, sizeof msg), -1);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names_are_group_qualified_like_kubectl),
        cmocka_unit_test(test_kinds_parse_expands_all_and_comma_lists),
        cmocka_unit_test(test_table_prints_priority_zero_columns_aligned_by_three_spaces),
        cmocka_unit_test(test_table_wide_all_namespaces_labels_and_prefix),
        cmocka_unit_test(test_table_rejects_a_non_table),
        cmocka_unit_test(test_rollout_status_lines_match_kubectl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
