/* Semantic validation and defaulting of every kind: the apiserver's exact
 * messages and paths for bad objects, zero errors for realistic good ones
 * (before and after defaulting), defaults as SetDefaults_* fills them and
 * idempotent, and the immutability rules of updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"

/* JSON with ' for " so the cases stay readable */
static json_t *J(const char *s)
{
    char *buf = strdup(s), *p;
    json_error_t err;
    json_t *j;
    assert_non_null(buf);
    for (p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    j = json_loads(buf, 0, &err);
    if (j == NULL)
        fail_msg("bad test JSON (%s) at %d: %s", err.text, err.position, buf);
    free(buf);
    return j;
}

static const struct api_kind *K(const char *kind)
{
    const struct api_kind *k = api_kind_lookup(kind);
    assert_non_null(k);
    return k;
}

static void dump(const struct api_ferrs *fe)
{
    size_t i;
    for (i = 0; i < fe->n; i++)
        fprintf(stderr, "    [%zu] %s\n", i, fe->msgs[i]);
}

static bool has_msg(const struct api_ferrs *fe, const char *want)
{
    size_t i;
    for (i = 0; i < fe->n; i++)
        if (strstr(fe->msgs[i], want) != NULL)
            return true;
    return false;
}

/* validates obj (and old) of kind; asserts want is among the messages */
static void expect(const char *kind, json_t *obj, json_t *old, const char *want)
{
    struct api_ferrs fe;
    size_t n;
    api__ferrs_init(&fe);
    n = api__validate(K(kind), obj, old, &fe);
    if (!has_msg(&fe, want)) {
        fprintf(stderr, "  %s: want %s\n  got %zu:\n", kind, want, n);
        dump(&fe);
        fail();
    }
    assert_int_equal(n, fe.n + fe.dropped);
    api__ferrs_close(&fe);
    json_decref(obj);
    json_decref(old);
}

static void expect_clean(const char *kind, const json_t *obj, const json_t *old)
{
    struct api_ferrs fe;
    size_t n;
    api__ferrs_init(&fe);
    n = api__validate(K(kind), obj, old, &fe);
    if (n != 0) {
        fprintf(stderr, "  %s: want no errors, got %zu:\n", kind, n);
        dump(&fe);
        fail();
    }
    api__ferrs_close(&fe);
}

/* expect_clean, taking obj */
static void clean(const char *kind, json_t *obj)
{
    expect_clean(kind, obj, NULL);
    json_decref(obj);
}

/* ---- fixtures ---- */

#define DEPLOY                                                                                     \
    "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'nginx-deployment',"           \
    "'labels':{'app':'nginx'}},'spec':{'replicas':2,'selector':{'matchLabels':{'app':'nginx'}},"   \
    "'template':{'metadata':{'labels':{'app':'nginx'}},'spec':{'containers':[{'name':'nginx',"     \
    "'image':'nginx:1.7.9','ports':[{'containerPort':80}]}]}}}}"

/* a Deployment whose spec is built from parts */
static json_t *deploy(const char *selector, const char *tlabels, const char *podspec,
                      const char *extra)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
             "'spec':{%s%s'selector':%s,'template':{'metadata':{'labels':%s},'spec':%s}}}",
             extra ? extra : "", extra ? "," : "",
             selector ? selector : "{'matchLabels':{'app':'web'}}",
             tlabels ? tlabels : "{'app':'web'}",
             podspec ? podspec : "{'containers':[{'name':'c','image':'nginx'}]}");
    return J(buf);
}

static json_t *pod(const char *spec)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':%s}",
             spec);
    return J(buf);
}

static json_t *pod_c(const char *container_extra)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "{'containers':[{'name':'c','image':'busybox'%s%s}]}",
             container_extra[0] ? "," : "", container_extra);
    return pod(buf);
}

static json_t *svc(const char *spec)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},'spec':%s}", spec);
    return J(buf);
}

static json_t *job(const char *spec_extra, const char *podspec)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'pi'},'spec':{%s%s"
             "'template':{'spec':%s}}}",
             spec_extra, spec_extra[0] ? "," : "",
             podspec ? podspec
                     : "{'restartPolicy':'Never','containers':[{'name':'pi','image':'perl'}]}");
    return J(buf);
}

static json_t *cron(const char *spec_extra, const char *restart)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{'apiVersion':'batch/v1','kind':'CronJob','metadata':{'name':'hello'},'spec':{%s%s"
             "'jobTemplate':{'spec':{'template':{'spec':{%s'containers':[{'name':'hello',"
             "'image':'busybox'}]}}}}}}",
             spec_extra, spec_extra[0] ? "," : "", restart);
    return J(buf);
}

/* ---- valid objects, one per kind ---- */

static const char *const valid[][2] = {
    {"Namespace", "{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'team-a','labels':"
                  "{'kubernetes.io/metadata.name':'team-a'}}}"},
    {"Node", "{'apiVersion':'v1','kind':'Node','metadata':{'name':'node-1.example.com','labels':"
             "{'kubernetes.io/hostname':'node-1'}},'spec':{'podCIDR':'10.244.1.0/24','taints':"
             "[{'key':'node-role.kubernetes.io/control-plane','effect':'NoSchedule'}]}}"},
    {"Pod", "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web-0','namespace':'default',"
            "'annotations':{'example.com/owner':'me'}},'spec':{'volumes':[{'name':'data',"
            "'emptyDir':{}},{'name':'cfg','configMap':{'name':'web-cfg'}}],'initContainers':[{"
            "'name':'init','image':'busybox:1.36','command':['sh','-c','true']}],'containers':[{"
            "'name':'web','image':'nginx:1.25','ports':[{'name':'http','containerPort':80}],"
            "'env':[{'name':'MODE','value':'prod'},{'name':'POD_NAME','valueFrom':{'fieldRef':{"
            "'fieldPath':'metadata.name'}}}],'volumeMounts':[{'name':'data','mountPath':'/data'},"
            "{'name':'cfg','mountPath':'/etc/web'}],'resources':{'requests':{'cpu':'250m',"
            "'memory':'64Mi'},'limits':{'cpu':'0.5','memory':'128Mi'}},'livenessProbe':{"
            "'httpGet':{'path':'/healthz','port':'http'},'periodSeconds':5},'readinessProbe':{"
            "'tcpSocket':{'port':80}}}],'restartPolicy':'Always','tolerations':[{'key':'k',"
            "'operator':'Equal','value':'v','effect':'NoSchedule'}]}}"},
    {"Service", "{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},'spec':{"
                "'selector':{'app':'web'},'ports':[{'name':'http','port':80,'targetPort':'http'},"
                "{'name':'https','port':443,'targetPort':8443}]}}"},
    {"Endpoints", "{'apiVersion':'v1','kind':'Endpoints','metadata':{'name':'web'},'subsets':[{"
                  "'addresses':[{'ip':'10.244.1.5','nodeName':'node-1'}],'ports':[{'name':"
                  "'http','port':80,'protocol':'TCP'},{'name':'https','port':443}]}]}"},
    {"Secret", "{'apiVersion':'v1','kind':'Secret','metadata':{'name':'tls'},'type':"
               "'kubernetes.io/tls','data':{'tls.crt':'Y2VydA==','tls.key':'a2V5'}}"},
    {"ConfigMap", "{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'web-cfg'},'data':{"
                  "'nginx.conf':'server {}','MODE':'prod'},'binaryData':{'logo.png':'AAEC'}}"},
    {"Deployment", DEPLOY},
    {"ReplicaSet", "{'apiVersion':'apps/v1','kind':'ReplicaSet','metadata':{'name':'web-abc12'},"
                   "'spec':{'replicas':3,'selector':{'matchExpressions':[{'key':'app','operator':"
                   "'In','values':['web','www']},{'key':'canary','operator':'DoesNotExist'}]},"
                   "'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[{"
                   "'name':'web','image':'nginx'}]}}}}"},
    {"DaemonSet", "{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'agent'},'spec':{"
                  "'selector':{'matchLabels':{'name':'agent'}},'updateStrategy':{'type':"
                  "'RollingUpdate','rollingUpdate':{'maxUnavailable':'10%'}},'template':{"
                  "'metadata':{'labels':{'name':'agent'}},'spec':{'hostNetwork':true,"
                  "'containers':[{'name':'agent','image':'agent:2','ports':[{'containerPort':"
                  "9100,'hostPort':9100}]}]}}}}"},
    {"Job", "{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'pi'},'spec':{"
            "'backoffLimit':4,'completions':5,'parallelism':2,'completionMode':'Indexed',"
            "'template':{'spec':{'restartPolicy':'Never','containers':[{'name':'pi','image':"
            "'perl:5.34','command':['perl','-Mbignum=bpi','-wle','print bpi(2000)']}]}}}}"},
    {"CronJob", "{'apiVersion':'batch/v1','kind':'CronJob','metadata':{'name':'hello'},'spec':{"
                "'schedule':'*/5 9-17 * JAN-DEC/2 MON-FRI','timeZone':'Europe/Berlin',"
                "'concurrencyPolicy':'Forbid','jobTemplate':{'spec':{'template':{'spec':{"
                "'restartPolicy':'OnFailure','containers':[{'name':'hello','image':'busybox'}]}}"
                "}}}}"},
    {"Lease", "{'apiVersion':'coordination.k8s.io/v1','kind':'Lease','metadata':{'name':"
              "'kube-scheduler'},'spec':{'holderIdentity':'node-1','leaseDurationSeconds':15,"
              "'leaseTransitions':0}}"},
    {"HorizontalPodAutoscaler",
     "{'apiVersion':'autoscaling/v2','kind':'HorizontalPodAutoscaler','metadata':{'name':'web'},"
     "'spec':{'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
     "'maxReplicas':4,'metrics':[{'type':'Resource','resource':{'name':'memory','target':{"
     "'type':'AverageValue','averageValue':'100Mi'}}}],'behavior':{'scaleUp':{"
     "'selectPolicy':'Disabled'}}}}"},
};

