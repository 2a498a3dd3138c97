/* Kubernetes protobuf bodies → JSON objects.
 *
 * A small generic protobuf wire decoder driven by static per-message tables
 * (field number, JSON name, type, Go shape), plus the hand-written k8s
 * messages whose JSON is not their protobuf shape (Time, MicroTime,
 * Duration, IntOrString, Quantity, FieldsV1). Field numbers come from the
 * generated.proto files of k8s.io/api (core/v1, apps/v1, batch/v1) and
 * k8s.io/apimachinery (meta/v1, util/intstr, api/resource).
 *
 * Why the Go shape matters: the Go protobuf marshaller (gogo) writes every
 * non-pointer field, zero or not, while encoding/json drops zero values of
 * omitempty fields. To produce the JSON kubectl would have sent we drop a
 * zero scalar unless the Go field is a pointer (PTR: present means set) or
 * its tag has no omitempty (REQ). Messages are kept whenever present (a
 * non-pointer struct is never "empty" to encoding/json), and an empty Time
 * is null, as metav1.Time marshals its zero value.
 *
 * Every read is bounds-checked against the enclosing message; nesting is
 * bounded (the tables are not recursive, PROTO_DEPTH_MAX guards anyway). */
#include "api/proto.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROTO_DEPTH_MAX 32
#define PROTO_PATH_MAX  200

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

enum pf_type {
    T_STRING,
    T_BYTES,
    T_INT32,
    T_INT64,
    T_BOOL,
    T_MSG,       /* nested message → JSON object */
    T_INLINE,    /* Go embedded struct: its fields land in the enclosing object */
    T_TIME,      /* metav1.Time → RFC3339, null when empty */
    T_MICROTIME, /* metav1.MicroTime → RFC3339 with microseconds */
    T_DURATION,  /* metav1.Duration → Go duration string */
    T_INTORSTR,  /* intstr.IntOrString → JSON integer or string */
    T_QUANTITY,  /* resource.Quantity → its string */
    T_RAWJSON,   /* metav1.FieldsV1 {bytes Raw = 1} holding JSON */
    T_MAP_STRING,
    T_MAP_BYTES,
    T_MAP_QUANTITY,
};

#define REP 0x1 /* repeated */
#define PTR 0x2 /* Go pointer: kept when present, even if zero */
#define REQ 0x4 /* JSON tag without omitempty: zero values are kept */

struct pb_msg;

struct pb_field {
    uint32_t num;
    uint8_t type;
    uint8_t flags;
    const char *name;
    const struct pb_msg *msg; /* T_MSG, T_INLINE */
};

struct pb_msg {
    const struct pb_field *fields;
    size_t n;
};

