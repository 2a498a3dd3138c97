/* The pod driver's pure parts: a pod's status from its containers' states
 * (phase, conditions, container statuses), the restart back-off schedule,
 * env resolution (valueFrom, envFrom, $(VAR) through the bundle), Secret
 * and ConfigMap volume files (items, modes), log paths and rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/pods.h"
#include "lib/fs.h"

/* JSON from text written with ' for " */
static json_t *J(const char *text)
{
    char *buf = strdup(text), *p;
    json_error_t jerr;
    json_t *v;
    for (p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(buf, 0, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, buf);
    free(buf);
    return v;
}

static const char *str_at(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

static const char *cond(const json_t *st, const char *type)
{
    const json_t *c;
    size_t i;
    json_array_foreach (json_object_get(st, "conditions"), i, c)
        if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
            return json_string_value(json_object_get(c, "status"));
    return NULL;
}

static void running(struct agent__ctr_obs *c, const char *name, bool ready)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->image = "busybox:1.36";
    c->state = AGENT_CS_RUNNING;
    snprintf(c->started_at, sizeof c->started_at, "2024-01-01T00:00:00Z");
    c->ready = ready;
    c->started = true;
}

static void terminated(struct agent__ctr_obs *c, const char *name, int code)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->image = "busybox:1.36";
    c->state = AGENT_CS_TERMINATED;
    c->term.exit_code = code;
    snprintf(c->term.reason, sizeof c->term.reason, "%s", code ? "Error" : "Completed");
    snprintf(c->term.started_at, sizeof c->term.started_at, "2024-01-01T00:00:00Z");
    snprintf(c->term.finished_at, sizeof c->term.finished_at, "2024-01-01T00:00:01Z");
}

static json_t *status_of(const char *policy, struct agent__ctr_obs *init, size_t ni,
                         struct agent__ctr_obs *ctrs, size_t nc, const json_t *prev)
{
    const struct agent__ctr_obs *iv[4], *cv[4];
    char text[256];
    json_t *pod, *st;
    size_t i;
    snprintf(text, sizeof text, "{'spec':{'restartPolicy':'%s'}}", policy);
    pod = J(text);
    for (i = 0; i < ni; i++)
        iv[i] = &init[i];
    for (i = 0; i < nc; i++)
        cv[i] = &ctrs[i];
    struct agent__pod_obs o = {.pod = pod,
                               .prev = prev,
                               .init = iv,
                               .n_init = ni,
                               .ctrs = cv,
                               .n_ctrs = nc,
                               .host_ip = "10.0.0.1",
                               .pod_ip = "",
                               .start_time = "2024-01-01T00:00:00Z",
                               .now = "2024-01-02T00:00:00Z"};
    st = agent__pod_status(&o);
    json_decref(pod);
    assert_non_null(st);
    return st;
}

/* ---- status ---- */