static void test_valid_object_of_every_kind_has_no_errors(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        json_t *o = J(valid[i][1]);
        expect_clean(valid[i][0], o, NULL);
        json_decref(o);
    }
}

static void test_defaulted_objects_stay_valid_and_defaults_are_idempotent(void **state)
{
    size_t i, n;
    const struct api_kind *kinds = api_kinds(&n);
    (void)state;
    assert_int_equal(n, sizeof valid / sizeof valid[0]);
    for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        json_t *o = J(valid[i][1]), *once;
        const struct api_kind *k = K(valid[i][0]);
        api__defaults(k, o);
        once = json_deep_copy(o);
        api__defaults(k, o);
        if (!json_equal(once, o))
            fail_msg("%s: second defaulting changed the object", valid[i][0]);
        expect_clean(valid[i][0], o, NULL);
        /* an update that changes nothing is valid */
        expect_clean(valid[i][0], o, once);
        json_decref(once);
        json_decref(o);
    }
    (void)kinds;
}

/* ---- bad objects ---- */

static void test_bad_metadata(void **state)
{
    char big[300];
    (void)state;
    expect("Deployment",
           J("{'metadata':{'name':'Foo'},'spec':{'selector':{'matchLabels':{'a':'b'}},"
             "'template':{'metadata':{'labels':{'a':'b'}},'spec':{'containers':[{'name':'c',"
             "'image':'x'}]}}}}"),
           NULL,
           "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of "
           "lower case alphanumeric characters, '-' or '.', and must start and end with an "
           "alphanumeric character (e.g. 'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    expect("ConfigMap", J("{'metadata':{}}"), NULL,
           "metadata.name: Required value: name or generateName is required");
    clean("ConfigMap", J("{'metadata':{'generateName':'cfg-'}}"));
    expect("Namespace", J("{'metadata':{'name':'a.b'}}"), NULL,
           "metadata.name: Invalid value: \"a.b\": must not contain dots");
    expect("Service", J("{'metadata':{'name':'1web'},'spec':{'clusterIP':'None'}}"), NULL,
           "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case "
           "alphanumeric characters or '-', start with an alphabetic character, and end with an "
           "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
           "'[a-z]([-a-z0-9]*[a-z0-9])?')");
    expect("ConfigMap", J("{'metadata':{'name':'c','labels':{'bad key':'v'}}}"), NULL,
           "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric "
           "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
           "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
           "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    memset(big, 'a', 64);
    big[64] = '\0';
    {
        json_t *o = J("{'metadata':{'name':'c','labels':{}}}");
        json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"), "k",
                            json_string(big));
        expect("ConfigMap", o, NULL, "metadata.labels: Invalid value: \"aaaa");
    }
    expect("ConfigMap", J("{'metadata':{'name':'c','labels':{'k':'-x'}}}"), NULL,
           "metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or "
           "consist of alphanumeric characters");
    expect("ConfigMap", J("{'metadata':{'name':'c','labels':{'Example.com/x':'v'}}}"), NULL,
           "metadata.labels: Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 "
           "subdomain must consist of");
    expect("ConfigMap",
           J("{'metadata':{'name':'c','ownerReferences':[{'apiVersion':'apps/v1','kind':"
             "'ReplicaSet','name':'rs'}]}}"),
           NULL, "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty");
    expect("ConfigMap", J("{'metadata':{'name':'c','finalizers':['a/b/c']}}"), NULL,
           "metadata.finalizers: Invalid value: \"a/b/c\": a qualified name must consist of");
    expect("Node", J("{'metadata':{'name':'n','namespace':'default'}}"), NULL,
           "metadata.namespace: Forbidden: not allowed on this type");
}

static void test_annotations_over_256k_are_too_long(void **state)
{
    json_t *o = J("{'metadata':{'name':'c','annotations':{}}}");
    char *v = malloc(200 * 1024 + 1);
    (void)state;
    assert_non_null(v);
    memset(v, 'x', 200 * 1024);
    v[200 * 1024] = '\0';
    json_object_set_new(json_object_get(json_object_get(o, "metadata"), "annotations"), "a",
                        json_string(v));
    json_object_set_new(json_object_get(json_object_get(o, "metadata"), "annotations"), "b",
                        json_string(v));
    free(v);
    expect("ConfigMap", o, NULL, "metadata.annotations: Too long: must have at most 262144 bytes");
}