#define MSG(var, ...)                                                                              \
    static const struct pb_field var##_fields[] = {__VA_ARGS__};                                   \
    static const struct pb_msg var = {var##_fields, sizeof var##_fields / sizeof var##_fields[0]}

/* Field shorthands: suffix P = Go pointer, R = required (no omitempty), S = repeated.
 * Kept one per line: clang-format would spread each over four. */
/* clang-format off */
#define STR(n, name)     {n, T_STRING, 0, name, NULL}
#define STRP(n, name)    {n, T_STRING, PTR, name, NULL}
#define STRR(n, name)    {n, T_STRING, REQ, name, NULL}
#define STRS(n, name)    {n, T_STRING, REP, name, NULL}
#define I32(n, name)     {n, T_INT32, 0, name, NULL}
#define I32P(n, name)    {n, T_INT32, PTR, name, NULL}
#define I32R(n, name)    {n, T_INT32, REQ, name, NULL}
#define I32S(n, name)    {n, T_INT32, REP, name, NULL}
#define I64(n, name)     {n, T_INT64, 0, name, NULL}
#define I64P(n, name)    {n, T_INT64, PTR, name, NULL}
#define I64S(n, name)    {n, T_INT64, REP, name, NULL}
#define BOOL(n, name)    {n, T_BOOL, 0, name, NULL}
#define BOOLP(n, name)   {n, T_BOOL, PTR, name, NULL}
#define SUB(n, name, m)  {n, T_MSG, 0, name, &m}
#define SUBS(n, name, m) {n, T_MSG, REP, name, &m}
#define INL(n, m)        {n, T_INLINE, 0, "", &m}
#define TIME(n, name)    {n, T_TIME, 0, name, NULL}
#define MTIME(n, name)   {n, T_MICROTIME, 0, name, NULL}
#define DUR(n, name)     {n, T_DURATION, 0, name, NULL}
#define IOS(n, name)     {n, T_INTORSTR, 0, name, NULL}
#define QTY(n, name)     {n, T_QUANTITY, 0, name, NULL}
#define RAWJ(n, name)    {n, T_RAWJSON, 0, name, NULL}
#define MAP_S(n, name)   {n, T_MAP_STRING, 0, name, NULL}
#define MAP_B(n, name)   {n, T_MAP_BYTES, 0, name, NULL}
#define MAP_Q(n, name)   {n, T_MAP_QUANTITY, 0, name, NULL}
/* clang-format on */

/* ---- k8s.io/apimachinery pkg/apis/meta/v1 ---- */

MSG(m_managed_fields, STR(1, "manager"), STR(2, "operation"), STR(3, "apiVersion"), TIME(4, "time"),
    STR(6, "fieldsType"), RAWJ(7, "fieldsV1"), STR(8, "subresource"));
MSG(m_owner_ref, STRR(5, "apiVersion"), STRR(1, "kind"), STRR(3, "name"), STRR(4, "uid"),
    BOOLP(6, "controller"), BOOLP(7, "blockOwnerDeletion"));
MSG(m_object_meta, STR(1, "name"), STR(2, "generateName"), STR(3, "namespace"), STR(4, "selfLink"),
    STR(5, "uid"), STR(6, "resourceVersion"), I64(7, "generation"), TIME(8, "creationTimestamp"),
    TIME(9, "deletionTimestamp"), I64P(10, "deletionGracePeriodSeconds"), MAP_S(11, "labels"),
    MAP_S(12, "annotations"), SUBS(13, "ownerReferences", m_owner_ref), STRS(14, "finalizers"),
    SUBS(17, "managedFields", m_managed_fields));
MSG(m_label_req, STRR(1, "key"), STRR(2, "operator"), STRS(3, "values"));
MSG(m_label_selector, MAP_S(1, "matchLabels"), SUBS(2, "matchExpressions", m_label_req));
MSG(m_condition, STRR(1, "type"), STRR(2, "status"), I64(3, "observedGeneration"),
    TIME(4, "lastTransitionTime"), STRR(5, "reason"), STRR(6, "message"));

/* ---- k8s.io/api core/v1: references and selectors ---- */

MSG(m_local_ref, STR(1, "name"));
MSG(m_object_ref, STR(1, "kind"), STR(2, "namespace"), STR(3, "name"), STR(4, "uid"),
    STR(5, "apiVersion"), STR(6, "resourceVersion"), STR(7, "fieldPath"));
MSG(m_key_to_path, STRR(1, "key"), STRR(2, "path"), I32P(3, "mode"));
MSG(m_object_field_sel, STR(1, "apiVersion"), STRR(2, "fieldPath"));
MSG(m_resource_field_sel, STR(1, "containerName"), STRR(2, "resource"), QTY(3, "divisor"));
MSG(m_cm_key_sel, INL(1, m_local_ref), STRR(2, "key"), BOOLP(3, "optional"));
MSG(m_secret_key_sel, INL(1, m_local_ref), STRR(2, "key"), BOOLP(3, "optional"));

/* ---- core/v1: containers ---- */

MSG(m_env_var_source, SUB(1, "fieldRef", m_object_field_sel),
    SUB(2, "resourceFieldRef", m_resource_field_sel), SUB(3, "configMapKeyRef", m_cm_key_sel),
    SUB(4, "secretKeyRef", m_secret_key_sel));
MSG(m_env_var, STRR(1, "name"), STR(2, "value"), SUB(3, "valueFrom", m_env_var_source));
MSG(m_cm_env_source, INL(1, m_local_ref), BOOLP(2, "optional"));
MSG(m_secret_env_source, INL(1, m_local_ref), BOOLP(2, "optional"));
MSG(m_env_from, STR(1, "prefix"), SUB(2, "configMapRef", m_cm_env_source),
    SUB(3, "secretRef", m_secret_env_source));
MSG(m_container_port, STR(1, "name"), I32(2, "hostPort"), I32R(3, "containerPort"),
    STR(4, "protocol"), STR(5, "hostIP"));
MSG(m_resources, MAP_Q(1, "limits"), MAP_Q(2, "requests"));
MSG(m_volume_mount, STRR(1, "name"), BOOL(2, "readOnly"), STRR(3, "mountPath"), STR(4, "subPath"),
    STRP(5, "mountPropagation"), STR(6, "subPathExpr"));
MSG(m_volume_device, STRR(1, "name"), STRR(2, "devicePath"));
MSG(m_exec, STRS(1, "command"));
MSG(m_http_header, STRR(1, "name"), STRR(2, "value"));
MSG(m_http_get, STR(1, "path"), IOS(2, "port"), STR(3, "host"), STR(4, "scheme"),
    SUBS(5, "httpHeaders", m_http_header));
MSG(m_tcp_socket, IOS(1, "port"), STR(2, "host"));
MSG(m_grpc, I32R(1, "port"), STRP(2, "service"));
/* ProbeHandler is embedded in Probe (inline in JSON, field 1 in protobuf) */
MSG(m_probe_handler, SUB(1, "exec", m_exec), SUB(2, "httpGet", m_http_get),
    SUB(3, "tcpSocket", m_tcp_socket), SUB(4, "grpc", m_grpc));
MSG(m_probe, INL(1, m_probe_handler), I32(2, "initialDelaySeconds"), I32(3, "timeoutSeconds"),
    I32(4, "periodSeconds"), I32(5, "successThreshold"), I32(6, "failureThreshold"),
    I64P(7, "terminationGracePeriodSeconds"));
MSG(m_lifecycle_handler, SUB(1, "exec", m_exec), SUB(2, "httpGet", m_http_get),
    SUB(3, "tcpSocket", m_tcp_socket));
MSG(m_lifecycle, SUB(1, "postStart", m_lifecycle_handler), SUB(2, "preStop", m_lifecycle_handler));
MSG(m_capabilities, STRS(1, "add"), STRS(2, "drop"));
MSG(m_selinux, STR(1, "user"), STR(2, "role"), STR(3, "type"), STR(4, "level"));
MSG(m_seccomp, STRR(1, "type"), STRP(2, "localhostProfile"));
MSG(m_security_context, SUB(1, "capabilities", m_capabilities), BOOLP(2, "privileged"),
    SUB(3, "seLinuxOptions", m_selinux), I64P(4, "runAsUser"), BOOLP(5, "runAsNonRoot"),
    BOOLP(6, "readOnlyRootFilesystem"), BOOLP(7, "allowPrivilegeEscalation"), I64P(8, "runAsGroup"),
    STRP(9, "procMount"), SUB(11, "seccompProfile", m_seccomp));
MSG(m_container, STRR(1, "name"), STR(2, "image"), STRS(3, "command"), STRS(4, "args"),
    STR(5, "workingDir"), SUBS(6, "ports", m_container_port), SUBS(19, "envFrom", m_env_from),
    SUBS(7, "env", m_env_var), SUB(8, "resources", m_resources),
    SUBS(9, "volumeMounts", m_volume_mount), SUBS(21, "volumeDevices", m_volume_device),
    SUB(10, "livenessProbe", m_probe), SUB(11, "readinessProbe", m_probe),
    SUB(22, "startupProbe", m_probe), SUB(12, "lifecycle", m_lifecycle),
    STR(13, "terminationMessagePath"), STR(20, "terminationMessagePolicy"),
    STR(14, "imagePullPolicy"), SUB(15, "securityContext", m_security_context), BOOL(16, "stdin"),
    BOOL(17, "stdinOnce"), BOOL(18, "tty"), STRP(24, "restartPolicy"));

/* ---- core/v1: volumes ---- */

MSG(m_host_path, STRR(1, "path"), STRP(2, "type"));
MSG(m_empty_dir, STR(1, "medium"), QTY(2, "sizeLimit"));
MSG(m_secret_volume, STR(1, "secretName"), SUBS(2, "items", m_key_to_path), I32P(3, "defaultMode"),
    BOOLP(4, "optional"));
MSG(m_cm_volume, INL(1, m_local_ref), SUBS(2, "items", m_key_to_path), I32P(3, "defaultMode"),
    BOOLP(4, "optional"));
MSG(m_pvc_volume, STRR(1, "claimName"), BOOL(2, "readOnly"));
MSG(m_nfs_volume, STRR(1, "server"), STRR(2, "path"), BOOL(3, "readOnly"));
MSG(m_downward_file, STRR(1, "path"), SUB(2, "fieldRef", m_object_field_sel),
    SUB(3, "resourceFieldRef", m_resource_field_sel), I32P(4, "mode"));
MSG(m_downward_volume, SUBS(1, "items", m_downward_file), I32P(2, "defaultMode"));
MSG(m_downward_proj, SUBS(1, "items", m_downward_file));
MSG(m_secret_proj, INL(1, m_local_ref), SUBS(2, "items", m_key_to_path), BOOLP(4, "optional"));
MSG(m_cm_proj, INL(1, m_local_ref), SUBS(2, "items", m_key_to_path), BOOLP(4, "optional"));
MSG(m_sa_token_proj, STR(1, "audience"), I64P(2, "expirationSeconds"), STRR(3, "path"));
MSG(m_volume_proj, SUB(1, "secret", m_secret_proj), SUB(2, "downwardAPI", m_downward_proj),
    SUB(3, "configMap", m_cm_proj), SUB(4, "serviceAccountToken", m_sa_token_proj));
MSG(m_projected_volume, SUBS(1, "sources", m_volume_proj), I32P(2, "defaultMode"));
/* VolumeSource is embedded in Volume (inline in JSON, field 2 in protobuf) */
MSG(m_volume_source, SUB(1, "hostPath", m_host_path), SUB(2, "emptyDir", m_empty_dir),
    SUB(6, "secret", m_secret_volume), SUB(7, "nfs", m_nfs_volume),
    SUB(10, "persistentVolumeClaim", m_pvc_volume), SUB(16, "downwardAPI", m_downward_volume),
    SUB(19, "configMap", m_cm_volume), SUB(26, "projected", m_projected_volume));
MSG(m_volume, STRR(1, "name"), INL(2, m_volume_source));

/* ---- core/v1: pods ---- */

MSG(m_toleration, STR(1, "key"), STR(2, "operator"), STR(3, "value"), STR(4, "effect"),
    I64P(5, "tolerationSeconds"));
MSG(m_sysctl, STRR(1, "name"), STRR(2, "value"));
MSG(m_pod_security_context, SUB(1, "seLinuxOptions", m_selinux), I64P(2, "runAsUser"),
    BOOLP(3, "runAsNonRoot"), I64S(4, "supplementalGroups"), I64P(5, "fsGroup"),
    I64P(6, "runAsGroup"), SUBS(7, "sysctls", m_sysctl), STRP(9, "fsGroupChangePolicy"),
    SUB(10, "seccompProfile", m_seccomp));
MSG(m_host_alias, STR(1, "ip"), STRS(2, "hostnames"));
MSG(m_dns_option, STR(1, "name"), STRP(2, "value"));
MSG(m_dns_config, STRS(1, "nameservers"), STRS(2, "searches"), SUBS(3, "options", m_dns_option));
MSG(m_readiness_gate, STRR(1, "conditionType"));
MSG(m_spread, I32R(1, "maxSkew"), STRR(2, "topologyKey"), STRR(3, "whenUnsatisfiable"),
    SUB(4, "labelSelector", m_label_selector));
MSG(m_pod_spec, SUBS(1, "volumes", m_volume), SUBS(20, "initContainers", m_container),
    SUBS(2, "containers", m_container), STR(3, "restartPolicy"),
    I64P(4, "terminationGracePeriodSeconds"), I64P(5, "activeDeadlineSeconds"), STR(6, "dnsPolicy"),
    MAP_S(7, "nodeSelector"), STR(8, "serviceAccountName"), STR(9, "serviceAccount"),
    BOOLP(21, "automountServiceAccountToken"), STR(10, "nodeName"), BOOL(11, "hostNetwork"),
    BOOL(12, "hostPID"), BOOL(13, "hostIPC"), BOOLP(27, "shareProcessNamespace"),
    SUB(14, "securityContext", m_pod_security_context), SUBS(15, "imagePullSecrets", m_local_ref),
    STR(16, "hostname"), STR(17, "subdomain"), STR(19, "schedulerName"),
    SUBS(22, "tolerations", m_toleration), SUBS(23, "hostAliases", m_host_alias),
    STR(24, "priorityClassName"), I32P(25, "priority"), SUB(26, "dnsConfig", m_dns_config),
    SUBS(28, "readinessGates", m_readiness_gate), STRP(29, "runtimeClassName"),
    BOOLP(30, "enableServiceLinks"), STRP(31, "preemptionPolicy"), MAP_Q(32, "overhead"),
    SUBS(33, "topologySpreadConstraints", m_spread), BOOLP(35, "setHostnameAsFQDN"));
MSG(m_pod_template_spec, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_pod_spec));
MSG(m_pod_condition, STRR(1, "type"), STRR(2, "status"), TIME(3, "lastProbeTime"),
    TIME(4, "lastTransitionTime"), STR(5, "reason"), STR(6, "message"));
