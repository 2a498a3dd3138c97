/* api/validate.h (api-internal): the apiserver's semantic validation and
 * defaulting of the kinds skiff serves, beyond what the type check of
 * api/schema.c catches. Validation reports field errors with the
 * apiserver's paths and wording (pkg/apis/{core,apps,batch}/validation and
 * the apimachinery helpers), so that what users read matches what they
 * search for. Defaulting mirrors the SetDefaults_* functions for the fields
 * skiff uses. Pure functions over jansson values; any thread. Included by
 * api/ sources only. */
#ifndef SKIFF_API_VALIDATE_H
#define SKIFF_API_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "api/schema.h"

/* Semantic validation of obj (a whole object of kind k, already
 * type-checked). old: the stored object on update (NULL on create), for
 * immutability rules. Adds errors to fe; returns how many were added.
 * Both objects are borrowed and never modified. A field of the wrong JSON
 * type is treated as absent (schema.c reports it). An error whose text is
 * already in fe is not added twice (the apiserver's ToAggregate dedups).
 * Call api__defaults(k, obj) first, as the apiserver defaults at decode:
 * on update, old is the stored (defaulted) object, and an undefaulted obj
 * would make a Job's template look changed. */
size_t api__validate(const struct api_kind *k, const json_t *obj, const json_t *old,
                     struct api_ferrs *fe);

/* Kubernetes defaulting, in place, for the fields skiff uses (workload
 * replicas and strategies, pod spec and container defaults, probes,
 * Service type/ports/policies, Secret type, Namespace finalizers and phase,
 * Pod status phase and qosClass). Only absent (or null) fields are set, so
 * applying it twice changes nothing. Fields of the wrong JSON type are left
 * alone. Allocation failures leave the field unset. */
void api__defaults(const struct api_kind *k, json_t *obj);

/* ---- shared by validate.c and defaults.c ---- */

/* A resource.Quantity in units of 1e-9 ("nano"), saturated at the int128
 * range: exact for everything a container asks for, so "500m" == "0.5". */
typedef __int128 api__qty;

/* Parses q (a JSON string like "100m", "1.5Gi", "2e3", or a JSON number)
 * into *out. Returns NULL on success, else the apiserver's reason
 * ("quantities must match the regular expression ..." or "unable to parse
 * quantity's suffix"). */
const char *api__qty_parse(const json_t *q, api__qty *out);

/* The pod's QoS class from its containers' cpu/memory requests and limits
 * (BestEffort, Burstable or Guaranteed), as kubelet's GetPodQOS. spec may
 * be NULL (BestEffort). Static string. */
const char *api__pod_qos(const json_t *spec);

#endif
