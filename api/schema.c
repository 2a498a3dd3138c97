/* api/schema.c: skiff's type definitions of the Kubernetes kinds it serves
 * (static tables shaped like the Go types in k8s.io/api, named as
 * kube-openapi names them) and the decoding checks the apiserver does
 * before validation: JSON types, unknown fields per ?fieldValidation=,
 * required fields. api/openapi.c renders the same tables as OpenAPI v3 and
 * api/patch.c reads their merge keys, so the three cannot disagree. */
#include "api/schema.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- table-writing shorthands ----
 * Types are defined before use (children first), so no forward declarations
 * are needed: none of the Kubernetes types skiff serves is recursive. */

#define END_FIELDS                                                                                 \
    {                                                                                              \
        NULL, NULL, 0, NULL, NULL, NULL                                                            \
    }
#define OBJ(var, nm, desc, ...)                                                                    \
    static const struct api_sch_field var##_fields[] = {__VA_ARGS__, END_FIELDS};                  \
    static const struct api_sch var = {nm, API_SCH_OBJECT, NULL, var##_fields, NULL, desc}
#define ARR(var, el)   static const struct api_sch var = {NULL, API_SCH_ARRAY, NULL, NULL, &el, NULL}
#define MAPOF(var, el) static const struct api_sch var = {NULL, API_SCH_MAP, NULL, NULL, &el, NULL}
/* field; required field; keyed/strategic list field; field with a description */
#define F(n, t)                                                                                    \
    {                                                                                              \
        n, &t, 0, NULL, NULL, NULL                                                                 \
    }
#define FR(n, t)                                                                                   \
    {                                                                                              \
        n, &t, API_SCH_REQUIRED, NULL, NULL, NULL                                                  \
    }
#define FK(n, t, key, strat)                                                                       \
    {                                                                                              \
        n, &t, 0, key, strat, NULL                                                                 \
    }
#define FRK(n, t, key, strat)                                                                      \
    {                                                                                              \
        n, &t, API_SCH_REQUIRED, key, strat, NULL                                                  \
    }
#define FD(n, t, desc)                                                                             \
    {                                                                                              \
        n, &t, 0, NULL, NULL, desc                                                                 \
    }
#define FRD(n, t, desc)                                                                            \
    {                                                                                              \
        n, &t, API_SCH_REQUIRED, NULL, NULL, desc                                                  \
    }

#define META  "io.k8s.apimachinery.pkg.apis.meta.v1."
#define CORE  "io.k8s.api.core.v1."
#define APPS  "io.k8s.api.apps.v1."
#define BATCH "io.k8s.api.batch.v1."
#define COORD "io.k8s.api.coordination.v1."

/* ---- leaves ---- */

static const struct api_sch t_str = {NULL, API_SCH_STRING, NULL, NULL, NULL, NULL};
static const struct api_sch t_byte = {NULL, API_SCH_STRING, "byte", NULL, NULL, NULL};
static const struct api_sch t_i32 = {NULL, API_SCH_INTEGER, "int32", NULL, NULL, NULL};
static const struct api_sch t_i64 = {NULL, API_SCH_INTEGER, "int64", NULL, NULL, NULL};
static const struct api_sch t_bool = {NULL, API_SCH_BOOLEAN, NULL, NULL, NULL, NULL};
static const struct api_sch t_ios = {NULL, API_SCH_INT_OR_STRING, NULL, NULL, NULL, NULL};
static const struct api_sch t_free = {NULL, API_SCH_FREE, NULL, NULL, NULL, NULL};
static const struct api_sch t_time = {
    META "Time",
    API_SCH_STRING,
    "date-time",
    NULL,
    NULL,
    "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON "
    "(RFC 3339, seconds precision)."};
static const struct api_sch t_microtime = {
    META "MicroTime",
    API_SCH_STRING,
    "date-time",
    NULL,
    NULL,
    "MicroTime is version of Time with microsecond level precision."};
static const struct api_sch t_qty = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    API_SCH_QUANTITY,
    NULL,
    NULL,
    NULL,
    "Quantity is a fixed-point representation of a number (\"100m\", \"1Gi\", 2)."};
static const struct api_sch t_fieldsv1 = {
    META "FieldsV1",
    API_SCH_FREE,
    NULL,
    NULL,
    NULL,
    "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format."};

ARR(a_str, t_str);
ARR(a_i64, t_i64);
MAPOF(m_str, t_str);
MAPOF(m_byte, t_byte);
MAPOF(m_qty, t_qty);
ARR(a_free, t_free);

/* ---- meta/v1 ---- */

OBJ(OwnerReference, META "OwnerReference",
    "OwnerReference contains enough information to let you identify an owning object.",
    FR("apiVersion", t_str), FR("kind", t_str), FR("name", t_str), FR("uid", t_str),
    F("controller", t_bool), F("blockOwnerDeletion", t_bool));
ARR(a_OwnerReference, OwnerReference);

OBJ(ManagedFieldsEntry, META "ManagedFieldsEntry",
    "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that "
    "the fieldset applies to.",
    F("manager", t_str), F("operation", t_str), F("apiVersion", t_str), F("time", t_time),
    F("fieldsType", t_str), F("fieldsV1", t_fieldsv1), F("subresource", t_str));
ARR(a_ManagedFieldsEntry, ManagedFieldsEntry);

OBJ(ObjectMeta, META "ObjectMeta",
    "ObjectMeta is metadata that all persisted resources must have, which includes all objects "
    "users must create.",
    FD("name", t_str, "Name must be unique within a namespace."),
    FD("generateName", t_str, "An optional prefix used to generate a unique name."),
    FD("namespace", t_str, "Namespace defines the space within which each name must be unique."),
    F("selfLink", t_str), F("uid", t_str),
    FD("resourceVersion", t_str,
       "An opaque value that represents the internal version of this "
       "object."),
    F("generation", t_i64), F("creationTimestamp", t_time), F("deletionTimestamp", t_time),
    F("deletionGracePeriodSeconds", t_i64),
    FD("labels", m_str,
       "Map of string keys and values that can be used to organize and "
       "categorize objects."),
    FD("annotations", m_str, "Unstructured key value map stored with a resource."),
    FK("ownerReferences", a_OwnerReference, "uid", "merge"), FK("finalizers", a_str, NULL, "merge"),
    F("managedFields", a_ManagedFieldsEntry));

OBJ(LabelSelectorRequirement, META "LabelSelectorRequirement",
    "A label selector requirement is a selector that contains values, a key, and an operator "
    "that relates the key and values.",
    FR("key", t_str), FR("operator", t_str), F("values", a_str));
ARR(a_LabelSelectorRequirement, LabelSelectorRequirement);

OBJ(LabelSelector, META "LabelSelector",
    "A label selector is a label query over a set of resources.", F("matchLabels", m_str),
    F("matchExpressions", a_LabelSelectorRequirement));

OBJ(Condition, META "Condition", "Condition contains details for one aspect of the current state.",
    F("type", t_str), F("status", t_str), F("observedGeneration", t_i64),
    F("lastTransitionTime", t_time), F("reason", t_str), F("message", t_str));
ARR(a_Condition, Condition);

/* ---- core/v1: references and selectors ---- */

OBJ(ObjectReference, CORE "ObjectReference",
    "ObjectReference contains enough information to let you inspect or modify the referred "
    "object.",
    F("kind", t_str), F("namespace", t_str), F("name", t_str), F("uid", t_str),
    F("apiVersion", t_str), F("resourceVersion", t_str), F("fieldPath", t_str));
ARR(a_ObjectReference, ObjectReference);

OBJ(LocalObjectReference, CORE "LocalObjectReference",
    "LocalObjectReference contains enough information to let you locate the referenced object "
    "inside the same namespace.",
    F("name", t_str));
ARR(a_LocalObjectReference, LocalObjectReference);

OBJ(ObjectFieldSelector, CORE "ObjectFieldSelector",
    "ObjectFieldSelector selects an APIVersioned field of an object.", F("apiVersion", t_str),
    FR("fieldPath", t_str));

OBJ(ResourceFieldSelector, CORE "ResourceFieldSelector",
    "ResourceFieldSelector represents container resources (cpu, memory) and their output format.",
    F("containerName", t_str), FR("resource", t_str), F("divisor", t_qty));

OBJ(ConfigMapKeySelector, CORE "ConfigMapKeySelector", "Selects a key from a ConfigMap.",
    F("name", t_str), FR("key", t_str), F("optional", t_bool));

OBJ(SecretKeySelector, CORE "SecretKeySelector", "SecretKeySelector selects a key of a Secret.",
    F("name", t_str), FR("key", t_str), F("optional", t_bool));

OBJ(KeyToPath, CORE "KeyToPath", "Maps a string key to a path within a volume.", FR("key", t_str),
    FR("path", t_str), F("mode", t_i32));
ARR(a_KeyToPath, KeyToPath);

/* ---- core/v1: volumes ---- */

OBJ(EmptyDirVolumeSource, CORE "EmptyDirVolumeSource", "Represents an empty directory for a pod.",
    F("medium", t_str), F("sizeLimit", t_qty));

OBJ(HostPathVolumeSource, CORE "HostPathVolumeSource", "Represents a host path mapped into a pod.",
    FR("path", t_str), F("type", t_str));

OBJ(ConfigMapVolumeSource, CORE "ConfigMapVolumeSource", "Adapts a ConfigMap into a volume.",
    F("name", t_str), F("items", a_KeyToPath), F("defaultMode", t_i32), F("optional", t_bool));