MSG(m_pod_ip, STR(1, "ip"));
MSG(m_pod_status, STR(1, "phase"), SUBS(2, "conditions", m_pod_condition), STR(3, "message"),
    STR(4, "reason"), STR(11, "nominatedNodeName"), STR(5, "hostIP"), STR(6, "podIP"),
    SUBS(12, "podIPs", m_pod_ip), TIME(7, "startTime"), STR(9, "qosClass"));
MSG(m_pod, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_pod_spec),
    SUB(3, "status", m_pod_status));

/* ---- core/v1: ConfigMap, Secret, Namespace, Service ---- */

MSG(m_configmap, SUB(1, "metadata", m_object_meta), BOOLP(4, "immutable"), MAP_S(2, "data"),
    MAP_B(3, "binaryData"));
MSG(m_secret, SUB(1, "metadata", m_object_meta), BOOLP(5, "immutable"), MAP_B(2, "data"),
    MAP_S(4, "stringData"), STR(3, "type"));
MSG(m_namespace_spec, STRS(1, "finalizers"));
MSG(m_namespace_condition, STRR(1, "type"), STRR(2, "status"), TIME(4, "lastTransitionTime"),
    STR(5, "reason"), STR(6, "message"));
MSG(m_namespace_status, STR(1, "phase"), SUBS(2, "conditions", m_namespace_condition));
MSG(m_namespace, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_namespace_spec),
    SUB(3, "status", m_namespace_status));
MSG(m_service_port, STR(1, "name"), STR(2, "protocol"), STRP(6, "appProtocol"), I32R(3, "port"),
    IOS(4, "targetPort"), I32(5, "nodePort"));
MSG(m_client_ip_config, I32P(1, "timeoutSeconds"));
MSG(m_session_affinity_config, SUB(1, "clientIP", m_client_ip_config));
MSG(m_service_spec, SUBS(1, "ports", m_service_port), MAP_S(2, "selector"), STR(3, "clusterIP"),
    STRS(18, "clusterIPs"), STR(4, "type"), STRS(5, "externalIPs"), STR(7, "sessionAffinity"),
    STR(8, "loadBalancerIP"), STRS(9, "loadBalancerSourceRanges"), STR(10, "externalName"),
    STR(11, "externalTrafficPolicy"), I32(12, "healthCheckNodePort"),
    BOOL(13, "publishNotReadyAddresses"),
    SUB(14, "sessionAffinityConfig", m_session_affinity_config), STRS(19, "ipFamilies"),
    STRP(17, "ipFamilyPolicy"), BOOLP(20, "allocateLoadBalancerNodePorts"),
    STRP(21, "loadBalancerClass"), STRP(22, "internalTrafficPolicy"));
