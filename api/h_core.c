/* Cluster-level endpoints: version, health, the CA for join discovery and
 * the consensus status. */
#include "api/internal.h"

#include <string.h>

#define SKIFF_VERSION "0.1.0"

void api__h_version(struct api_req *r)
{
    /* kubectl reads major/minor; we speak the v1.29 dialect for what we
     * serve. The other fields are version.Info's, so clients that print or
     * parse them (kubectl version -o json) find every one. */
    api_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major",
                             "1", "minor", "29", "gitVersion", "v1.29.0-skiff." SKIFF_VERSION,
                             "gitCommit", "", "gitTreeState", "", "buildDate", "", "goVersion", "",
                             "compiler", "gcc", "platform", "linux/amd64", "skiffVersion",
                             SKIFF_VERSION, "node", api__node_name(r->api)));
}

void api__h_healthz(struct api_req *r)
{
    api_reply_raw(r, 200, "text/plain; charset=utf-8", "ok", 2);
}

static void on_ready_status(struct api_req *r, int status)
{
    static const char msg[] = "[-]consensus: no leader known";
    if (status != 0 || r->op.status.st.leader[0] == '\0') {
        api_reply_raw(r, 503, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    api_reply_raw(r, 200, "text/plain; charset=utf-8", "ok", 2);
}

void api__h_readyz(struct api_req *r)
{
    struct err e;
    if (api_req_status(r, on_ready_status, &e) != 0)
        api_reply_raw(r, 503, "text/plain; charset=utf-8", e.msg, strlen(e.msg));
}

void api__h_ca(struct api_req *r)
{
    const char *pem = api__ca_pem(r->api);
    if (pem == NULL) {
        api_reply_error(r, ERR_NOTFOUND, "ca: this node serves no CA certificate");
        return;
    }
    api_reply_raw(r, 200, "application/x-pem-file", pem, strlen(pem));
}

static json_t *member_json(const struct cons_member *m)
{
    return json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:b}", "name", m->name, "id",
                     (json_int_t)m->id, "role", cons_role_name(m->role), "address", m->peer_address,
                     "apiAddress", m->api_address, "reachable", m->reachable, "leader",
                     m->is_leader);
}

static void on_cluster_status(struct api_req *r, int status)
{
    const struct cons_status *st = &r->op.status.st;
    json_t *members, *out;
    size_t i;

    if (status != 0) {
        api_reply_err(r, &r->op.status.err);
        return;
    }
    members = json_array();
    for (i = 0; members != NULL && i < st->n_members && i < 64; i++)
        json_array_append_new(members, member_json(&st->members[i]));
    out = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "leader", st->leader, "term",
                    (json_int_t)st->term, "commitIndex", (json_int_t)st->commit_index,
                    "appliedIndex", (json_int_t)st->applied_index, "revision",
                    (json_int_t)st->revision, "members", members);
    if (out == NULL) {
        api_reply_error(r, ERR_NOMEM, "cluster status: out of memory");
        return;
    }
    api_reply_json(r, 200, out);
}

void api__h_cluster_status(struct api_req *r)
{
    struct err e;
    if (api_req_status(r, on_cluster_status, &e) != 0)
        api_reply_err(r, &e);
}