OBJ(SecretVolumeSource, CORE "SecretVolumeSource", "Adapts a Secret into a volume.",
    F("secretName", t_str), F("items", a_KeyToPath), F("defaultMode", t_i32),
    F("optional", t_bool));

OBJ(PersistentVolumeClaimVolumeSource, CORE "PersistentVolumeClaimVolumeSource",
    "References the user's PVC in the same namespace.", FR("claimName", t_str),
    F("readOnly", t_bool));

OBJ(NFSVolumeSource, CORE "NFSVolumeSource",
    "Represents an NFS mount that lasts the lifetime "
    "of a pod.",
    FR("server", t_str), FR("path", t_str), F("readOnly", t_bool));

OBJ(DownwardAPIVolumeFile, CORE "DownwardAPIVolumeFile",
    "DownwardAPIVolumeFile represents information to create the file containing the pod field.",
    FR("path", t_str), F("fieldRef", ObjectFieldSelector),
    F("resourceFieldRef", ResourceFieldSelector), F("mode", t_i32));
ARR(a_DownwardAPIVolumeFile, DownwardAPIVolumeFile);

OBJ(DownwardAPIVolumeSource, CORE "DownwardAPIVolumeSource",
    "DownwardAPIVolumeSource represents a volume containing downward API info.",
    F("items", a_DownwardAPIVolumeFile), F("defaultMode", t_i32));

OBJ(DownwardAPIProjection, CORE "DownwardAPIProjection",
    "Represents downward API info for projecting into a projected volume.",
    F("items", a_DownwardAPIVolumeFile));

OBJ(ConfigMapProjection, CORE "ConfigMapProjection", "Adapts a ConfigMap into a projected volume.",
    F("name", t_str), F("items", a_KeyToPath), F("optional", t_bool));

OBJ(SecretProjection, CORE "SecretProjection", "Adapts a secret into a projected volume.",
    F("name", t_str), F("items", a_KeyToPath), F("optional", t_bool));

OBJ(ServiceAccountTokenProjection, CORE "ServiceAccountTokenProjection",
    "ServiceAccountTokenProjection represents a projected service account token volume.",
    F("audience", t_str), F("expirationSeconds", t_i64), FR("path", t_str));

OBJ(VolumeProjection, CORE "VolumeProjection",
    "Projection that may be projected along with other supported volume types.",
    F("secret", SecretProjection), F("downwardAPI", DownwardAPIProjection),
    F("configMap", ConfigMapProjection), F("serviceAccountToken", ServiceAccountTokenProjection),
    F("clusterTrustBundle", t_free));
ARR(a_VolumeProjection, VolumeProjection);

OBJ(ProjectedVolumeSource, CORE "ProjectedVolumeSource", "Represents a projected volume source.",
    F("sources", a_VolumeProjection), F("defaultMode", t_i32));

/* The remaining in-tree sources are accepted as they are (FREE): skiff's
 * agent does not mount them, but manifests that carry them must decode. */
OBJ(Volume, CORE "Volume",
    "Volume represents a named volume in a pod that may be accessed by any container in the pod.",
    FR("name", t_str), F("hostPath", HostPathVolumeSource), F("emptyDir", EmptyDirVolumeSource),
    F("secret", SecretVolumeSource), F("nfs", NFSVolumeSource),
    F("persistentVolumeClaim", PersistentVolumeClaimVolumeSource),
    F("configMap", ConfigMapVolumeSource), F("downwardAPI", DownwardAPIVolumeSource),
    F("projected", ProjectedVolumeSource), F("ephemeral", t_free), F("csi", t_free),
    F("image", t_free), F("gcePersistentDisk", t_free), F("awsElasticBlockStore", t_free),
    F("gitRepo", t_free), F("iscsi", t_free), F("glusterfs", t_free), F("rbd", t_free),
    F("flexVolume", t_free), F("cinder", t_free), F("cephfs", t_free), F("flocker", t_free),
    F("fc", t_free), F("azureFile", t_free), F("vsphereVolume", t_free), F("quobyte", t_free),
    F("azureDisk", t_free), F("photonPersistentDisk", t_free), F("portworxVolume", t_free),
    F("scaleIO", t_free), F("storageos", t_free));
ARR(a_Volume, Volume);

/* ---- core/v1: containers ---- */

OBJ(ContainerPort, CORE "ContainerPort",
    "ContainerPort represents a network port in a single container.", F("name", t_str),
    F("hostPort", t_i32), FR("containerPort", t_i32), F("protocol", t_str), F("hostIP", t_str));
ARR(a_ContainerPort, ContainerPort);

OBJ(EnvVarSource, CORE "EnvVarSource",
    "EnvVarSource represents a source for the value of an "
    "EnvVar.",
    F("fieldRef", ObjectFieldSelector), F("resourceFieldRef", ResourceFieldSelector),
    F("configMapKeyRef", ConfigMapKeySelector), F("secretKeyRef", SecretKeySelector));

OBJ(EnvVar, CORE "EnvVar", "EnvVar represents an environment variable present in a Container.",
    FR("name", t_str), F("value", t_str), F("valueFrom", EnvVarSource));
ARR(a_EnvVar, EnvVar);

OBJ(ConfigMapEnvSource, CORE "ConfigMapEnvSource",
    "ConfigMapEnvSource selects a ConfigMap to populate the environment variables with.",
    F("name", t_str), F("optional", t_bool));
OBJ(SecretEnvSource, CORE "SecretEnvSource",
    "SecretEnvSource selects a Secret to populate the environment variables with.",
    F("name", t_str), F("optional", t_bool));
OBJ(EnvFromSource, CORE "EnvFromSource",
    "EnvFromSource represents the source of a set of ConfigMaps or Secrets.", F("prefix", t_str),
    F("configMapRef", ConfigMapEnvSource), F("secretRef", SecretEnvSource));
ARR(a_EnvFromSource, EnvFromSource);

OBJ(ResourceClaim, CORE "ResourceClaim",
    "ResourceClaim references one entry in PodSpec.ResourceClaims.", FR("name", t_str),
    F("request", t_str));
ARR(a_ResourceClaim, ResourceClaim);

OBJ(ResourceRequirements, CORE "ResourceRequirements",
    "ResourceRequirements describes the compute resource requirements.",
    FD("limits", m_qty, "Limits describes the maximum amount of compute resources allowed."),
    FD("requests", m_qty, "Requests describes the minimum amount of compute resources required."),
    FK("claims", a_ResourceClaim, "name", NULL));

OBJ(ContainerResizePolicy, CORE "ContainerResizePolicy",
    "ContainerResizePolicy represents resource resize policy for the container.",
    FR("resourceName", t_str), FR("restartPolicy", t_str));
ARR(a_ContainerResizePolicy, ContainerResizePolicy);

OBJ(VolumeMount, CORE "VolumeMount",
    "VolumeMount describes a mounting of a Volume within a container.", FR("name", t_str),
    F("readOnly", t_bool), F("recursiveReadOnly", t_str), FR("mountPath", t_str),
    F("subPath", t_str), F("mountPropagation", t_str), F("subPathExpr", t_str));
ARR(a_VolumeMount, VolumeMount);

OBJ(VolumeDevice, CORE "VolumeDevice",
    "volumeDevice describes a mapping of a raw block device within a container.", FR("name", t_str),
    FR("devicePath", t_str));
ARR(a_VolumeDevice, VolumeDevice);

OBJ(ExecAction, CORE "ExecAction", "ExecAction describes a \"run in container\" action.",
    F("command", a_str));

OBJ(HTTPHeader, CORE "HTTPHeader",
    "HTTPHeader describes a custom header to be used in HTTP "
    "probes",
    FR("name", t_str), FR("value", t_str));
ARR(a_HTTPHeader, HTTPHeader);

OBJ(HTTPGetAction, CORE "HTTPGetAction",
    "HTTPGetAction describes an action based on HTTP Get requests.", F("path", t_str),
    FR("port", t_ios), F("host", t_str), F("scheme", t_str), F("httpHeaders", a_HTTPHeader));

OBJ(TCPSocketAction, CORE "TCPSocketAction",
    "TCPSocketAction describes an action based on opening a socket", FR("port", t_ios),
    F("host", t_str));

OBJ(GRPCAction, CORE "GRPCAction", "GRPCAction specifies an action involving a GRPC service.",
    FR("port", t_i32), F("service", t_str));

OBJ(SleepAction, CORE "SleepAction", "SleepAction describes a \"sleep\" action.",
    FR("seconds", t_i64));

OBJ(Probe, CORE "Probe",
    "Probe describes a health check to be performed against a container to determine whether it "
    "is alive or ready to receive traffic.",
    F("exec", ExecAction), F("httpGet", HTTPGetAction), F("tcpSocket", TCPSocketAction),
    F("grpc", GRPCAction), F("initialDelaySeconds", t_i32), F("timeoutSeconds", t_i32),
    F("periodSeconds", t_i32), F("successThreshold", t_i32), F("failureThreshold", t_i32),
    F("terminationGracePeriodSeconds", t_i64));

OBJ(LifecycleHandler, CORE "LifecycleHandler",
    "LifecycleHandler defines a specific action that should be taken in a lifecycle hook.",
    F("exec", ExecAction), F("httpGet", HTTPGetAction), F("tcpSocket", TCPSocketAction),
    F("sleep", SleepAction));

OBJ(Lifecycle, CORE "Lifecycle",
    "Lifecycle describes actions that the management system should take in response to "
    "container lifecycle events.",
    F("postStart", LifecycleHandler), F("preStop", LifecycleHandler), F("stopSignal", t_str));