MSG(m_lb_ingress, STR(1, "ip"), STR(2, "hostname"));
MSG(m_lb_status, SUBS(1, "ingress", m_lb_ingress));
MSG(m_service_status, SUB(1, "loadBalancer", m_lb_status), SUBS(2, "conditions", m_condition));
MSG(m_service, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_service_spec),
    SUB(3, "status", m_service_status));

/* ---- apps/v1 ---- */

MSG(m_rolling_update, IOS(1, "maxUnavailable"), IOS(2, "maxSurge"));
MSG(m_deploy_strategy, STR(1, "type"), SUB(2, "rollingUpdate", m_rolling_update));
MSG(m_deploy_spec, I32P(1, "replicas"), SUB(2, "selector", m_label_selector),
    SUB(3, "template", m_pod_template_spec), SUB(4, "strategy", m_deploy_strategy),
    I32(5, "minReadySeconds"), I32P(6, "revisionHistoryLimit"), BOOL(7, "paused"),
    I32P(9, "progressDeadlineSeconds"));
MSG(m_deploy_condition, STRR(1, "type"), STRR(2, "status"), TIME(6, "lastUpdateTime"),
    TIME(7, "lastTransitionTime"), STR(4, "reason"), STR(5, "message"));
MSG(m_deploy_status, I64(1, "observedGeneration"), I32(2, "replicas"), I32(3, "updatedReplicas"),
    I32(7, "readyReplicas"), I32(4, "availableReplicas"), I32(5, "unavailableReplicas"),
    I32P(9, "terminatingReplicas"), SUBS(6, "conditions", m_deploy_condition),
    I32P(8, "collisionCount"));
MSG(m_deployment, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_deploy_spec),
    SUB(3, "status", m_deploy_status));
MSG(m_rs_spec, I32P(1, "replicas"), I32(4, "minReadySeconds"), SUB(2, "selector", m_label_selector),
    SUB(3, "template", m_pod_template_spec));
MSG(m_rs_condition, STRR(1, "type"), STRR(2, "status"), TIME(3, "lastTransitionTime"),
    STR(4, "reason"), STR(5, "message"));
MSG(m_rs_status, I32R(1, "replicas"), I32(2, "fullyLabeledReplicas"), I32(4, "readyReplicas"),
    I32(5, "availableReplicas"), I32P(7, "terminatingReplicas"), I64(3, "observedGeneration"),
    SUBS(6, "conditions", m_rs_condition));
MSG(m_replicaset, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_rs_spec),
    SUB(3, "status", m_rs_status));

/* ---- batch/v1 ---- */

MSG(m_exit_codes_req, STRP(1, "containerName"), STRR(2, "operator"), I32S(3, "values"));
MSG(m_pod_conditions_pattern, STRR(1, "type"), STRR(2, "status"));
MSG(m_pod_failure_rule, STRR(1, "action"), SUB(2, "onExitCodes", m_exit_codes_req),
    SUBS(3, "onPodConditions", m_pod_conditions_pattern));
MSG(m_pod_failure_policy, SUBS(1, "rules", m_pod_failure_rule));
MSG(m_success_rule, STRP(1, "succeededIndexes"), I32P(2, "succeededCount"));
MSG(m_success_policy, SUBS(1, "rules", m_success_rule));
MSG(m_job_spec, I32P(1, "parallelism"), I32P(2, "completions"), I64P(3, "activeDeadlineSeconds"),
    SUB(11, "podFailurePolicy", m_pod_failure_policy), SUB(16, "successPolicy", m_success_policy),
    I32P(7, "backoffLimit"), I32P(12, "backoffLimitPerIndex"), I32P(13, "maxFailedIndexes"),
    SUB(4, "selector", m_label_selector), BOOLP(5, "manualSelector"),
    SUB(6, "template", m_pod_template_spec), I32P(8, "ttlSecondsAfterFinished"),
    STRP(9, "completionMode"), BOOLP(10, "suspend"), STRP(14, "podReplacementPolicy"),
    STRP(15, "managedBy"));
MSG(m_job_condition, STRR(1, "type"), STRR(2, "status"), TIME(3, "lastProbeTime"),
    TIME(4, "lastTransitionTime"), STR(5, "reason"), STR(6, "message"));
MSG(m_uncounted, STRS(1, "succeeded"), STRS(2, "failed"));
MSG(m_job_status, SUBS(1, "conditions", m_job_condition), TIME(2, "startTime"),
    TIME(3, "completionTime"), I32(4, "active"), I32(5, "succeeded"), I32(6, "failed"),
    I32P(11, "terminating"), STR(7, "completedIndexes"), STRP(10, "failedIndexes"),
    SUB(8, "uncountedTerminatedPods", m_uncounted), I32P(9, "ready"));
MSG(m_job, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_job_spec),
    SUB(3, "status", m_job_status));
MSG(m_job_template, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_job_spec));
MSG(m_cronjob_spec, STRR(1, "schedule"), STRP(8, "timeZone"), I64P(2, "startingDeadlineSeconds"),
    STR(3, "concurrencyPolicy"), BOOLP(4, "suspend"), SUB(5, "jobTemplate", m_job_template),
    I32P(6, "successfulJobsHistoryLimit"), I32P(7, "failedJobsHistoryLimit"));
MSG(m_cronjob_status, SUBS(1, "active", m_object_ref), TIME(4, "lastScheduleTime"),
    TIME(5, "lastSuccessfulTime"));
MSG(m_cronjob, SUB(1, "metadata", m_object_meta), SUB(2, "spec", m_cronjob_spec),
    SUB(3, "status", m_cronjob_status));

static const struct {
    const char *api_version;
    const char *kind;
    const struct pb_msg *msg;
} proto_kinds[] = {
    {"v1", "ConfigMap", &m_configmap},
    {"v1", "Secret", &m_secret},
    {"v1", "Namespace", &m_namespace},
    {"v1", "Service", &m_service},
    {"v1", "Pod", &m_pod},
    {"apps/v1", "Deployment", &m_deployment},
    {"apps/v1", "ReplicaSet", &m_replicaset},
    {"batch/v1", "Job", &m_job},
    {"batch/v1", "CronJob", &m_cronjob},
};