static void test_bad_pod_specs(void **state)
{
    (void)state;
    expect("Pod", pod("{'containers':[]}"), NULL, "spec.containers: Required value");
    expect("Pod", pod("{'containers':[{'name':'nginx','image':'a'},{'name':'nginx','image':'b'}]}"),
           NULL, "spec.containers[1].name: Duplicate value: \"nginx\"");
    expect("Pod",
           pod("{'initContainers':[{'name':'c','image':'a'}],'containers':[{'name':'c',"
               "'image':'b'}]}"),
           NULL, "spec.initContainers[0].name: Duplicate value: \"c\"");
    expect("Pod", pod("{'containers':[{'name':'Web','image':'a'}]}"), NULL,
           "spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must "
           "consist of");
    expect("Pod", pod_c("'ports':[{'containerPort':70000}]"), NULL,
           "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 "
           "and 65535, inclusive");
    expect("Pod", pod_c("'ports':[{'containerPort':0}]"), NULL,
           "spec.containers[0].ports[0].containerPort: Required value");
    expect("Pod", pod_c("'ports':[{'containerPort':80,'hostPort':70000}]"), NULL,
           "spec.containers[0].ports[0].hostPort: Invalid value: 70000: must be between 1 and "
           "65535, inclusive");
    expect("Pod", pod_c("'ports':[{'containerPort':80,'protocol':'FOO'}]"), NULL,
           "spec.containers[0].ports[0].protocol: Unsupported value: \"FOO\": supported values: "
           "\"SCTP\", \"TCP\", \"UDP\"");
    expect("Pod", pod_c("'ports':[{'containerPort':80,'name':'Http'}]"), NULL,
           "spec.containers[0].ports[0].name: Invalid value: \"Http\": must contain only "
           "alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    expect("Pod", pod_c("'ports':[{'containerPort':80,'name':'web--1'}]"), NULL,
           "spec.containers[0].ports[0].name: Invalid value: \"web--1\": must not contain "
           "consecutive hyphens");
    expect("Pod",
           pod_c("'ports':[{'containerPort':80,'name':'http'},{'containerPort':81,'name':'http'}]"),
           NULL, "spec.containers[0].ports[1].name: Duplicate value: \"http\"");
    expect("Pod", pod_c("'env':[{'name':'A=B','value':'x'}]"), NULL,
           "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable "
           "name must consist only of printable ASCII characters other than '='");
    expect("Pod", pod_c("'env':[{'value':'x'}]"), NULL,
           "spec.containers[0].env[0].name: Required value");
    expect("Pod", pod_c("'volumeMounts':[{'name':'data','mountPath':'/d'}]"), NULL,
           "spec.containers[0].volumeMounts[0].name: Not found: \"data\"");
    expect("Pod",
           pod("{'volumes':[{'name':'data','emptyDir':{}}],'containers':[{'name':'c','image':"
               "'i','volumeMounts':[{'name':'data'}]}]}"),
           NULL, "spec.containers[0].volumeMounts[0].mountPath: Required value");
    expect("Pod",
           pod("{'volumes':[{'name':'data','emptyDir':{},'hostPath':{'path':'/x'}}],"
               "'containers':[{'name':'c','image':'i'}]}"),
           NULL, "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type");
    expect("Pod", pod("{'volumes':[{'name':'data'}],'containers':[{'name':'c','image':'i'}]}"),
           NULL, "spec.volumes[0]: Required value: must specify a volume type");
    expect("Pod",
           pod("{'volumes':[{'name':'d','emptyDir':{}},{'name':'d','emptyDir':{}}],'containers':"
               "[{'name':'c','image':'i'}]}"),
           NULL, "spec.volumes[1].name: Duplicate value: \"d\"");
    expect("Pod", pod("{'restartPolicy':'Sometimes','containers':[{'name':'c','image':'i'}]}"),
           NULL,
           "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", "
           "\"OnFailure\", \"Never\"");
    expect("Pod", pod("{'dnsPolicy':'Google','containers':[{'name':'c','image':'i'}]}"), NULL,
           "spec.dnsPolicy: Unsupported value: \"Google\": supported values: "
           "\"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"");
    expect("Pod",
           pod("{'terminationGracePeriodSeconds':-5,'containers':[{'name':'c','image':'i'}]}"),
           NULL,
           "spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or "
           "equal to 0");
    expect("Pod", pod_c("'imagePullPolicy':'Sometimes'"), NULL,
           "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported "
           "values: \"Always\", \"IfNotPresent\", \"Never\"");
    expect("Pod", pod_c("'image':' nginx'"), NULL,
           "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or "
           "trailing whitespace");
    expect("Pod", pod_c("'resources':{'requests':{'cpu':'2'},'limits':{'cpu':'1'}}"), NULL,
           "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or "
           "equal to cpu limit of 1");
    expect("Pod", pod_c("'resources':{'requests':{'memory':'1Gi'},'limits':{'memory':'512Mi'}}"),
           NULL,
           "spec.containers[0].resources.requests: Invalid value: \"1Gi\": must be less than or "
           "equal to memory limit of 512Mi");
    expect("Pod", pod_c("'resources':{'limits':{'cpu':'1.5.5'}}"), NULL,
           "spec.containers[0].resources.limits[cpu]: Invalid value: \"1.5.5\": quantities must "
           "match the regular expression");
    expect("Pod", pod_c("'resources':{'requests':{'cpu':'-1'}}"), NULL,
           "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be greater "
           "than or equal to 0");
    expect("Pod", pod_c("'livenessProbe':{'exec':{'command':['true']},'periodSeconds':-1}"), NULL,
           "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater "
           "than or equal to 0");
    expect("Pod", pod_c("'livenessProbe':{'exec':{'command':['true']},'successThreshold':2}"), NULL,
           "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1");
    expect("Pod", pod_c("'readinessProbe':{'periodSeconds':3}"), NULL,
           "spec.containers[0].readinessProbe: Required value: must specify a handler type");
    expect("Pod", pod_c("'readinessProbe':{'httpGet':{'port':0}}"), NULL,
           "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 "
           "and 65535, inclusive");
    expect("Pod",
           pod("{'hostNetwork':true,'containers':[{'name':'c','image':'i','ports':[{"
               "'containerPort':80,'hostPort':8080}]}]}"),
           NULL,
           "spec.containers[0].ports[0].containerPort: Invalid value: 80: must match `hostPort` "
           "when `hostNetwork` is true");
}

static void test_bad_workloads(void **state)
{
    (void)state;
    expect("Deployment", deploy(NULL, NULL, "{'containers':[{'name':'c'}]}", NULL), NULL,
           "spec.template.spec.containers[0].image: Required value");
    expect("Deployment", deploy("{}", NULL, NULL, NULL), NULL,
           "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
           "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
           "deployment");
    expect("Deployment", deploy("{'matchLabels':{'app':'web'}}", "{'app':'nginx'}", NULL, NULL),
           NULL,
           "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"nginx\"}: "
           "`selector` does not match template `labels`");
    expect("Deployment", deploy(NULL, NULL, NULL, "'replicas':-1"), NULL,
           "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
    expect("Deployment",
           deploy(NULL, NULL, "{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}",
                  NULL),
           NULL,
           "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: "
           "\"Always\"");
    expect(
        "Deployment",
        deploy(NULL, NULL, NULL, "'strategy':{'rollingUpdate':{'maxSurge':0,'maxUnavailable':0}}"),
        NULL,
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{"
        "Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0");
    expect("Deployment",
           deploy(NULL, NULL, NULL, "'strategy':{'rollingUpdate':{'maxSurge':'abc'}}"), NULL,
           "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, "
           "IntVal:0, StrVal:\"abc\"}: a valid percent string must be a numeric string followed "
           "by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
    expect("Deployment",
           deploy(NULL, NULL, NULL, "'strategy':{'rollingUpdate':{'maxUnavailable':'120%'}}"), NULL,
           "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, "
           "IntVal:0, StrVal:\"120%\"}: must not be greater than 100%");
    expect("Deployment", deploy(NULL, NULL, NULL, "'strategy':{'type':'Blue'}"), NULL,
           "spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"Blue\", "
           "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", "
           "\"RollingUpdate\"");
    expect("Deployment",
           deploy(NULL, NULL, NULL, "'strategy':{'type':'Recreate','rollingUpdate':{}}"), NULL,
           "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
           "'Recreate'");
    expect("Deployment",
           deploy(NULL, NULL, NULL, "'minReadySeconds':10,'progressDeadlineSeconds':5"), NULL,
           "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds");
    expect("Deployment", deploy(NULL, NULL, NULL, "'revisionHistoryLimit':-2"), NULL,
           "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0");
    expect("Deployment",
           deploy("{'matchExpressions':[{'key':'app','operator':'Foo'}]}", NULL, NULL, NULL), NULL,
           "spec.selector.matchExpressions[0].operator: Invalid value: \"Foo\": not a valid "
           "selector operator");
    expect("Deployment",
           deploy("{'matchExpressions':[{'key':'app','operator':'In'}]}", NULL, NULL, NULL), NULL,
           "spec.selector.matchExpressions[0].values: Required value: must be specified when "
           "`operator` is 'In' or 'NotIn'");
    expect("ReplicaSet",
           J("{'metadata':{'name':'rs'},'spec':{'selector':{'matchLabels':{'a':'b'}},"
             "'template':{'metadata':{'labels':{'a':'b'}},'spec':{'activeDeadlineSeconds':5,"
             "'containers':[{'name':'c','image':'i'}]}}}}"),
           NULL,
           "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
           "ReplicaSet is not Supported");
    expect("DaemonSet",
           J("{'metadata':{'name':'ds'},'spec':{'selector':{},'template':{'metadata':{'labels':"
             "{'a':'b'}},'spec':{'containers':[{'name':'c','image':'i'}]}}}}"),
           NULL, "empty selector is invalid for daemonset");
    expect("DaemonSet",
           J("{'metadata':{'name':'ds'},'spec':{'selector':{'matchLabels':{'a':'b'}},"
             "'updateStrategy':{'rollingUpdate':{'maxUnavailable':0,'maxSurge':0}},'template':{"
             "'metadata':{'labels':{'a':'b'}},'spec':{'containers':[{'name':'c','image':'i'}]}}}"
             "}"),
           NULL,
           "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
           "maxSurge is 0");
}

#define SVC(spec)       "{'metadata':{'name':'web'},'spec':" spec "}"
#define EP(subset)      "{'metadata':{'name':'e'},'subsets':[" subset "]}"
#define JOBT(spec, pod) "{'metadata':{'name':'pi'},'spec':{" spec "'template':{'spec':" pod "}}}"
#define CRON(spec)                                                                                 \
    "{'metadata':{'name':'c'},'spec':{" spec ",'jobTemplate':{'spec':{'template':{'spec':{"        \
    "'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}}}}}}"
#define OKPOD "{'restartPolicy':'Never','containers':[{'name':'c','image':'i'}]}"

/* kind, object (JSON with ' for "), one expected "path: message" (substring) */
static const struct bad_case {
    const char *kind, *json, *want;
} bad[] = {
    {"Service", SVC("{'selector':{'app':'web'}}"), "spec.ports: Required value"},
    {"Service", SVC("{'ports':[{'port':0}]}"),
     "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"},
    {"Service", SVC("{'ports':[{'port':80,'nodePort':30080}]}"),
     "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
    {"Service", SVC("{'type':'NodePort','ports':[{'port':80,'nodePort':80}]}"),
     "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The "
     "range of valid ports is 30000-32767"},
    {"Service", SVC("{'ports':[{'name':'a','port':80},{'port':81}]}"),
     "spec.ports[1].name: Required value"},
    {"Service", SVC("{'ports':[{'name':'a','port':80},{'name':'a','port':81}]}"),
     "spec.ports[1].name: Duplicate value: \"a\""},
    {"Service", SVC("{'ports':[{'name':'a','port':80},{'name':'b','port':80}]}"),
     "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", "
     "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
     "StrVal:\"\"}, NodePort:0}"},
    {"Service", SVC("{'ports':[{'port':80,'protocol':'ICMP'}]}"),
     "spec.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", "
     "\"UDP\""},
    {"Service", SVC("{'ports':[{'port':80,'targetPort':'Web'}]}"),
     "spec.ports[0].targetPort: Invalid value: \"Web\": must contain only alpha-numeric "
     "characters (a-z, 0-9), and hyphens (-)"},
    {"Service", SVC("{'ports':[{'port':80,'targetPort':70000}]}"),
     "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"},
    {"Service", SVC("{'type':'Foo','ports':[{'port':80}]}"),
     "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", "
     "\"LoadBalancer\", \"NodePort\""},
    {"Service", SVC("{'clusterIP':'abc','ports':[{'port':80}]}"),
     "spec.clusterIPs[0]: Invalid value: \"abc\": must be a valid IP address, (e.g. 10.9.8.7 or "
     "2001:db8::ffff)"},
    {"Service", SVC("{'type':'NodePort','clusterIP':'None','ports':[{'port':80}]}"),
     "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort "
     "services"},
    {"Service", SVC("{'type':'ExternalName'}"), "spec.externalName: Required value"},
    {"Service", SVC("{'type':'ExternalName','externalName':'Bad_Host'}"),
     "spec.externalName: Invalid value: \"Bad_Host\": a lowercase RFC 1123 subdomain must "
     "consist of"},
    {"Service",
     SVC("{'type':'ExternalName','externalName':'db.example.com','clusterIP':"
         "'10.0.0.1'}"),
     "spec.clusterIPs: Forbidden: may not be set for ExternalName services"},
    {"Service", SVC("{'sessionAffinity':'Sticky','ports':[{'port':80}]}"),
     "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", "
     "\"None\""},
    {"Service", SVC("{'selector':{'app':'-bad'},'ports':[{'port':80}]}"),
     "spec.selector: Invalid value: \"-bad\": a valid label must be an empty string or consist "
     "of alphanumeric characters"},
    {"Service", SVC("{'externalTrafficPolicy':'Local','ports':[{'port':80}]}"),
     "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set when `type` is "
     "'NodePort' or 'LoadBalancer'"},
    {"Secret", "{'metadata':{'name':'s'},'data':{'bad key':'eA=='}}",
     "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric "
     "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
     "for validation is '[-._a-zA-Z0-9]+')"},
    {"Secret", "{'metadata':{'name':'s'},'stringData':{'a/b':'x'}}",
     "data[a/b]: Invalid value: \"a/b\": a valid config key"},
    {"Secret", "{'metadata':{'name':'s'},'type':'kubernetes.io/tls','data':{'tls.crt':'eA=='}}",
     "data[tls.key]: Required value"},
    {"Secret", "{'metadata':{'name':'s'},'type':'kubernetes.io/dockerconfigjson'}",
     "data[.dockerconfigjson]: Required value"},
    {"Secret", "{'metadata':{'name':'s'},'type':'kubernetes.io/basic-auth','data':{}}",
     "data[username]: Required value"},
    {"ConfigMap", "{'metadata':{'name':'c'},'data':{'..':'x'}}",
     "data[..]: Invalid value: \"..\": must not be '..'"},
    {"ConfigMap", "{'metadata':{'name':'c'},'data':{'..a':'x'}}",
     "data[..a]: Invalid value: \"..a\": must not start with '..'"},
    {"ConfigMap", "{'metadata':{'name':'c'},'data':{'a':'x'},'binaryData':{'a':'eA=='}}",
     "data[a]: Invalid value: \"a\": duplicate of key present in binaryData"},
    {"Endpoints", EP("{'addresses':[{'ip':'1.2.3'}],'ports':[{'port':80}]}"),
     "subsets[0].addresses[0].ip: Invalid value: \"1.2.3\": must be a valid IP address, (e.g. "
     "10.9.8.7 or 2001:db8::ffff)"},
    {"Endpoints", EP("{'addresses':[{'ip':'127.0.0.1'}],'ports':[{'port':80}]}"),
     "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range "
     "(127.0.0.0/8)"},
    {"Endpoints", EP("{'addresses':[{'ip':'10.0.0.1'}],'ports':[{'port':0}]}"),
     "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"},
    {"Endpoints",
     EP("{'addresses':[{'ip':'10.0.0.1'}],'ports':[{'name':'http','port':80},{'name':'http',"
        "'port':81}]}"),
     "subsets[0].ports[1].name: Duplicate value: \"http\""},
    {"Endpoints", EP("{'addresses':[{'ip':'10.0.0.1'}],'ports':[{'port':80,'protocol':'X'}]}"),
     "subsets[0].ports[0].protocol: Unsupported value: \"X\": supported values: \"SCTP\", "
     "\"TCP\", \"UDP\""},
    {"Endpoints", EP("{'ports':[{'port':80}]}"),
     "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"},
    {"Lease", "{'metadata':{'name':'l'},'spec':{'leaseDurationSeconds':0}}",
     "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
#define HPA(spec)                                                                                  \
    "{'metadata':{'name':'h'},'spec':{'scaleTargetRef':{'kind':'Deployment','name':'web'}," spec   \
    "}}"
    {"HorizontalPodAutoscaler", HPA("'minReplicas':0,'maxReplicas':3"),
     "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"},
    {"HorizontalPodAutoscaler", HPA("'minReplicas':3,'maxReplicas':2"),
     "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"},
    {"HorizontalPodAutoscaler",
     "{'metadata':{'name':'h'},'spec':{'scaleTargetRef':{'kind':'Deployment'},'maxReplicas':2}}",
     "spec.scaleTargetRef.name: Required value"},
    {"HorizontalPodAutoscaler",
     HPA("'maxReplicas':2,'metrics':[{'type':'Resource','resource':{'name':'gpu','target':{"
         "'type':'Utilization','averageUtilization':50}}}]"),
     "spec.metrics[0].resource.name: Unsupported value: \"gpu\": supported values: \"cpu\", "
     "\"memory\""},
    {"HorizontalPodAutoscaler",
     HPA("'maxReplicas':2,'metrics':[{'type':'Resource','resource':{'name':'cpu','target':{"
         "'type':'Value','averageUtilization':50}}}]"),
     "spec.metrics[0].resource.target.type: Unsupported value: \"Value\": supported values: "
     "\"Utilization\", \"AverageValue\""},
    {"HorizontalPodAutoscaler",
     HPA("'maxReplicas':2,'metrics':[{'type':'Resource','resource':{'name':'cpu','target':{"
         "'type':'Utilization','averageUtilization':0}}}]"),
     "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater "
     "than 0"},
    {"HorizontalPodAutoscaler",
     HPA("'maxReplicas':2,'behavior':{'scaleDown':{'policies':[{'type':'Pods','value':0,"
         "'periodSeconds':15}]}}"),
     "spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero"},
    {"HorizontalPodAutoscaler",
     HPA("'maxReplicas':2,'behavior':{'scaleDown':{'stabilizationWindowSeconds':3601,"
         "'policies':[{'type':'Pods','value':1,'periodSeconds':15}]}}"),
     "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: 3601: must be less "
     "than or equal to 3600"},
    {"HorizontalPodAutoscaler",
     HPA("'maxReplicas':2,'behavior':{'scaleUp':{'selectPolicy':'Sometimes',"
         "'policies':[{'type':'Pods','value':1,'periodSeconds':15}]}}"),
     "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Sometimes\": supported values: "
     "\"Disabled\", \"Max\", \"Min\""},
#undef HPA
    {"Lease", "{'metadata':{'name':'l'},'spec':{'leaseTransitions':-1}}",
     "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"},
    {"Node", "{'metadata':{'name':'n'},'spec':{'podCIDR':'10.0.0.0/33'}}",
     "spec.podCIDRs[0]: Invalid value: []string{\"10.0.0.0/33\"}: must be valid CIDR"},
    {"Node", "{'metadata':{'name':'n'},'spec':{'taints':[{'key':'k','effect':'Sometimes'}]}}",
     "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", "
     "\"PreferNoSchedule\", \"NoExecute\""},
    {"Node",
     "{'metadata':{'name':'n'},'spec':{'taints':[{'key':'bad key','effect':"
     "'NoSchedule'}]}}",
     "spec.taints[0].key: Invalid value: \"bad key\": name part must consist of"},
    {"Node",
     "{'metadata':{'name':'n'},'spec':{'taints':[{'key':'k','effect':'NoSchedule'},"
     "{'key':'k','effect':'NoSchedule'}]}}",
     "spec.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"\", Effect:\"NoSchedule\", "
     "TimeAdded:<nil>}: taints must be unique by key and effect pair"},
    {"Node", "{'metadata':{'name':'Node_1'}}",
     "metadata.name: Invalid value: \"Node_1\": a lowercase RFC 1123 subdomain"},
    {"Namespace", "{'metadata':{'name':'ns'},'spec':{'finalizers':['foo']}}",
     "spec.finalizers: Invalid value: \"foo\": name is neither a standard finalizer name nor is "
     "it fully qualified"},
    {"Job", JOBT("", "{'restartPolicy':'Always','containers':[{'name':'c','image':'i'}]}"),
     "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""},
    {"Job", JOBT("", "{'containers':[{'name':'c','image':'i'}]}"),
     "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""},
    {"Job", JOBT("", "{'restartPolicy':'Sometimes','containers':[{'name':'c','image':'i'}]}"),
     "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: "
     "\"OnFailure\", \"Never\""},
    {"Job", JOBT("'backoffLimit':-1,", OKPOD),
     "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"},
    {"Job", JOBT("'parallelism':-3,", OKPOD),
     "spec.parallelism: Invalid value: -3: must be greater than or equal to 0"},
    {"Job", JOBT("'activeDeadlineSeconds':-3,", OKPOD),
     "spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0"},
    {"Job", JOBT("'completionMode':'Weird',", OKPOD),
     "spec.completionMode: Unsupported value: \"Weird\": supported values: \"NonIndexed\", "
     "\"Indexed\""},
    {"Job", JOBT("'completionMode':'Indexed',", OKPOD),
     "spec.completions: Required value: when completion mode is Indexed"},
    {"Job", JOBT("'selector':{'matchLabels':{'a':'b'}},", OKPOD),
     "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not "
     "match template `labels`"},
    {"CronJob", CRON("'schedule':'bad'"),
     "spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]"},
    {"CronJob", CRON("'schedule':'0 0 * *'"),
     "spec.schedule: Invalid value: \"0 0 * *\": expected exactly 5 fields, found 4: [0 0 * *]"},
    {"CronJob", CRON("'schedule':'61 * * * *'"),
     "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"},
    {"CronJob", CRON("'schedule':'* * 0 * *'"),
     "spec.schedule: Invalid value: \"* * 0 * *\": beginning of range (0) below minimum (1): 0"},
    {"CronJob", CRON("'schedule':'* 5-2 * * *'"),
     "beginning of range (5) beyond end of range (2): 5-2"},
    {"CronJob", CRON("'schedule':'* * * FOO *'"),
     "spec.schedule: Invalid value: \"* * * FOO *\": failed to parse int from FOO: strconv.Atoi: "
     "parsing \"FOO\": invalid syntax"},
    {"CronJob", CRON("'schedule':'*/0 * * * *'"), "step of range should be a positive number: */0"},
    {"CronJob", CRON("'schedule':'1-2-3 * * * *'"), "too many hyphens: 1-2-3"},
    {"CronJob", CRON("'schedule':'@every 1h'"),
     "spec.schedule: Invalid value: \"@every 1h\": unrecognized descriptor: @every 1h"},
    {"CronJob", CRON("'schedule':'TZ=UTC 0 * * * *'"),
     "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, "
     "use timeZone field instead"},
    {"CronJob", CRON("'schedule':'@daily','concurrencyPolicy':'Sometimes'"),
     "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", "
     "\"Forbid\", \"Replace\""},
    {"CronJob", CRON("'schedule':'@daily','timeZone':'Mars/Olympus'"),
     "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"},
    {"CronJob", CRON("'schedule':'@daily','timeZone':'../../etc/passwd'"),
     "spec.timeZone: Invalid value: \"../../etc/passwd\": unknown time zone ../../etc/passwd"},
    {"CronJob", CRON("'schedule':'@daily','timeZone':'/etc/passwd'"),
     "spec.timeZone: Invalid value: \"/etc/passwd\": unknown time zone /etc/passwd"},
    {"CronJob", CRON("'schedule':'@daily','timeZone':'Local'"),
     "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined "
     "in https://www.iana.org/time-zones"},
    {"CronJob", CRON("'schedule':'@daily','successfulJobsHistoryLimit':-1"),
     "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"},
    {"CronJob",
     "{'metadata':{'name':'c'},'spec':{'schedule':'@daily','jobTemplate':{'spec':{'template':{"
     "'spec':{'containers':[{'name':'c','image':'i'}]}}}}}}",
     "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "
     "\"OnFailure\", \"Never\""},
    {"CronJob",
     "{'metadata':{'name':'c'},'spec':{'schedule':'@daily','jobTemplate':{'spec':{'selector':{},"
     "'template':{'spec':" OKPOD "}}}}}",
     "spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
     "map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` "
     "will be auto-generated"},
    {"CronJob",
     "{'metadata':{'name':'a-very-long-cronjob-name-that-is-over-fifty-two-chars'},'spec':{"
     "'schedule':'@daily','jobTemplate':{'spec':{'template':{'spec':" OKPOD "}}}}}",
     "metadata.name: Invalid value: \"a-very-long-cronjob-name-that-is-over-fifty-two-chars\": "
     "must be no more than 52 characters"},
};

static void test_bad_objects_table(void **state)
{
    size_t i;
    (void)state;
    assert_true(sizeof bad / sizeof bad[0] >= 30);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(bad[i].kind, J(bad[i].json), NULL, bad[i].want);
}

static void test_secret_over_1mib_is_too_long(void **state)
{
    json_t *o = J("{'metadata':{'name':'s'},'stringData':{}}");
    char *v = malloc(600 * 1024 + 1);
    (void)state;
    assert_non_null(v);
    memset(v, 'x', 600 * 1024);
    v[600 * 1024] = '\0';
    json_object_set_new(json_object_get(o, "stringData"), "a", json_string(v));
    json_object_set_new(json_object_get(o, "stringData"), "b", json_string(v));
    free(v);
    expect("Secret", o, NULL, "data: Too long: must have at most 1048576 bytes");
}

/* ---- updates ---- */

static void test_update_immutability(void **state)
{
    json_t *o;
    (void)state;
    expect("Deployment",
           deploy("{'matchLabels':{'app':'web','v':'2'}}", "{'app':'web','v':'2'}", NULL, NULL),
           deploy(NULL, NULL, NULL, NULL),
           "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"
           "\"app\":\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
           "field is immutable");
    /* the template may change; an absent vs empty matchExpressions is no change */
    o = deploy("{'matchLabels':{'app':'web'},'matchExpressions':[]}", NULL,
               "{'containers':[{'name':'c','image':'nginx:2'}]}", NULL);
    {
        json_t *old = deploy(NULL, NULL, NULL, NULL);
        expect_clean("Deployment", o, old);
        json_decref(old);
    }
    json_decref(o);
    expect("Service", svc("{'clusterIP':'10.0.0.2','ports':[{'port':80}]}"),
           svc("{'clusterIP':'10.0.0.1','ports':[{'port':80}]}"),
           "spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.2\"}: may not change once set");
    o = svc("{'ports':[{'port':80}]}");
    {
        json_t *old = svc("{'clusterIP':'10.0.0.1','ports':[{'port':80}]}");
        expect_clean("Service", o, old); /* "" keeps the allocated IP */
        json_decref(old);
    }
    json_decref(o);
    expect("Secret", J("{'metadata':{'name':'s'},'immutable':true,'data':{'a':'Yg=='}}"),
           J("{'metadata':{'name':'s'},'immutable':true,'data':{'a':'YQ=='}}"),
           "data: Forbidden: field is immutable when `immutable` is set");
    expect("Secret", J("{'metadata':{'name':'s'},'stringData':{'a':'b'}}"),
           J("{'metadata':{'name':'s'},'immutable':true,'data':{'a':'YQ=='}}"),
           "immutable: Forbidden: field is immutable when `immutable` is set");
    expect("Secret", J("{'metadata':{'name':'s'},'immutable':true,'stringData':{'a':'b'}}"),
           J("{'metadata':{'name':'s'},'immutable':true,'data':{'a':'YQ=='}}"),
           "data: Forbidden: field is immutable when `immutable` is set");
    o = J("{'metadata':{'name':'s'},'immutable':true,'stringData':{'a':'a'}}");
    {
        json_t *old = J("{'metadata':{'name':'s'},'immutable':true,'data':{'a':'YQ=='}}");
        expect_clean("Secret", o, old); /* same bytes through stringData */
        json_decref(old);
    }
    json_decref(o);
    expect("Secret",
           J("{'metadata':{'name':'s'},'type':'kubernetes.io/tls','data':{'tls.crt':'eA==',"
             "'tls.key':'eA=='}}"),
           J("{'metadata':{'name':'s'},'data':{}}"),
           "type: Invalid value: \"kubernetes.io/tls\": field is immutable");
    expect("ConfigMap", J("{'metadata':{'name':'c'},'immutable':true,'data':{'a':'2'}}"),
           J("{'metadata':{'name':'c'},'immutable':true,'data':{'a':'1'}}"),
           "data: Forbidden: field is immutable when `immutable` is set");
    expect("Job",
           job("", "{'restartPolicy':'Never','containers':[{'name':'pi','image':'perl:6'}]}"),
           job("", NULL), "spec.template: Invalid value: ");
    expect("Job",
           job("", "{'restartPolicy':'Never','containers':[{'name':'pi','image':'perl:6'}]}"),
           job("", NULL), ": field is immutable");
    expect("Job", job("'completions':3", NULL), job("'completions':1", NULL),
           "spec.completions: Invalid value: 3: field is immutable");
    expect("Deployment", deploy(NULL, NULL, NULL, NULL),
           J("{'metadata':{'name':'other'},'spec':{}}"),
           "metadata.name: Invalid value: \"web\": field is immutable");
}

/* ---- defaulting ---- */

static const json_t *at(const json_t *o, const char *path)
{
    char buf[256], *save = NULL, *tok;
    snprintf(buf, sizeof buf, "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
        if (tok[0] >= '0' && tok[0] <= '9')
            o = json_array_get(o, (size_t)atoi(tok));
        else
            o = json_object_get(o, tok);
    }
    if (o == NULL)
        fail_msg("no %s", path);
    return o;
}

static void want_s(const json_t *o, const char *path, const char *s)
{
    const char *v = json_string_value(at(o, path));
    if (v == NULL || strcmp(v, s) != 0)
        fail_msg("%s: want \"%s\", got \"%s\"", path, s, v ? v : "(not a string)");
}

static void want_i(const json_t *o, const char *path, long long n)
{
    const json_t *v = at(o, path);
    if (!json_is_integer(v) || json_integer_value(v) != n)
        fail_msg("%s: want %lld", path, n);
}

static void test_defaults_fill_workloads(void **state)
{
    json_t *d = J(DEPLOY), *o;
    (void)state;
    api__defaults(K("Deployment"), d);
    want_i(d, "spec.replicas", 2); /* kept */
    want_s(d, "spec.strategy.type", "RollingUpdate");
    want_s(d, "spec.strategy.rollingUpdate.maxUnavailable", "25%");
    want_s(d, "spec.strategy.rollingUpdate.maxSurge", "25%");
    want_i(d, "spec.revisionHistoryLimit", 10);
    want_i(d, "spec.progressDeadlineSeconds", 600);
    want_s(d, "spec.template.spec.restartPolicy", "Always");
    want_i(d, "spec.template.spec.terminationGracePeriodSeconds", 30);
    want_s(d, "spec.template.spec.dnsPolicy", "ClusterFirst");
    want_s(d, "spec.template.spec.schedulerName", "default-scheduler");
    assert_true(json_is_object(at(d, "spec.template.spec.securityContext")));
    assert_true(json_is_true(at(d, "spec.template.spec.enableServiceLinks")));
    want_s(d, "spec.template.spec.containers.0.imagePullPolicy", "IfNotPresent");
    want_s(d, "spec.template.spec.containers.0.terminationMessagePath", "/dev/termination-log");
    want_s(d, "spec.template.spec.containers.0.terminationMessagePolicy", "File");
    want_s(d, "spec.template.spec.containers.0.ports.0.protocol", "TCP");
    assert_true(json_is_object(at(d, "spec.template.spec.containers.0.resources")));
    json_decref(d);

    o = J("{'metadata':{'name':'rs'},'spec':{'template':{'spec':{'containers':[{'name':'c',"
          "'image':'nginx'},{'name':'d','image':'nginx:latest'},{'name':'e','image':"
          "'localhost:5000/app'},{'name':'f','image':'app@sha256:abc'}]}}}}");
    api__defaults(K("ReplicaSet"), o);
    want_i(o, "spec.replicas", 1);
    want_s(o, "spec.template.spec.containers.0.imagePullPolicy", "Always");
    want_s(o, "spec.template.spec.containers.1.imagePullPolicy", "Always");
    want_s(o, "spec.template.spec.containers.2.imagePullPolicy", "Always");
    want_s(o, "spec.template.spec.containers.3.imagePullPolicy", "IfNotPresent");
    json_decref(o);

    o = J("{'metadata':{'name':'ds'},'spec':{'template':{'spec':{'containers':[]}}}}");
    api__defaults(K("DaemonSet"), o);
    want_s(o, "spec.updateStrategy.type", "RollingUpdate");
    want_i(o, "spec.updateStrategy.rollingUpdate.maxUnavailable", 1);
    want_i(o, "spec.updateStrategy.rollingUpdate.maxSurge", 0);
    want_i(o, "spec.revisionHistoryLimit", 10);
    json_decref(o);

    o = job("",
            "{'containers':[{'name':'c','image':'i','livenessProbe':{'httpGet':{'port':80}}}]}");
    api__defaults(K("Job"), o);
    want_i(o, "spec.parallelism", 1);
    want_i(o, "spec.completions", 1);
    want_i(o, "spec.backoffLimit", 6);
    want_s(o, "spec.completionMode", "NonIndexed");
    assert_true(json_is_false(at(o, "spec.suspend")));
    assert_null(json_object_get(json_object_get(o, "spec"), "manualSelector"));
    assert_null(json_object_get(at(o, "spec.template.spec"), "restartPolicy"));
    want_i(o, "spec.template.spec.containers.0.livenessProbe.timeoutSeconds", 1);
    want_i(o, "spec.template.spec.containers.0.livenessProbe.periodSeconds", 10);
    want_i(o, "spec.template.spec.containers.0.livenessProbe.successThreshold", 1);
    want_i(o, "spec.template.spec.containers.0.livenessProbe.failureThreshold", 3);
    want_s(o, "spec.template.spec.containers.0.livenessProbe.httpGet.scheme", "HTTP");
    json_decref(o);

    o = job("'completions':5", NULL); /* only parallelism is defaulted */
    api__defaults(K("Job"), o);
    want_i(o, "spec.completions", 5);
    want_i(o, "spec.parallelism", 1);
    json_decref(o);
    o = job("'parallelism':3", NULL); /* completions stays unset: a work queue */
    api__defaults(K("Job"), o);
    assert_null(json_object_get(json_object_get(o, "spec"), "completions"));
    json_decref(o);

    o = cron("'schedule':'@daily'", "");
    api__defaults(K("CronJob"), o);
    want_s(o, "spec.concurrencyPolicy", "Allow");
    assert_true(json_is_false(at(o, "spec.suspend")));
    want_i(o, "spec.successfulJobsHistoryLimit", 3);
    want_i(o, "spec.failedJobsHistoryLimit", 1);
    want_s(o, "spec.jobTemplate.spec.template.spec.dnsPolicy", "ClusterFirst");
    assert_null(json_object_get(at(o, "spec.jobTemplate.spec.template.spec"), "restartPolicy"));
    json_decref(o);
}

static void test_defaults_fill_core_kinds(void **state)
{
    json_t *o;
    (void)state;
    o = svc("{'ports':[{'port':80},{'name':'b','port':81,'targetPort':'web'}]}");
    api__defaults(K("Service"), o);
    want_s(o, "spec.type", "ClusterIP");
    want_s(o, "spec.sessionAffinity", "None");
    want_s(o, "spec.ports.0.protocol", "TCP");
    want_i(o, "spec.ports.0.targetPort", 80);
    want_s(o, "spec.ports.1.targetPort", "web");
    want_s(o, "spec.internalTrafficPolicy", "Cluster");
    want_s(o, "spec.ipFamilyPolicy", "SingleStack");
    want_s(o, "spec.ipFamilies.0", "IPv4");
    json_decref(o);
    clean("Service", svc("{'clusterIP':'None','selector':{'app':'web'}}")); /* headless */
    o = svc("{'type':'ExternalName','externalName':'example.com'}");
    api__defaults(K("Service"), o);
    assert_null(json_object_get(json_object_get(o, "spec"), "ipFamilies"));
    expect_clean("Service", o, NULL);
    json_decref(o);

    o = J("{'metadata':{'name':'s'}}");
    api__defaults(K("Secret"), o);
    want_s(o, "type", "Opaque");
    json_decref(o);

    /* HPA: minReplicas 1, CPU 80 %, behavior rules filled only when given */
    o = J("{'metadata':{'name':'h'},'spec':{'scaleTargetRef':{'kind':'Deployment','name':'w'},"
          "'maxReplicas':3}}");
    api__defaults(K("HorizontalPodAutoscaler"), o);
    want_i(o, "spec.minReplicas", 1);
    want_s(o, "spec.metrics.0.resource.name", "cpu");
    want_i(o, "spec.metrics.0.resource.target.averageUtilization", 80);
    assert_null(json_object_get(json_object_get(o, "spec"), "behavior"));
    json_decref(o);
    o = J("{'metadata':{'name':'h'},'spec':{'scaleTargetRef':{'kind':'Deployment','name':'w'},"
          "'maxReplicas':3,'behavior':{'scaleDown':{'stabilizationWindowSeconds':60}}}}");
    api__defaults(K("HorizontalPodAutoscaler"), o);
    want_s(o, "spec.behavior.scaleUp.selectPolicy", "Max");
    want_i(o, "spec.behavior.scaleUp.stabilizationWindowSeconds", 0);
    want_s(o, "spec.behavior.scaleUp.policies.0.type", "Pods");
    want_i(o, "spec.behavior.scaleUp.policies.0.value", 4);
    want_i(o, "spec.behavior.scaleUp.policies.1.value", 100);
    want_i(o, "spec.behavior.scaleDown.stabilizationWindowSeconds", 60);
    want_s(o, "spec.behavior.scaleDown.policies.0.type", "Percent");
    want_i(o, "spec.behavior.scaleDown.policies.0.periodSeconds", 15);
    expect_clean("HorizontalPodAutoscaler", o, NULL);
    json_decref(o);

    o = J("{'metadata':{'name':'ns'}}");
    api__defaults(K("Namespace"), o);
    want_s(o, "spec.finalizers.0", "kubernetes");
    want_s(o, "status.phase", "Active");
    json_decref(o);

    o = pod_c("");
    api__defaults(K("Pod"), o);
    want_s(o, "status.phase", "Pending");
    want_s(o, "status.qosClass", "BestEffort");
    want_s(o, "spec.restartPolicy", "Always");
    json_decref(o);

    /* limits alone become requests, which makes the pod Guaranteed */
    o = pod_c("'resources':{'limits':{'cpu':'500m','memory':'128Mi'}}");
    api__defaults(K("Pod"), o);
    want_s(o, "spec.containers.0.resources.requests.cpu", "500m");
    want_s(o, "status.qosClass", "Guaranteed");
    json_decref(o);
    o = pod_c("'resources':{'requests':{'cpu':'0.5'},'limits':{'cpu':'500m','memory':'1Gi'}}");
    api__defaults(K("Pod"), o);
    want_s(o, "status.qosClass", "Guaranteed"); /* 0.5 == 500m */
    json_decref(o);
    o = pod_c("'resources':{'requests':{'cpu':'100m'}}");
    api__defaults(K("Pod"), o);
    want_s(o, "status.qosClass", "Burstable");
    json_decref(o);
    /* an existing status is not touched */
    o = J("{'metadata':{'name':'p'},'spec':{'containers':[]},'status':{'phase':'Running'}}");
    api__defaults(K("Pod"), o);
    want_s(o, "status.phase", "Running");
    assert_null(json_object_get(json_object_get(o, "status"), "qosClass"));
    json_decref(o);

    o = J("{'metadata':{'name':'e'},'subsets':[{'ports':[{'port':80}]}]}");
    api__defaults(K("Endpoints"), o);
    want_s(o, "subsets.0.ports.0.protocol", "TCP");
    json_decref(o);
}

static void test_defaults_leave_wrong_types_and_explicit_values_alone(void **state)
{
    json_t *o = J("{'metadata':{'name':'d'},'spec':{'replicas':'three','strategy':'fast',"
                  "'template':{'spec':{'restartPolicy':'Always','containers':[7,{'name':'c',"
                  "'image':'x','ports':[{'containerPort':80,'protocol':'UDP'}]}]}}}}");
    (void)state;
    api__defaults(K("Deployment"), o);
    want_s(o, "spec.replicas", "three");
    want_s(o, "spec.strategy", "fast");
    want_s(o, "spec.template.spec.containers.1.ports.0.protocol", "UDP");
    json_decref(o);
    o = J("[1,2]");
    api__defaults(K("Pod"), o);
    json_decref(o);
    o = J("{'spec':null,'status':7}");
    api__defaults(K("Pod"), o);
    json_decref(o);
}

/* ---- pieces ---- */

static void test_quantities_compare_exactly(void **state)
{
    api__qty a, b;
    json_t *x;
#define EQ(s1, s2)                                                                                 \
    do {                                                                                           \
        x = json_string(s1);                                                                       \
        assert_null(api__qty_parse(x, &a));                                                        \
        json_decref(x);                                                                            \
        x = json_string(s2);                                                                       \
        assert_null(api__qty_parse(x, &b));                                                        \
        json_decref(x);                                                                            \
        assert_true(a == b);                                                                       \
    } while (0)
    (void)state;
    EQ("500m", "0.5");
    EQ("1Gi", "1024Mi");
    EQ("1e3", "1k");
    EQ("1.5Gi", "1536Mi");
    EQ("100u", "0.0001");
    EQ("+2", "2000m");
    x = json_integer(2);
    assert_null(api__qty_parse(x, &a));
    json_decref(x);
    x = json_real(0.25);
    assert_null(api__qty_parse(x, &b));
    json_decref(x);
    assert_true(a > b);
    x = json_string("abc");
    assert_non_null(api__qty_parse(x, &a));
    json_decref(x);
    x = json_string("1iK");
    assert_string_equal(api__qty_parse(x, &a), "unable to parse quantity's suffix");
    json_decref(x);
    x = json_string("1Ei");
    assert_null(api__qty_parse(x, &a)); /* beyond int64 nano units, still exact */
    json_decref(x);
#undef EQ
}

static void test_cron_accepts_the_standard_forms(void **state)
{
    static const char *const good[] = {"*/5 * * * *",       "0 0 1 JAN-DEC/2 MON-FRI",
                                       "@hourly",           "0 12 * * sun",
                                       "0,30 9-17 * * 1-5", "? * * * *",
                                       "5 4 * * 0",         "0 0 31 dec *",
                                       "@annually",         "1-59/7 0 * * *"};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        char buf[512];
        json_t *o;
        snprintf(buf, sizeof buf,
                 "{'metadata':{'name':'c'},'spec':{'schedule':'%s','jobTemplate':{'spec':{"
                 "'template':{'spec':{'restartPolicy':'Never','containers':[{'name':'c',"
                 "'image':'i'}]}}}}}}",
                 good[i]);
        o = J(buf);
        expect_clean("CronJob", o, NULL);
        json_decref(o);
    }
}

static void test_wrong_types_never_crash(void **state)
{
    static const char *const bodies[] = {
        "{'metadata':7,'spec':[1],'data':'x','subsets':{},'type':3}",
        "{'metadata':{'name':5,'labels':[1],'annotations':{'a':1},'ownerReferences':{}},"
        "'spec':{'containers':{},'selector':'x','template':[],'ports':'y','schedule':5,"
        "'jobTemplate':7,'strategy':{'rollingUpdate':[]},'taints':{},'podCIDR':1}}",
        "{'metadata':{'name':'a'},'spec':{'containers':[null,7,{'ports':[1,null],'env':[3],"
        "'resources':{'limits':[],'requests':{'cpu':{}}},'volumeMounts':['x']}],'volumes':[1],"
        "'template':{'spec':{'containers':[{'livenessProbe':[]}]}},'selector':{'matchLabels':"
        "{'a':1},'matchExpressions':[1,{'values':[1]}]}},'subsets':[1,{'addresses':[2],"
        "'ports':[3]}],'stringData':{'a':1}}",
        "{}",
    };
    size_t i, n, j;
    const struct api_kind *kinds = api_kinds(&n);
    (void)state;
    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        for (j = 0; j < n; j++) {
            json_t *o = J(bodies[i]), *old = J(bodies[(i + 1) % 4]);
            struct api_ferrs fe;
            api__ferrs_init(&fe);
            api__validate(&kinds[j], o, old, &fe);
            api__defaults(&kinds[j], o);
            api__validate(&kinds[j], o, NULL, &fe);
            api__ferrs_close(&fe);
            json_decref(o);
            json_decref(old);
        }
    }
}

static void test_repeated_messages_are_reported_once(void **state)
{
    struct api_ferrs fe;
    json_t *o = J("{'metadata':{'name':'c','labels':{'a':'-x','b':'-x'}}}");
    size_t n;
    (void)state;
    api__ferrs_init(&fe);
    api__ferr_add(&fe, false, "spec.selector", "Required value");
    n = api__validate(K("ConfigMap"), o, NULL, &fe);
    assert_int_equal(n, 1); /* both labels give the same message */
    json_decref(o);
    o = deploy(NULL, NULL, NULL, NULL);
    json_object_del(json_object_get(o, "spec"), "selector");
    n = api__validate(K("Deployment"), o, NULL, &fe);
    assert_false(has_msg(&fe, "spec.selector: Required value: "));
    assert_int_equal(n, 0); /* schema.c's "spec.selector: Required value" is not repeated */
    api__ferrs_close(&fe);
    json_decref(o);
}

static void test_message_builds_the_apiserver_sentence(void **state)
{
    struct api_ferrs fe;
    json_t *o = deploy(NULL, NULL, NULL, "'replicas':-1");
    char *m;
    (void)state;
    api__ferrs_init(&fe);
    json_object_set_new(json_object_get(o, "metadata"), "name", json_string("web"));
    assert_int_equal(api__validate(K("Deployment"), o, NULL, &fe), 1);
    m = api__ferrs_message(&fe, K("Deployment"), "web");
    assert_string_equal(m, "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: "
                           "must be greater than or equal to 0");
    free(m);
    api__ferrs_close(&fe);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_object_of_every_kind_has_no_errors),
        cmocka_unit_test(test_defaulted_objects_stay_valid_and_defaults_are_idempotent),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_annotations_over_256k_are_too_long),
        cmocka_unit_test(test_bad_pod_specs),
        cmocka_unit_test(test_bad_workloads),
        cmocka_unit_test(test_bad_objects_table),
        cmocka_unit_test(test_secret_over_1mib_is_too_long),
        cmocka_unit_test(test_update_immutability),
        cmocka_unit_test(test_defaults_fill_workloads),
        cmocka_unit_test(test_defaults_fill_core_kinds),
        cmocka_unit_test(test_defaults_leave_wrong_types_and_explicit_values_alone),
        cmocka_unit_test(test_quantities_compare_exactly),
        cmocka_unit_test(test_cron_accepts_the_standard_forms),
        cmocka_unit_test(test_wrong_types_never_crash),
        cmocka_unit_test(test_repeated_messages_are_reported_once),
        cmocka_unit_test(test_message_builds_the_apiserver_sentence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