OBJ(Capabilities, CORE "Capabilities",
    "Adds and removes POSIX capabilities from running containers.", F("add", a_str),
    F("drop", a_str));

OBJ(SELinuxOptions, CORE "SELinuxOptions",
    "SELinuxOptions are the labels to be applied to the container", F("user", t_str),
    F("role", t_str), F("type", t_str), F("level", t_str));

OBJ(WindowsSecurityContextOptions, CORE "WindowsSecurityContextOptions",
    "WindowsSecurityContextOptions contain Windows-specific options and credentials.",
    F("gmsaCredentialSpecName", t_str), F("gmsaCredentialSpec", t_str), F("runAsUserName", t_str),
    F("hostProcess", t_bool));

OBJ(SeccompProfile, CORE "SeccompProfile",
    "SeccompProfile defines a pod/container's seccomp profile settings.", FR("type", t_str),
    F("localhostProfile", t_str));

OBJ(AppArmorProfile, CORE "AppArmorProfile",
    "AppArmorProfile defines a pod or container's AppArmor settings.", FR("type", t_str),
    F("localhostProfile", t_str));

OBJ(SecurityContext, CORE "SecurityContext",
    "SecurityContext holds security configuration that will be applied to a container.",
    F("capabilities", Capabilities), F("privileged", t_bool), F("seLinuxOptions", SELinuxOptions),
    F("windowsOptions", WindowsSecurityContextOptions), F("runAsUser", t_i64),
    F("runAsGroup", t_i64), F("runAsNonRoot", t_bool), F("readOnlyRootFilesystem", t_bool),
    F("allowPrivilegeEscalation", t_bool), F("procMount", t_str),
    F("seccompProfile", SeccompProfile), F("appArmorProfile", AppArmorProfile));

OBJ(Sysctl, CORE "Sysctl", "Sysctl defines a kernel parameter to be set", FR("name", t_str),
    FR("value", t_str));
ARR(a_Sysctl, Sysctl);

OBJ(PodSecurityContext, CORE "PodSecurityContext",
    "PodSecurityContext holds pod-level security attributes and common container settings.",
    F("seLinuxOptions", SELinuxOptions), F("windowsOptions", WindowsSecurityContextOptions),
    F("runAsUser", t_i64), F("runAsGroup", t_i64), F("runAsNonRoot", t_bool),
    F("supplementalGroups", a_i64), F("supplementalGroupsPolicy", t_str), F("fsGroup", t_i64),
    F("sysctls", a_Sysctl), F("fsGroupChangePolicy", t_str), F("seccompProfile", SeccompProfile),
    F("appArmorProfile", AppArmorProfile), F("seLinuxChangePolicy", t_str));

/* Container and EphemeralContainer share their fields. image is optional in
 * the Go type (so higher-level config can fill it in) but pod validation
 * requires it, and every object checked here is a pod or a pod template. */
#define CONTAINER_FIELDS                                                                           \
    FRD("name", t_str, "Name of the container specified as a DNS_LABEL."),                         \
        FRD("image", t_str, "Container image name."), F("command", a_str), F("args", a_str),       \
        F("workingDir", t_str), FK("ports", a_ContainerPort, "containerPort", "merge"),            \
        F("envFrom", a_EnvFromSource), FK("env", a_EnvVar, "name", "merge"),                       \
        F("resources", ResourceRequirements), F("resizePolicy", a_ContainerResizePolicy),          \
        F("restartPolicy", t_str), FK("volumeMounts", a_VolumeMount, "mountPath", "merge"),        \
        FK("volumeDevices", a_VolumeDevice, "devicePath", "merge"), F("livenessProbe", Probe),     \
        F("readinessProbe", Probe), F("startupProbe", Probe), F("lifecycle", Lifecycle),           \
        F("terminationMessagePath", t_str), F("terminationMessagePolicy", t_str),                  \
        F("imagePullPolicy", t_str), F("securityContext", SecurityContext), F("stdin", t_bool),    \
        F("stdinOnce", t_bool), F("tty", t_bool)

static const struct api_sch_field Container_fields[] = {CONTAINER_FIELDS, END_FIELDS};
static const struct api_sch Container = {
    CORE "Container",
    API_SCH_OBJECT,
    NULL,
    Container_fields,
    NULL,
    "A single application container that you want to run within a pod."};
ARR(a_Container, Container);

static const struct api_sch_field EphemeralContainer_fields[] = {
    CONTAINER_FIELDS, F("targetContainerName", t_str), END_FIELDS};
static const struct api_sch EphemeralContainer = {
    CORE "EphemeralContainer",
    API_SCH_OBJECT,
    NULL,
    EphemeralContainer_fields,
    NULL,
    "An EphemeralContainer is a temporary container that you may add to an existing Pod for "
    "user-initiated activities such as debugging."};
ARR(a_EphemeralContainer, EphemeralContainer);

/* ---- core/v1: scheduling ---- */

OBJ(NodeSelectorRequirement, CORE "NodeSelectorRequirement",
    "A node selector requirement is a selector that contains values, a key, and an operator.",
    FR("key", t_str), FR("operator", t_str), F("values", a_str));
ARR(a_NodeSelectorRequirement, NodeSelectorRequirement);

OBJ(NodeSelectorTerm, CORE "NodeSelectorTerm",
    "A null or empty node selector term matches no objects.",
    F("matchExpressions", a_NodeSelectorRequirement), F("matchFields", a_NodeSelectorRequirement));
ARR(a_NodeSelectorTerm, NodeSelectorTerm);

OBJ(NodeSelector, CORE "NodeSelector",
    "A node selector represents the union of the results of one or more label queries over a set "
    "of nodes.",
    FR("nodeSelectorTerms", a_NodeSelectorTerm));

OBJ(PreferredSchedulingTerm, CORE "PreferredSchedulingTerm",
    "An empty preferred scheduling term matches all objects with implicit weight 0.",
    FR("weight", t_i32), FR("preference", NodeSelectorTerm));
ARR(a_PreferredSchedulingTerm, PreferredSchedulingTerm);

OBJ(NodeAffinity, CORE "NodeAffinity",
    "Node affinity is a group of node affinity scheduling rules.",
    F("requiredDuringSchedulingIgnoredDuringExecution", NodeSelector),
    F("preferredDuringSchedulingIgnoredDuringExecution", a_PreferredSchedulingTerm));

OBJ(PodAffinityTerm, CORE "PodAffinityTerm",
    "Defines a set of pods that this pod should be co-located (affinity) or not co-located "
    "(anti-affinity) with.",
    F("labelSelector", LabelSelector), F("namespaces", a_str), FR("topologyKey", t_str),
    F("namespaceSelector", LabelSelector), F("matchLabelKeys", a_str),
    F("mismatchLabelKeys", a_str));
ARR(a_PodAffinityTerm, PodAffinityTerm);

OBJ(WeightedPodAffinityTerm, CORE "WeightedPodAffinityTerm",
    "The weights of all of the matched WeightedPodAffinityTerm fields are added per-node.",
    FR("weight", t_i32), FR("podAffinityTerm", PodAffinityTerm));
ARR(a_WeightedPodAffinityTerm, WeightedPodAffinityTerm);

OBJ(PodAffinity, CORE "PodAffinity",
    "Pod affinity is a group of inter pod affinity scheduling "
    "rules.",
    F("requiredDuringSchedulingIgnoredDuringExecution", a_PodAffinityTerm),
    F("preferredDuringSchedulingIgnoredDuringExecution", a_WeightedPodAffinityTerm));

OBJ(PodAntiAffinity, CORE "PodAntiAffinity",
    "Pod anti affinity is a group of inter pod anti affinity scheduling rules.",
    F("requiredDuringSchedulingIgnoredDuringExecution", a_PodAffinityTerm),
    F("preferredDuringSchedulingIgnoredDuringExecution", a_WeightedPodAffinityTerm));

OBJ(Affinity, CORE "Affinity", "Affinity is a group of affinity scheduling rules.",
    F("nodeAffinity", NodeAffinity), F("podAffinity", PodAffinity),
    F("podAntiAffinity", PodAntiAffinity));

OBJ(Toleration, CORE "Toleration",
    "The pod this Toleration is attached to tolerates any taint that matches the triple "
    "<key,value,effect>.",
    F("key", t_str), F("operator", t_str), F("value", t_str), F("effect", t_str),
    F("tolerationSeconds", t_i64));
ARR(a_Toleration, Toleration);

OBJ(TopologySpreadConstraint, CORE "TopologySpreadConstraint",
    "TopologySpreadConstraint specifies how to spread matching pods among the given topology.",
    FR("maxSkew", t_i32), FR("topologyKey", t_str), FR("whenUnsatisfiable", t_str),
    F("labelSelector", LabelSelector), F("minDomains", t_i32), F("nodeAffinityPolicy", t_str),
    F("nodeTaintsPolicy", t_str), F("matchLabelKeys", a_str));
ARR(a_TopologySpreadConstraint, TopologySpreadConstraint);

OBJ(HostAlias, CORE "HostAlias",
    "HostAlias holds the mapping between IP and hostnames that will be injected as an entry in "
    "the pod's hosts file.",
    FR("ip", t_str), F("hostnames", a_str));
ARR(a_HostAlias, HostAlias);

OBJ(PodReadinessGate, CORE "PodReadinessGate",
    "PodReadinessGate contains the reference to a pod condition", FR("conditionType", t_str));
ARR(a_PodReadinessGate, PodReadinessGate);

