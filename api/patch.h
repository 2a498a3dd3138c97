/* api/patch.h (api-internal): the PATCH bodies the apiserver accepts, as
 * pure functions over jansson values (api/patch.c, api/apply.c):
 *   application/merge-patch+json           RFC 7386
 *   application/json-patch+json            RFC 6902
 *   application/strategic-merge-patch+json Kubernetes strategic merge patch
 *   application/apply-patch+yaml           server-side apply (field managers)
 * Strategic merge and apply are guided by api/schema.h (merge keys and patch
 * strategies of lists). Errors are ERR_INVALID with a message naming the
 * offending part of the patch; *doc is then unchanged. Any thread. */
#ifndef SKIFF_API_PATCH_H
#define SKIFF_API_PATCH_H

#include <jansson.h>
#include <stdbool.h>

#include "api/schema.h"
#include "lib/err.h"

/* RFC 7386: *doc (owned; may be replaced by a new reference) merged with
 * patch (borrowed). A non-object patch replaces the document. */
int api__merge_patch(json_t **doc, const json_t *patch, struct err *e);

/* RFC 6902: ops (borrowed, a JSON array of operations: add, remove, replace,
 * move, copy, test) applied in order, all or nothing. Errors name the op:
 * `json patch: op 2 (replace /spec/foo): path not found`; a failed test is
 * ERR_CONFLICT. */
int api__json_patch(json_t **doc, const json_t *ops, struct err *e);

/* Kubernetes strategic merge patch of *doc by patch, both objects of the
 * kind whose root schema is s (NULL: plain merge patch semantics
 * throughout). Maps merge as in RFC 7386; a list whose field has a
 * merge_key merges element-wise by that key (patch elements update the
 * live element with the same key, new keys are appended); lists with
 * strategy "merge" and no key (primitive sets) take the union; other lists
 * are replaced. Directives: "$patch": "replace" | "delete" | "merge" (in
 * maps and list elements), "$retainKeys", "$setElementOrder/<field>",
 * "$deleteFromPrimitiveList/<field>". Fields the schema does not know
 * (labels, annotations, FREE values) follow merge patch rules. */
int api__strategic_patch(json_t **doc, const json_t *patch, const struct api_sch *s, struct err *e);

/* Server-side apply by field manager `manager` of applied config `applied`
 * (borrowed; a whole object as the user wrote it) onto *live (owned, may be
 * replaced; NULL when the object does not exist yet: then *live becomes the
 * applied object). Ownership is kept in metadata.managedFields as the
 * apiserver does (entries {manager, operation:"Apply", apiVersion, time,
 * fieldsType:"FieldsV1", fieldsV1:{"f:spec":{"f:replicas":{}}, keyed list
 * items as "k:{\"name\":\"nginx\"}", set items as "v:..."}}).
 *   - fields in applied are set on live (maps merged, keyed lists merged by
 *     key as in strategic merge);
 *   - fields this manager applied before and omits now are removed, unless
 *     another manager also owns them;
 *   - a field applied with a value different from live's that another
 *     manager owns is a conflict: ERR_CONFLICT naming the field and its
 *     owner(s) (`conflict with "kubectl-client-side-apply": .spec.replicas`),
 *     unless force, which takes ownership.
 * now: RFC 3339 time for the managedFields entry. */
int api__apply_patch(json_t **live, const json_t *applied, const char *manager, bool force,
                     const struct api_sch *s, const char *api_version, const char *now,
                     struct err *e);

/* Records an update (PUT, non-apply PATCH) by manager in managedFields:
 * the fields of new_obj that differ from old_obj (NULL on create) become
 * owned by manager with operation "Update" and are removed from other
 * managers' sets. Cheap to skip: controllers may pass manager NULL (no-op). */
int api__managed_update(json_t *new_obj, const json_t *old_obj, const char *manager,
                        const struct api_sch *s, const char *api_version, const char *now,
                        struct err *e);

#endif