/* ---- decoder state, paths and errors ---- */

struct dec {
    struct err *e;
    int depth;
    size_t plen;
    char path[PROTO_PATH_MAX]; /* JSON path of the field being decoded, for errors */
};

struct rd {
    const uint8_t *p;
    const uint8_t *end;
};

static int fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct dec *d, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (d->plen == 0)
        return err_setf(d->e, ERR_INVALID, "protobuf body: %s", why);
    return err_setf(d->e, ERR_INVALID, "protobuf body: %s: %s", d->path, why);
}

static int nomem(struct dec *d)
{
    return err_setf(d->e, ERR_NOMEM, "protobuf body: out of memory");
}

/* Appends ".name" (or "[i]" with name NULL); returns the mark to pop back to.
 * A path longer than the buffer is cut: it only feeds error messages. */
static size_t path_push(struct dec *d, const char *name, size_t index)
{
    size_t mark = d->plen, room = sizeof d->path - d->plen;
    int n;
    if (name != NULL)
        n = snprintf(d->path + d->plen, room, "%s%s", d->plen > 0 ? "." : "", name);
    else
        n = snprintf(d->path + d->plen, room, "[%zu]", index);
    if (n > 0)
        d->plen += (size_t)n < room ? (size_t)n : room - 1;
    return mark;
}

static void path_pop(struct dec *d, size_t mark)
{
    d->plen = mark;
    d->path[mark] = '\0';
}

static const char *wire_name(unsigned wt)
{
    switch (wt) {
    case WIRE_VARINT:
        return "varint";
    case WIRE_I64:
        return "fixed64";
    case WIRE_LEN:
        return "length-delimited";
    case WIRE_I32:
        return "fixed32";
    case 3:
        return "start group";
    case 4:
        return "end group";
    default:
        return "invalid";
    }
}

static int wrong_wire(struct dec *d, unsigned got, unsigned want)
{
    return fail(d, "wrong wire type %u (%s), want %s", got, wire_name(got), wire_name(want));
}

/* ---- wire reading ---- */

/* Go's decoder accepts up to 10 bytes and drops bits past 64; so do we. */
static int rd_varint(struct dec *d, struct rd *r, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift;
    *out = 0; /* callers may read it after an error path the compiler cannot follow */
    for (shift = 0; shift < 70; shift += 7) {
        uint8_t b;
        if (r->p >= r->end)
            return fail(d, "truncated varint");
        b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *out = v;
            return 0;
        }
    }
    return fail(d, "varint longer than 10 bytes");
}

static int rd_bytes(struct dec *d, struct rd *r, const uint8_t **p, size_t *n)
{
    uint64_t len;
    int rv = rd_varint(d, r, &len);
    if (rv != 0)
        return rv;
    if (len > (uint64_t)(r->end - r->p))
        return fail(d, "truncated: length %llu overruns the enclosing message",
                    (unsigned long long)len);
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

static int rd_tag(struct dec *d, struct rd *r, uint32_t *num, unsigned *wt)
{
    uint64_t tag;
    int rv = rd_varint(d, r, &tag);
    if (rv != 0)
        return rv;
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return fail(d, "invalid field number %llu", (unsigned long long)(tag >> 3));
    *num = (uint32_t)(tag >> 3);
    *wt = (unsigned)(tag & 7);
    return 0;
}

static int rd_skip(struct dec *d, struct rd *r, unsigned wt)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    uint64_t v = 0;
    switch (wt) {
    case WIRE_VARINT:
        return rd_varint(d, r, &v);
    case WIRE_LEN:
        return rd_bytes(d, r, &p, &n);
    case WIRE_I64:
    case WIRE_I32:
        n = wt == WIRE_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return fail(d, "truncated %s", wire_name(wt));
        r->p += n;
        return 0;
    default:
        /* groups (3, 4) are deprecated and never used by Kubernetes */
        return fail(d, "unsupported wire type %u", wt);
    }
}

/* ---- values ---- */

/* Strict UTF-8 (no overlongs, surrogates or > U+10FFFF) and no NUL: jansson
 * would refuse the first, and JSON bodies cannot carry the second either. */
static bool text_ok(const uint8_t *s, size_t n)
{
    size_t i = 0, k, len;
    uint32_t cp;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static int text_json(struct dec *d, const uint8_t *p, size_t n, json_t **out)
{
    if (!text_ok(p, n))
        return fail(d, "string is not valid UTF-8 or contains NUL");
    *out = json_stringn_nocheck((const char *)p, n);
    return *out == NULL ? nomem(d) : 0;
}

/* []byte as encoding/json writes it: standard base64 with padding */
static int base64_json(struct dec *d, const uint8_t *p, size_t n, json_t **out)
{
    unsigned char *buf;
    int len;
    if (n > (size_t)INT_MAX / 4 * 3 - 3)
        return fail(d, "bytes value too large");
    buf = malloc(4 * ((n + 2) / 3) + 1);
    if (buf == NULL)
        return nomem(d);
    len = EVP_EncodeBlock(buf, n > 0 ? p : (const unsigned char *)"", (int)n);
    *out = json_stringn_nocheck((const char *)buf, (size_t)len);
    free(buf);
    return *out == NULL ? nomem(d) : 0;
}

/* Howard Hinnant's days-to-civil: proleptic Gregorian date of a day count
 * since 1970-01-01, valid for the whole int64 range we allow. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *dd)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *dd = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* metav1.Time / MicroTime {seconds = 1, nanos = 2}. Empty means the zero
 * time, which both marshal as null. Time keeps whole seconds (RFC3339),
 * MicroTime six fraction digits, both in UTC as their MarshalJSON does. */
static int time_json(struct dec *d, const uint8_t *p, size_t n, bool micro, json_t **out)
{
    struct rd r = {p, p + n};
    int64_t sec = 0, nsec = 0, days, rem, year;
    unsigned month, mday, wt = 0;
    uint32_t num = 0;
    uint64_t v;
    char buf[64];
    int rv;

    if (n == 0) {
        *out = json_null();
        return 0;
    }
    while (r.p < r.end) {
        if ((rv = rd_tag(d, &r, &num, &wt)) != 0)
            return rv;
        if (num != 1 && num != 2) {
            if ((rv = rd_skip(d, &r, wt)) != 0)
                return rv;
            continue;
        }
        if (wt != WIRE_VARINT)
            return wrong_wire(d, wt, WIRE_VARINT);
        if ((rv = rd_varint(d, &r, &v)) != 0)
            return rv;
        if (num == 1)
            sec = (int64_t)v;
        else
            nsec = (int32_t)(uint32_t)v;
    }
    /* time.Unix normalises nanos outside [0, 1e9) into the seconds */
    if (nsec < 0 || nsec >= 1000000000) {
        int64_t carry = nsec / 1000000000;
        nsec -= carry * 1000000000;
        if (nsec < 0) {
            nsec += 1000000000;
            carry--;
        }
        if ((carry > 0 && sec > INT64_MAX - carry) || (carry < 0 && sec < INT64_MIN - carry))
            return fail(d, "time out of range");
        sec += carry;
    }
    /* 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as the proto comment says */
    if (sec < -62135596800LL || sec > 253402300799LL)
        return fail(d, "time out of range (seconds %lld)", (long long)sec);
    days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    rem = sec - days * 86400;
    civil_from_days(days, &year, &month, &mday);
    if (micro)
        snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", (long long)year,
                 month, mday, (long long)(rem / 3600), (long long)(rem / 60 % 60),
                 (long long)(rem % 60), (long long)(nsec / 1000));
    else
        snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", (long long)year, month,
                 mday, (long long)(rem / 3600), (long long)(rem / 60 % 60), (long long)(rem % 60));
    *out = json_string(buf);
    return *out == NULL ? nomem(d) : 0;
}