OBJ(PodDNSConfigOption, CORE "PodDNSConfigOption",
    "PodDNSConfigOption defines DNS resolver options of a pod.", F("name", t_str),
    F("value", t_str));
ARR(a_PodDNSConfigOption, PodDNSConfigOption);

OBJ(PodDNSConfig, CORE "PodDNSConfig",
    "PodDNSConfig defines the DNS parameters of a pod in addition to those generated from "
    "DNSPolicy.",
    F("nameservers", a_str), F("searches", a_str), F("options", a_PodDNSConfigOption));

OBJ(PodOS, CORE "PodOS", "PodOS defines the OS parameters of a pod.", FR("name", t_str));

OBJ(PodSchedulingGate, CORE "PodSchedulingGate",
    "PodSchedulingGate is associated to a Pod to guard its scheduling.", FR("name", t_str));
ARR(a_PodSchedulingGate, PodSchedulingGate);

OBJ(PodResourceClaim, CORE "PodResourceClaim",
    "PodResourceClaim references exactly one ResourceClaim.", FR("name", t_str),
    F("source", t_free), F("resourceClaimName", t_str), F("resourceClaimTemplateName", t_str));
ARR(a_PodResourceClaim, PodResourceClaim);

OBJ(PodSpec, CORE "PodSpec", "PodSpec is a description of a pod.",
    FK("volumes", a_Volume, "name", "merge,retainKeys"),
    FK("initContainers", a_Container, "name", "merge"),
    FRK("containers", a_Container, "name", "merge"),
    FK("ephemeralContainers", a_EphemeralContainer, "name", "merge"), F("restartPolicy", t_str),
    F("terminationGracePeriodSeconds", t_i64), F("activeDeadlineSeconds", t_i64),
    F("dnsPolicy", t_str), F("nodeSelector", m_str), F("serviceAccountName", t_str),
    F("serviceAccount", t_str), F("automountServiceAccountToken", t_bool), F("nodeName", t_str),
    F("hostNetwork", t_bool), F("hostPID", t_bool), F("hostIPC", t_bool),
    F("shareProcessNamespace", t_bool), F("securityContext", PodSecurityContext),
    FK("imagePullSecrets", a_LocalObjectReference, "name", "merge"), F("hostname", t_str),
    F("subdomain", t_str), F("affinity", Affinity), F("schedulerName", t_str),
    F("tolerations", a_Toleration), FK("hostAliases", a_HostAlias, "ip", "merge"),
    F("priorityClassName", t_str), F("priority", t_i32), F("dnsConfig", PodDNSConfig),
    F("readinessGates", a_PodReadinessGate), F("runtimeClassName", t_str),
    F("enableServiceLinks", t_bool), F("preemptionPolicy", t_str), F("overhead", m_qty),
    FK("topologySpreadConstraints", a_TopologySpreadConstraint, "topologyKey", "merge"),
    F("setHostnameAsFQDN", t_bool), F("os", PodOS), F("hostUsers", t_bool),
    FK("schedulingGates", a_PodSchedulingGate, "name", "merge"),
    FK("resourceClaims", a_PodResourceClaim, "name", "merge,retainKeys"),
    F("resources", ResourceRequirements));

OBJ(PodTemplateSpec, CORE "PodTemplateSpec",
    "PodTemplateSpec describes the data a pod should have when created from a template",
    F("metadata", ObjectMeta), F("spec", PodSpec));

/* ---- core/v1: pod status ---- */

OBJ(PodCondition, CORE "PodCondition",
    "PodCondition contains details for the current condition of this pod.", F("type", t_str),
    F("status", t_str), F("observedGeneration", t_i64), F("lastProbeTime", t_time),
    F("lastTransitionTime", t_time), F("reason", t_str), F("message", t_str));
ARR(a_PodCondition, PodCondition);

OBJ(PodIP, CORE "PodIP", "PodIP represents a single IP address allocated to the pod.",
    F("ip", t_str));
ARR(a_PodIP, PodIP);
OBJ(HostIP, CORE "HostIP", "HostIP represents a single IP address allocated to the host.",
    F("ip", t_str));
ARR(a_HostIP, HostIP);

OBJ(ContainerStateWaiting, CORE "ContainerStateWaiting",
    "ContainerStateWaiting is a waiting state of a container.", F("reason", t_str),
    F("message", t_str));
OBJ(ContainerStateRunning, CORE "ContainerStateRunning",
    "ContainerStateRunning is a running state of a container.", F("startedAt", t_time));
OBJ(ContainerStateTerminated, CORE "ContainerStateTerminated",
    "ContainerStateTerminated is a terminated state of a container.", F("exitCode", t_i32),
    F("signal", t_i32), F("reason", t_str), F("message", t_str), F("startedAt", t_time),
    F("finishedAt", t_time), F("containerID", t_str));
OBJ(ContainerState, CORE "ContainerState", "ContainerState holds a possible state of container.",
    F("waiting", ContainerStateWaiting), F("running", ContainerStateRunning),
    F("terminated", ContainerStateTerminated));

/* Status types mark nothing required: the apiserver does not insist on
 * them, and skiff's own agents write status. */
OBJ(ContainerStatus, CORE "ContainerStatus",
    "ContainerStatus contains details for the current status of this container.", F("name", t_str),
    F("state", ContainerState), F("lastState", ContainerState), F("ready", t_bool),
    F("restartCount", t_i32), F("image", t_str), F("imageID", t_str), F("containerID", t_str),
    F("started", t_bool), F("allocatedResources", m_qty), F("resources", ResourceRequirements),
    F("volumeMounts", a_free), F("user", t_free), F("allocatedResourcesStatus", a_free),
    F("stopSignal", t_str));
ARR(a_ContainerStatus, ContainerStatus);

OBJ(PodStatus, CORE "PodStatus", "PodStatus represents information about the status of a pod.",
    F("observedGeneration", t_i64), F("phase", t_str),
    FK("conditions", a_PodCondition, "type", "merge"), F("message", t_str), F("reason", t_str),
    F("nominatedNodeName", t_str), F("hostIP", t_str), FK("hostIPs", a_HostIP, "ip", "merge"),
    F("podIP", t_str), FK("podIPs", a_PodIP, "ip", "merge"), F("startTime", t_time),
    F("initContainerStatuses", a_ContainerStatus), F("containerStatuses", a_ContainerStatus),
    F("qosClass", t_str), F("ephemeralContainerStatuses", a_ContainerStatus), F("resize", t_str),
    F("resourceClaimStatuses", a_free));

/* ---- kind roots share these three ---- */
#define ROOT_HEAD                                                                                  \
    FD("apiVersion", t_str,                                                                        \
       "APIVersion defines the versioned schema of this representation of "                        \
       "an object."),                                                                              \
        FD("kind", t_str,                                                                          \
           "Kind is a string value representing the REST resource this object "                    \
           "represents."),                                                                         \
        FD("metadata", ObjectMeta, "Standard object's metadata.")

OBJ(Pod, CORE "Pod", "Pod is a collection of containers that can run on a host.", ROOT_HEAD,
    F("spec", PodSpec), F("status", PodStatus));

/* ---- core/v1: Service, Endpoints ---- */

OBJ(ServicePort, CORE "ServicePort", "ServicePort contains information on service's port.",
    F("name", t_str), F("protocol", t_str), F("appProtocol", t_str), FR("port", t_i32),
    F("targetPort", t_ios), F("nodePort", t_i32));
ARR(a_ServicePort, ServicePort);

OBJ(ClientIPConfig, CORE "ClientIPConfig",
    "ClientIPConfig represents the configurations of Client IP based session affinity.",
    F("timeoutSeconds", t_i32));
OBJ(SessionAffinityConfig, CORE "SessionAffinityConfig",
    "SessionAffinityConfig represents the configurations of session affinity.",
    F("clientIP", ClientIPConfig));

OBJ(ServiceSpec, CORE "ServiceSpec",
    "ServiceSpec describes the attributes that a user creates on a service.",
    FK("ports", a_ServicePort, "port", "merge"), F("selector", m_str), F("clusterIP", t_str),
    F("clusterIPs", a_str), F("type", t_str), F("externalIPs", a_str), F("sessionAffinity", t_str),
    F("loadBalancerIP", t_str), F("loadBalancerSourceRanges", a_str), F("externalName", t_str),
    F("externalTrafficPolicy", t_str), F("healthCheckNodePort", t_i32),
    F("publishNotReadyAddresses", t_bool), F("sessionAffinityConfig", SessionAffinityConfig),
    F("ipFamilies", a_str), F("ipFamilyPolicy", t_str), F("allocateLoadBalancerNodePorts", t_bool),
    F("loadBalancerClass", t_str), F("internalTrafficPolicy", t_str),
    F("trafficDistribution", t_str));

OBJ(PortStatus, CORE "PortStatus", "PortStatus represents the error condition of a service port",
    F("port", t_i32), F("protocol", t_str), F("error", t_str));
ARR(a_PortStatus, PortStatus);
OBJ(LoadBalancerIngress, CORE "LoadBalancerIngress",
    "LoadBalancerIngress represents the status of a load-balancer ingress point.", F("ip", t_str),
    F("hostname", t_str), F("ipMode", t_str), F("ports", a_PortStatus));
ARR(a_LoadBalancerIngress, LoadBalancerIngress);
OBJ(LoadBalancerStatus, CORE "LoadBalancerStatus",
    "LoadBalancerStatus represents the status of a load-balancer.",
    F("ingress", a_LoadBalancerIngress));