static void test_status_running_ready_pod(void **state)
{
    struct agent__ctr_obs c[2];
    json_t *st;
    (void)state;
    running(&c[0], "a", true);
    running(&c[1], "b", true);
    st = status_of("Always", NULL, 0, c, 2, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Running");
    assert_string_equal(cond(st, "Ready"), "True");
    assert_string_equal(cond(st, "ContainersReady"), "True");
    assert_string_equal(cond(st, "Initialized"), "True");
    assert_string_equal(cond(st, "PodScheduled"), "True");
    assert_string_equal(str_at(st, "hostIP", NULL, NULL), "10.0.0.1");
    assert_null(json_object_get(st, "podIP")); /* no pod network yet */
    assert_string_equal(str_at(json_array_get(json_object_get(st, "containerStatuses"), 1), "state",
                               "running", "startedAt"),
                        "2024-01-01T00:00:00Z");
    assert_null(json_object_get(st, "initContainerStatuses"));
    json_decref(st);
}

static void test_status_not_ready_container_makes_pod_not_ready(void **state)
{
    struct agent__ctr_obs c[2];
    json_t *st;
    (void)state;
    running(&c[0], "a", true);
    running(&c[1], "b", false);
    st = status_of("Always", NULL, 0, c, 2, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Running");
    assert_string_equal(cond(st, "Ready"), "False");
    assert_string_equal(cond(st, "ContainersReady"), "False");
    json_decref(st);
}

static void test_status_phases_by_restart_policy(void **state)
{
    struct agent__ctr_obs c[2];
    json_t *st;
    (void)state;
    terminated(&c[0], "a", 0);
    terminated(&c[1], "b", 1);
    st = status_of("Never", NULL, 0, c, 2, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Failed");
    assert_string_equal(cond(st, "Ready"), "False");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(
                json_object_get(json_array_get(json_object_get(st, "containerStatuses"), 1),
                                "state"),
                "terminated"),
            "exitCode")),
        1);
    json_decref(st);
    st = status_of("OnFailure", NULL, 0, c, 2, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Running");
    json_decref(st);
    terminated(&c[1], "b", 0);
    st = status_of("Never", NULL, 0, c, 2, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Succeeded");
    json_decref(st);
    st = status_of("Always", NULL, 0, c, 2, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Running");
    json_decref(st);
}

static void test_status_crash_loop_is_running_with_last_state(void **state)
{
    struct agent__ctr_obs c;
    const json_t *cs;
    json_t *st;
    (void)state;
    terminated(&c, "a", 1);
    c.has_last = true;
    c.last = c.term;
    c.restarts = 3;
    c.state = AGENT_CS_WAITING;
    snprintf(c.reason, sizeof c.reason, "CrashLoopBackOff");
    snprintf(c.message, sizeof c.message, "back-off 40s restarting failed container");
    st = status_of("Always", NULL, 0, &c, 1, NULL);
    /* waiting after it ran counts as stopped, not as never started */
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Running");
    cs = json_array_get(json_object_get(st, "containerStatuses"), 0);
    assert_string_equal(str_at(cs, "state", "waiting", "reason"), "CrashLoopBackOff");
    assert_string_equal(str_at(cs, "lastState", "terminated", "reason"), "Error");
    assert_int_equal(json_integer_value(json_object_get(cs, "restartCount")), 3);
    assert_false(json_is_true(json_object_get(cs, "ready")));
    json_decref(st);
}

static void test_status_waiting_never_started_is_pending(void **state)
{
    struct agent__ctr_obs c;
    json_t *st;
    (void)state;
    memset(&c, 0, sizeof c);
    c.name = "a";
    snprintf(c.reason, sizeof c.reason, "ErrImagePull");
    snprintf(c.message, sizeof c.message, "failed to pull image");
    st = status_of("Always", NULL, 0, &c, 1, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Pending");
    assert_string_equal(str_at(json_array_get(json_object_get(st, "containerStatuses"), 0), "state",
                               "waiting", "reason"),
                        "ErrImagePull");
    json_decref(st);
}

static void test_status_init_containers(void **state)
{
    struct agent__ctr_obs init[2], c;
    json_t *st;
    (void)state;
    terminated(&init[0], "i1", 0);
    running(&init[1], "i2", false);
    memset(&c, 0, sizeof c);
    c.name = "a";
    snprintf(c.reason, sizeof c.reason, "PodInitializing");
    st = status_of("Always", init, 2, &c, 1, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Pending");
    assert_string_equal(cond(st, "Initialized"), "False");
    assert_int_equal(json_array_size(json_object_get(st, "initContainerStatuses")), 2);
    json_decref(st);
    terminated(&init[1], "i2", 1);
    st = status_of("Never", init, 2, &c, 1, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Failed");
    json_decref(st);
    terminated(&init[1], "i2", 0);
    running(&c, "a", true);
    st = status_of("Always", init, 2, &c, 1, NULL);
    assert_string_equal(str_at(st, "phase", NULL, NULL), "Running");
    assert_string_equal(cond(st, "Initialized"), "True");
    json_decref(st);
}

static void test_status_keeps_transition_times_so_equal_states_compare_equal(void **state)
{
    struct agent__ctr_obs c;
    json_t *prev = J("{'qosClass':'BestEffort','conditions':[{'type':'Ready','status':'True',"
                     "'lastTransitionTime':'2023-05-05T00:00:00Z'}]}");
    json_t *a, *b;
    const json_t *cd;
    size_t i;
    (void)state;
    running(&c, "a", true);
    a = status_of("Always", NULL, 0, &c, 1, prev);
    json_array_foreach (json_object_get(a, "conditions"), i, cd)
        if (strcmp(json_string_value(json_object_get(cd, "type")), "Ready") == 0)
            assert_string_equal(json_string_value(json_object_get(cd, "lastTransitionTime")),
                                "2023-05-05T00:00:00Z");
    assert_string_equal(str_at(a, "qosClass", NULL, NULL), "BestEffort");
    b = status_of("Always", NULL, 0, &c, 1, a);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    json_decref(prev);
}

/* ---- back-off ---- */

static void test_backoff_doubles_from_base_to_max(void **state)
{
    (void)state;
    assert_int_equal(agent__backoff_ms(10000, 300000, 1), 0);
    assert_int_equal(agent__backoff_ms(10000, 300000, 2), 10000);
    assert_int_equal(agent__backoff_ms(10000, 300000, 3), 20000);
    assert_int_equal(agent__backoff_ms(10000, 300000, 4), 40000);
    assert_int_equal(agent__backoff_ms(10000, 300000, 6), 160000);
    assert_int_equal(agent__backoff_ms(10000, 300000, 7), 300000);
    assert_int_equal(agent__backoff_ms(10000, 300000, 1000), 300000);
    assert_int_equal(agent__backoff_ms(100, 3000, 3), 200);
}

/* ---- env ---- */

struct objs {
    json_t *secret, *cm;
};

static const json_t *lookup(void *data, const char *kind, const char *ns, const char *name)
{
    struct objs *o = data;
    if (strcmp(ns, "prod") != 0)
        return NULL;
    if (strcmp(kind, "Secret") == 0 && strcmp(name, "db") == 0)
        return o->secret;
    if (strcmp(kind, "ConfigMap") == 0 && strcmp(name, "cfg") == 0)
        return o->cm;
    return NULL;
}

static const char *env_get(const struct agent__envset *s, const char *name, bool *verbatim)
{
    const char *v = NULL;
    size_t i;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) {
            v = s->v[i].value;
            if (verbatim)
                *verbatim = s->v[i].verbatim;
        }
    return v;
}

static void test_env_value_from_and_env_from(void **state)
{
    /* "cGFzcw==" is "pass", "dXNlcg==" "user" */
    struct objs o = {J("{'data':{'pw':'cGFzcw==','user':'dXNlcg==','b=ad':'eA=='}}"),
                     J("{'data':{'mode':'fast','level':'3'}}")};
    json_t *pod = J("{'metadata':{'name':'web','namespace':'prod','uid':'u-1',"
                    "'labels':{'app':'web'}},'spec':{'nodeName':'n1','containers':[{"
                    "'name':'c','image':'x','resources':{'limits':{'memory':'64Mi','cpu':'1500m'}},"
                    "'envFrom':[{'secretRef':{'name':'db'},'prefix':'DB_'},"
                    "{'configMapRef':{'name':'cfg'}}],"
                    "'env':[{'name':'PW','valueFrom':{'secretKeyRef':{'name':'db','key':'pw'}}},"
                    "{'name':'MODE','valueFrom':{'configMapKeyRef':{'name':'cfg','key':'mode'}}},"
                    "{'name':'POD','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}},"
                    "{'name':'APP','valueFrom':{'fieldRef':{'fieldPath':'LABEL'}}},"
                    "{'name':'NODE','valueFrom':{'fieldRef':{'fieldPath':'spec.nodeName'}}},"
                    "{'name':'MEM','valueFrom':{'resourceFieldRef':{'resource':'limits.memory',"
                    "'divisor':'1Mi'}}},"
                    "{'name':'CPU','valueFrom':{'resourceFieldRef':{'resource':'limits.cpu'}}},"
                    "{'name':'MISSING','valueFrom':{'secretKeyRef':{'name':'nope','key':'k',"
                    "'optional':true}}},"
                    "{'name':'GREETING','value':'pod $(POD) mode $(MODE) $$(POD)'}]}]}}");
    const json_t *ctr =
        json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    struct agent__envset s;
    struct err e;
    bool verbatim = false;
    char *x;
    (void)state;

    /* J() turns every ' into ", and the label subscript needs ' */
    json_object_set_new(
        json_object_get(
            json_object_get(json_array_get(json_object_get(ctr, "env"), 3), "valueFrom"),
            "fieldRef"),
        "fieldPath", json_string("metadata.labels['app']"));
    if (agent__env_resolve(pod, ctr, "spec.containers[0]", lookup, &o, "", "10.0.0.1", &s, &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(env_get(&s, "DB_pw", &verbatim), "pass");
    assert_true(verbatim);
    assert_string_equal(env_get(&s, "DB_user", NULL), "user");
    assert_null(env_get(&s, "DB_b=ad", NULL)); /* not a valid name: skipped */
    assert_string_equal(env_get(&s, "level", NULL), "3");
    assert_string_equal(env_get(&s, "PW", NULL), "pass");
    assert_string_equal(env_get(&s, "MODE", NULL), "fast");
    assert_string_equal(env_get(&s, "POD", NULL), "web");
    assert_string_equal(env_get(&s, "APP", NULL), "web");
    assert_string_equal(env_get(&s, "NODE", NULL), "n1");
    assert_string_equal(env_get(&s, "MEM", NULL), "64");
    assert_string_equal(env_get(&s, "CPU", NULL), "2"); /* 1.5 cores rounded up */
    assert_null(env_get(&s, "MISSING", NULL));
    assert_string_equal(env_get(&s, "GREETING", &verbatim), "pod $(POD) mode $(MODE) $$(POD)");
    assert_false(verbatim);
    /* $(VAR) expansion as the bundle does it, over the variables before it */
    x = agent__expand(env_get(&s, "GREETING", NULL), s.v, s.n - 1);
    assert_string_equal(x, "pod web mode fast $(POD)");
    free(x);
    agent__envset_close(&s);
    json_decref(pod);
    json_decref(o.secret);
    json_decref(o.cm);
}

static void test_env_missing_secret_and_key_are_named(void **state)
{
    struct objs o = {J("{'data':{'pw':'cGFzcw=='}}"), NULL};
    json_t *pod = J("{'metadata':{'name':'web','namespace':'prod'},'spec':{'containers':[{"
                    "'name':'c','env':[{'name':'X','valueFrom':{'secretKeyRef':{'name':'gone',"
                    "'key':'k'}}}]},{'name':'d','env':[{'name':'X','valueFrom':{'secretKeyRef':{"
                    "'name':'db','key':'nokey'}}}]},{'name':'e','envFrom':[{'configMapRef':{"
                    "'name':'cfg'}}]}]}}");
    const json_t *ctrs = json_object_get(json_object_get(pod, "spec"), "containers");
    struct agent__envset s;
    struct err e;
    (void)state;
    assert_int_equal(agent__env_resolve(pod, json_array_get(ctrs, 0), "spec.containers[0]", lookup,
                                        &o, NULL, NULL, &s, &e),
                     ERR_NOTFOUND);
    assert_string_equal(e.msg, "secret \"gone\" not found");
    agent__envset_close(&s);
    assert_int_equal(agent__env_resolve(pod, json_array_get(ctrs, 1), "spec.containers[1]", lookup,
                                        &o, NULL, NULL, &s, &e),
                     ERR_NOTFOUND);
    assert_string_equal(e.msg, "couldn't find key nokey in Secret prod/db");
    agent__envset_close(&s);
    assert_int_equal(agent__env_resolve(pod, json_array_get(ctrs, 2), "spec.containers[2]", lookup,
                                        &o, NULL, NULL, &s, &e),
                     ERR_NOTFOUND);
    assert_string_equal(e.msg, "configmap \"cfg\" not found");
    agent__envset_close(&s);
    json_decref(pod);
    json_decref(o.secret);
}

/* ---- volumes ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 4096);
    if (f != NULL) {
        buf[fread(buf, 1, 4095, f)] = '\0';
        fclose(f);
    }
    return buf;
}

static void assert_file(const char *dir, const char *rel, const char *content, int mode)
{
    char p[512];
    struct stat st;
    char *got;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    if (stat(p, &st) != 0)
        fail_msg("%s missing", p);
    assert_int_equal(st.st_mode & 0777, mode);
    got = slurp(p);
    assert_string_equal(got, content);
    free(got);
}

static void test_volume_projection_items_and_modes(void **state)
{
    char dir[] = "/tmp/skiff-pods-vol-XXXXXX", p[600];
    json_t *secret = J("{'data':{'user':'dXNlcg==','pw':'cGFzcw=='}}");
    json_t *cm = J("{'data':{'a.conf':'x=1\\n'},'binaryData':{'b.bin':'AAE='}}");
    json_t *all = J("{'secretName':'db','defaultMode':256}");
    json_t *items =
        J("{'name':'cfg','items':[{'key':'a.conf','path':'conf/app.conf','mode':384}]}");
    json_t *bad = J("{'secretName':'db','items':[{'key':'pw','path':'../escape'}]}");
    json_t *nokey = J("{'secretName':'db','items':[{'key':'nope','path':'x'}]}");
    json_t *optkey = J("{'secretName':'db','optional':true,'items':[{'key':'nope','path':'x'}]}");
    struct err e;
    struct stat st;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/s", dir);
    mkdir(p, 0755);
    if (agent__volume_project(p, "Secret", secret, all, "volumes[s].secret", &e) != 0)
        fail_msg("%s", e.msg);
    assert_file(p, "user", "user", 0400);
    assert_file(p, "pw", "pass", 0400);

    snprintf(p, sizeof p, "%s/c", dir);
    mkdir(p, 0755);
    if (agent__volume_project(p, "ConfigMap", cm, items, "volumes[c].configMap", &e) != 0)
        fail_msg("%s", e.msg);
    assert_file(p, "conf/app.conf", "x=1\n", 0600);
    snprintf(p, sizeof p, "%s/c/b.bin", dir);
    assert_int_not_equal(stat(p, &st), 0); /* items: only those */

    snprintf(p, sizeof p, "%s/c2", dir);
    mkdir(p, 0755);
    json_object_del(items, "items");
    assert_int_equal(agent__volume_project(p, "ConfigMap", cm, items, "v", &e), 0);
    assert_file(p, "a.conf", "x=1\n", 0644);
    snprintf(p, sizeof p, "%s/c2/b.bin", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 2);

    assert_int_equal(agent__volume_project(dir, "Secret", secret, bad, "volumes[s].secret", &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "volumes[s].secret.items[0].path"));
    assert_int_equal(agent__volume_project(dir, "Secret", secret, nokey, "volumes[s].secret", &e),
                     ERR_NOTFOUND);
    assert_string_equal(e.msg, "volumes[s].secret.items[0]: couldn't find key nope");
    assert_int_equal(agent__volume_project(dir, "Secret", secret, optkey, "v", &e), 0);
    assert_int_equal(agent__volume_project(dir, "Secret", NULL, optkey, "v", &e), 0);

    fs_rmtree(dir);
    json_decref(secret);
    json_decref(cm);
    json_decref(all);
    json_decref(items);
    json_decref(bad);
    json_decref(nokey);
    json_decref(optkey);
}

/* A refresh replaces changed keys, adds new ones, removes gone ones and
 * leaves no staging dir; an object that fails projection changes nothing. */
static void test_volume_refresh_follows_the_object(void **state)
{
    char dir[] = "/tmp/skiff-pods-ref-XXXXXX", p[600];
    json_t *v1 = json_pack("{s:{s:s}, s:{s:s, s:s}}", "metadata", "resourceVersion", "1", "data",
                           "a", "one", "b", "two");
    json_t *v2 = json_pack("{s:{s:s}, s:{s:s, s:s}}", "metadata", "resourceVersion", "2", "data",
                           "a", "uno", "c", "tres");
    json_t *src = json_object(), *bad = json_pack("{s:[{s:s, s:s}]}", "items", "key", "zz",
                                                  "path", "x");
    struct stat st;
    struct err e;
    (void)state;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(agent__volume_project(dir, "ConfigMap", v1, src, "v", &e), 0);
    assert_int_equal(agent__volume_refresh(dir, "ConfigMap", v2, src, "v", &e), 0);
    assert_file(dir, "a", "uno", 0644);
    assert_file(dir, "c", "tres", 0644);
    snprintf(p, sizeof p, "%s/b", dir);
    assert_int_not_equal(stat(p, &st), 0); /* key b is gone */
    snprintf(p, sizeof p, "%s/..skiff_new", dir);
    assert_int_not_equal(stat(p, &st), 0);
    /* a projection that fails leaves the files as they were */
    assert_int_equal(agent__volume_refresh(dir, "ConfigMap", v1, bad, "v", &e), ERR_NOTFOUND);
    assert_file(dir, "a", "uno", 0644);
    assert_file(dir, "c", "tres", 0644);
    assert_int_not_equal(stat(p, &st), 0);
    fs_rmtree(dir);
    json_decref(v1);
    json_decref(v2);
    json_decref(src);
    json_decref(bad);
}

/* kubelet's service variables; a name the container sets itself wins */
static void test_service_env_variables(void **state)
{
    json_t *svcs = json_pack(
        "[{s:{s:s}, s:{s:s, s:[{s:s, s:i, s:s}, {s:i, s:s}]}},"
        " {s:{s:s}, s:{s:s, s:[{s:i}]}}]",
        "metadata", "name", "my-web", "spec", "clusterIP", "10.96.0.9", "ports", "name", "http",
        "port", 80, "protocol", "TCP", "port", 53, "protocol", "UDP", "metadata", "name",
        "headless", "spec", "clusterIP", "None", "ports", "port", 80);
    json_t *ctr = json_pack("{s:[{s:s, s:s}]}", "env", "name", "MY_WEB_SERVICE_PORT", "value",
                            "own");
    struct agent__envset env;
    struct err e;
    size_t i;
    const char *want[][2] = {
        {"MY_WEB_SERVICE_HOST", "10.96.0.9"},   {"MY_WEB_SERVICE_PORT", "80"},
        {"MY_WEB_PORT", "tcp://10.96.0.9:80"},  {"MY_WEB_SERVICE_PORT_HTTP", "80"},
        {"MY_WEB_PORT_80_TCP", "tcp://10.96.0.9:80"}, {"MY_WEB_PORT_80_TCP_PROTO", "tcp"},
        {"MY_WEB_PORT_80_TCP_PORT", "80"},       {"MY_WEB_PORT_80_TCP_ADDR", "10.96.0.9"},
        {"MY_WEB_PORT_53_UDP", "udp://10.96.0.9:53"}, {"MY_WEB_PORT_53_UDP_PROTO", "udp"},
    };
    (void)state;

    memset(&env, 0, sizeof env);
    /* the container's own MY_WEB_SERVICE_PORT is kept */
    assert_int_equal(agent__env_resolve(NULL, ctr, "c", NULL, NULL, NULL, NULL, &env, &e), 0);
    assert_int_equal(agent__env_services(svcs, true, &env, &e), 0);
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t k;
        bool found = false;
        for (k = 0; k < env.n; k++)
            if (strcmp(env.v[k].name, want[i][0]) == 0) {
                found = true;
                if (strcmp(want[i][0], "MY_WEB_SERVICE_PORT") == 0)
                    assert_string_equal(env.v[k].value, "own");
                else
                    assert_string_equal(env.v[k].value, want[i][1]);
            }
        if (!found)
            fail_msg("%s missing", want[i][0]);
    }
    for (i = 0; i < env.n; i++)
        assert_null(strstr(env.v[i].name, "HEADLESS")); /* no ClusterIP, no variables */
    agent__envset_close(&env);
    memset(&env, 0, sizeof env);
    assert_int_equal(agent__env_services(svcs, false, &env, &e), 0);
    assert_int_equal(env.n, 0);
    agent__envset_close(&env);
    json_decref(svcs);
    json_decref(ctr);
}

static void test_resolv_conf_cluster_dns_then_node_servers(void **state)
{
    char buf[1024];
    struct err e;
    const char *host = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n"
                       "nameserver fd00::1\nsearch corp.example\n";
    (void)state;
    assert_int_equal(agent__resolv_conf("10.244.1.1", "shop", host, buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
                             "nameserver 10.244.1.1\noptions ndots:5\nnameserver 192.0.2.53\n");
    assert_int_equal(agent__resolv_conf(NULL, "shop", host, buf, sizeof buf, &e), 0);
    assert_string_equal(buf, host);
    assert_int_equal(agent__resolv_conf("not-an-ip", "shop", host, buf, sizeof buf, &e),
                     ERR_INVALID);
}

/* ---- logs ---- */

static void test_log_path_and_rotation(void **state)
{
    char dir[] = "/tmp/skiff-pods-log-XXXXXX", p[512], p1[600], buf[100];
    struct err e;
    struct stat st;
    bool rotated;
    FILE *f;
    int i;
    (void)state;

    assert_int_equal(
        agent__log_path("/var/lib/skiff", "default", "web", "u-1", "c", 2, p, sizeof p, &e), 0);
    assert_string_equal(p, "/var/lib/skiff/logs/default_web_u-1/c/2.log");
    assert_int_equal(agent__log_path("/x", "default", "web", "u-1", "c", 0, buf, 10, &e),
                     ERR_INVALID);

    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/0.log", dir);
    snprintf(p1, sizeof p1, "%s.1", p);
    assert_int_equal(agent__log_rotate(p, 100, &rotated, &e), 0); /* absent: fine */
    assert_false(rotated);
    f = fopen(p, "a");
    for (i = 0; i < 10; i++)
        fprintf(f, "line %d\n", i);
    fclose(f);
    assert_int_equal(agent__log_rotate(p, 1000, &rotated, &e), 0);
    assert_false(rotated);
    assert_int_equal(agent__log_rotate(p, 50, &rotated, &e), 0);
    assert_true(rotated);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(stat(p1, &st), 0);
    assert_int_equal(st.st_size, 70);
    fs_rmtree(dir);
}

static void test_b64_decode(void **state)
{
    char *out;
    size_t n;
    struct err e;
    (void)state;
    assert_int_equal(agent__b64_decode("aGk=", &out, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out, "hi");
    free(out);
    assert_int_equal(agent__b64_decode("", &out, &n, &e), 0);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(agent__b64_decode("abc", &out, &n, &e), ERR_INVALID);
    assert_int_equal(agent__b64_decode("a$c=", &out, &n, &e), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_running_ready_pod),
        cmocka_unit_test(test_status_not_ready_container_makes_pod_not_ready),
        cmocka_unit_test(test_status_phases_by_restart_policy),
        cmocka_unit_test(test_status_crash_loop_is_running_with_last_state),
        cmocka_unit_test(test_status_waiting_never_started_is_pending),
        cmocka_unit_test(test_status_init_containers),
        cmocka_unit_test(test_status_keeps_transition_times_so_equal_states_compare_equal),
        cmocka_unit_test(test_backoff_doubles_from_base_to_max),
        cmocka_unit_test(test_env_value_from_and_env_from),
        cmocka_unit_test(test_env_missing_secret_and_key_are_named),
        cmocka_unit_test(test_volume_projection_items_and_modes),
        cmocka_unit_test(test_log_path_and_rotation),
        cmocka_unit_test(test_volume_refresh_follows_the_object),
        cmocka_unit_test(test_service_env_variables),
        cmocka_unit_test(test_resolv_conf_cluster_dns_then_node_servers),
        cmocka_unit_test(test_b64_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
