/* api/proto.h: Kubernetes protobuf request bodies (api-internal).
 *
 * kubectl's typed commands (create configmap|secret|namespace|deployment|job|
 * cronjob|service, run) send objects as Content-Type
 * application/vnd.kubernetes.protobuf. skiff speaks JSON inside, so the
 * server turns such a body into the JSON object the same request would have
 * carried as JSON and goes on as for a JSON body. Only decoding: skiff never
 * answers in protobuf (kubectl asks for JSON as a fallback).
 *
 * Pure and reentrant: no I/O, no global mutable state; any thread. */
#ifndef SKIFF_API_PROTO_H
#define SKIFF_API_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* Decodes a Kubernetes protobuf body ("k8s\0" magic + runtime.Unknown
 * envelope {typeMeta{apiVersion, kind}, raw, contentEncoding, contentType})
 * into the JSON object the same request would carry as JSON (apiVersion and
 * kind filled from typeMeta).
 *
 * Kinds: v1 ConfigMap, Secret, Namespace, Service, Pod; apps/v1 Deployment,
 * ReplicaSet; batch/v1 Job, CronJob. Field numbers are those of the
 * generated.proto files of k8s.io/api and k8s.io/apimachinery.
 *
 * The JSON follows Go's encoding/json of the same Go struct, so it matches
 * what kubectl sends as JSON: the Go protobuf marshaller writes every
 * non-pointer field even when zero, and the JSON tags are omitempty, so a
 * zero string/number/false of a non-pointer field is left out; pointer
 * fields (replicas, terminationGracePeriodSeconds, ...) are kept even when
 * zero; non-pointer structs (spec, status, resources, strategy) stay as
 * objects, possibly {}; an empty metav1.Time is null ("creationTimestamp":
 * null). Unknown field numbers are skipped (protobuf rules). []byte fields
 * become standard base64 strings; Quantity its string; IntOrString a JSON
 * integer or string; Time RFC3339 in UTC; MicroTime RFC3339 with
 * microseconds; Duration Go's time.Duration string ("1m30s").
 *
 * Errors (ERR_INVALID, message naming what is wrong and where): bad magic,
 * truncated varint or length at <path>, wrong wire type at <path>, invalid
 * UTF-8 / NUL in a string at <path>, nesting too deep, unsupported
 * contentEncoding/contentType, unknown kind "X": protobuf bodies are
 * accepted for .... ERR_NOMEM on allocation failure. Never reads outside
 * buf[0..len).
 *
 * Borrows buf. On success *out is a new reference (json_decref it); on
 * failure *out is untouched. */
int api__proto_decode(const void *buf, size_t len, json_t **out, struct err *e);

/* Whether api__proto_decode knows the kind ("v1"/"ConfigMap", "apps/v1"/
 * "Deployment", ...). Lets the server keep answering 415 for protobuf bodies
 * of kinds it cannot decode, as it does for any unsupported media type. */
bool api__proto_kind_known(const char *api_version, const char *kind);

#endif