OBJ(ServiceStatus, CORE "ServiceStatus",
    "ServiceStatus represents the current status of a service.",
    F("loadBalancer", LoadBalancerStatus), FK("conditions", a_Condition, "type", "merge"));

OBJ(Service, CORE "Service",
    "Service is a named abstraction of software service (for example, mysql) consisting of local "
    "port (for example 3306) that the proxy listens on, and the selector that determines which "
    "pods will answer requests sent through the proxy.",
    ROOT_HEAD, F("spec", ServiceSpec), F("status", ServiceStatus));

OBJ(EndpointAddress, CORE "EndpointAddress",
    "EndpointAddress is a tuple that describes single IP address.", FR("ip", t_str),
    F("hostname", t_str), F("nodeName", t_str), F("targetRef", ObjectReference));
ARR(a_EndpointAddress, EndpointAddress);
OBJ(EndpointPort, CORE "EndpointPort", "EndpointPort is a tuple that describes a single port.",
    F("name", t_str), FR("port", t_i32), F("protocol", t_str), F("appProtocol", t_str));
ARR(a_EndpointPort, EndpointPort);
OBJ(EndpointSubset, CORE "EndpointSubset",
    "EndpointSubset is a group of addresses with a common set of ports.",
    F("addresses", a_EndpointAddress), F("notReadyAddresses", a_EndpointAddress),
    F("ports", a_EndpointPort));
ARR(a_EndpointSubset, EndpointSubset);

OBJ(Endpoints, CORE "Endpoints",
    "Endpoints is a collection of endpoints that implement the actual service.", ROOT_HEAD,
    F("subsets", a_EndpointSubset));

/* ---- core/v1: Secret, ConfigMap, Namespace ---- */

OBJ(Secret, CORE "Secret",
    "Secret holds secret data of a certain type. The total bytes of the values in the Data field "
    "must be less than MaxSecretSize bytes.",
    ROOT_HEAD, FD("data", m_byte, "Data contains the secret data, base64 encoded."),
    FD("stringData", m_str, "stringData allows specifying non-binary secret data in string form."),
    F("type", t_str), F("immutable", t_bool));

OBJ(ConfigMap, CORE "ConfigMap", "ConfigMap holds configuration data for pods to consume.",
    ROOT_HEAD, F("data", m_str), F("binaryData", m_byte), F("immutable", t_bool));

OBJ(NamespaceSpec, CORE "NamespaceSpec", "NamespaceSpec describes the attributes on a Namespace.",
    F("finalizers", a_str));
OBJ(NamespaceCondition, CORE "NamespaceCondition",
    "NamespaceCondition contains details about state of namespace.", F("type", t_str),
    F("status", t_str), F("lastTransitionTime", t_time), F("reason", t_str), F("message", t_str));
ARR(a_NamespaceCondition, NamespaceCondition);
OBJ(NamespaceStatus, CORE "NamespaceStatus",
    "NamespaceStatus is information about the current status of a Namespace.", F("phase", t_str),
    FK("conditions", a_NamespaceCondition, "type", "merge"));

OBJ(Namespace, CORE "Namespace", "Namespace provides a scope for Names.", ROOT_HEAD,
    F("spec", NamespaceSpec), F("status", NamespaceStatus));

/* ---- core/v1: Node ---- */

OBJ(Taint, CORE "Taint",
    "The node this Taint is attached to has the \"effect\" on any pod that does not tolerate the "
    "Taint.",
    FR("key", t_str), F("value", t_str), FR("effect", t_str), F("timeAdded", t_time));
ARR(a_Taint, Taint);

OBJ(NodeSpec, CORE "NodeSpec", "NodeSpec describes the attributes that a node is created with.",
    F("podCIDR", t_str), FK("podCIDRs", a_str, NULL, "merge"), F("providerID", t_str),
    F("unschedulable", t_bool), F("taints", a_Taint), F("configSource", t_free),
    F("externalID", t_str));

OBJ(NodeCondition, CORE "NodeCondition", "NodeCondition contains condition information for a node.",
    F("type", t_str), F("status", t_str), F("lastHeartbeatTime", t_time),
    F("lastTransitionTime", t_time), F("reason", t_str), F("message", t_str));
ARR(a_NodeCondition, NodeCondition);

OBJ(NodeAddress, CORE "NodeAddress", "NodeAddress contains information for the node's address.",
    F("type", t_str), F("address", t_str));
ARR(a_NodeAddress, NodeAddress);

OBJ(DaemonEndpoint, CORE "DaemonEndpoint",
    "DaemonEndpoint contains information about a single Daemon endpoint.", FR("Port", t_i32));
OBJ(NodeDaemonEndpoints, CORE "NodeDaemonEndpoints",
    "NodeDaemonEndpoints lists ports opened by daemons running on the Node.",
    F("kubeletEndpoint", DaemonEndpoint));

OBJ(NodeSystemInfo, CORE "NodeSystemInfo",
    "NodeSystemInfo is a set of ids/uuids to uniquely identify the node.", F("machineID", t_str),
    F("systemUUID", t_str), F("bootID", t_str), F("kernelVersion", t_str), F("osImage", t_str),
    F("containerRuntimeVersion", t_str), F("kubeletVersion", t_str), F("kubeProxyVersion", t_str),
    F("operatingSystem", t_str), F("architecture", t_str), F("swap", t_free));

OBJ(ContainerImage, CORE "ContainerImage", "Describe a container image", F("names", a_str),
    F("sizeBytes", t_i64));
ARR(a_ContainerImage, ContainerImage);

OBJ(AttachedVolume, CORE "AttachedVolume", "AttachedVolume describes a volume attached to a node",
    F("name", t_str), F("devicePath", t_str));
ARR(a_AttachedVolume, AttachedVolume);

OBJ(NodeStatus, CORE "NodeStatus", "NodeStatus is information about the current status of a node.",
    F("capacity", m_qty), F("allocatable", m_qty), F("phase", t_str),
    FK("conditions", a_NodeCondition, "type", "merge"),
    FK("addresses", a_NodeAddress, "type", "merge"), F("daemonEndpoints", NodeDaemonEndpoints),
    F("nodeInfo", NodeSystemInfo), F("images", a_ContainerImage), F("volumesInUse", a_str),
    F("volumesAttached", a_AttachedVolume), F("config", t_free), F("runtimeHandlers", a_free),
    F("features", t_free));

OBJ(Node, CORE "Node", "Node is a worker node in Kubernetes.", ROOT_HEAD, F("spec", NodeSpec),
    F("status", NodeStatus));

/* ---- apps/v1 ---- */

OBJ(RollingUpdateDeployment, APPS "RollingUpdateDeployment",
    "Spec to control the desired behavior of rolling update.", F("maxUnavailable", t_ios),
    F("maxSurge", t_ios));
OBJ(DeploymentStrategy, APPS "DeploymentStrategy",
    "DeploymentStrategy describes how to replace existing pods with new ones.", F("type", t_str),
    F("rollingUpdate", RollingUpdateDeployment));

OBJ(DeploymentSpec, APPS "DeploymentSpec",
    "DeploymentSpec is the specification of the desired behavior of the Deployment.",
    FD("replicas", t_i32, "Number of desired pods."), FR("selector", LabelSelector),
    FR("template", PodTemplateSpec), FK("strategy", DeploymentStrategy, NULL, "retainKeys"),
    F("minReadySeconds", t_i32), F("revisionHistoryLimit", t_i32), F("paused", t_bool),
    F("progressDeadlineSeconds", t_i32));

OBJ(DeploymentCondition, APPS "DeploymentCondition",
    "DeploymentCondition describes the state of a deployment at a certain point.", F("type", t_str),
    F("status", t_str), F("lastUpdateTime", t_time), F("lastTransitionTime", t_time),
    F("reason", t_str), F("message", t_str));
ARR(a_DeploymentCondition, DeploymentCondition);

OBJ(DeploymentStatus, APPS "DeploymentStatus",
    "DeploymentStatus is the most recently observed status of the Deployment.",
    F("observedGeneration", t_i64), F("replicas", t_i32), F("updatedReplicas", t_i32),
    F("readyReplicas", t_i32), F("availableReplicas", t_i32), F("unavailableReplicas", t_i32),
    F("terminatingReplicas", t_i32), FK("conditions", a_DeploymentCondition, "type", "merge"),
    F("collisionCount", t_i32));

OBJ(Deployment, APPS "Deployment",
    "Deployment enables declarative updates for Pods and "
    "ReplicaSets.",
    ROOT_HEAD, F("spec", DeploymentSpec), F("status", DeploymentStatus));

OBJ(ReplicaSetSpec, APPS "ReplicaSetSpec", "ReplicaSetSpec is the specification of a ReplicaSet.",
    F("replicas", t_i32), F("minReadySeconds", t_i32), FR("selector", LabelSelector),
    FR("template", PodTemplateSpec));

OBJ(ReplicaSetCondition, APPS "ReplicaSetCondition",
    "ReplicaSetCondition describes the state of a replica set at a certain point.",
    F("type", t_str), F("status", t_str), F("lastTransitionTime", t_time), F("reason", t_str),
    F("message", t_str));
ARR(a_ReplicaSetCondition, ReplicaSetCondition);

OBJ(ReplicaSetStatus, APPS "ReplicaSetStatus",
    "ReplicaSetStatus represents the current status of a ReplicaSet.", F("replicas", t_i32),
    F("fullyLabeledReplicas", t_i32), F("readyReplicas", t_i32), F("availableReplicas", t_i32),
    F("terminatingReplicas", t_i32), F("observedGeneration", t_i64),
    FK("conditions", a_ReplicaSetCondition, "type", "merge"));