/* Writes v/10^prec's fraction (".25", trailing zeros and the point dropped
 * when zero) right-aligned ending at buf[w]; Go's time.fmtFrac. */
static size_t fmt_frac(char *buf, size_t w, uint64_t *v, int prec)
{
    bool print = false;
    int i;
    for (i = 0; i < prec; i++) {
        unsigned digit = (unsigned)(*v % 10);
        print = print || digit != 0;
        if (print)
            buf[--w] = (char)('0' + digit);
        *v /= 10;
    }
    if (print)
        buf[--w] = '.';
    return w;
}

static size_t fmt_uint(char *buf, size_t w, uint64_t v)
{
    do {
        buf[--w] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    return w;
}

/* metav1.Duration marshals as time.Duration.String(): "1h2m3.5s", "1.5ms" */
static void go_duration(int64_t dur, char out[48])
{
    char buf[40];
    size_t w = sizeof buf;
    uint64_t u = dur < 0 ? 0 - (uint64_t)dur : (uint64_t)dur;
    if (u < 1000000000ULL) {
        int prec = 0;
        buf[--w] = 's';
        if (u == 0) {
            buf[--w] = '0';
        } else {
            if (u < 1000ULL) {
                buf[--w] = 'n';
            } else if (u < 1000000ULL) {
                prec = 3;
                buf[--w] = (char)0xb5; /* U+00B5 micro sign, as Go writes it */
                buf[--w] = (char)0xc2;
            } else {
                prec = 6;
                buf[--w] = 'm';
            }
            w = fmt_frac(buf, w, &u, prec);
            w = fmt_uint(buf, w, u);
        }
    } else {
        buf[--w] = 's';
        w = fmt_frac(buf, w, &u, 9);
        w = fmt_uint(buf, w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            w = fmt_uint(buf, w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                w = fmt_uint(buf, w, u);
            }
        }
    }
    if (dur < 0)
        buf[--w] = '-';
    memcpy(out, buf + w, sizeof buf - w);
    out[sizeof buf - w] = '\0';
}

/* A field of a small fixed-shape message (envelope, map entry, Time,
 * IntOrString, ...): varint or length-delimited. mini_decode fills val or
 * p/n with the last occurrence (protobuf: last one wins) and sets seen;
 * fields not listed are skipped. */
struct mini_field {
    uint32_t num;
    bool is_len;
    bool seen;
    uint64_t val;
    const uint8_t *p;
    size_t n;
};

static int mini_decode(struct dec *d, const uint8_t *p, size_t n, struct mini_field *f, size_t nf)
{
    struct rd r = {p, p + n};
    uint32_t num = 0;
    unsigned wt = 0;
    size_t i;
    int rv;
    while (r.p < r.end) {
        if ((rv = rd_tag(d, &r, &num, &wt)) != 0)
            return rv;
        for (i = 0; i < nf && f[i].num != num; i++)
            ;
        if (i == nf) {
            if ((rv = rd_skip(d, &r, wt)) != 0)
                return rv;
            continue;
        }
        if (wt != (f[i].is_len ? WIRE_LEN : WIRE_VARINT))
            return wrong_wire(d, wt, f[i].is_len ? WIRE_LEN : WIRE_VARINT);
        rv = f[i].is_len ? rd_bytes(d, &r, &f[i].p, &f[i].n) : rd_varint(d, &r, &f[i].val);
        if (rv != 0)
            return rv;
        f[i].seen = true;
    }
    return 0;
}

/* intstr.IntOrString {type = 1 (0 int, 1 string), intVal = 2, strVal = 3} */
static int intorstr_json(struct dec *d, const uint8_t *p, size_t n, json_t **out)
{
    struct mini_field f[] = {
        {1, false, false, 0, NULL, 0}, {2, false, false, 0, NULL, 0}, {3, true, false, 0, NULL, 0}};
    int rv = mini_decode(d, p, n, f, 3);
    if (rv != 0)
        return rv;
    if (f[0].val == 0) {
        *out = json_integer((int32_t)(uint32_t)f[1].val);
        return *out == NULL ? nomem(d) : 0;
    }
    if (f[0].val == 1)
        return text_json(d, f[2].seen ? f[2].p : (const uint8_t *)"", f[2].n, out);
    return fail(d, "invalid IntOrString type %llu", (unsigned long long)f[0].val);
}

/* resource.Quantity {string = 1}; without it the zero Quantity, "0". The
 * string is passed on as written: validation parses it like a JSON one. */
static int quantity_json(struct dec *d, const uint8_t *p, size_t n, json_t **out)
{
    struct mini_field f[] = {{1, true, false, 0, NULL, 0}};
    int rv = mini_decode(d, p, n, f, 1);
    if (rv != 0)
        return rv;
    if (!f[0].seen) {
        *out = json_string("0");
        return *out == NULL ? nomem(d) : 0;
    }
    if (f[0].n == 0)
        return fail(d, "quantity: empty string");
    return text_json(d, f[0].p, f[0].n, out);
}

static int duration_json(struct dec *d, const uint8_t *p, size_t n, json_t **out)
{
    struct mini_field f[] = {{1, false, false, 0, NULL, 0}};
    char buf[48];
    int rv = mini_decode(d, p, n, f, 1);
    if (rv != 0)
        return rv;
    go_duration((int64_t)f[0].val, buf);
    *out = json_string(buf);
    return *out == NULL ? nomem(d) : 0;
}

/* metav1.FieldsV1 {bytes Raw = 1}: Raw is JSON and marshals verbatim */
static int rawjson_json(struct dec *d, const uint8_t *p, size_t n, json_t **out)
{
    struct mini_field f[] = {{1, true, false, 0, NULL, 0}};
    json_error_t jerr;
    int rv = mini_decode(d, p, n, f, 1);
    if (rv != 0)
        return rv;
    if (!f[0].seen) {
        *out = json_null();
        return 0;
    }
    *out = json_loadb((const char *)f[0].p, f[0].n, JSON_DECODE_ANY, &jerr);
    if (*out == NULL)
        return fail(d, "raw JSON does not parse: %s", jerr.text);
    return 0;
}

/* ---- messages ---- */

static int decode_fields(struct dec *d, const struct pb_msg *m, const uint8_t *p, size_t n,
                         json_t *obj);

/* The array at name in obj, created when absent (NULL on no memory). */
static json_t *array_at(json_t *obj, const char *name)
{
    json_t *a = json_object_get(obj, name);
    if (json_is_array(a))
        return a;
    a = json_array();
    if (a == NULL || json_object_set_new(obj, name, a) != 0)
        return NULL;
    return a;
}

static json_t *object_at(json_t *obj, const char *name)
{
    json_t *o = json_object_get(obj, name);
    if (json_is_object(o))
        return o;
    o = json_object();
    if (o == NULL || json_object_set_new(obj, name, o) != 0)
        return NULL;
    return o;
}

/* Stores v (stolen) as field f of obj: appended when repeated, else set,
 * or dropped (and any earlier value removed: last one wins) when zero and
 * encoding/json would omit it. */
static int put(struct dec *d, json_t *obj, const struct pb_field *f, json_t *v, bool zero)
{
    json_t *a;
    if (f->flags & REP) {
        a = array_at(obj, f->name);
        if (a == NULL) {
            json_decref(v);
            return nomem(d);
        }
        /* jansson's _new calls steal v even when they fail */
        return json_array_append_new(a, v) != 0 ? nomem(d) : 0;
    }
    if (zero && !(f->flags & (PTR | REQ))) {
        json_decref(v);
        json_object_del(obj, f->name);
        return 0;
    }
    return json_object_set_new(obj, f->name, v) != 0 ? nomem(d) : 0;
}

static int put_varint(struct dec *d, json_t *obj, const struct pb_field *f, uint64_t v)
{
    json_t *j;
    bool zero;
    switch (f->type) {
    case T_INT32: /* Go truncates to 32 bits; negatives arrive as 10-byte varints */
        j = json_integer((int32_t)(uint32_t)v);
        zero = (uint32_t)v == 0;
        break;
    case T_INT64:
        j = json_integer((json_int_t)(int64_t)v);
        zero = v == 0;
        break;
    default:
        j = json_boolean(v != 0);
        zero = v == 0;
        break;
    }
    if (j == NULL)
        return nomem(d);
    return put(d, obj, f, j, zero);
}

static int decode_varint_field(struct dec *d, const struct pb_field *f, struct rd *r, unsigned wt,
                               json_t *obj)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    uint64_t v;
    struct rd packed;
    int rv;

    if (wt == WIRE_VARINT) {
        if ((rv = rd_varint(d, r, &v)) != 0)
            return rv;
        return put_varint(d, obj, f, v);
    }
    if (wt != WIRE_LEN || !(f->flags & REP))
        return wrong_wire(d, wt, WIRE_VARINT);
    /* packed repeated scalars: proto2 writers may use either form */
    if ((rv = rd_bytes(d, r, &p, &n)) != 0)
        return rv;
    packed.p = p;
    packed.end = p + n;
    while (packed.p < packed.end) {
        if ((rv = rd_varint(d, &packed, &v)) != 0 || (rv = put_varint(d, obj, f, v)) != 0)
            return rv;
    }
    return 0;
}

