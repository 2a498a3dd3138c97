/* agent/pullsecret: imagePullSecrets. Reads registry credentials from
 * Secrets of type kubernetes.io/dockerconfigjson (data[".dockerconfigjson"]:
 * {"auths": {KEY: {...}}}) and kubernetes.io/dockercfg (data[".dockercfg"]:
 * {KEY: {...}}), finds the entry for an image's registry the way docker and
 * the kubelet do, and turns it into the agent_image_registry list a pull
 * takes. Pure functions over JSON: any thread, no I/O. The Secret lookup
 * itself is the caller's (the driver's lookup callback, on the loop). */
#ifndef SKIFF_AGENT_PULLSECRET_H
#define SKIFF_AGENT_PULLSECRET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent/image.h"
#include "lib/err.h"

#define AGENT_PULLSECRET_REGS_MAX 32 /* node registries a pull with credentials can carry */

struct agent_pull_cred {
    char username[256];
    char password[1024];
};

/* The credentials for registry host ("host[:port]", the registry part of
 * a parsed reference; "docker.io" also matches docker's index.docker.io
 * keys) in one Secret object. Keys match, in this order: exactly host;
 * then after dropping a scheme (https://, http://) and a path; then a
 * "*.domain" wildcard for one label, as the kubelet allows. An entry's
 * "auth" (base64 "user:password") wins over its username/password.
 * *found is false (and 0 returned) when the Secret has no entry for host.
 * ERR_INVALID naming the field ("data[\".dockerconfigjson\"]: ...",
 * "....auths[\"KEY\"].auth: ...") for a Secret of another type or a
 * malformed one; ERR_NOMEM. cred is cleared first. */
int agent__pullsecret_find(const json_t *secret, const char *host, struct agent_pull_cred *cred,
                           bool *found, struct err *e);

/* Looks up one Secret by name in the pod's namespace: borrowed, NULL when
 * there is none (agent_pods_lookup_cb fits with kind "Secret"). */
typedef const json_t *(*agent_pullsecret_lookup_cb)(void *data, const char *kind, const char *ns,
                                                    const char *name);

/* For a pod's spec.imagePullSecrets and one image: the first listed Secret
 * with an entry for the image's registry. Missing Secrets are skipped and
 * named in missing (", "-separated, may be NULL) so the caller can warn:
 * the kubelet then pulls anonymously as well. A malformed Secret is an
 * error naming it ("imagePullSecrets[1] (regcred): ..."), as is a bad
 * image reference. *found false when none has credentials. */
int agent__pullsecret_for_image(const json_t *pod, const char *image,
                                agent_pullsecret_lookup_cb lookup, void *lookup_data,
                                struct agent_pull_cred *cred, bool *found, char *missing,
                                size_t missing_cap, struct err *e);

/* The registry list of a pull with cred for host: base (the node's
 * configured registries) copied into out (room for n_base + 1), the entry
 * for host given cred's username/password, or a new entry when base has
 * none (plain HTTP for loopback hosts, as agent_image_pull does without an
 * entry). Strings are borrowed from base, host and cred: keep them alive
 * while out is used. *n_out entries. */
void agent__pullsecret_registries(const struct agent_image_registry *base, size_t n_base,
                                  const char *host, const struct agent_pull_cred *cred,
                                  struct agent_image_registry *out, size_t *n_out);

#endif