OBJ(ReplicaSet, APPS "ReplicaSet",
    "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
    ROOT_HEAD, F("spec", ReplicaSetSpec), F("status", ReplicaSetStatus));

OBJ(RollingUpdateDaemonSet, APPS "RollingUpdateDaemonSet",
    "Spec to control the desired behavior of daemon set rolling update.",
    F("maxUnavailable", t_ios), F("maxSurge", t_ios));
OBJ(DaemonSetUpdateStrategy, APPS "DaemonSetUpdateStrategy",
    "DaemonSetUpdateStrategy is a struct used to control the update strategy for a DaemonSet.",
    F("type", t_str), F("rollingUpdate", RollingUpdateDaemonSet));

OBJ(DaemonSetSpec, APPS "DaemonSetSpec", "DaemonSetSpec is the specification of a daemon set.",
    FR("selector", LabelSelector), FR("template", PodTemplateSpec),
    F("updateStrategy", DaemonSetUpdateStrategy), F("minReadySeconds", t_i32),
    F("revisionHistoryLimit", t_i32));

OBJ(DaemonSetCondition, APPS "DaemonSetCondition",
    "DaemonSetCondition describes the state of a DaemonSet at a certain point.", F("type", t_str),
    F("status", t_str), F("lastTransitionTime", t_time), F("reason", t_str), F("message", t_str));
ARR(a_DaemonSetCondition, DaemonSetCondition);

OBJ(DaemonSetStatus, APPS "DaemonSetStatus",
    "DaemonSetStatus represents the current status of a daemon set.",
    F("currentNumberScheduled", t_i32), F("numberMisscheduled", t_i32),
    F("desiredNumberScheduled", t_i32), F("numberReady", t_i32), F("observedGeneration", t_i64),
    F("updatedNumberScheduled", t_i32), F("numberAvailable", t_i32), F("numberUnavailable", t_i32),
    F("collisionCount", t_i32), FK("conditions", a_DaemonSetCondition, "type", "merge"));

OBJ(DaemonSet, APPS "DaemonSet", "DaemonSet represents the configuration of a daemon set.",
    ROOT_HEAD, F("spec", DaemonSetSpec), F("status", DaemonSetStatus));

/* ---- batch/v1 ---- */

/* podFailurePolicy and successPolicy are FREE: skiff's job controller
 * does not act on them yet, but manifests that carry them must decode. */
OBJ(JobSpec, BATCH "JobSpec", "JobSpec describes how the job execution will look like.",
    F("parallelism", t_i32), F("completions", t_i32), F("activeDeadlineSeconds", t_i64),
    F("podFailurePolicy", t_free), F("successPolicy", t_free), F("backoffLimit", t_i32),
    F("backoffLimitPerIndex", t_i32), F("maxFailedIndexes", t_i32), F("selector", LabelSelector),
    F("manualSelector", t_bool), FR("template", PodTemplateSpec),
    F("ttlSecondsAfterFinished", t_i32), F("completionMode", t_str), F("suspend", t_bool),
    F("podReplacementPolicy", t_str), F("managedBy", t_str));

OBJ(JobCondition, BATCH "JobCondition", "JobCondition describes current state of a job.",
    F("type", t_str), F("status", t_str), F("lastProbeTime", t_time),
    F("lastTransitionTime", t_time), F("reason", t_str), F("message", t_str));
ARR(a_JobCondition, JobCondition);

OBJ(UncountedTerminatedPods, BATCH "UncountedTerminatedPods",
    "UncountedTerminatedPods holds UIDs of Pods that have terminated but haven't been accounted "
    "in Job status counters.",
    FK("succeeded", a_str, NULL, "merge"), FK("failed", a_str, NULL, "merge"));

OBJ(JobStatus, BATCH "JobStatus", "JobStatus represents the current state of a Job.",
    FK("conditions", a_JobCondition, "type", "merge"), F("startTime", t_time),
    F("completionTime", t_time), F("active", t_i32), F("succeeded", t_i32), F("failed", t_i32),
    F("terminating", t_i32), F("completedIndexes", t_str), F("failedIndexes", t_str),
    F("uncountedTerminatedPods", UncountedTerminatedPods), F("ready", t_i32));

OBJ(Job, BATCH "Job", "Job represents the configuration of a single job.", ROOT_HEAD,
    F("spec", JobSpec), F("status", JobStatus));

OBJ(JobTemplateSpec, BATCH "JobTemplateSpec",
    "JobTemplateSpec describes the data a Job should have when created from a template",
    F("metadata", ObjectMeta), F("spec", JobSpec));

OBJ(CronJobSpec, BATCH "CronJobSpec",
    "CronJobSpec describes how the job execution will look like and when it will actually run.",
    FD("schedule", t_str, "The schedule in Cron format."), F("timeZone", t_str),
    F("startingDeadlineSeconds", t_i64), F("concurrencyPolicy", t_str), F("suspend", t_bool),
    FR("jobTemplate", JobTemplateSpec), F("successfulJobsHistoryLimit", t_i32),
    F("failedJobsHistoryLimit", t_i32));

OBJ(CronJobStatus, BATCH "CronJobStatus",
    "CronJobStatus represents the current state of a cron job.", F("active", a_ObjectReference),
    F("lastScheduleTime", t_time), F("lastSuccessfulTime", t_time));

OBJ(CronJob, BATCH "CronJob", "CronJob represents the configuration of a single cron job.",
    ROOT_HEAD, F("spec", CronJobSpec), F("status", CronJobStatus));

/* ---- autoscaling/v2 ---- */

#define AS2 "io.k8s.api.autoscaling.v2."

OBJ(CrossVersionObjectReference, AS2 "CrossVersionObjectReference",
    "CrossVersionObjectReference contains enough information to let you identify the referred "
    "resource.",
    FR("kind", t_str), FR("name", t_str), F("apiVersion", t_str));
OBJ(MetricTarget, AS2 "MetricTarget",
    "MetricTarget defines the target value, average value, or average utilization of a specific "
    "metric",
    FR("type", t_str), F("value", t_qty), F("averageValue", t_qty), F("averageUtilization", t_i32));
OBJ(MetricValueStatus, AS2 "MetricValueStatus",
    "MetricValueStatus holds the current value for a metric", F("value", t_qty),
    F("averageValue", t_qty), F("averageUtilization", t_i32));
OBJ(ResourceMetricSource, AS2 "ResourceMetricSource",
    "ResourceMetricSource indicates how to scale on a resource metric known to Kubernetes.",
    FR("name", t_str), FR("target", MetricTarget));
OBJ(ContainerResourceMetricSource, AS2 "ContainerResourceMetricSource",
    "ContainerResourceMetricSource indicates how to scale on a resource metric known to "
    "Kubernetes.",
    FR("name", t_str), FR("target", MetricTarget), FR("container", t_str));
/* Pods, Object and External sources decode (FREE) but skiff has no custom
 * metrics pipeline: validation refuses them. */
OBJ(MetricSpec, AS2 "MetricSpec", "MetricSpec specifies how to scale based on a single metric.",
    FR("type", t_str), F("resource", ResourceMetricSource),
    F("containerResource", ContainerResourceMetricSource), F("pods", t_free), F("object", t_free),
    F("external", t_free));
ARR(a_MetricSpec, MetricSpec);
OBJ(HPAScalingPolicy, AS2 "HPAScalingPolicy",
    "HPAScalingPolicy is a single policy which must hold true for a specified past interval.",
    FR("type", t_str), FR("value", t_i32), FR("periodSeconds", t_i32));
ARR(a_HPAScalingPolicy, HPAScalingPolicy);
OBJ(HPAScalingRules, AS2 "HPAScalingRules",
    "HPAScalingRules configures the scaling behavior for one direction.",
    F("stabilizationWindowSeconds", t_i32), F("selectPolicy", t_str),
    F("policies", a_HPAScalingPolicy), F("tolerance", t_qty));
OBJ(HorizontalPodAutoscalerBehavior, AS2 "HorizontalPodAutoscalerBehavior",
    "HorizontalPodAutoscalerBehavior configures the scaling behavior of the target in both Up "
    "and Down directions (scaleUp and scaleDown fields respectively).",
    F("scaleUp", HPAScalingRules), F("scaleDown", HPAScalingRules));
OBJ(HorizontalPodAutoscalerSpec, AS2 "HorizontalPodAutoscalerSpec",
    "HorizontalPodAutoscalerSpec describes the desired functionality of the "
    "HorizontalPodAutoscaler.",
    FR("scaleTargetRef", CrossVersionObjectReference), F("minReplicas", t_i32),
    FR("maxReplicas", t_i32), F("metrics", a_MetricSpec),
    F("behavior", HorizontalPodAutoscalerBehavior));
OBJ(ResourceMetricStatus, AS2 "ResourceMetricStatus",
    "ResourceMetricStatus indicates the current value of a resource metric known to Kubernetes.",
    FR("name", t_str), FR("current", MetricValueStatus));
OBJ(ContainerResourceMetricStatus, AS2 "ContainerResourceMetricStatus",
    "ContainerResourceMetricStatus indicates the current value of a resource metric known to "
    "Kubernetes.",
    FR("name", t_str), FR("current", MetricValueStatus), FR("container", t_str));
OBJ(MetricStatus, AS2 "MetricStatus",
    "MetricStatus describes the last-read state of a single metric.", FR("type", t_str),
    F("resource", ResourceMetricStatus), F("containerResource", ContainerResourceMetricStatus),
    F("pods", t_free), F("object", t_free), F("external", t_free));
