/* Manifests into objects: Lists expanded, unknown kinds and missing names
 * reported per document, directories read in order, and kubectl's
 * namespace rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/internal.h"

static void add_text(struct cli_objs *o, const char *text)
{
    struct err e = {0};
    json_t *docs, *lines;
    assert_int_equal(cli_yaml_load_lines("app.yaml", text, strlen(text), &docs, &lines, &e), 0);
    assert_int_equal(cli__objs_add_docs(o, "app.yaml", docs, lines, &e), 0);
    json_decref(docs);
    json_decref(lines);
}

static void test_objects_validated_per_document(void **state)
{
    struct cli_objs o = {0};
    (void)state;
    add_text(&o, "apiVersion: v1\n"
                 "kind: ConfigMap\n"
                 "metadata: {name: a}\n"
                 "---\n"
                 "apiVersion: apps/v1\n"
                 "kind: Deploymnt\n"
                 "metadata: {name: b}\n"
                 "---\n"
                 "apiVersion: apps/v1\n"
                 "kind: Deployment\n"
                 "metadata: {labels: {a: b}}\n"
                 "---\n"
                 "kind: Service\n"
                 "---\n"
                 "- just a list\n"
                 "---\n"
                 "apiVersion: batch/v1\n"
                 "kind: Job\n"
                 "metadata: {generateName: job-}\n");
    assert_int_equal(o.n, 6);
    assert_string_equal(o.v[0].error, "");
    assert_string_equal(o.v[0].kind->kind, "ConfigMap");
    assert_string_equal(o.v[0].where, "app.yaml (document 1, line 1)");
    assert_null(o.v[1].kind);
    assert_null(o.v[1].obj);
    assert_string_equal(
        o.v[1].error, "app.yaml: document 2: unknown kind \"Deploymnt\" in apiVersion \"apps/v1\"");
    assert_string_equal(o.v[2].error, "app.yaml: document 3: metadata.name: required");
    assert_string_equal(o.v[3].error, "app.yaml: document 4: apiVersion not set");
    assert_string_equal(o.v[4].error, "app.yaml: document 5: not an object");
    assert_string_equal(o.v[5].error, "");
    assert_string_equal(o.v[5].where, "app.yaml (document 6, line 17)");
    cli__objs_free(&o);
}

static void test_list_expands_to_its_items(void **state)
{
    struct cli_objs o = {0};
    (void)state;
    add_text(&o, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
                 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"}},"
                 "{\"apiVersion\":\"v1\",\"kind\":\"Nope\",\"metadata\":{\"name\":\"x\"}}]}");
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[0].kind->kind, "Service");
    assert_string_equal(o.v[0].where, "app.yaml (document 1, line 1), item 0");
    assert_string_equal(
        o.v[1].error, "app.yaml: document 1: items[1]: unknown kind \"Nope\" in apiVersion \"v1\"");
    cli__objs_free(&o);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_directory_reads_manifests_sorted(void **state)
{
    char dir[] = "/tmp/skiff-manifest-XXXXXX", path[256];
    struct cli_objs o = {0};
    struct err e = {0};
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/b.yml", dir);
    write_file(path, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n");
    snprintf(path, sizeof path, "%s/a.json", dir);
    write_file(path,
               "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"}}");
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_file(path, "not: a manifest: at all");
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    write_file(path, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
    assert_int_equal(cli__objs_read(&o, dir, &e), 0);
    assert_int_equal(o.n, 3);
    assert_string_equal(o.v[0].kind->kind, "Namespace");
    assert_string_equal(o.v[1].kind->kind, "Secret");
    assert_string_equal(o.v[2].kind->kind, "Pod");
    cli__objs_free(&o);
    /* a syntax error stops the read and names the file */
    snprintf(path, sizeof path, "%s/d.yaml", dir);
    write_file(path, "a: [1\n");
    assert_int_equal(cli__objs_read(&o, dir, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "/d.yaml:2:1: "));
    cli__objs_free(&o);
    assert_int_equal(cli__objs_read(&o, "/nonexistent/x.yaml", &e), ERR_IO);
    assert_string_equal(e.msg, "the path \"/nonexistent/x.yaml\" does not exist");
    cli__objs_free(&o);
    unlink(path);
    snprintf(path, sizeof path, "%s/a.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/b.yml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    unlink(path);
    rmdir(dir);
}

static void test_namespace_rules_follow_kubectl(void **state)
{
    const struct api_kind *cm = api_kind_lookup("cm"), *node = api_kind_lookup("nodes");
    json_t *with = json_pack("{s:{s:s, s:s}}", "metadata", "name", "x", "namespace", "a");
    json_t *without = json_pack("{s:{s:s}}", "metadata", "name", "x");
    struct err e = {0};
    char ns[64];
    (void)state;
    assert_int_equal(cli__object_namespace(cm, without, NULL, NULL, ns, sizeof ns, &e), 0);
    assert_string_equal(ns, "default");
    assert_int_equal(cli__object_namespace(cm, without, NULL, "ctx", ns, sizeof ns, &e), 0);
    assert_string_equal(ns, "ctx");
    assert_int_equal(cli__object_namespace(cm, with, NULL, "ctx", ns, sizeof ns, &e), 0);
    assert_string_equal(ns, "a");
    assert_int_equal(cli__object_namespace(cm, without, "flag", "ctx", ns, sizeof ns, &e), 0);
    assert_string_equal(ns, "flag");
    assert_int_equal(cli__object_namespace(cm, with, "a", NULL, ns, sizeof ns, &e), 0);
    assert_string_equal(ns, "a");
    assert_int_equal(cli__object_namespace(cm, with, "b", NULL, ns, sizeof ns, &e), ERR_INVALID);
    assert_string_equal(e.msg, "the namespace from the provided object \"a\" does not match the "
                               "namespace \"b\". You must pass '--namespace=a' to perform this "
                               "operation.");
    assert_int_equal(cli__object_namespace(node, with, "b", NULL, ns, sizeof ns, &e), 0);
    assert_string_equal(ns, "");
    json_decref(with);
    json_decref(without);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_validated_per_document),
        cmocka_unit_test(test_list_expands_to_its_items),
        cmocka_unit_test(test_directory_reads_manifests_sorted),
        cmocka_unit_test(test_namespace_rules_follow_kubectl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