/* map<string, V> entry {key = 1, value = 2} */
static int decode_map_entry(struct dec *d, const struct pb_field *f, const uint8_t *p, size_t n,
                            json_t *obj)
{
    struct mini_field mf[] = {{1, true, false, 0, NULL, 0}, {2, true, false, 0, NULL, 0}};
    const uint8_t *vp;
    json_t *map, *v = NULL;
    int rv = mini_decode(d, p, n, mf, 2);
    if (rv != 0)
        return rv;
    if (!text_ok(mf[0].p, mf[0].n))
        return fail(d, "map key is not valid UTF-8 or contains NUL");
    vp = mf[1].seen ? mf[1].p : (const uint8_t *)"";
    switch (f->type) {
    case T_MAP_STRING:
        rv = text_json(d, vp, mf[1].n, &v);
        break;
    case T_MAP_BYTES:
        rv = base64_json(d, vp, mf[1].n, &v);
        break;
    default:
        rv = quantity_json(d, vp, mf[1].n, &v);
        break;
    }
    if (rv != 0)
        return rv;
    map = object_at(obj, f->name);
    if (map == NULL) {
        json_decref(v);
        return nomem(d);
    }
    /* a repeated key: the last entry wins, as in Go's map decoding */
    if (json_object_setn_new_nocheck(map, mf[0].n > 0 ? (const char *)mf[0].p : "", mf[0].n, v) !=
        0)
        return nomem(d);
    return 0;
}

static int decode_len_field(struct dec *d, const struct pb_field *f, const uint8_t *p, size_t n,
                            json_t *obj)
{
    json_t *v = NULL, *child;
    int rv;

    switch (f->type) {
    case T_STRING:
        if ((rv = text_json(d, p, n, &v)) != 0)
            return rv;
        return put(d, obj, f, v, n == 0);
    case T_BYTES:
        if ((rv = base64_json(d, p, n, &v)) != 0)
            return rv;
        return put(d, obj, f, v, n == 0);
    case T_MSG:
        if (f->flags & REP) {
            child = json_object();
            if (child == NULL || put(d, obj, f, child, false) != 0)
                return nomem(d);
        } else if ((child = object_at(obj, f->name)) == NULL) {
            return nomem(d); /* a repeated message field merges, as in protobuf */
        }
        return decode_fields(d, f->msg, p, n, child);
    case T_INLINE:
        return decode_fields(d, f->msg, p, n, obj);
    case T_MAP_STRING:
    case T_MAP_BYTES:
    case T_MAP_QUANTITY:
        return decode_map_entry(d, f, p, n, obj);
    case T_TIME:
    case T_MICROTIME:
        rv = time_json(d, p, n, f->type == T_MICROTIME, &v);
        break;
    case T_DURATION:
        rv = duration_json(d, p, n, &v);
        break;
    case T_INTORSTR:
        rv = intorstr_json(d, p, n, &v);
        break;
    case T_QUANTITY:
        rv = quantity_json(d, p, n, &v);
        break;
    default:
        rv = rawjson_json(d, p, n, &v);
        break;
    }
    if (rv != 0)
        return rv;
    return put(d, obj, f, v, false);
}