ARR(a_MetricStatus, MetricStatus);
OBJ(HorizontalPodAutoscalerCondition, AS2 "HorizontalPodAutoscalerCondition",
    "HorizontalPodAutoscalerCondition describes the state of a HorizontalPodAutoscaler at a "
    "certain point.",
    FR("type", t_str), FR("status", t_str), F("lastTransitionTime", t_time), F("reason", t_str),
    F("message", t_str));
ARR(a_HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerCondition);
OBJ(HorizontalPodAutoscalerStatus, AS2 "HorizontalPodAutoscalerStatus",
    "HorizontalPodAutoscalerStatus describes the current status of a horizontal pod autoscaler.",
    F("observedGeneration", t_i64), F("lastScaleTime", t_time), F("currentReplicas", t_i32),
    FR("desiredReplicas", t_i32), F("currentMetrics", a_MetricStatus),
    FK("conditions", a_HorizontalPodAutoscalerCondition, "type", "merge"));
OBJ(HorizontalPodAutoscaler, AS2 "HorizontalPodAutoscaler",
    "HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which "
    "automatically manages the replica count of any resource implementing the scale subresource "
    "based on the metrics specified.",
    ROOT_HEAD, F("spec", HorizontalPodAutoscalerSpec), F("status", HorizontalPodAutoscalerStatus));

/* ---- coordination.k8s.io/v1 ---- */

OBJ(LeaseSpec, COORD "LeaseSpec", "LeaseSpec is a specification of a Lease.",
    F("holderIdentity", t_str), F("leaseDurationSeconds", t_i32), F("acquireTime", t_microtime),
    F("renewTime", t_microtime), F("leaseTransitions", t_i32), F("strategy", t_str),
    F("preferredHolder", t_str));

OBJ(Lease, COORD "Lease", "Lease defines a lease concept.", ROOT_HEAD, F("spec", LeaseSpec));

/* ---- autoscaling/v1 Scale, served by /scale ---- */

OBJ(ScaleSpec, "io.k8s.api.autoscaling.v1.ScaleSpec",
    "ScaleSpec describes the attributes of a scale subresource.", F("replicas", t_i32));
OBJ(ScaleStatus, "io.k8s.api.autoscaling.v1.ScaleStatus",
    "ScaleStatus represents the current status of a scale subresource.", F("replicas", t_i32),
    F("selector", t_str));

static const struct api_sch_field Scale_fields[] = {ROOT_HEAD, F("spec", ScaleSpec),
                                                    F("status", ScaleStatus), END_FIELDS};
/* Not static: api/openapi.c renders it for the /scale paths. */
const struct api_sch api__sch_scale = {"io.k8s.api.autoscaling.v1.Scale",
                                       API_SCH_OBJECT,
                                       NULL,
                                       Scale_fields,
                                       NULL,
                                       "Scale represents a scaling request for a resource."};
static const struct api_sch_field ListMeta_fields[] = {
    F("selfLink", t_str), F("resourceVersion", t_str), F("continue", t_str),
    F("remainingItemCount", t_i64), END_FIELDS};
/* Not static: api/openapi.c uses it for the list kinds' metadata. */
const struct api_sch api__sch_list_meta = {
    META "ListMeta",
    API_SCH_OBJECT,
    NULL,
    ListMeta_fields,
    NULL,
    "ListMeta describes metadata that synthetic resources must have, including lists."};

/* ---- lookups ---- */

static const struct {
    const char *group, *kind;
    const struct api_sch *root;
} roots[] = {
    {"", "Namespace", &Namespace},
    {"", "Node", &Node},
    {"", "Pod", &Pod},
    {"", "Service", &Service},
    {"", "Endpoints", &Endpoints},
    {"", "Secret", &Secret},
    {"", "ConfigMap", &ConfigMap},
    {"apps", "Deployment", &Deployment},
    {"apps", "ReplicaSet", &ReplicaSet},
    {"apps", "DaemonSet", &DaemonSet},
    {"batch", "Job", &Job},
    {"batch", "CronJob", &CronJob},
    {"autoscaling", "HorizontalPodAutoscaler", &HorizontalPodAutoscaler},
    {"coordination.k8s.io", "Lease", &Lease},
};

const struct api_sch *api__sch_kind(const struct api_kind *k)
{
    size_t i;
    if (k == NULL)
        return NULL;
    for (i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (strcmp(roots[i].kind, k->kind) == 0 && strcmp(roots[i].group, k->group) == 0)
            return roots[i].root;
    return NULL;
}

struct api_sch_finfo api__sch_field_info(const struct api_sch *s, const char *name)
{
    struct api_sch_finfo fi = {NULL, NULL, NULL};
    const struct api_sch_field *f;
    if (s != NULL && s->type == API_SCH_MAP) {
        fi.type = s->elem;
        return fi;
    }
    f = api__sch_field(s, name);
    if (f != NULL) {
        fi.type = f->type;
        fi.merge_key = f->merge_key;
        fi.strategy = f->patch_strategy;
    }
    return fi;
}

const struct api_sch_field *api__sch_field(const struct api_sch *s, const char *name)
{
    const struct api_sch_field *f;
    if (s == NULL || s->type != API_SCH_OBJECT || s->fields == NULL || name == NULL)
        return NULL;
    for (f = s->fields; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

int api__fv_parse(const char *s)
{
    /* The apiserver takes exactly these spellings (and "" as its default). */
    if (s == NULL || s[0] == '\0' || strcmp(s, "Warn") == 0)
        return API_FV_WARN;
    if (strcmp(s, "Strict") == 0)
        return API_FV_STRICT;
    if (strcmp(s, "Ignore") == 0)
        return API_FV_IGNORE;
    return -1;
}

/* ---- decoding checks ---- */

/* Deeper than this is refused. The schema itself is far shallower (a
 * CronJob's container probe header is ~14 levels); the bound matters for
 * FREE values, which later code (msgpack, patch) walks recursively. */
#define MAX_DEPTH 64

struct ck {
    int mode;
    struct api_ferrs *fe;
    size_t len;     /* of path */
    char path[768]; /* "spec.template.spec.containers[0].image"; truncated if longer */
};

static size_t path_push(struct ck *c, const char *fmt, const char *s, size_t idx)
{
    size_t old = c->len, room = sizeof c->path - c->len, i;
    int n;
    if (fmt == NULL) /* a field: "name" at the top, ".name" below */
        n = snprintf(c->path + c->len, room, "%s%s", c->len ? "." : "", s);
    else if (s != NULL) /* a map entry */
        n = snprintf(c->path + c->len, room, "[%s]", s);
    else /* an array element */
        n = snprintf(c->path + c->len, room, "[%zu]", idx);
    c->len = n < 0 ? old : (size_t)n >= room ? sizeof c->path - 1 : old + (size_t)n;
    /* keys are user input and paths end up in messages and Warning headers */
    for (i = old; i < c->len; i++)
        if ((unsigned char)c->path[i] < 0x20 || c->path[i] == 0x7f)
            c->path[i] = '?';
    return old;
}

static void path_pop(struct ck *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

/* The offending value as the apiserver quotes it. Containers are elided:
 * quoting them could be long, and would recurse into hostile nesting. */
static void value_repr(const json_t *v, char *buf, size_t size)
{
    char *s;
    if (json_is_object(v) || json_is_array(v)) {
        snprintf(buf, size, "%s", json_is_object(v) ? "{...}" : "[...]");
        return;
    }
    s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s == NULL) {
        snprintf(buf, size, "?");
        return;
    }
    if (strlen(s) > 64)
        snprintf(buf, size, "%.60s...", s);
    else
        snprintf(buf, size, "%s", s);
    free(s);
}

static void type_error(struct ck *c, const json_t *v, const char *want)
{
    char val[80];
    value_repr(v, val, sizeof val);
    api__ferr_add(c->fe, true, c->path, "Invalid value: %s: %s%sbody must be of type %s: \"%s\"",
                  val, c->path, c->len ? " in " : "", want, json_type_name(v));
}

/* Kubernetes quantity syntax (k8s.io/apimachinery/pkg/api/resource):
 * a signed decimal, then nothing, a binary suffix (Ki..Ei), a decimal suffix
 * (n u m k M G T P E) or a decimal exponent (e3, E-2). */
static bool quantity_ok(const char *s)
{
    static const char *const suffixes[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
                                           "m",  "k",  "M",  "G",  "T",  "P",  "E", ""};
    size_t digits = 0, dots = 0, i;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.')
            dots++;
        else
            digits++;
    }
    if (digits == 0 || dots > 1)
        return false;
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (strcmp(p, suffixes[i]) == 0)
            return true;
    if (*p != 'e' && *p != 'E')
        return false;
    p++;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0')
        return false;
    for (; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* A number where a quantity goes (requests: {cpu: 0.5}) is stored as the
 * string it stands for: a Quantity always serialises as a string, so
 * readers of stored objects see one type. */
static json_t *quantity_string(const json_t *v)
{
    char buf[64];
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
    return json_string(buf);
}

static bool b64_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

static size_t skip_newlines(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* -1 when s is standard padded base64 as Go's encoding/base64 reads it (it
 * skips CR and LF), else the input byte Go's CorruptInputError names, so our
 * message matches the apiserver's. OpenSSL's decoder does not report that
 * offset, hence this small validator rather than a decode. */
static long b64_bad_at(const char *s, size_t n)
{
    size_t si = 0;
    for (;;) {
        size_t j = 0;
        while (j < 4) {
            char ch;
            if (si == n) {
                if (j == 0)
                    return -1;
                return (long)(si - j);
            }
            ch = s[si++];
            if (ch == '\r' || ch == '\n')
                continue;
            if (b64_char(ch)) {
                j++;
                continue;
            }
            if (ch != '=' || j < 2)
                return (long)(si - 1);
            /* padding: "==" after two symbols, "=" after three; then the end */
            if (j == 2) {
                si = skip_newlines(s, n, si);
                if (si == n)
                    return (long)n;
                if (s[si] != '=')
                    return (long)(si - 1);
                si++;
            }
            si = skip_newlines(s, n, si);
            return si < n ? (long)si : -1;
        }
    }
}

/* RFC 3339 as metav1.Time and MicroTime parse it:
 * 2006-01-02T15:04:05[.frac](Z|+07:00). */
static bool time_ok(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;
    for (i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    }
    s += i;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (s[0] == 'Z' && s[1] == '\0')
        return true;
    return (s[0] == '+' || s[0] == '-') && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
           s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9' &&
           s[6] == '\0';
}

static void check_string(struct ck *c, const struct api_sch *s, const json_t *v)
{
    const char *str = json_string_value(v);
    long bad;
    if (s->format == NULL)
        return;
    if (strcmp(s->format, "byte") == 0) {
        bad = b64_bad_at(str, json_string_length(v));
        /* the value is not quoted: this is Secret data */
        if (bad >= 0)
            api__ferr_add(c->fe, true, c->path, "illegal base64 data at input byte %ld", bad);
    } else if (strcmp(s->format, "date-time") == 0 && !time_ok(str)) {
        char val[80];
        value_repr(v, val, sizeof val);
        api__ferr_add(c->fe, true, c->path,
                      "Invalid value: %s: parsing time as \"2006-01-02T15:04:05Z07:00\": not an "
                      "RFC 3339 time",
                      val);
    }
}

/* A JSON real with an integral value ("2.0" from some client libraries)
 * becomes an integer; anything else that is not an integer is a type error.
 * Returns true when v (or *repl) is an acceptable integer. */
static bool integer_value(const json_t *v, json_int_t *out, json_t **repl)
{
    double d;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (!json_is_real(v))
        return false;
    d = json_real_value(v);
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || floor(d) != d)
        return false;
    *out = (json_int_t)d;
    *repl = json_integer(*out);
    return true;
}

static void check_integer(struct ck *c, const struct api_sch *s, json_t *v, json_t **repl,
                          const char *want)
{
    json_int_t n;
    if (!integer_value(v, &n, repl)) {
        type_error(c, v, want);
        return;
    }
    if (s->format != NULL && strcmp(s->format, "int32") == 0 && (n < INT32_MIN || n > INT32_MAX))
        api__ferr_add(c->fe, true, c->path,
                      "Invalid value: %" JSON_INTEGER_FORMAT
                      ": must be a 32-bit integer (between -2147483648 and 2147483647)",
                      n);
}

/* A FREE value is not checked, only bounded in depth. */
static bool free_depth_ok(const json_t *v, int depth)
{
    const char *key;
    json_t *x;
    size_t i;
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (depth > MAX_DEPTH)
        return false;
    if (json_is_object(v)) {
        json_object_foreach ((json_t *)v, key, x)
            if (!free_depth_ok(x, depth + 1))
                return false;
    } else {
        json_array_foreach (v, i, x)
            if (!free_depth_ok(x, depth + 1))
                return false;
    }
    return true;
}

static void check_value(struct ck *c, const struct api_sch *s, json_t *v, int depth, json_t **repl);

/* Go's zero value for a null array element or map value (a []string element
 * decodes to "", a []Struct element to {}); NULL: drop it (maps) or keep
 * the null (arrays of other types). */
static json_t *null_zero(const struct api_sch *s)
{
    switch (s->type) {
    case API_SCH_STRING:
        return json_string("");
    case API_SCH_OBJECT:
    case API_SCH_MAP:
        return json_object();
    default:
        return NULL;
    }
}

static void check_object(struct ck *c, const struct api_sch *s, json_t *obj, int depth)
{
    const struct api_sch_field *f;
    const char *key;
    json_t *v, *repl;
    void *tmp;
    json_object_foreach_safe(obj, tmp, key, v)
    {
        size_t old = path_push(c, NULL, key, 0);
        f = api__sch_field(s, key);
        if (f == NULL) {
            if (c->mode == API_FV_STRICT)
                api__ferr_add(c->fe, true, NULL, "unknown field \"%s\"", c->path);
            else if (c->mode == API_FV_WARN)
                api__ferr_warn(c->fe, "unknown field \"%s\"", c->path);
            if (c->mode != API_FV_STRICT)
                json_object_del(obj, key);
        } else if (json_is_null(v)) {
            /* null means unset: drop it, as decoding into Go types does */
            json_object_del(obj, key);
        } else {
            repl = NULL;
            check_value(c, f->type, v, depth + 1, &repl);
            if (repl != NULL)
                json_object_set_new(obj, key, repl);
        }
        path_pop(c, old);
    }
    for (f = s->fields; f->name != NULL; f++) {
        if ((f->flags & API_SCH_REQUIRED) && json_object_get(obj, f->name) == NULL) {
            size_t old = path_push(c, NULL, f->name, 0);
            api__ferr_add(c->fe, false, c->path, "Required value");
            path_pop(c, old);
        }
    }
}

static void check_map(struct ck *c, const struct api_sch *s, json_t *obj, int depth)
{
    const char *key;
    json_t *v, *repl;
    void *tmp;
    json_object_foreach_safe(obj, tmp, key, v)
    {
        size_t old = path_push(c, "[]", key, 0);
        repl = NULL;
        if (json_is_null(v)) {
            repl = null_zero(s->elem);
            if (repl == NULL)
                json_object_del(obj, key);
        } else {
            check_value(c, s->elem, v, depth + 1, &repl);
        }
        if (repl != NULL)
            json_object_set_new(obj, key, repl);
        path_pop(c, old);
    }
}

static void check_array(struct ck *c, const struct api_sch *s, json_t *arr, int depth)
{
    size_t i, old;
    json_t *v, *repl;
    json_array_foreach (arr, i, v) {
        old = path_push(c, "[]", NULL, i);
        repl = NULL;
        if (json_is_null(v))
            repl = null_zero(s->elem);
        else
            check_value(c, s->elem, v, depth + 1, &repl);
        if (repl != NULL)
            json_array_set_new(arr, i, repl);
        path_pop(c, old);
    }
}

/* Checks v (not null) against s; *repl may be set to a new value that
 * replaces v in its parent (a normalised integer). */
static void check_value(struct ck *c, const struct api_sch *s, json_t *v, int depth, json_t **repl)
{
    if (depth > MAX_DEPTH) {
        api__ferr_add(c->fe, true, c->path, "Invalid value: nested more than %d levels deep",
                      MAX_DEPTH);
        return;
    }
    switch (s->type) {
    case API_SCH_OBJECT:
        if (!json_is_object(v))
            type_error(c, v, "object");
        else
            check_object(c, s, v, depth);
        break;
    case API_SCH_MAP:
        if (!json_is_object(v))
            type_error(c, v, "object");
        else
            check_map(c, s, v, depth);
        break;
    case API_SCH_ARRAY:
        if (!json_is_array(v))
            type_error(c, v, "array");
        else
            check_array(c, s, v, depth);
        break;
    case API_SCH_STRING:
        if (!json_is_string(v))
            type_error(c, v, "string");
        else
            check_string(c, s, v);
        break;
    case API_SCH_INTEGER:
        check_integer(c, s, v, repl, "integer");
        break;
    case API_SCH_NUMBER:
        if (!json_is_number(v))
            type_error(c, v, "number");
        break;
    case API_SCH_BOOLEAN:
        if (!json_is_boolean(v))
            type_error(c, v, "boolean");
        break;
    case API_SCH_INT_OR_STRING:
        /* intstr.IntOrString holds an int32 */
        if (!json_is_string(v)) {
            if (json_is_number(v))
                check_integer(c, &t_i32, v, repl, "integer or string");
            else
                type_error(c, v, "integer or string");
        }
        break;
    case API_SCH_QUANTITY:
        if (json_is_string(v)) {
            if (!quantity_ok(json_string_value(v))) {
                char val[80];
                value_repr(v, val, sizeof val);
                api__ferr_add(c->fe, false, c->path,
                              "Invalid value: %s: quantities must match the regular expression "
                              "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                              val);
            }
        } else if (json_is_number(v)) {
            *repl = quantity_string(v);
        } else {
            type_error(c, v, "string or number");
        }
        break;
    case API_SCH_FREE:
        if (!free_depth_ok(v, depth))
            api__ferr_add(c->fe, true, c->path, "Invalid value: nested more than %d levels deep",
                          MAX_DEPTH);
        break;
    default:
        break;
    }
}

size_t api__sch_check(const struct api_sch *s, json_t *obj, int mode, struct api_ferrs *fe)
{
    struct ck c;
    size_t before = fe->n + fe->dropped;
    json_t *repl = NULL;
    if (s == NULL || obj == NULL)
        return 0;
    c.mode = mode;
    c.fe = fe;
    c.len = 0;
    c.path[0] = '\0';
    if (json_is_null(obj)) {
        type_error(&c, obj, "object");
        return fe->n + fe->dropped - before;
    }
    check_value(&c, s, obj, 0, &repl);
    /* a root is an object: nothing to replace it with */
    json_decref(repl);
    return fe->n + fe->dropped - before;
}