static int decode_field(struct dec *d, const struct pb_field *f, struct rd *r, unsigned wt,
                        json_t *obj)
{
    size_t mark = d->plen, n = 0;
    const uint8_t *p = NULL;
    int rv;

    if (f->type != T_INLINE)
        path_push(d, f->name, 0);
    if (f->flags & REP)
        path_push(d, NULL, json_array_size(json_object_get(obj, f->name)));
    if (f->type == T_INT32 || f->type == T_INT64 || f->type == T_BOOL) {
        rv = decode_varint_field(d, f, r, wt, obj);
    } else if (wt != WIRE_LEN) {
        rv = wrong_wire(d, wt, WIRE_LEN);
    } else if ((rv = rd_bytes(d, r, &p, &n)) == 0) {
        if (f->type != T_STRING && f->type != T_BYTES && ++d->depth > PROTO_DEPTH_MAX)
            rv = fail(d, "nested deeper than %d messages", PROTO_DEPTH_MAX);
        else
            rv = decode_len_field(d, f, p, n, obj);
        if (f->type != T_STRING && f->type != T_BYTES)
            d->depth--;
    }
    if (rv == 0)
        path_pop(d, mark); /* on error the path stays as the message wrote it */
    return rv;
}

static int decode_fields(struct dec *d, const struct pb_msg *m, const uint8_t *p, size_t n,
                         json_t *obj)
{
    struct rd r = {p, p + n};
    uint32_t num = 0;
    unsigned wt = 0;
    size_t i;
    int rv;

    while (r.p < r.end) {
        if ((rv = rd_tag(d, &r, &num, &wt)) != 0)
            return rv;
        for (i = 0; i < m->n && m->fields[i].num != num; i++)
            ;
        /* unknown field numbers are skipped: newer clients, fields we do not model */
        rv = i < m->n ? decode_field(d, &m->fields[i], &r, wt, obj) : rd_skip(d, &r, wt);
        if (rv != 0)
            return rv;
    }
    return 0;
}

/* ---- envelope ---- */

static bool bytes_eq(const uint8_t *p, size_t n, const char *s)
{
    return strlen(s) == n && (n == 0 || memcmp(p, s, n) == 0);
}

/* Printable-ASCII copy of an untrusted name for an error message. */
static void sanitize(const uint8_t *p, size_t n, char *out, size_t size)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 1 < size; i++)
        out[k++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? (char)p[i] : '?';
    out[k] = '\0';
}

static int unknown_kind(struct dec *d, const uint8_t *av, size_t avn, const uint8_t *kind,
                        size_t kn)
{
    char k[33], v[33], list[200];
    size_t i, used = 0;
    sanitize(kind, kn, k, sizeof k);
    sanitize(av, avn, v, sizeof v);
    list[0] = '\0';
    for (i = 0; i < sizeof proto_kinds / sizeof proto_kinds[0]; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i > 0 ? ", " : "",
                         proto_kinds[i].kind);
        if (w < 0 || (size_t)w >= sizeof list - used)
            break;
        used += (size_t)w;
    }
    return fail(d, "unknown kind \"%s\" (apiVersion \"%s\"): protobuf bodies are accepted for %s",
                k, v, list);
}

bool api__proto_kind_known(const char *api_version, const char *kind)
{
    size_t i;
    if (api_version == NULL || kind == NULL)
        return false;
    for (i = 0; i < sizeof proto_kinds / sizeof proto_kinds[0]; i++)
        if (strcmp(api_version, proto_kinds[i].api_version) == 0 &&
            strcmp(kind, proto_kinds[i].kind) == 0)
            return true;
    return false;
}

int api__proto_decode(const void *buf, size_t len, json_t **out, struct err *e)
{
    static const uint8_t magic[4] = {'k', '8', 's', 0};
    /* runtime.Unknown {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2,
     * contentEncoding = 3, contentType = 4} */
    struct mini_field env[] = {{1, true, false, 0, NULL, 0},
                               {2, true, false, 0, NULL, 0},
                               {3, true, false, 0, NULL, 0},
                               {4, true, false, 0, NULL, 0}};
    struct mini_field tm[] = {{1, true, false, 0, NULL, 0}, {2, true, false, 0, NULL, 0}};
    struct dec d = {.e = e};
    const uint8_t *b = buf;
    size_t i, nkinds = sizeof proto_kinds / sizeof proto_kinds[0];
    json_t *obj, *meta;
    int rv;

    if (buf == NULL || len < sizeof magic || memcmp(b, magic, sizeof magic) != 0)
        return fail(&d, "bad magic: want \"k8s\\0\" envelope");
    if ((rv = mini_decode(&d, b + 4, len - 4, env, 4)) != 0)
        return rv;
    if (env[2].seen && env[2].n > 0)
        return fail(&d, "contentEncoding is not supported");
    if (env[3].seen && env[3].n > 0 &&
        !bytes_eq(env[3].p, env[3].n, "application/vnd.kubernetes.protobuf"))
        return fail(&d,
                    "contentType of the raw object must be application/vnd.kubernetes.protobuf");
    if (env[0].seen) {
        path_push(&d, "typeMeta", 0);
        rv = mini_decode(&d, env[0].p, env[0].n, tm, 2);
        path_pop(&d, 0);
        if (rv != 0)
            return rv;
    }
    for (i = 0; i < nkinds; i++)
        if (bytes_eq(tm[0].p, tm[0].n, proto_kinds[i].api_version) &&
            bytes_eq(tm[1].p, tm[1].n, proto_kinds[i].kind))
            break;
    if (i == nkinds)
        return unknown_kind(&d, tm[0].p, tm[0].n, tm[1].p, tm[1].n);

    obj = json_object();
    if (obj == NULL ||
        json_object_set_new(obj, "apiVersion", json_string(proto_kinds[i].api_version)) != 0 ||
        json_object_set_new(obj, "kind", json_string(proto_kinds[i].kind)) != 0) {
        json_decref(obj);
        return nomem(&d);
    }
    rv = decode_fields(&d, proto_kinds[i].msg, env[1].seen ? env[1].p : b,
                       env[1].seen ? env[1].n : 0, obj);
    if (rv == 0) {
        /* every kind has ObjectMeta; JSON callers index it without checking */
        meta = json_object_get(obj, "metadata");
        if (!json_is_object(meta) && json_object_set_new(obj, "metadata", json_object()) != 0)
            rv = nomem(&d);
    }
    if (rv != 0) {
        json_decref(obj);
        return rv;
    }
    *out = obj;
    return 0;
}
