/* Semantic validation of the kinds skiff serves, after the type check of
 * api/schema.c. Each rule follows the apiserver (pkg/apis/core/validation,
 * pkg/apis/apps/validation, pkg/apis/batch/validation, the apimachinery
 * helpers and the registry strategies): same field paths, same wording,
 * same Go value formatting in "Invalid value: ..." (%q for strings, %#v for
 * maps and selectors), because users paste these messages into search
 * engines and compare them with kubectl's.
 *
 * Validation assumes defaulting may not have run: a field that defaulting
 * would fill (protocol, restartPolicy, imagePullPolicy, ...) is accepted
 * when absent, except where the apiserver's default is itself invalid
 * (a Job template without restartPolicy gets Always, which Jobs reject). */
#include "api/validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PATHSZ    384 /* field paths: "spec.jobTemplate.spec.template.spec.containers[0]..." */
#define VALSZ     400 /* a Go-formatted value inside a message */
#define NAMES_MAX 256 /* names tracked for uniqueness; beyond, duplicates go unreported */

#define MAX_ANNOTATIONS_BYTES (256 * 1024)
#define MAX_SECRET_BYTES      (1024 * 1024)

/* apimachinery's messages, with RegexError's double space after "," kept */
#define RX_LABEL                                                                                   \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "   \
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "     \
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define RX_SUBDOMAIN                                                                               \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define RX_DNS1035                                                                                 \
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "   \
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "           \
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define RX_QNAME                                                                                   \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "         \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define RX_LABEL_VALUE                                                                             \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "             \
    "'my_value',  or '12345', regex used for validation is "                                       \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define RX_CONFIG_KEY                                                                              \
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "           \
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
#define RX_PERCENT                                                                                 \
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "   \
    "'93%', regex used for validation is '[0-9]+%')"
#define MSG_ENV_NAME                                                                               \
    "a valid environment variable name must consist only of printable ASCII characters other "     \
    "than '='"
#define MSG_NONNEG "must be greater than or equal to 0"
#define MSG_PORT   "must be between 1 and 65535, inclusive"
#define MSG_IMMUT  "field is immutable"
#define MSG_IP     "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
#define MSG_QTY_FMT                                                                                \
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define MSG_QTY_SUFFIX "unable to parse quantity's suffix"
#define MSG_IMMUT_SET  "field is immutable when `immutable` is set"

/* ------------------------------------------------------------------ */
/* JSON access: a wrong type reads as absent                           */

static const json_t *jobj(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_object(v) ? v : NULL;
}

static const json_t *jarr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_array(v) ? v : NULL;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool jint(const json_t *o, const char *k, long long *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}

static bool jtrue(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

static bool str_in(const char *s, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Go's zero value: what an absent field decodes to. */
static bool is_zero(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return true;
    if (json_is_string(v))
        return json_string_length(v) == 0;
    if (json_is_integer(v))
        return json_integer_value(v) == 0;
    if (json_is_real(v))
        return json_real_value(v) == 0;
    if (json_is_object(v))
        return json_object_size(v) == 0;
    if (json_is_array(v))
        return json_array_size(v) == 0;
    return false;
}

/* apiequality.Semantic.DeepEqual on decoded objects: absent, null and
 * empty compare equal, as nil and empty maps and slices do there. */
static bool sem_equal(const json_t *a, const json_t *b)
{
    const char *k;
    const json_t *v;
    size_t i;
    if (is_zero(a) && is_zero(b))
        return true;
    if (a == NULL || b == NULL)
        return false;
    if (json_is_object(a) && json_is_object(b)) {
        json_object_foreach ((json_t *)a, k, v)
            if (!sem_equal(v, json_object_get(b, k)))
                return false;
        json_object_foreach ((json_t *)b, k, v)
            if (json_object_get(a, k) == NULL && !is_zero(v))
                return false;
        return true;
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (i = 0; i < json_array_size(a); i++)
            if (!sem_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    return json_equal(a, b);
}

/* ------------------------------------------------------------------ */
/* paths and Go value formatting                                       */

static const char *pc(char *buf, const char *base, const char *child)
{
    snprintf(buf, PATHSZ, "%s%s%s", base, base[0] ? "." : "", child);
    return buf;
}

static const char *pi(char *buf, const char *base, size_t i)
{
    snprintf(buf, PATHSZ, "%s[%zu]", base, i);
    return buf;
}

static const char *pk(char *buf, const char *base, const char *key)
{
    snprintf(buf, PATHSZ, "%s[%s]", base, key);
    return buf;
}

/* A growing string in a fixed buffer; output is cut, never overrun. */
struct sb {
    char *p;
    size_t n, len;
};

static void sb_init(struct sb *b, char *buf, size_t n)
{
    b->p = buf;
    b->n = n;
    b->len = 0;
    buf[0] = '\0';
}

static void sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    int r;
    if (b->len + 1 >= b->n)
        return;
    va_start(ap, fmt);
    r = vsnprintf(b->p + b->len, b->n - b->len, fmt, ap);
    va_end(ap);
    if (r > 0)
        b->len = (size_t)r >= b->n - b->len ? b->n - 1 : b->len + (size_t)r;
}

/* Go's strconv.Quote, for ASCII; other bytes pass through (printable
 * UTF-8 is what Go prints as is). */
static void sb_quote(struct sb *b, const char *s)
{
    sb_add(b, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_add(b, "\\%c", c);
        else if (c == '\n')
            sb_add(b, "\\n");
        else if (c == '\t')
            sb_add(b, "\\t");
        else if (c == '\r')
            sb_add(b, "\\r");
        else if (c < 0x20 || c == 0x7f)
            sb_add(b, "\\x%02x", c);
        else
            sb_add(b, "%c", c);
    }
    sb_add(b, "\"");
}

static const char *q(char *buf, const char *s)
{
    struct sb b;
    sb_init(&b, buf, VALSZ);
    sb_quote(&b, s);
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* %#v of a map[string]string: keys sorted, as fmt prints maps */
static void sb_go_map(struct sb *b, const json_t *m)
{
    const char *keys[NAMES_MAX], *k;
    const json_t *v;
    size_t n = 0, i;
    if (!json_is_object(m)) {
        sb_add(b, "map[string]string(nil)");
        return;
    }
    json_object_foreach ((json_t *)m, k, v)
        if (n < NAMES_MAX)
            keys[n++] = k;
    qsort(keys, n, sizeof keys[0], cmp_str);
    sb_add(b, "map[string]string{");
    for (i = 0; i < n; i++) {
        const char *s = json_string_value(json_object_get(m, keys[i]));
        if (i > 0)
            sb_add(b, ", ");
        sb_quote(b, keys[i]);
        sb_add(b, ":");
        sb_quote(b, s ? s : "");
    }
    sb_add(b, "}");
}

static void sb_go_strings(struct sb *b, const json_t *a)
{
    size_t i;
    if (!json_is_array(a)) {
        sb_add(b, "[]string(nil)");
        return;
    }
    sb_add(b, "[]string{");
    for (i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (i > 0)
            sb_add(b, ", ");
        sb_quote(b, s ? s : "");
    }
    sb_add(b, "}");
}

/* %#v of a metav1.LabelSelector (what "Invalid value" shows for selectors) */
static const char *go_selector(char *buf, const json_t *sel)
{
    struct sb b;
    const json_t *exprs = jarr(sel, "matchExpressions");
    size_t i;
    sb_init(&b, buf, VALSZ);
    sb_add(&b, "v1.LabelSelector{MatchLabels:");
    sb_go_map(&b, jobj(sel, "matchLabels"));
    sb_add(&b, ", MatchExpressions:");
    if (exprs == NULL) {
        sb_add(&b, "[]v1.LabelSelectorRequirement(nil)}");
        return buf;
    }
    sb_add(&b, "[]v1.LabelSelectorRequirement{");
    for (i = 0; i < json_array_size(exprs); i++) {
        const json_t *r = json_array_get(exprs, i);
        const char *key = jstr(r, "key"), *op = jstr(r, "operator");
        if (i > 0)
            sb_add(&b, ", ");
        sb_add(&b, "v1.LabelSelectorRequirement{Key:");
        sb_quote(&b, key ? key : "");
        sb_add(&b, ", Operator:");
        sb_quote(&b, op ? op : "");
        sb_add(&b, ", Values:");
        sb_go_strings(&b, jarr(r, "values"));
        sb_add(&b, "}");
    }
    sb_add(&b, "}}");
    return buf;
}

static const char *go_map(char *buf, const json_t *m)
{
    struct sb b;
    sb_init(&b, buf, VALSZ);
    sb_go_map(&b, m);
    return buf;
}

/* %#v of an intstr.IntOrString */
static const char *go_intstr(char *buf, const json_t *v)
{
    struct sb b;
    sb_init(&b, buf, VALSZ);
    if (json_is_string(v)) {
        sb_add(&b, "intstr.IntOrString{Type:1, IntVal:0, StrVal:");
        sb_quote(&b, json_string_value(v));
        sb_add(&b, "}");
    } else {
        sb_add(&b, "intstr.IntOrString{Type:0, IntVal:%lld, StrVal:\"\"}",
               json_is_integer(v) ? json_integer_value(v) : 0);
    }
    return buf;
}

/* A compact stand-in for structs too big to print the way Go does
 * (the whole pod template of an immutable Job): its JSON, cut short. */
static const char *go_json(char *buf, const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    size_t n;
    if (s == NULL) {
        snprintf(buf, VALSZ, "null");
        return buf;
    }
    n = strlen(s);
    if (n > 200)
        snprintf(buf, VALSZ, "%.200s...", s);
    else
        snprintf(buf, VALSZ, "%s", s);
    free(s);
    return buf;
}

/* ------------------------------------------------------------------ */
/* field errors                                                        */

static void add(struct api_ferrs *fe, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(struct api_ferrs *fe, const char *path, const char *fmt, ...)
{
    char body[512], full[PATHSZ + 520];
    va_list ap;
    size_t i;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s%s%s", path, path[0] ? ": " : "", body);
    /* the apiserver drops repeated messages (ErrorList.ToAggregate), and
     * schema.c may already have said "Required value" for this path */
    for (i = 0; i < fe->n; i++)
        if (strcmp(fe->msgs[i], full) == 0)
            return;
    api__ferr_add(fe, false, path, "%s", body);
}

static void e_required(struct api_ferrs *fe, const char *path, const char *detail)
{
    if (detail && detail[0])
        add(fe, path, "Required value: %s", detail);
    else
        add(fe, path, "Required value");
}

static void e_forbidden(struct api_ferrs *fe, const char *path, const char *detail)
{
    add(fe, path, "Forbidden: %s", detail);
}

static void e_invalid_s(struct api_ferrs *fe, const char *path, const char *v, const char *detail)
{
    char qb[VALSZ];
    add(fe, path, "Invalid value: %s: %s", q(qb, v ? v : ""), detail);
}

static void e_invalid_i(struct api_ferrs *fe, const char *path, long long v, const char *detail)
{
    add(fe, path, "Invalid value: %lld: %s", v, detail);
}

static void e_invalid_raw(struct api_ferrs *fe, const char *path, const char *raw,
                          const char *detail)
{
    add(fe, path, "Invalid value: %s: %s", raw, detail);
}

static void e_unsupported_raw(struct api_ferrs *fe, const char *path, const char *raw,
                              const char *const *valid)
{
    char list[VALSZ];
    struct sb b;
    size_t i;
    sb_init(&b, list, sizeof list);
    for (i = 0; valid[i] != NULL; i++) {
        if (i > 0)
            sb_add(&b, ", ");
        sb_quote(&b, valid[i]);
    }
    add(fe, path, "Unsupported value: %s: supported values: %s", raw, list);
}

static void e_unsupported(struct api_ferrs *fe, const char *path, const char *v,
                          const char *const *valid)
{
    char qb[VALSZ];
    e_unsupported_raw(fe, path, q(qb, v), valid);
}

static void e_duplicate_s(struct api_ferrs *fe, const char *path, const char *v)
{
    char qb[VALSZ];
    add(fe, path, "Duplicate value: %s", q(qb, v));
}

static void e_toolong(struct api_ferrs *fe, const char *path, long max)
{
    add(fe, path, "Too long: must have at most %ld bytes", max);
}

static void nonneg(struct api_ferrs *fe, const json_t *o, const char *field, const char *base)
{
    long long v;
    char p[PATHSZ];
    if (jint(o, field, &v) && v < 0)
        e_invalid_i(fe, pc(p, base, field), v, MSG_NONNEG);
}

/* ------------------------------------------------------------------ */
/* names and keys (apimachinery/pkg/util/validation)                   */

struct msgs {
    const char *m[4];
    size_t n;
};

static void msg(struct msgs *ms, const char *m)
{
    if (ms->n < 4)
        ms->m[ms->n++] = m;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static bool label_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (i = 1; i + 1 < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool subdomain_ok(const char *s)
{
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (!label_ok(s, n))
            return false;
        if (dot == NULL)
            return true;
        s = dot + 1;
    }
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool qname_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (i = 1; i + 1 < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static void dns1123_label_msgs(const char *s, struct msgs *ms)
{
    size_t n = strlen(s);
    if (n > 63)
        msg(ms, "must be no more than 63 characters");
    if (!label_ok(s, n))
        msg(ms, subdomain_ok(s) ? "must not contain dots" : RX_LABEL);
}

static void dns1123_subdomain_msgs(const char *s, struct msgs *ms)
{
    if (strlen(s) > 253)
        msg(ms, "must be no more than 253 characters");
    if (!subdomain_ok(s))
        msg(ms, RX_SUBDOMAIN);
}

static void dns1035_label_msgs(const char *s, struct msgs *ms)
{
    size_t n = strlen(s);
    if (n > 63)
        msg(ms, "must be no more than 63 characters");
    if (n == 0 || !(s[0] >= 'a' && s[0] <= 'z') || !label_ok(s, n))
        msg(ms, RX_DNS1035);
}

static void qualified_name_msgs(const char *s, struct msgs *ms)
{
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash != NULL && strchr(slash + 1, '/') != NULL) {
        msg(ms, "a qualified name " RX_QNAME
                " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
        return;
    }
    if (slash != NULL) {
        char prefix[512];
        size_t plen = (size_t)(slash - s);
        name = slash + 1;
        if (plen == 0) {
            msg(ms, "prefix part must be non-empty");
        } else if (plen < sizeof prefix) {
            memcpy(prefix, s, plen);
            prefix[plen] = '\0';
            if (plen > 253)
                msg(ms, "prefix part must be no more than 253 characters");
            if (!subdomain_ok(prefix))
                msg(ms, "prefix part " RX_SUBDOMAIN);
        } else {
            msg(ms, "prefix part must be no more than 253 characters");
        }
    }
    if (name[0] == '\0')
        msg(ms, "name part must be non-empty");
    else if (strlen(name) > 63)
        msg(ms, "name part must be no more than 63 characters");
    if (!qname_ok(name, strlen(name)))
        msg(ms, "name part " RX_QNAME);
}

static void label_value_msgs(const char *s, struct msgs *ms)
{
    size_t n = strlen(s);
    if (n > 63)
        msg(ms, "must be no more than 63 characters");
    if (n > 0 && !qname_ok(s, n))
        msg(ms, RX_LABEL_VALUE);
}

static void config_key_msgs(const char *s, struct msgs *ms)
{
    size_t n = strlen(s), i;
    bool ok = n > 0;
    if (n > 253)
        msg(ms, "must be no more than 253 characters");
    for (i = 0; i < n && ok; i++)
        ok = is_alnum(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.';
    if (!ok)
        msg(ms, RX_CONFIG_KEY);
    if (strcmp(s, ".") == 0)
        msg(ms, "must not be '.'");
    else if (strcmp(s, "..") == 0)
        msg(ms, "must not be '..'");
    else if (strncmp(s, "..", 2) == 0)
        msg(ms, "must not start with '..'");
}

/* IANA_SVC_NAME */
static void port_name_msgs(const char *s, struct msgs *ms)
{
    size_t n = strlen(s), i;
    bool charset = n > 0, letter = false;
    if (n > 15)
        msg(ms, "must be no more than 15 characters");
    for (i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            charset = false;
        if (s[i] >= 'a' && s[i] <= 'z')
            letter = true;
    }
    if (!charset)
        msg(ms, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    if (!letter)
        msg(ms, "must contain at least one letter (a-z)");
    if (strstr(s, "--") != NULL)
        msg(ms, "must not contain consecutive hyphens");
    if (n > 0 && (s[0] == '-' || s[n - 1] == '-'))
        msg(ms, "must not begin or end with a hyphen");
}

enum { NAME_SUBDOMAIN, NAME_LABEL, NAME_DNS1035 };

/* ValidateNameFunc: prefix (generateName) allows a trailing '-' */
static void name_msgs(int fn, const char *s, bool prefix, struct msgs *ms)
{
    char masked[300];
    size_t n = strlen(s);
    if (prefix && n > 0 && s[n - 1] == '-' && n < sizeof masked) {
        memcpy(masked, s, n + 1);
        masked[n - 1] = 'a';
        s = masked;
    }
    if (fn == NAME_LABEL)
        dns1123_label_msgs(s, ms);
    else if (fn == NAME_DNS1035)
        dns1035_label_msgs(s, ms);
    else
        dns1123_subdomain_msgs(s, ms);
}

static void each_invalid(struct api_ferrs *fe, const char *path, const char *v,
                         const struct msgs *ms)
{
    size_t i;
    for (i = 0; i < ms->n; i++)
        e_invalid_s(fe, path, v, ms->m[i]);
}

static void check_label_name(struct api_ferrs *fe, const char *path, const char *v)
{
    struct msgs ms = {{0}, 0};
    qualified_name_msgs(v, &ms);
    each_invalid(fe, path, v, &ms);
}

static void check_dns_label(struct api_ferrs *fe, const char *path, const char *v)
{
    struct msgs ms = {{0}, 0};
    dns1123_label_msgs(v, &ms);
    each_invalid(fe, path, v, &ms);
}

static void check_subdomain(struct api_ferrs *fe, const char *path, const char *v)
{
    struct msgs ms = {{0}, 0};
    dns1123_subdomain_msgs(v, &ms);
    each_invalid(fe, path, v, &ms);
}

static bool percent_ok(const char *s)
{
    size_t n = strlen(s), i;
    if (n < 2 || s[n - 1] != '%')
        return false;
    for (i = 0; i + 1 < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool ip_ok(const char *s, bool *v6)
{
    unsigned char buf[16];
    if (inet_pton(AF_INET, s, buf) == 1) {
        if (v6)
            *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        if (v6)
            *v6 = true;
        return true;
    }
    return false;
}

static bool cidr_ok(const char *s)
{
    char ip[64];
    const char *slash = strchr(s, '/');
    size_t n;
    bool v6;
    char *end;
    long bits;
    if (slash == NULL || (n = (size_t)(slash - s)) == 0 || n >= sizeof ip || slash[1] == '\0')
        return false;
    memcpy(ip, s, n);
    ip[n] = '\0';
    if (!ip_ok(ip, &v6))
        return false;
    bits = strtol(slash + 1, &end, 10);
    return *end == '\0' && isdigit((unsigned char)slash[1]) && bits >= 0 && bits <= (v6 ? 128 : 32);
}

/* ------------------------------------------------------------------ */
/* resource.Quantity                                                   */

#define QTY_MAX ((api__qty)1 << 125) /* saturation bound, far above any real request */

static api__qty qty_mul(api__qty v, api__qty m)
{
    if (v > QTY_MAX / m)
        return QTY_MAX;
    return v * m;
}

static const char *qty_parse_str(const char *s, api__qty *out)
{
    const char *p = s, *suffix;
    bool neg = false, dot = false;
    api__qty m = 0;
    int sig = 0, frac = 0, extra = 0, digits = 0, e10 = 0, e2 = 0, i;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (; isdigit((unsigned char)*p) || *p == '.'; p++) {
        if (*p == '.') {
            if (dot)
                return MSG_QTY_FMT;
            dot = true;
            continue;
        }
        digits++;
        if (sig < 30) {
            m = m * 10 + (*p - '0');
            if (m != 0)
                sig++;
            if (dot)
                frac++;
        } else if (!dot) {
            extra++; /* precision beyond 30 digits: keep the magnitude */
        }
    }
    if (digits == 0)
        return MSG_QTY_FMT;
    /* the rest must match [eEinumkKMGTP]*[-+]?[0-9]* */
    suffix = p;
    while (*p != '\0' && strchr("eEinumkKMGTP", *p) != NULL)
        p++;
    if (*p == '-' || *p == '+')
        p++;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p != '\0')
        return MSG_QTY_FMT;
    if (suffix[0] == '\0')
        e10 = 0;
    else if (suffix[1] == '\0' && strchr("numkMGTPE", suffix[0]) != NULL)
        e10 =
            (int[]){-9, -6, -3, 3, 6, 9, 12, 15, 18}[strchr("numkMGTPE", suffix[0]) - "numkMGTPE"];
    else if (suffix[1] == 'i' && suffix[2] == '\0' && strchr("KMGTPE", suffix[0]) != NULL)
        e2 = 10 * (int)(strchr("KMGTPE", suffix[0]) - "KMGTPE" + 1);
    else if (suffix[0] == 'e' || suffix[0] == 'E') {
        char *end;
        long x = strtol(suffix + 1, &end, 10);
        if (*end != '\0' || end == suffix + 1 || x > 1000 || x < -1000)
            return MSG_QTY_SUFFIX;
        e10 = (int)x;
    } else
        return MSG_QTY_SUFFIX;
    e10 += 9 + extra - frac; /* to nano units */
    if (e10 >= 0) {
        for (i = 0; i < e10 && m != QTY_MAX; i++)
            m = qty_mul(m, 10);
    } else {
        bool rem = false;
        for (i = 0; i < -e10 && m != 0; i++) {
            rem = rem || m % 10 != 0;
            m /= 10;
        }
        if (rem)
            m += 1; /* the apiserver rounds sub-nano values up */
    }
    if (e2 > 0 && m != 0)
        m = qty_mul(m, (api__qty)1 << e2);
    *out = neg ? -m : m;
    return NULL;
}

const char *api__qty_parse(const json_t *qv, api__qty *out)
{
    char buf[64];
    if (json_is_integer(qv)) {
        *out = (api__qty)json_integer_value(qv) * 1000000000;
        return NULL;
    }
    if (json_is_real(qv)) {
        snprintf(buf, sizeof buf, "%.9f", json_real_value(qv));
        return qty_parse_str(buf, out);
    }
    if (json_is_string(qv))
        return qty_parse_str(json_string_value(qv), out);
    return MSG_QTY_FMT;
}

static const char *qty_str(char *buf, const json_t *qv)
{
    if (json_is_string(qv))
        snprintf(buf, VALSZ, "%s", json_string_value(qv));
    else if (json_is_integer(qv))
        snprintf(buf, VALSZ, "%lld", json_integer_value(qv));
    else if (json_is_real(qv))
        snprintf(buf, VALSZ, "%g", json_real_value(qv));
    else
        snprintf(buf, VALSZ, "0");
    return buf;
}

/* kubelet's GetPodQOS over cpu and memory */
const char *api__pod_qos(const json_t *spec)
{
    static const char *const lists[] = {"containers", "initContainers"};
    static const char *const res[] = {"cpu", "memory"};
    api__qty req[2] = {0, 0}, lim[2] = {0, 0};
    bool has_req[2] = {false, false}, has_lim[2] = {false, false}, guaranteed = true;
    size_t l, i, r;
    for (l = 0; l < 2; l++) {
        const json_t *arr = jarr(spec, lists[l]);
        for (i = 0; i < json_array_size(arr); i++) {
            const json_t *rs = jobj(json_array_get(arr, i), "resources");
            const json_t *rq = jobj(rs, "requests"), *lm = jobj(rs, "limits");
            bool found[2] = {false, false};
            for (r = 0; r < 2; r++) {
                api__qty v;
                const json_t *x = json_object_get(rq, res[r]);
                if (x != NULL && api__qty_parse(x, &v) == NULL && v > 0) {
                    req[r] += v;
                    has_req[r] = true;
                }
                x = json_object_get(lm, res[r]);
                if (x != NULL && api__qty_parse(x, &v) == NULL && v > 0) {
                    lim[r] += v;
                    has_lim[r] = true;
                    found[r] = true;
                }
            }
            if (!found[0] || !found[1])
                guaranteed = false;
        }
    }
    if (!has_req[0] && !has_req[1] && !has_lim[0] && !has_lim[1])
        return "BestEffort";
    for (r = 0; r < 2 && guaranteed; r++)
        if (has_req[r] && (!has_lim[r] || lim[r] != req[r]))
            guaranteed = false;
    if (guaranteed && has_req[0] == has_lim[0] && has_req[1] == has_lim[1])
        return "Guaranteed";
    return "Burstable";
}

/* ------------------------------------------------------------------ */
/* metadata                                                            */

static void check_labels(struct api_ferrs *fe, const char *path, const json_t *labels)
{
    const char *k;
    const json_t *v;
    if (!json_is_object(labels))
        return;
    json_object_foreach ((json_t *)labels, k, v) {
        struct msgs ms = {{0}, 0};
        check_label_name(fe, path, k);
        if (!json_is_string(v))
            continue;
        label_value_msgs(json_string_value(v), &ms);
        each_invalid(fe, path, json_string_value(v), &ms);
    }
}

static void check_annotations(struct api_ferrs *fe, const char *path, const json_t *ann)
{
    const char *k;
    const json_t *v;
    size_t total = 0;
    if (!json_is_object(ann))
        return;
    json_object_foreach ((json_t *)ann, k, v) {
        char lower[600];
        size_t i, n = strlen(k);
        struct msgs ms = {{0}, 0};
        /* a QualifiedName except that case does not matter */
        for (i = 0; i < n && i + 1 < sizeof lower; i++)
            lower[i] = (char)tolower((unsigned char)k[i]);
        lower[i] = '\0';
        qualified_name_msgs(n < sizeof lower ? lower : k, &ms);
        each_invalid(fe, path, k, &ms);
        total += n + json_string_length(v);
    }
    if (total > MAX_ANNOTATIONS_BYTES)
        e_toolong(fe, path, MAX_ANNOTATIONS_BYTES);
}

static void check_owner_refs(struct api_ferrs *fe, const json_t *refs)
{
    const char *first_controller = NULL, *fck = NULL;
    const char *P = "metadata.ownerReferences";
    size_t i;
    for (i = 0; i < json_array_size(refs); i++) {
        const json_t *r = json_array_get(refs, i);
        const char *av = jstr(r, "apiVersion"), *kind = jstr(r, "kind");
        const char *name = jstr(r, "name"), *uid = jstr(r, "uid");
        const char *slash = av ? strrchr(av, '/') : NULL;
        const char *version = slash ? slash + 1 : av;
        /* the apiserver's paths here have no index */
        if (version == NULL || version[0] == '\0')
            e_invalid_s(fe, "metadata.ownerReferences.apiVersion", av, "version must not be empty");
        if (kind == NULL || kind[0] == '\0')
            e_invalid_s(fe, "metadata.ownerReferences.kind", kind, "kind must not be empty");
        if (name == NULL || name[0] == '\0')
            e_invalid_s(fe, "metadata.ownerReferences.name", name, "name must not be empty");
        if (uid == NULL || uid[0] == '\0')
            e_invalid_s(fe, "metadata.ownerReferences.uid", uid, "uid must not be empty");
        if (jtrue(r, "controller")) {
            if (first_controller != NULL)
                add(fe, P,
                    "Invalid value: []v1.OwnerReference{...}: Only one reference can have "
                    "Controller set to true. Found \"true\" in references for %s/%s and %s/%s",
                    fck ? fck : "", first_controller, kind ? kind : "", name ? name : "");
            else {
                first_controller = name ? name : "";
                fck = kind;
            }
        }
    }
}

static int name_fn(const struct api_kind *k)
{
    if (strcmp(k->kind, "Namespace") == 0)
        return NAME_LABEL;
    if (strcmp(k->kind, "Service") == 0)
        return NAME_DNS1035;
    return NAME_SUBDOMAIN;
}

static void check_meta(const struct api_kind *k, const json_t *obj, const json_t *old,
                       struct api_ferrs *fe)
{
    const json_t *meta = jobj(obj, "metadata");
    const char *name = jstr(meta, "name"), *gen = jstr(meta, "generateName");
    const char *ns = jstr(meta, "namespace");
    const json_t *fin = jarr(meta, "finalizers");
    int fn = name_fn(k);
    size_t i;
    struct msgs ms = {{0}, 0};
    if (gen != NULL && gen[0] != '\0') {
        name_msgs(fn, gen, true, &ms);
        each_invalid(fe, "metadata.generateName", gen, &ms);
        ms.n = 0;
    }
    if (name == NULL || name[0] == '\0') {
        /* the apiserver generates the name from generateName before it
         * validates; skiff validates first, so generateName alone is fine */
        if (gen == NULL || gen[0] == '\0')
            e_required(fe, "metadata.name", "name or generateName is required");
    } else {
        name_msgs(fn, name, false, &ms);
        each_invalid(fe, "metadata.name", name, &ms);
        ms.n = 0;
    }
    if (ns != NULL && ns[0] != '\0') {
        if (!k->namespaced) {
            e_forbidden(fe, "metadata.namespace", "not allowed on this type");
        } else {
            dns1123_label_msgs(ns, &ms);
            each_invalid(fe, "metadata.namespace", ns, &ms);
        }
    }
    nonneg(fe, meta, "generation", "metadata");
    check_labels(fe, "metadata.labels", json_object_get(meta, "labels"));
    check_annotations(fe, "metadata.annotations", json_object_get(meta, "annotations"));
    check_owner_refs(fe, jarr(meta, "ownerReferences"));
    for (i = 0; i < json_array_size(fin); i++) {
        const char *f = json_string_value(json_array_get(fin, i));
        if (f != NULL)
            check_label_name(fe, "metadata.finalizers", f);
    }
    if (old != NULL) {
        const json_t *om = jobj(old, "metadata");
        const char *oname = jstr(om, "name"), *ons = jstr(om, "namespace");
        if (name && oname && strcmp(name, oname) != 0)
            e_invalid_s(fe, "metadata.name", name, MSG_IMMUT);
        if (ns && ons && ns[0] && strcmp(ns, ons) != 0)
            e_invalid_s(fe, "metadata.namespace", ns, MSG_IMMUT);
    }
}

/* ------------------------------------------------------------------ */
/* label selectors                                                     */

static bool has_label(const json_t *labels, const char *key, const char **val)
{
    const json_t *v = json_object_get(labels, key);
    if (!json_is_string(v))
        return false;
    *val = json_string_value(v);
    return true;
}

static bool in_values(const json_t *values, const char *v)
{
    size_t i;
    for (i = 0; i < json_array_size(values); i++) {
        const char *s = json_string_value(json_array_get(values, i));
        if (s != NULL && strcmp(s, v) == 0)
            return true;
    }
    return false;
}

static bool selector_matches(const json_t *sel, const json_t *labels)
{
    const json_t *ml = jobj(sel, "matchLabels"), *exprs = jarr(sel, "matchExpressions"), *v;
    const char *k, *have = NULL;
    size_t i;
    json_object_foreach ((json_t *)ml, k, v) {
        if (!json_is_string(v) || !has_label(labels, k, &have) ||
            strcmp(have, json_string_value(v)) != 0)
            return false;
    }
    for (i = 0; i < json_array_size(exprs); i++) {
        const json_t *r = json_array_get(exprs, i);
        const char *key = jstr(r, "key"), *op = jstr(r, "operator");
        bool present = key != NULL && has_label(labels, key, &have);
        if (op == NULL)
            return false;
        if (strcmp(op, "In") == 0 && !(present && in_values(jarr(r, "values"), have)))
            return false;
        if (strcmp(op, "NotIn") == 0 && present && in_values(jarr(r, "values"), have))
            return false;
        if (strcmp(op, "Exists") == 0 && !present)
            return false;
        if (strcmp(op, "DoesNotExist") == 0 && present)
            return false;
    }
    return true;
}

static bool selector_empty(const json_t *sel)
{
    return json_object_size(jobj(sel, "matchLabels")) == 0 &&
           json_array_size(jarr(sel, "matchExpressions")) == 0;
}

/* ValidateLabelSelector. Returns true when metav1.LabelSelectorAsSelector
 * would accept it (the caller then checks it against template labels). */
static bool check_selector(struct api_ferrs *fe, const json_t *sel, const char *path)
{
    char p[PATHSZ], p2[PATHSZ], p3[PATHSZ];
    const json_t *exprs = jarr(sel, "matchExpressions");
    size_t before = fe->n + fe->dropped, i, j;
    check_labels(fe, pc(p, path, "matchLabels"), json_object_get(sel, "matchLabels"));
    for (i = 0; i < json_array_size(exprs); i++) {
        const json_t *r = json_array_get(exprs, i);
        const char *op = jstr(r, "operator"), *key = jstr(r, "key");
        const json_t *values = jarr(r, "values");
        pi(p, pc(p2, path, "matchExpressions"), i);
        if (op != NULL && (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0)) {
            if (json_array_size(values) == 0)
                e_required(fe, pc(p2, p, "values"),
                           "must be specified when `operator` is 'In' or 'NotIn'");
        } else if (op != NULL && (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0)) {
            if (json_array_size(values) > 0)
                e_forbidden(fe, pc(p2, p, "values"),
                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        } else {
            e_invalid_s(fe, pc(p2, p, "operator"), op, "not a valid selector operator");
        }
        check_label_name(fe, pc(p2, p, "key"), key ? key : "");
        for (j = 0; j < json_array_size(values); j++) {
            const char *v = json_string_value(json_array_get(values, j));
            struct msgs ms = {{0}, 0};
            if (v == NULL)
                continue;
            label_value_msgs(v, &ms);
            each_invalid(fe, pi(p3, pc(p2, p, "values"), j), v, &ms);
        }
    }
    return fe->n + fe->dropped == before;
}

/* ------------------------------------------------------------------ */
/* pod spec                                                            */

/* A set of names for uniqueness checks (bounded: see NAMES_MAX). */
struct names {
    const char *v[NAMES_MAX];
    size_t n;
};

static bool names_has(const struct names *s, const char *name)
{
    size_t i;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

static void names_add(struct names *s, const char *name)
{
    if (s->n < NAMES_MAX)
        s->v[s->n++] = name;
}

/* ValidatePortNumOrName on an IntOrString */
static void check_port_num_or_name(struct api_ferrs *fe, const char *path, const json_t *v)
{
    if (json_is_integer(v)) {
        long long port = json_integer_value(v);
        if (port < 1 || port > 65535)
            e_invalid_i(fe, path, port, MSG_PORT);
    } else if (json_is_string(v)) {
        struct msgs ms = {{0}, 0};
        port_name_msgs(json_string_value(v), &ms);
        each_invalid(fe, path, json_string_value(v), &ms);
    }
}

static const char *const volume_sources[] = {"hostPath",
                                             "emptyDir",
                                             "gitRepo",
                                             "gcePersistentDisk",
                                             "awsElasticBlockStore",
                                             "secret",
                                             "nfs",
                                             "iscsi",
                                             "glusterfs",
                                             "persistentVolumeClaim",
                                             "rbd",
                                             "flexVolume",
                                             "cinder",
                                             "cephfs",
                                             "flocker",
                                             "downwardAPI",
                                             "fc",
                                             "azureFile",
                                             "configMap",
                                             "vsphereVolume",
                                             "quobyte",
                                             "azureDisk",
                                             "photonPersistentDisk",
                                             "portworxVolume",
                                             "projected",
                                             "scaleIO",
                                             "storageos",
                                             "csi",
                                             "ephemeral",
                                             "image",
                                             NULL};

/* ValidateVolumes; the names of the valid volumes go into vols */
static void check_volumes(struct api_ferrs *fe, const json_t *vol_arr, const char *path,
                          struct names *vols)
{
    char p[PATHSZ], p2[PATHSZ], p3[PATHSZ];
    struct names seen = {{0}, 0};
    size_t i, j;
    for (i = 0; i < json_array_size(vol_arr); i++) {
        const json_t *v = json_array_get(vol_arr, i);
        const char *name = jstr(v, "name");
        size_t before = fe->n + fe->dropped, nsrc = 0;
        pi(p, path, i);
        for (j = 0; volume_sources[j] != NULL; j++) {
            const json_t *src = jobj(v, volume_sources[j]);
            if (src == NULL)
                continue;
            if (nsrc++ > 0) {
                e_forbidden(fe, pc(p2, p, volume_sources[j]),
                            "may not specify more than 1 volume type");
                continue;
            }
            pc(p2, p, volume_sources[j]);
            if (strcmp(volume_sources[j], "hostPath") == 0 && !jstr(src, "path"))
                e_required(fe, pc(p3, p2, "path"), "");
            if (strcmp(volume_sources[j], "persistentVolumeClaim") == 0 &&
                (jstr(src, "claimName") == NULL || jstr(src, "claimName")[0] == '\0'))
                e_required(fe, pc(p3, p2, "claimName"), "");
            if (strcmp(volume_sources[j], "configMap") == 0 &&
                (jstr(src, "name") == NULL || jstr(src, "name")[0] == '\0'))
                e_required(fe, pc(p3, p2, "name"), "");
        }
        if (nsrc == 0)
            e_required(fe, p, "must specify a volume type");
        if (name == NULL || name[0] == '\0')
            e_required(fe, pc(p2, p, "name"), "");
        else
            check_dns_label(fe, pc(p2, p, "name"), name);
        if (name != NULL && names_has(&seen, name))
            e_duplicate_s(fe, pc(p2, p, "name"), name);
        if (fe->n + fe->dropped == before && name != NULL) {
            names_add(&seen, name);
            names_add(vols, name);
        }
    }
}

static void check_probe(struct api_ferrs *fe, const json_t *pr, const char *path,
                        bool liveness_or_startup)
{
    static const char *const handlers[] = {"exec", "httpGet", "tcpSocket", "grpc", NULL};
    static const char *const schemes[] = {"HTTP", "HTTPS", NULL};
    char p[PATHSZ], p2[PATHSZ];
    size_t n = 0, i;
    long long v;
    if (pr == NULL)
        return;
    for (i = 0; handlers[i] != NULL; i++) {
        const json_t *h = jobj(pr, handlers[i]);
        if (h == NULL)
            continue;
        pc(p, path, handlers[i]);
        if (n++ > 0) {
            e_forbidden(fe, p, "may not specify more than 1 handler type");
            continue;
        }
        if (i == 0 && json_array_size(jarr(h, "command")) == 0)
            e_required(fe, pc(p2, p, "command"), "");
        if (i == 1 || i == 2)
            check_port_num_or_name(fe, pc(p2, p, "port"), json_object_get(h, "port"));
        if (i == 3 && jint(h, "port", &v) && (v < 1 || v > 65535))
            e_invalid_i(fe, pc(p2, p, "port"), v, MSG_PORT);
        if (i == 1 && jstr(h, "scheme") && !str_in(jstr(h, "scheme"), schemes))
            e_unsupported(fe, pc(p2, p, "scheme"), jstr(h, "scheme"), schemes);
    }
    if (n == 0)
        e_required(fe, path, "must specify a handler type");
    nonneg(fe, pr, "initialDelaySeconds", path);
    nonneg(fe, pr, "timeoutSeconds", path);
    nonneg(fe, pr, "periodSeconds", path);
    nonneg(fe, pr, "successThreshold", path);
    nonneg(fe, pr, "failureThreshold", path);
    if (jint(pr, "terminationGracePeriodSeconds", &v) && v <= 0)
        e_invalid_i(fe, pc(p, path, "terminationGracePeriodSeconds"), v, "must be greater than 0");
    if (liveness_or_startup && jint(pr, "successThreshold", &v) && v != 1)
        e_invalid_i(fe, pc(p, path, "successThreshold"), v, "must be 1");
}

static void check_resources(struct api_ferrs *fe, const json_t *rs, const char *path)
{
    char p[PATHSZ], p2[PATHSZ], vb[VALSZ], lb[VALSZ], detail[VALSZ + 64];
    const json_t *lim = jobj(rs, "limits"), *req = jobj(rs, "requests"), *v;
    const char *k, *why;
    api__qty x, l;
    json_object_foreach ((json_t *)lim, k, v) {
        pk(p, pc(p2, path, "limits"), k);
        if ((why = api__qty_parse(v, &x)) != NULL)
            e_invalid_s(fe, p, qty_str(vb, v), why);
        else if (x < 0)
            e_invalid_s(fe, p, qty_str(vb, v), MSG_NONNEG);
    }
    json_object_foreach ((json_t *)req, k, v) {
        const json_t *lv = json_object_get(lim, k);
        pk(p, pc(p2, path, "requests"), k);
        if ((why = api__qty_parse(v, &x)) != NULL) {
            e_invalid_s(fe, p, qty_str(vb, v), why);
            continue;
        }
        if (x < 0)
            e_invalid_s(fe, p, qty_str(vb, v), MSG_NONNEG);
        if (lv != NULL && api__qty_parse(lv, &l) == NULL && x > l) {
            snprintf(detail, sizeof detail, "must be less than or equal to %s limit of %s", k,
                     qty_str(lb, lv));
            e_invalid_s(fe, p2, qty_str(vb, v), detail);
        }
    }
}

static void check_ports(struct api_ferrs *fe, const json_t *ports, const char *path,
                        bool host_network)
{
    static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};
    char p[PATHSZ], p2[PATHSZ];
    struct names seen = {{0}, 0};
    size_t i;
    for (i = 0; i < json_array_size(ports); i++) {
        const json_t *pt = json_array_get(ports, i);
        const char *name = jstr(pt, "name"), *proto = jstr(pt, "protocol");
        long long cp = 0, hp = 0;
        bool has_cp = jint(pt, "containerPort", &cp), has_hp = jint(pt, "hostPort", &hp);
        pi(p, path, i);
        if (name != NULL && name[0] != '\0') {
            struct msgs ms = {{0}, 0};
            port_name_msgs(name, &ms);
            if (ms.n > 0)
                each_invalid(fe, pc(p2, p, "name"), name, &ms);
            else if (names_has(&seen, name))
                e_duplicate_s(fe, pc(p2, p, "name"), name);
            else
                names_add(&seen, name);
        }
        if (has_cp && cp == 0)
            e_required(fe, pc(p2, p, "containerPort"), "");
        else if (has_cp && (cp < 1 || cp > 65535))
            e_invalid_i(fe, pc(p2, p, "containerPort"), cp, MSG_PORT);
        if (has_hp && hp != 0 && (hp < 1 || hp > 65535))
            e_invalid_i(fe, pc(p2, p, "hostPort"), hp, MSG_PORT);
        if (proto != NULL && proto[0] == '\0')
            e_required(fe, pc(p2, p, "protocol"), "");
        else if (proto != NULL && !str_in(proto, protocols))
            e_unsupported(fe, pc(p2, p, "protocol"), proto, protocols);
        if (host_network && has_hp && hp != cp)
            e_invalid_i(fe, pc(p2, p, "containerPort"), cp,
                        "must match `hostPort` when `hostNetwork` is true");
    }
}

static void check_env(struct api_ferrs *fe, const json_t *env, const char *path)
{
    static const char *const sources[] = {"fieldRef", "resourceFieldRef", "configMapKeyRef",
                                          "secretKeyRef", NULL};
    char p[PATHSZ], p2[PATHSZ];
    size_t i, j;
    for (i = 0; i < json_array_size(env); i++) {
        const json_t *e = json_array_get(env, i);
        const char *name = jstr(e, "name"), *value = jstr(e, "value");
        const json_t *from = jobj(e, "valueFrom");
        pi(p, path, i);
        if (name == NULL || name[0] == '\0') {
            e_required(fe, pc(p2, p, "name"), "");
        } else {
            /* RelaxedEnvironmentVariableValidation (GA): printable ASCII but '=' */
            for (j = 0; name[j] != '\0'; j++) {
                unsigned char c = (unsigned char)name[j];
                if (c < 0x20 || c > 0x7e || c == '=') {
                    e_invalid_s(fe, pc(p2, p, "name"), name, MSG_ENV_NAME);
                    break;
                }
            }
        }
        if (from != NULL) {
            size_t n = 0;
            for (j = 0; sources[j] != NULL; j++)
                n += jobj(from, sources[j]) != NULL;
            pc(p2, p, "valueFrom");
            if (n == 0)
                e_invalid_s(fe, p2, "",
                            "must specify one of: `fieldRef`, `resourceFieldRef`, "
                            "`configMapKeyRef` or `secretKeyRef`");
            else if (value != NULL && value[0] != '\0')
                e_invalid_s(fe, p2, "", "may not be specified when `value` is not empty");
            else if (n > 1)
                e_invalid_s(fe, p2, "", "may not have more than one field specified at a time");
        }
    }
}

static void check_mounts(struct api_ferrs *fe, const json_t *mounts, const char *path,
                         const struct names *vols)
{
    char p[PATHSZ], p2[PATHSZ];
    struct names paths = {{0}, 0};
    size_t i;
    for (i = 0; i < json_array_size(mounts); i++) {
        const json_t *m = json_array_get(mounts, i);
        const char *name = jstr(m, "name"), *mp = jstr(m, "mountPath");
        pi(p, path, i);
        if (name == NULL || name[0] == '\0')
            e_required(fe, pc(p2, p, "name"), "");
        if (!names_has(vols, name ? name : "")) {
            char qb[VALSZ];
            add(fe, pc(p2, p, "name"), "Not found: %s", q(qb, name ? name : ""));
        }
        if (mp == NULL || mp[0] == '\0')
            e_required(fe, pc(p2, p, "mountPath"), "");
        if (names_has(&paths, mp ? mp : ""))
            e_invalid_s(fe, pc(p2, p, "mountPath"), mp ? mp : "", "must be unique");
        names_add(&paths, mp ? mp : "");
    }
}

static void check_containers(struct api_ferrs *fe, const json_t *arr, const char *path,
                             const struct names *vols, struct names *all, bool is_pod,
                             bool host_network)
{
    static const char *const pulls[] = {"Always", "IfNotPresent", "Never", NULL};
    static const char *const tmps[] = {"File", "FallbackToLogsOnError", NULL};
    char p[PATHSZ], p2[PATHSZ];
    size_t i;
    for (i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        const char *name = jstr(c, "name"), *image = jstr(c, "image");
        const char *pull = jstr(c, "imagePullPolicy"), *tmp = jstr(c, "terminationMessagePolicy");
        pi(p, path, i);
        pc(p2, p, "name");
        if (name == NULL || name[0] == '\0')
            e_required(fe, p2, "");
        else
            check_dns_label(fe, p2, name);
        if (name != NULL && names_has(all, name))
            e_duplicate_s(fe, p2, name);
        else if (name != NULL)
            names_add(all, name);
        if (image == NULL || image[0] == '\0')
            e_required(fe, pc(p2, p, "image"), "");
        else if (is_pod && (isspace((unsigned char)image[0]) ||
                            isspace((unsigned char)image[strlen(image) - 1])))
            e_invalid_s(fe, pc(p2, p, "image"), image,
                        "must not have leading or trailing whitespace");
        check_probe(fe, jobj(c, "livenessProbe"), pc(p2, p, "livenessProbe"), true);
        check_probe(fe, jobj(c, "startupProbe"), pc(p2, p, "startupProbe"), true);
        if (tmp != NULL && !str_in(tmp, tmps))
            e_invalid_s(fe, pc(p2, p, "terminationMessagePolicy"), tmp,
                        "must be 'File' or 'FallbackToLogsOnError'");
        check_probe(fe, jobj(c, "readinessProbe"), pc(p2, p, "readinessProbe"), false);
        check_ports(fe, jarr(c, "ports"), pc(p2, p, "ports"), host_network);
        check_env(fe, jarr(c, "env"), pc(p2, p, "env"));
        check_mounts(fe, jarr(c, "volumeMounts"), pc(p2, p, "volumeMounts"), vols);
        if (pull != NULL && pull[0] == '\0')
            e_required(fe, pc(p2, p, "imagePullPolicy"), "");
        else if (pull != NULL && !str_in(pull, pulls))
            e_unsupported(fe, pc(p2, p, "imagePullPolicy"), pull, pulls);
        check_resources(fe, jobj(c, "resources"), pc(p2, p, "resources"));
    }
}

static void check_tolerations(struct api_ferrs *fe, const json_t *tols, const char *path)
{
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
    static const char *const ops[] = {"Equal", "Exists", NULL};
    char p[PATHSZ], p2[PATHSZ];
    size_t i;
    for (i = 0; i < json_array_size(tols); i++) {
        const json_t *t = json_array_get(tols, i);
        const char *key = jstr(t, "key"), *op = jstr(t, "operator"), *val = jstr(t, "value");
        const char *eff = jstr(t, "effect");
        pi(p, path, i);
        if (key != NULL && key[0] != '\0')
            check_label_name(fe, pc(p2, p, "key"), key);
        if ((key == NULL || key[0] == '\0') && !(op && strcmp(op, "Exists") == 0))
            e_invalid_s(fe, pc(p2, p, "operator"), op ? op : "",
                        "operator must be Exists when `key` is empty, which means \"match all "
                        "values and all keys\"");
        if (json_object_get(t, "tolerationSeconds") != NULL &&
            !(eff && strcmp(eff, "NoExecute") == 0))
            e_invalid_s(fe, pc(p2, p, "effect"), eff ? eff : "",
                        "effect must be 'NoExecute' when `tolerationSeconds` is set");
        if (op == NULL || op[0] == '\0' || strcmp(op, "Equal") == 0) {
            struct msgs ms = {{0}, 0};
            label_value_msgs(val ? val : "", &ms);
            if (ms.n > 0)
                e_invalid_s(fe, pc(p2, p, "operator"), val ? val : "", ms.m[0]);
        } else if (strcmp(op, "Exists") == 0) {
            if (val != NULL && val[0] != '\0')
                add(fe, pc(p2, p, "operator"),
                    "Invalid value: core.Toleration{...}: value must be empty when `operator` "
                    "is 'Exists'");
        } else {
            e_unsupported(fe, pc(p2, p, "operator"), op, ops);
        }
        if (eff != NULL && eff[0] != '\0' && !str_in(eff, effects))
            e_unsupported(fe, pc(p2, p, "effect"), eff, effects);
    }
}

/* ValidatePodSpec (is_pod adds validateContainersOnlyForPod) */
static void check_pod_spec(struct api_ferrs *fe, const json_t *spec, const char *path, bool is_pod)
{
    static const char *const restarts[] = {"Always", "OnFailure", "Never", NULL};
    static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None",
                                      NULL};
    char p[PATHSZ];
    struct names vols = {{0}, 0}, all = {{0}, 0};
    const json_t *containers = jarr(spec, "containers");
    const char *rp = jstr(spec, "restartPolicy"), *dp = jstr(spec, "dnsPolicy"), *s;
    bool host_network = jtrue(spec, "hostNetwork");
    long long v;
    check_volumes(fe, jarr(spec, "volumes"), pc(p, path, "volumes"), &vols);
    pc(p, path, "containers");
    if (json_array_size(containers) == 0)
        e_required(fe, p, "");
    else
        check_containers(fe, containers, p, &vols, &all, is_pod, host_network);
    check_containers(fe, jarr(spec, "initContainers"), pc(p, path, "initContainers"), &vols, &all,
                     is_pod, host_network);
    if (rp != NULL && rp[0] == '\0')
        e_required(fe, pc(p, path, "restartPolicy"), "");
    else if (rp != NULL && !str_in(rp, restarts))
        e_unsupported(fe, pc(p, path, "restartPolicy"), rp, restarts);
    if (dp != NULL && dp[0] == '\0')
        e_required(fe, pc(p, path, "dnsPolicy"), "");
    else if (dp != NULL && !str_in(dp, dns))
        e_unsupported(fe, pc(p, path, "dnsPolicy"), dp, dns);
    check_labels(fe, pc(p, path, "nodeSelector"), json_object_get(spec, "nodeSelector"));
    if ((s = jstr(spec, "serviceAccountName")) != NULL && s[0] != '\0')
        check_subdomain(fe, pc(p, path, "serviceAccountName"), s);
    if ((s = jstr(spec, "nodeName")) != NULL && s[0] != '\0')
        check_subdomain(fe, pc(p, path, "nodeName"), s);
    if (jint(spec, "activeDeadlineSeconds", &v) && (v < 1 || v > 2147483647))
        e_invalid_i(fe, pc(p, path, "activeDeadlineSeconds"), v,
                    "must be between 1 and 2147483647, inclusive");
    nonneg(fe, spec, "terminationGracePeriodSeconds", path);
    if ((s = jstr(spec, "hostname")) != NULL && s[0] != '\0')
        check_dns_label(fe, pc(p, path, "hostname"), s);
    if ((s = jstr(spec, "subdomain")) != NULL && s[0] != '\0')
        check_dns_label(fe, pc(p, path, "subdomain"), s);
    check_tolerations(fe, jarr(spec, "tolerations"), pc(p, path, "tolerations"));
}

enum { RESTART_ANY, RESTART_ALWAYS, RESTART_JOB };

/* ValidatePodTemplateSpec plus the owner's restartPolicy rule. path is the
 * template's ("spec.template"). */
static void check_template(struct api_ferrs *fe, const json_t *tmpl, const char *path, int restart,
                           const char *owner)
{
    static const char *const always[] = {"Always", NULL};
    static const char *const job_ok[] = {"OnFailure", "Never", NULL};
    char p[PATHSZ], d[96];
    const json_t *meta = jobj(tmpl, "metadata"), *spec = jobj(tmpl, "spec");
    const char *rp = jstr(spec, "restartPolicy");
    /* the apiserver's paths skip "metadata" here: spec.template.labels */
    check_labels(fe, pc(p, path, "labels"), json_object_get(meta, "labels"));
    check_annotations(fe, pc(p, path, "annotations"), json_object_get(meta, "annotations"));
    if (spec == NULL)
        e_required(fe, pc(p, path, "spec.containers"), "");
    else
        check_pod_spec(fe, spec, pc(p, path, "spec"), false);
    pc(p, path, "spec.restartPolicy");
    if (restart == RESTART_ALWAYS) {
        if (rp != NULL && strcmp(rp, "Always") != 0)
            e_unsupported(fe, p, rp, always);
        if (json_object_get(spec, "activeDeadlineSeconds") != NULL) {
            snprintf(d, sizeof d, "activeDeadlineSeconds in %s is not Supported", owner);
            e_forbidden(fe, pc(p, path, "spec.activeDeadlineSeconds"), d);
        }
    } else if (restart == RESTART_JOB) {
        /* absent is defaulted to Always, which a Job cannot use */
        if (rp == NULL || rp[0] == '\0' || strcmp(rp, "Always") == 0)
            e_required(fe, p, "valid values: \"OnFailure\", \"Never\"");
        else if (!str_in(rp, job_ok))
            e_unsupported(fe, p, rp, job_ok);
    }
}

/* ------------------------------------------------------------------ */
/* apps: Deployment, ReplicaSet, DaemonSet                             */

/* getPercentValue / IntValue on an IntOrString */
static long long intstr_value(const json_t *v, bool *is_percent)
{
    const char *s = json_string_value(v);
    *is_percent = false;
    if (json_is_integer(v))
        return json_integer_value(v);
    if (s == NULL)
        return 0;
    if (percent_ok(s)) {
        *is_percent = true;
        return atoll(s);
    }
    return atoll(s); /* strconv.Atoi, 0 when it fails */
}

static void check_int_or_percent(struct api_ferrs *fe, const json_t *v, const char *path)
{
    char vb[VALSZ];
    if (json_is_string(v) && !percent_ok(json_string_value(v)))
        e_invalid_raw(fe, path, go_intstr(vb, v), RX_PERCENT);
    else if (json_is_integer(v) && json_integer_value(v) < 0)
        e_invalid_i(fe, path, json_integer_value(v), MSG_NONNEG);
}

static void check_not_over_100(struct api_ferrs *fe, const json_t *v, const char *path)
{
    char vb[VALSZ];
    bool pct;
    long long x = intstr_value(v, &pct);
    if (pct && x > 100)
        e_invalid_raw(fe, path, go_intstr(vb, v), "must not be greater than 100%");
}

/* The selector rules shared by the three controllers. Returns whether the
 * template labels must still be matched against it. */
static bool check_workload_selector(struct api_ferrs *fe, const json_t *spec, const char *what,
                                    bool invalid_msg)
{
    char vb[VALSZ], d[64];
    const json_t *sel = jobj(spec, "selector");
    bool ok;
    if (sel == NULL) {
        e_required(fe, "spec.selector", "");
        return false;
    }
    ok = check_selector(fe, sel, "spec.selector");
    if (selector_empty(sel)) {
        snprintf(d, sizeof d, "empty selector is invalid for %s", what);
        e_invalid_raw(fe, "spec.selector", go_selector(vb, sel), d);
    }
    if (!ok && invalid_msg)
        e_invalid_raw(fe, "spec.selector", go_selector(vb, sel), "invalid label selector");
    return ok;
}

static void check_template_labels(struct api_ferrs *fe, const json_t *spec, const char *path,
                                  bool skip_empty)
{
    char vb[VALSZ];
    const json_t *sel = jobj(spec, "selector");
    const json_t *labels = jobj(jobj(jobj(spec, "template"), "metadata"), "labels");
    if (sel == NULL || (skip_empty && selector_empty(sel)))
        return;
    if (!selector_matches(sel, labels))
        e_invalid_raw(fe, path, go_map(vb, labels), "`selector` does not match template `labels`");
}

static void check_selector_immutable(struct api_ferrs *fe, const json_t *obj, const json_t *old)
{
    char vb[VALSZ];
    const json_t *sel = jobj(jobj(obj, "spec"), "selector");
    const json_t *osel = jobj(jobj(old, "spec"), "selector");
    /* apps/v1 strategies: the selector is fixed for the object's life */
    if (!sem_equal(sel, osel))
        e_invalid_raw(fe, "spec.selector", go_selector(vb, sel), MSG_IMMUT);
}

static void check_rs_like(struct api_ferrs *fe, const json_t *spec, const char *owner)
{
    if (check_workload_selector(fe, spec, "deployment", true))
        check_template_labels(fe, spec, "spec.template.metadata.labels", true);
    check_template(fe, jobj(spec, "template"), "spec.template", RESTART_ALWAYS, owner);
}

static void check_deployment_strategy(struct api_ferrs *fe, const json_t *st)
{
    static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
    char vb[VALSZ];
    const char *type = jstr(st, "type");
    const json_t *ru = jobj(st, "rollingUpdate"), *mu, *ms;
    bool pu, ps;
    if (type != NULL && strcmp(type, "Recreate") == 0) {
        if (ru != NULL)
            e_forbidden(fe, "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'");
        return;
    }
    if (type != NULL && strcmp(type, "RollingUpdate") != 0) {
        struct sb b;
        sb_init(&b, vb, sizeof vb);
        sb_add(&b, "apps.DeploymentStrategy{Type:");
        sb_quote(&b, type);
        sb_add(&b, ", RollingUpdate:%s}",
               ru ? "&apps.RollingUpdateDeployment{...}" : "(*apps.RollingUpdateDeployment)(nil)");
        e_unsupported_raw(fe, "spec.strategy", vb, types);
        return;
    }
    if (ru == NULL)
        return; /* defaulted to 25%/25% */
    mu = json_object_get(ru, "maxUnavailable");
    ms = json_object_get(ru, "maxSurge");
    check_int_or_percent(fe, mu, "spec.strategy.rollingUpdate.maxUnavailable");
    check_int_or_percent(fe, ms, "spec.strategy.rollingUpdate.maxSurge");
    if (mu != NULL && ms != NULL && intstr_value(mu, &pu) == 0 && intstr_value(ms, &ps) == 0)
        e_invalid_raw(fe, "spec.strategy.rollingUpdate.maxUnavailable", go_intstr(vb, mu),
                      "may not be 0 when `maxSurge` is 0");
    check_not_over_100(fe, mu, "spec.strategy.rollingUpdate.maxUnavailable");
}

static void check_deployment(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    const json_t *spec = jobj(obj, "spec");
    long long pds, mrs = 0;
    nonneg(fe, spec, "replicas", "spec");
    check_rs_like(fe, spec, "ReplicaSet");
    check_deployment_strategy(fe, jobj(spec, "strategy"));
    nonneg(fe, spec, "minReadySeconds", "spec");
    nonneg(fe, spec, "revisionHistoryLimit", "spec");
    jint(spec, "minReadySeconds", &mrs);
    if (jint(spec, "progressDeadlineSeconds", &pds)) {
        nonneg(fe, spec, "progressDeadlineSeconds", "spec");
        if (pds <= mrs)
            e_invalid_i(fe, "spec.progressDeadlineSeconds", pds,
                        "must be greater than minReadySeconds");
    }
    if (old != NULL)
        check_selector_immutable(fe, obj, old);
}

static void check_replicaset(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    const json_t *spec = jobj(obj, "spec");
    nonneg(fe, spec, "replicas", "spec");
    nonneg(fe, spec, "minReadySeconds", "spec");
    check_rs_like(fe, spec, "ReplicaSet");
    if (old != NULL)
        check_selector_immutable(fe, obj, old);
}

static void check_daemonset_strategy(struct api_ferrs *fe, const json_t *st)
{
    static const char *const types[] = {"RollingUpdate", "OnDelete", NULL};
    char vb[VALSZ];
    const char *type = jstr(st, "type");
    const json_t *ru = jobj(st, "rollingUpdate"), *mu, *ms;
    bool pct, has_u, has_s;
    if (type != NULL && strcmp(type, "OnDelete") == 0)
        return;
    if (type != NULL && strcmp(type, "RollingUpdate") != 0) {
        struct sb b;
        sb_init(&b, vb, sizeof vb);
        sb_add(&b, "apps.DaemonSetUpdateStrategy{Type:");
        sb_quote(&b, type);
        sb_add(&b, ", RollingUpdate:%s}",
               ru ? "&apps.RollingUpdateDaemonSet{...}" : "(*apps.RollingUpdateDaemonSet)(nil)");
        e_unsupported_raw(fe, "spec.updateStrategy", vb, types);
        return;
    }
    if (ru == NULL)
        return; /* defaulted to maxUnavailable 1, maxSurge 0 */
    mu = json_object_get(ru, "maxUnavailable");
    ms = json_object_get(ru, "maxSurge");
    check_int_or_percent(fe, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable");
    check_int_or_percent(fe, ms, "spec.updateStrategy.rollingUpdate.maxSurge");
    check_not_over_100(fe, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable");
    check_not_over_100(fe, ms, "spec.updateStrategy.rollingUpdate.maxSurge");
    /* an absent value takes its default (1 and 0) */
    has_u = mu == NULL || intstr_value(mu, &pct) != 0;
    has_s = ms != NULL && intstr_value(ms, &pct) != 0;
    if (has_u && has_s)
        e_invalid_raw(fe, "spec.updateStrategy.rollingUpdate.maxSurge", go_intstr(vb, ms),
                      "may not be set when maxUnavailable is non-zero");
    else if (!has_u && !has_s)
        e_required(fe, "spec.updateStrategy.rollingUpdate.maxUnavailable",
                   "cannot be 0 when maxSurge is 0");
}

static void check_daemonset(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    const json_t *spec = jobj(obj, "spec");
    /* the DaemonSet order: match first, then emptiness (no "invalid label
     * selector" message here) */
    if (jobj(spec, "selector") == NULL) {
        e_required(fe, "spec.selector", "");
    } else {
        bool ok = check_selector(fe, jobj(spec, "selector"), "spec.selector");
        if (ok)
            check_template_labels(fe, spec, "spec.template.metadata.labels", false);
        if (selector_empty(jobj(spec, "selector"))) {
            char vb[VALSZ];
            e_invalid_raw(fe, "spec.selector", go_selector(vb, jobj(spec, "selector")),
                          "empty selector is invalid for daemonset");
        }
    }
    check_template(fe, jobj(spec, "template"), "spec.template", RESTART_ALWAYS, "DaemonSet");
    nonneg(fe, spec, "minReadySeconds", "spec");
    check_daemonset_strategy(fe, jobj(spec, "updateStrategy"));
    nonneg(fe, spec, "revisionHistoryLimit", "spec");
    if (old != NULL)
        check_selector_immutable(fe, obj, old);
}

/* ------------------------------------------------------------------ */
/* batch: Job, CronJob                                                 */

/* validateJobSpec; path is "spec" or "spec.jobTemplate.spec" */
static void check_job_spec(struct api_ferrs *fe, const json_t *spec, const char *path)
{
    static const char *const modes[] = {"NonIndexed", "Indexed", NULL};
    char p[PATHSZ];
    const char *mode = jstr(spec, "completionMode");
    nonneg(fe, spec, "parallelism", path);
    nonneg(fe, spec, "completions", path);
    nonneg(fe, spec, "activeDeadlineSeconds", path);
    nonneg(fe, spec, "backoffLimit", path);
    nonneg(fe, spec, "ttlSecondsAfterFinished", path);
    if (mode != NULL && !str_in(mode, modes))
        e_unsupported(fe, pc(p, path, "completionMode"), mode, modes);
    if (mode != NULL && strcmp(mode, "Indexed") == 0 &&
        json_object_get(spec, "completions") == NULL)
        e_required(fe, pc(p, path, "completions"), "when completion mode is Indexed");
    check_template(fe, jobj(spec, "template"), pc(p, path, "template"), RESTART_JOB, "Job");
}

static void check_job(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    char vb[VALSZ];
    const json_t *spec = jobj(obj, "spec"), *ospec = jobj(old, "spec");
    const json_t *sel = jobj(spec, "selector");
    const char *mode = jstr(spec, "completionMode");
    check_job_spec(fe, spec, "spec");
    /* the selector is generated when absent (manualSelector unset); a given
     * one must be valid and select the template */
    if (sel != NULL && check_selector(fe, sel, "spec.selector"))
        check_template_labels(fe, spec, "spec.template.metadata.labels", false);
    if (old == NULL)
        return;
    if (!sem_equal(json_object_get(spec, "completions"), json_object_get(ospec, "completions"))) {
        const json_t *c = json_object_get(spec, "completions");
        bool indexed = mode != NULL && strcmp(mode, "Indexed") == 0;
        /* elastic Indexed Jobs scale completions together with parallelism */
        if (!indexed)
            e_invalid_raw(fe, "spec.completions", json_is_integer(c) ? go_json(vb, c) : "null",
                          MSG_IMMUT);
        else if (json_is_integer(c) && !json_equal(c, json_object_get(spec, "parallelism")))
            e_invalid_raw(fe, "spec.completions", go_json(vb, c),
                          "can only be modified in tandem with spec.parallelism");
    }
    if (sel != NULL && jobj(ospec, "selector") != NULL && !sem_equal(sel, jobj(ospec, "selector")))
        e_invalid_raw(fe, "spec.selector", go_selector(vb, sel), MSG_IMMUT);
    if (!sem_equal(jobj(spec, "template"), jobj(ospec, "template")))
        e_invalid_raw(fe, "spec.template", go_json(vb, jobj(spec, "template")), MSG_IMMUT);
    if (!sem_equal(json_object_get(spec, "completionMode"),
                   json_object_get(ospec, "completionMode")))
        e_invalid_s(fe, "spec.completionMode", mode ? mode : "", MSG_IMMUT);
}

/* robfig/cron's standard parser (what the CronJob controller uses), with
 * its error texts. */
struct cron_bounds {
    unsigned min, max;
    const char *const *names; /* names[i] is min+i; NULL for none */
};

static const char *const cron_months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const cron_dows[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* strconv.Atoi, then the "negative number" rule of mustParseInt */
static bool cron_int(const char *s, unsigned *out, char *err, size_t n)
{
    const char *p = s;
    long long v = 0;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
        snprintf(err, n,
                 "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", s, s);
        return false;
    }
    if (strlen(p) > 18) {
        snprintf(err, n,
                 "failed to parse int from %s: strconv.Atoi: parsing \"%s\": value out of range", s,
                 s);
        return false;
    }
    v = atoll(p);
    if (neg && v != 0) {
        snprintf(err, n, "negative number (-%lld) not allowed: %s", v, s);
        return false;
    }
    *out = (unsigned)(v > 1000000 ? 1000000 : v);
    return true;
}

static bool cron_int_or_name(const char *s, const struct cron_bounds *b, unsigned *out, char *err,
                             size_t n)
{
    size_t i;
    for (i = 0; b->names != NULL && b->names[i] != NULL; i++)
        if (strcasecmp(s, b->names[i]) == 0) {
            *out = b->min + (unsigned)i;
            return true;
        }
    return cron_int(s, out, err, n);
}

static bool cron_range(const char *expr, const struct cron_bounds *b, char *err, size_t n)
{
    char buf[128], *slash, *hy;
    const char *lo, *step_s = NULL;
    unsigned start, end, step = 1;
    bool single;
    snprintf(buf, sizeof buf, "%s", expr);
    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
        step_s = slash + 1;
    }
    lo = buf;
    hy = strchr(buf, '-');
    single = hy == NULL;
    if (strcmp(lo, "*") == 0 || strcmp(lo, "?") == 0 || strncmp(lo, "*-", 2) == 0 ||
        strncmp(lo, "?-", 2) == 0) {
        start = b->min;
        end = b->max;
    } else {
        if (hy != NULL)
            *hy = '\0';
        if (!cron_int_or_name(lo, b, &start, err, n))
            return false;
        if (hy == NULL) {
            end = start;
        } else if (strchr(hy + 1, '-') != NULL) {
            snprintf(err, n, "too many hyphens: %s", expr);
            return false;
        } else if (!cron_int_or_name(hy + 1, b, &end, err, n)) {
            return false;
        }
    }
    if (step_s != NULL) {
        if (strchr(step_s, '/') != NULL) {
            snprintf(err, n, "too many slashes: %s", expr);
            return false;
        }
        if (!cron_int(step_s, &step, err, n))
            return false;
        if (single) /* "N/step" means "N-max/step" */
            end = b->max;
    }
    if (start < b->min)
        snprintf(err, n, "beginning of range (%u) below minimum (%u): %s", start, b->min, expr);
    else if (end > b->max)
        snprintf(err, n, "end of range (%u) above maximum (%u): %s", end, b->max, expr);
    else if (start > end)
        snprintf(err, n, "beginning of range (%u) beyond end of range (%u): %s", start, end, expr);
    else if (step == 0)
        snprintf(err, n, "step of range should be a positive number: %s", expr);
    else
        return true;
    return false;
}

static bool cron_field(const char *field, const struct cron_bounds *b, char *err, size_t n)
{
    char buf[128], *save = NULL, *tok;
    snprintf(buf, sizeof buf, "%s", field);
    for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
        if (!cron_range(tok, b, err, n))
            return false;
    return true;
}

/* NULL when s parses, else the parser's error in err */
static const char *cron_parse(const char *s, char *err, size_t n)
{
    static const char *const descriptors[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                              "@daily",  "@midnight", "@hourly",  NULL};
    static const struct cron_bounds bounds[5] = {
        {0, 59, NULL}, {0, 23, NULL}, {1, 31, NULL}, {1, 12, cron_months}, {0, 6, cron_dows}};
    char buf[256], *fields[8], *save = NULL, *tok;
    size_t count = 0, i;
    struct sb b;
    if (s[0] == '\0') {
        snprintf(err, n, "empty spec string");
        return err;
    }
    if (s[0] == '@') {
        /* @every is robfig's, not cron's: skiff does not take it */
        if (str_in(s, descriptors))
            return NULL;
        snprintf(err, n, "unrecognized descriptor: %s", s);
        return err;
    }
    snprintf(buf, sizeof buf, "%s", s);
    for (tok = strtok_r(buf, " \t\n\r\v\f", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\n\r\v\f", &save)) {
        if (count < 8)
            fields[count] = tok;
        count++;
    }
    if (count != 5) {
        sb_init(&b, err, n);
        sb_add(&b, "expected exactly 5 fields, found %zu: [", count);
        for (i = 0; i < count && i < 8; i++)
            sb_add(&b, "%s%s", i ? " " : "", fields[i]);
        sb_add(&b, "]");
        return err;
    }
    for (i = 0; i < 5; i++)
        if (!cron_field(fields[i], &bounds[i], err, n))
            return err;
    return NULL;
}

/* validateTimeZone: IANA name syntax, then the zone database */
static const char *tz_error(const char *tz, char *err, size_t n)
{
    char buf[256], path[300], *save = NULL, *part;
    struct stat st;
    size_t len = strlen(tz);
    if (len == 0)
        return "timeZone must be nil or non-empty string";
    snprintf(err, n, "unknown time zone %s", tz);
    if (len >= sizeof buf || tz[0] == '/' || tz[len - 1] == '/' || strstr(tz, "//") != NULL)
        return err;
    snprintf(buf, sizeof buf, "%s", tz);
    for (part = strtok_r(buf, "/", &save); part != NULL; part = strtok_r(NULL, "/", &save)) {
        size_t pl = strlen(part);
        if (strcmp(part, ".") == 0 || strcmp(part, "..") == 0 || part[0] == '-' || pl > 14 ||
            strspn(part, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-_0123456789+") !=
                pl)
            return err;
    }
    if (strcasecmp(tz, "Local") == 0)
        return "timeZone must be an explicit time zone as defined in "
               "https://www.iana.org/time-zones";
    if (strcmp(tz, "UTC") == 0)
        return NULL; /* Go knows UTC without the database */
    /* without a zone database on this host, trust the syntax check */
    if (stat("/usr/share/zoneinfo", &st) != 0)
        return NULL;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return err;
    return NULL;
}

static void check_cronjob(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    static const char *const policies[] = {"Allow", "Forbid", "Replace", NULL};
    char err[256], vb[VALSZ];
    const json_t *spec = jobj(obj, "spec"), *ospec = jobj(old, "spec");
    const json_t *jt = jobj(spec, "jobTemplate"), *jspec = jobj(jt, "spec");
    const char *sched = jstr(spec, "schedule"), *tz = jstr(spec, "timeZone");
    const char *cp = jstr(spec, "concurrencyPolicy"), *name, *why;
    const char *osched = jstr(ospec, "schedule");
    if (sched == NULL || sched[0] == '\0') {
        e_required(fe, "spec.schedule", "");
    } else {
        const char *s = sched;
        if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0)
            s = strchr(s, ' ') ? strchr(s, ' ') + 1 : "";
        if (s[0] != '\0' && cron_parse(s, err, sizeof err) != NULL)
            e_invalid_s(fe, "spec.schedule", sched, err);
        /* TZ in the schedule is only tolerated on objects that had it */
        if (strstr(sched, "TZ") != NULL) {
            bool had = osched != NULL && strstr(osched, "TZ") != NULL;
            if (!had)
                e_invalid_s(fe, "spec.schedule", sched,
                            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
            else if (json_object_get(spec, "timeZone") != NULL)
                e_invalid_s(fe, "spec.schedule", sched,
                            "cannot use both timeZone field and TZ or CRON_TZ in schedule");
        }
    }
    nonneg(fe, spec, "startingDeadlineSeconds", "spec");
    if (tz != NULL && (old == NULL || !sem_equal(json_object_get(spec, "timeZone"),
                                                 json_object_get(ospec, "timeZone")))) {
        if ((why = tz_error(tz, err, sizeof err)) != NULL)
            e_invalid_s(fe, "spec.timeZone", tz, why);
    }
    if (cp != NULL && cp[0] == '\0')
        e_required(fe, "spec.concurrencyPolicy", "");
    else if (cp != NULL && !str_in(cp, policies))
        e_unsupported(fe, "spec.concurrencyPolicy", cp, policies);
    check_job_spec(fe, jspec, "spec.jobTemplate.spec");
    if (jobj(jspec, "selector") != NULL)
        e_invalid_raw(fe, "spec.jobTemplate.spec.selector",
                      go_selector(vb, jobj(jspec, "selector")),
                      "`selector` will be auto-generated");
    if (jtrue(jspec, "manualSelector")) {
        static const char *const nil_false[] = {"nil", "false", NULL};
        e_unsupported_raw(fe, "spec.jobTemplate.spec.manualSelector", "true", nil_false);
    }
    nonneg(fe, spec, "successfulJobsHistoryLimit", "spec");
    nonneg(fe, spec, "failedJobsHistoryLimit", "spec");
    /* the controller appends "-<11 digits>" to name its Jobs (63 max) */
    name = jstr(jobj(obj, "metadata"), "name");
    if (old == NULL && name != NULL && strlen(name) > 52)
        e_invalid_s(fe, "metadata.name", name, "must be no more than 52 characters");
}

/* ------------------------------------------------------------------ */
/* core: Service, Endpoints                                            */

static const char *const port_protocols[] = {"SCTP", "TCP", "UDP", NULL};

/* spec.clusterIPs as the strategy syncs it from spec.clusterIP */
static void service_ips(const json_t *spec, const char **ips, size_t *n)
{
    const json_t *arr = jarr(spec, "clusterIPs");
    const char *ip = jstr(spec, "clusterIP");
    size_t i;
    *n = 0;
    if (json_array_size(arr) > 0) {
        for (i = 0; i < json_array_size(arr) && *n < 4; i++)
            ips[(*n)++] = json_string_value(json_array_get(arr, i))
                              ? json_string_value(json_array_get(arr, i))
                              : "";
    } else if (ip != NULL && ip[0] != '\0') {
        ips[(*n)++] = ip;
    }
}

static const char *go_strings(char *buf, const char **v, size_t n)
{
    struct sb b;
    size_t i;
    sb_init(&b, buf, VALSZ);
    sb_add(&b, "[]string{");
    for (i = 0; i < n; i++) {
        if (i > 0)
            sb_add(&b, ", ");
        sb_quote(&b, v[i]);
    }
    sb_add(&b, "}");
    return buf;
}

static void check_service_ips(struct api_ferrs *fe, const json_t *spec)
{
    static const char *const fams[] = {"IPv4", "IPv6", NULL};
    static const char *const pols[] = {"PreferDualStack", "RequireDualStack", "SingleStack", NULL};
    char p[PATHSZ], vb[VALSZ];
    const char *ips[4], *ip = jstr(spec, "clusterIP"), *pol = jstr(spec, "ipFamilyPolicy");
    const json_t *arr = jarr(spec, "clusterIPs"), *fam = jarr(spec, "ipFamilies");
    struct names seen = {{0}, 0};
    size_t n, i;
    service_ips(spec, ips, &n);
    if (json_array_size(arr) > 0) {
        if (ip != NULL && ip[0] != '\0' && strcmp(ips[0], ip) != 0)
            e_invalid_raw(fe, "spec.clusterIPs", go_strings(vb, ips, n),
                          "first value must match `clusterIP`");
        else if (ip == NULL || ip[0] == '\0')
            e_invalid_raw(fe, "spec.clusterIPs", go_strings(vb, ips, n),
                          "must be empty when `clusterIP` is not specified");
    }
    for (i = 0; i < json_array_size(fam); i++) {
        const char *f = json_string_value(json_array_get(fam, i));
        pi(p, "spec.ipFamilies", i);
        if (f == NULL)
            continue;
        if (!str_in(f, fams))
            e_unsupported(fe, p, f, fams);
        if (names_has(&seen, f))
            e_duplicate_s(fe, p, f);
        names_add(&seen, f);
    }
    if (pol != NULL && !str_in(pol, pols))
        e_unsupported(fe, "spec.ipFamilyPolicy", pol, pols);
    for (i = 0; i < n; i++) {
        if (i == 0 && strcmp(ips[0], "None") == 0) {
            if (n > 1)
                e_invalid_raw(fe, "spec.clusterIPs", go_strings(vb, ips, n),
                              "'None' must be the first and only value");
            continue;
        }
        if (!ip_ok(ips[i], NULL))
            e_invalid_s(fe, pi(p, "spec.clusterIPs", i), ips[i], MSG_IP);
    }
    if (n > 2)
        e_invalid_raw(fe, "spec.clusterIPs", go_strings(vb, ips, n),
                      "may only hold up to 2 values");
}

static void check_service_port(struct api_ferrs *fe, const json_t *sp, const char *path,
                               bool require_name, struct names *names)
{
    char p[PATHSZ];
    const char *name = jstr(sp, "name"), *proto = jstr(sp, "protocol");
    const json_t *tp = json_object_get(sp, "targetPort");
    long long port = 0;
    if (require_name && (name == NULL || name[0] == '\0')) {
        e_required(fe, pc(p, path, "name"), "");
    } else if (name != NULL && name[0] != '\0') {
        check_dns_label(fe, pc(p, path, "name"), name);
        if (names_has(names, name))
            e_duplicate_s(fe, p, name);
        else
            names_add(names, name);
    }
    jint(sp, "port", &port);
    if (port < 1 || port > 65535)
        e_invalid_i(fe, pc(p, path, "port"), port, MSG_PORT);
    if (proto != NULL && proto[0] == '\0')
        e_required(fe, pc(p, path, "protocol"), "");
    else if (proto != NULL && !str_in(proto, port_protocols))
        e_unsupported(fe, pc(p, path, "protocol"), proto, port_protocols);
    /* 0 and "" mean unset: defaulting makes it the port */
    if (!is_zero(tp))
        check_port_num_or_name(fe, pc(p, path, "targetPort"), tp);
}

static void check_service(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort",
                                        NULL};
    static const char *const affinities[] = {"ClientIP", "None", NULL};
    static const char *const policies[] = {"Cluster", "Local", NULL};
    char p[PATHSZ], p2[PATHSZ], vb[VALSZ];
    const json_t *spec = jobj(obj, "spec"), *ports = jarr(spec, "ports");
    const char *type = jstr(spec, "type"), *aff = jstr(spec, "sessionAffinity");
    const char *ips[4], *itp = jstr(spec, "internalTrafficPolicy");
    const char *etp = jstr(spec, "externalTrafficPolicy");
    struct names names = {{0}, 0};
    size_t n_ips, i, j;
    bool headless, ext, node_ports;
    service_ips(spec, ips, &n_ips);
    headless = n_ips == 1 && strcmp(ips[0], "None") == 0;
    if (type == NULL)
        type = "ClusterIP";
    ext = strcmp(type, "ExternalName") == 0;
    node_ports = strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0;
    if (json_array_size(ports) == 0 && !headless && !ext)
        e_required(fe, "spec.ports", "");
    if (strcmp(type, "LoadBalancer") == 0) {
        long long port;
        for (i = 0; i < json_array_size(ports); i++)
            if (jint(json_array_get(ports, i), "port", &port) && port == 10250)
                e_invalid_i(fe, pi(p, "spec.ports", i), port,
                            "may not expose port 10250 externally since it is used by kubelet");
    }
    if (node_ports && headless) {
        snprintf(p2, sizeof p2, "may not be set to 'None' for %s services", type);
        e_invalid_s(fe, "spec.clusterIPs[0]", "None", p2);
    }
    if (ext) {
        const char *en = jstr(spec, "externalName");
        char cname[300];
        size_t len;
        if (n_ips > 0)
            e_forbidden(fe, "spec.clusterIPs", "may not be set for ExternalName services");
        if (json_array_size(jarr(spec, "ipFamilies")) > 0)
            e_forbidden(fe, "spec.ipFamilies", "may not be set for ExternalName services");
        if (jstr(spec, "ipFamilyPolicy") != NULL)
            e_forbidden(fe, "spec.ipFamilyPolicy", "may not be set for ExternalName services");
        /* a CNAME may end in '.' to say it is fully qualified */
        snprintf(cname, sizeof cname, "%s", en ? en : "");
        len = strlen(cname);
        if (len > 0 && cname[len - 1] == '.')
            cname[len - 1] = '\0';
        if (cname[0] == '\0')
            e_required(fe, "spec.externalName", "");
        else
            check_subdomain(fe, "spec.externalName", cname);
    }
    for (i = 0; i < json_array_size(ports); i++)
        check_service_port(fe, json_array_get(ports, i), pi(p, "spec.ports", i),
                           json_array_size(ports) > 1, &names);
    check_labels(fe, "spec.selector", json_object_get(spec, "selector"));
    if (aff != NULL && aff[0] == '\0')
        e_required(fe, "spec.sessionAffinity", "");
    else if (aff != NULL && !str_in(aff, affinities))
        e_unsupported(fe, "spec.sessionAffinity", aff, affinities);
    if (aff != NULL && strcmp(aff, "None") == 0 && json_object_get(spec, "sessionAffinityConfig"))
        e_forbidden(fe, "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None");
    if (aff != NULL && strcmp(aff, "ClientIP") == 0) {
        long long t;
        if (jint(jobj(jobj(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds", &t) &&
            (t <= 0 || t > 86400))
            e_invalid_i(fe, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                        "must be greater than 0 and less than 86400");
    }
    if (!ext)
        check_service_ips(fe, spec);
    for (i = 0; i < json_array_size(jarr(spec, "externalIPs")); i++) {
        const char *ip = json_string_value(json_array_get(jarr(spec, "externalIPs"), i));
        if (ip != NULL && !ip_ok(ip, NULL))
            e_invalid_s(fe, pi(p, "spec.externalIPs", i), ip, MSG_IP);
    }
    if (type[0] == '\0')
        e_required(fe, "spec.type", "");
    else if (!str_in(type, types))
        e_unsupported(fe, "spec.type", type, types);
    for (i = 0; i < json_array_size(ports); i++) {
        const json_t *sp = json_array_get(ports, i), *o;
        const char *proto = jstr(sp, "protocol") ? jstr(sp, "protocol") : "TCP", *op;
        long long np = 0, port = 0, onp, oport;
        jint(sp, "nodePort", &np);
        jint(sp, "port", &port);
        pi(p, "spec.ports", i);
        if (np != 0 && strcmp(type, "ClusterIP") == 0)
            e_forbidden(fe, pc(p2, p, "nodePort"), "may not be used when `type` is 'ClusterIP'");
        /* the allocator's range check (the apiserver's default range) */
        if (np != 0 && node_ports && (np < 30000 || np > 32767))
            e_invalid_i(fe, pc(p2, p, "nodePort"), np,
                        "provided port is not in the valid range. The range of valid ports is "
                        "30000-32767");
        for (j = 0; j < i; j++) {
            o = json_array_get(ports, j);
            op = jstr(o, "protocol") ? jstr(o, "protocol") : "TCP";
            onp = oport = 0;
            jint(o, "nodePort", &onp);
            jint(o, "port", &oport);
            if (np != 0 && onp == np && strcmp(op, proto) == 0) {
                add(fe, pc(p2, p, "nodePort"), "Duplicate value: %lld", np);
                break;
            }
        }
        for (j = 0; j < i; j++) {
            o = json_array_get(ports, j);
            op = jstr(o, "protocol") ? jstr(o, "protocol") : "TCP";
            oport = 0;
            jint(o, "port", &oport);
            if (oport == port && strcmp(op, proto) == 0) {
                struct sb b;
                sb_init(&b, vb, sizeof vb);
                sb_add(&b, "core.ServicePort{Name:\"\", Protocol:");
                sb_quote(&b, proto);
                sb_add(&b,
                       ", AppProtocol:(*string)(nil), Port:%lld, TargetPort:intstr.IntOrString{"
                       "Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                       port);
                add(fe, p, "Duplicate value: %s", vb);
                break;
            }
        }
    }
    if (etp != NULL && etp[0] != '\0' && !node_ports)
        e_invalid_s(fe, "spec.externalTrafficPolicy", etp,
                    "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
    else if (etp != NULL && etp[0] != '\0' && !str_in(etp, policies))
        e_unsupported(fe, "spec.externalTrafficPolicy", etp, policies);
    if (itp != NULL && !str_in(itp, policies))
        e_unsupported(fe, "spec.internalTrafficPolicy", itp, policies);
    if (old != NULL) {
        const json_t *ospec = jobj(old, "spec");
        const char *oips[4], *otype = jstr(ospec, "type");
        size_t on;
        service_ips(ospec, oips, &on);
        /* a clusterIP, once allocated, stays; "" on update means "keep" */
        if (!ext && !(otype && strcmp(otype, "ExternalName") == 0) && on > 0 && n_ips > 0 &&
            strcmp(oips[0], ips[0]) != 0 && !(headless && on == 1 && strcmp(oips[0], "None") == 0))
            e_invalid_raw(fe, "spec.clusterIPs[0]", go_strings(vb, ips, n_ips),
                          "may not change once set");
    }
}

/* ValidateNonSpecialIP: endpoints must be routable pod or node addresses */
static void check_endpoint_ip(struct api_ferrs *fe, const char *path, const char *ip)
{
    unsigned char b[16];
    static const unsigned char zero[16] = {0};
    if (inet_pton(AF_INET, ip, b) == 1) {
        if (memcmp(b, zero, 4) == 0)
            e_invalid_s(fe, path, ip, "may not be unspecified (0.0.0.0)");
        if (b[0] == 127)
            e_invalid_s(fe, path, ip, "may not be in the loopback range (127.0.0.0/8)");
        if (b[0] == 169 && b[1] == 254)
            e_invalid_s(fe, path, ip, "may not be in the link-local range (169.254.0.0/16)");
        if (b[0] == 224 && b[1] == 0 && b[2] == 0)
            e_invalid_s(fe, path, ip,
                        "may not be in the link-local multicast range (224.0.0.0/24)");
    } else if (inet_pton(AF_INET6, ip, b) == 1) {
        if (memcmp(b, zero, 16) == 0)
            e_invalid_s(fe, path, ip, "may not be unspecified (0.0.0.0)");
        if (memcmp(b, zero, 15) == 0 && b[15] == 1)
            e_invalid_s(fe, path, ip, "may not be in the loopback range (127.0.0.0/8)");
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
            e_invalid_s(fe, path, ip, "may not be in the link-local range (169.254.0.0/16)");
        if (b[0] == 0xff && (b[1] & 0x0f) == 0x02)
            e_invalid_s(fe, path, ip,
                        "may not be in the link-local multicast range (224.0.0.0/24)");
    } else {
        e_invalid_s(fe, path, ip, MSG_IP);
        e_invalid_s(fe, path, ip, "must be a valid IP address");
    }
}

static void check_endpoint_addresses(struct api_ferrs *fe, const json_t *addrs, const char *path)
{
    char p[PATHSZ], p2[PATHSZ];
    size_t i;
    for (i = 0; i < json_array_size(addrs); i++) {
        const json_t *a = json_array_get(addrs, i);
        const char *ip = jstr(a, "ip"), *host = jstr(a, "hostname"), *node = jstr(a, "nodeName");
        pi(p, path, i);
        check_endpoint_ip(fe, pc(p2, p, "ip"), ip ? ip : "");
        if (host != NULL && host[0] != '\0')
            check_dns_label(fe, pc(p2, p, "hostname"), host);
        if (node != NULL)
            check_subdomain(fe, pc(p2, p, "nodeName"), node);
    }
}

static void check_endpoints(const json_t *obj, struct api_ferrs *fe)
{
    char p[PATHSZ], p2[PATHSZ], p3[PATHSZ];
    const json_t *subsets = jarr(obj, "subsets");
    size_t i, j;
    for (i = 0; i < json_array_size(subsets); i++) {
        const json_t *ss = json_array_get(subsets, i), *ports = jarr(ss, "ports");
        struct names names = {{0}, 0};
        pi(p, "subsets", i);
        if (json_array_size(jarr(ss, "addresses")) == 0 &&
            json_array_size(jarr(ss, "notReadyAddresses")) == 0)
            e_required(fe, p, "must specify `addresses` or `notReadyAddresses`");
        check_endpoint_addresses(fe, jarr(ss, "addresses"), pc(p2, p, "addresses"));
        check_endpoint_addresses(fe, jarr(ss, "notReadyAddresses"), pc(p2, p, "notReadyAddresses"));
        for (j = 0; j < json_array_size(ports); j++) {
            const json_t *pt = json_array_get(ports, j);
            const char *name = jstr(pt, "name"), *proto = jstr(pt, "protocol");
            long long port = 0;
            pi(p2, pc(p3, p, "ports"), j);
            if (json_array_size(ports) > 1 && (name == NULL || name[0] == '\0')) {
                e_required(fe, pc(p3, p2, "name"), "");
            } else if (name != NULL && name[0] != '\0') {
                check_dns_label(fe, pc(p3, p2, "name"), name);
                if (names_has(&names, name))
                    e_duplicate_s(fe, p3, name);
                names_add(&names, name);
            }
            jint(pt, "port", &port);
            if (port < 1 || port > 65535)
                e_invalid_i(fe, pc(p3, p2, "port"), port, MSG_PORT);
            if (proto != NULL && proto[0] == '\0')
                e_required(fe, pc(p3, p2, "protocol"), "");
            else if (proto != NULL && !str_in(proto, port_protocols))
                e_unsupported(fe, pc(p3, p2, "protocol"), proto, port_protocols);
        }
    }
}

/* ------------------------------------------------------------------ */
/* core: Secret, ConfigMap                                             */

static size_t b64_decoded_len(const char *s)
{
    size_t n = strlen(s), pad = 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    return n / 4 * 3 + (n % 4 ? (n % 4) - 1 : 0) - pad;
}

static void check_config_keys(struct api_ferrs *fe, const json_t *m, const char *field)
{
    char p[PATHSZ];
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *)m, k, v) {
        struct msgs ms = {{0}, 0};
        config_key_msgs(k, &ms);
        each_invalid(fe, pk(p, field, k), k, &ms);
    }
}

static bool secret_has(const json_t *data, const json_t *sdata, const char *key)
{
    return json_object_get(data, key) != NULL || json_object_get(sdata, key) != NULL;
}

/* data with stringData folded in (as the apiserver converts it), as base64 */
static json_t *secret_effective_data(const json_t *obj)
{
    const json_t *data = jobj(obj, "data"), *sdata = jobj(obj, "stringData"), *v;
    const char *k;
    json_t *out = data ? json_deep_copy(data) : json_object();
    if (out == NULL)
        return NULL;
    json_object_foreach ((json_t *)sdata, k, v) {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        char *enc;
        if (s == NULL || n > MAX_SECRET_BYTES * 2)
            continue;
        enc = malloc(4 * ((n + 2) / 3) + 1);
        if (enc == NULL)
            continue;
        EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)s, (int)n);
        json_object_set_new(out, k, json_string(enc));
        free(enc);
    }
    return out;
}

static void check_secret(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    const json_t *data = jobj(obj, "data"), *sdata = jobj(obj, "stringData"), *v;
    const char *type = jstr(obj, "type"), *k;
    size_t total = 0;
    if (type == NULL || type[0] == '\0')
        type = "Opaque";
    check_config_keys(fe, data, "data");
    check_config_keys(fe, sdata, "data"); /* stringData becomes data before validation */
    json_object_foreach ((json_t *)data, k, v)
        if (json_is_string(v) && json_object_get(sdata, k) == NULL)
            total += b64_decoded_len(json_string_value(v));
    json_object_foreach ((json_t *)sdata, k, v)
        total += json_string_length(v);
    if (total > MAX_SECRET_BYTES)
        e_toolong(fe, "data", MAX_SECRET_BYTES);
    if (strcmp(type, "kubernetes.io/tls") == 0) {
        if (!secret_has(data, sdata, "tls.crt"))
            e_required(fe, "data[tls.crt]", "");
        if (!secret_has(data, sdata, "tls.key"))
            e_required(fe, "data[tls.key]", "");
    } else if (strcmp(type, "kubernetes.io/dockerconfigjson") == 0) {
        if (!secret_has(data, sdata, ".dockerconfigjson"))
            e_required(fe, "data[.dockerconfigjson]", "");
    } else if (strcmp(type, "kubernetes.io/dockercfg") == 0) {
        if (!secret_has(data, sdata, ".dockercfg"))
            e_required(fe, "data[.dockercfg]", "");
    } else if (strcmp(type, "kubernetes.io/basic-auth") == 0) {
        if (!secret_has(data, sdata, "username") && !secret_has(data, sdata, "password")) {
            e_required(fe, "data[username]", "");
            e_required(fe, "data[password]", "");
        }
    } else if (strcmp(type, "kubernetes.io/ssh-auth") == 0) {
        const char *s = jstr(data, "ssh-privatekey");
        if ((s == NULL || s[0] == '\0') &&
            json_string_length(json_object_get(sdata, "ssh-privatekey")) == 0)
            e_required(fe, "data[ssh-privatekey]", "");
    } else if (strcmp(type, "kubernetes.io/service-account-token") == 0) {
        const char *sa =
            jstr(jobj(jobj(obj, "metadata"), "annotations"), "kubernetes.io/service-account.name");
        if (sa == NULL || sa[0] == '\0')
            e_required(fe, "metadata.annotations[kubernetes.io/service-account.name]", "");
    }
    if (old != NULL) {
        const char *otype = jstr(old, "type");
        json_t *nd, *od;
        if (otype == NULL || otype[0] == '\0')
            otype = "Opaque";
        if (strcmp(type, otype) != 0)
            e_invalid_s(fe, "type", type, MSG_IMMUT);
        if (jtrue(old, "immutable")) {
            if (!jtrue(obj, "immutable"))
                e_forbidden(fe, "immutable", MSG_IMMUT_SET);
            nd = secret_effective_data(obj);
            od = secret_effective_data(old);
            if (!sem_equal(nd, od))
                e_forbidden(fe, "data", MSG_IMMUT_SET);
            json_decref(nd);
            json_decref(od);
        }
    }
}

static void check_configmap(const json_t *obj, const json_t *old, struct api_ferrs *fe)
{
    const json_t *data = jobj(obj, "data"), *bin = jobj(obj, "binaryData"), *v;
    const char *k;
    char p[PATHSZ];
    size_t total = 0;
    json_object_foreach ((json_t *)data, k, v) {
        struct msgs ms = {{0}, 0};
        config_key_msgs(k, &ms);
        each_invalid(fe, pk(p, "data", k), k, &ms);
        if (json_object_get(bin, k) != NULL)
            e_invalid_s(fe, p, k, "duplicate of key present in binaryData");
        total += json_string_length(v);
    }
    check_config_keys(fe, bin, "binaryData");
    json_object_foreach ((json_t *)bin, k, v)
        if (json_is_string(v))
            total += b64_decoded_len(json_string_value(v));
    if (total > MAX_SECRET_BYTES)
        e_toolong(fe, "", MAX_SECRET_BYTES); /* the apiserver's path here is the whole object */
    if (old != NULL && jtrue(old, "immutable")) {
        if (!jtrue(obj, "immutable"))
            e_forbidden(fe, "immutable", MSG_IMMUT_SET);
        if (!sem_equal(data, jobj(old, "data")))
            e_forbidden(fe, "data", MSG_IMMUT_SET);
        if (!sem_equal(bin, jobj(old, "binaryData")))
            e_forbidden(fe, "binaryData", MSG_IMMUT_SET);
    }
}

/* ------------------------------------------------------------------ */
/* core: Namespace, Node; coordination: Lease                          */

static void check_namespace(const json_t *obj, struct api_ferrs *fe)
{
    static const char *const standard[] = {"kubernetes", "orphan", "foregroundDeletion", NULL};
    const json_t *fin = jarr(jobj(obj, "spec"), "finalizers");
    size_t i;
    for (i = 0; i < json_array_size(fin); i++) {
        const char *f = json_string_value(json_array_get(fin, i));
        if (f == NULL)
            continue;
        check_label_name(fe, "spec.finalizers", f);
        if (strchr(f, '/') == NULL && !str_in(f, standard))
            e_invalid_s(fe, "spec.finalizers", f,
                        "name is neither a standard finalizer name nor is it fully qualified");
    }
}

static void check_node(const json_t *obj, struct api_ferrs *fe)
{
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
    char p[PATHSZ], p2[PATHSZ], vb[VALSZ];
    const json_t *spec = jobj(obj, "spec"), *cidrs = jarr(spec, "podCIDRs");
    const json_t *taints = jarr(spec, "taints");
    const char *cidr = jstr(spec, "podCIDR"), *list[4];
    size_t n = 0, i, j;
    /* the strategy syncs podCIDR into podCIDRs[0] */
    for (i = 0; i < json_array_size(cidrs) && n < 4; i++)
        if (json_string_value(json_array_get(cidrs, i)) != NULL)
            list[n++] = json_string_value(json_array_get(cidrs, i));
    if (n == 0 && cidr != NULL && cidr[0] != '\0')
        list[n++] = cidr;
    for (i = 0; i < n; i++)
        if (!cidr_ok(list[i]))
            e_invalid_raw(fe, pi(p, "spec.podCIDRs", i), go_strings(vb, list, n),
                          "must be valid CIDR");
    for (i = 0; i < json_array_size(taints); i++) {
        const json_t *t = json_array_get(taints, i);
        const char *key = jstr(t, "key"), *val = jstr(t, "value"), *eff = jstr(t, "effect");
        struct msgs ms = {{0}, 0};
        pi(p, "spec.taints", i);
        check_label_name(fe, pc(p2, p, "key"), key ? key : "");
        label_value_msgs(val ? val : "", &ms);
        if (ms.n > 0) {
            char joined[VALSZ];
            snprintf(joined, sizeof joined, "%s%s%s", ms.m[0], ms.n > 1 ? ";" : "",
                     ms.n > 1 ? ms.m[1] : "");
            e_invalid_s(fe, pc(p2, p, "value"), val, joined);
        }
        if (eff == NULL || eff[0] == '\0')
            e_required(fe, pc(p2, p, "effect"), "");
        else if (!str_in(eff, effects))
            e_unsupported(fe, pc(p2, p, "effect"), eff, effects);
        for (j = 0; j < i; j++) {
            const json_t *o = json_array_get(taints, j);
            const char *ok = jstr(o, "key"), *oe = jstr(o, "effect");
            if (ok && key && oe && eff && strcmp(ok, key) == 0 && strcmp(oe, eff) == 0) {
                struct sb b;
                sb_init(&b, vb, sizeof vb);
                sb_add(&b, "core.Taint{Key:");
                sb_quote(&b, key);
                sb_add(&b, ", Value:");
                sb_quote(&b, val ? val : "");
                sb_add(&b, ", Effect:");
                sb_quote(&b, eff);
                sb_add(&b, ", TimeAdded:<nil>}");
                add(fe, p, "Duplicate value: %s: taints must be unique by key and effect pair", vb);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* autoscaling/v2 HorizontalPodAutoscaler (as the apiserver's
 * pkg/apis/autoscaling/validation; skiff serves Resource metrics only)  */

static void check_path_segment(struct api_ferrs *fe, const char *path, const char *v)
{
    /* apimachinery's IsValidPathSegmentName */
    if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
        char m[64];
        snprintf(m, sizeof m, "may not be '%s'", v);
        e_invalid_s(fe, path, v, m);
        return;
    }
    if (strchr(v, '/') != NULL)
        e_invalid_s(fe, path, v, "may not contain '/'");
    if (strchr(v, '%') != NULL)
        e_invalid_s(fe, path, v, "may not contain '%'");
}

static void check_hpa_target(struct api_ferrs *fe, const json_t *t, const char *path)
{
    static const char *const types[] = {"Utilization", "AverageValue", NULL};
    const char *type = jstr(t, "type");
    char p[PATHSZ], vb[VALSZ];
    long long u;
    api__qty qv;
    if (type == NULL || type[0] == '\0')
        e_required(fe, pc(p, path, "type"), "must specify a metric target type");
    else if (!str_in(type, types))
        e_unsupported(fe, pc(p, path, "type"), type, types);
    if (json_object_get(t, "averageValue") != NULL &&
        (api__qty_parse(json_object_get(t, "averageValue"), &qv) != NULL || qv <= 0))
        e_invalid_raw(fe, pc(p, path, "averageValue"),
                      qty_str(vb, json_object_get(t, "averageValue")), "must be positive");
    if (jint(t, "averageUtilization", &u) && u < 1)
        e_invalid_i(fe, pc(p, path, "averageUtilization"), u, "must be greater than 0");
    if (json_object_get(t, "averageUtilization") == NULL &&
        json_object_get(t, "averageValue") == NULL)
        e_required(fe, pc(p, path, "averageUtilization"),
                   "must set either a target raw value or a target utilization");
    if (json_object_get(t, "averageUtilization") != NULL &&
        json_object_get(t, "averageValue") != NULL)
        e_invalid_raw(fe, pc(p, path, "averageValue"),
                      qty_str(vb, json_object_get(t, "averageValue")),
                      "may not set both a target raw value and a target utilization");
}

static void check_hpa_rules(struct api_ferrs *fe, const json_t *r, const char *path)
{
    static const char *const selects[] = {"Disabled", "Max", "Min", NULL};
    static const char *const ptypes[] = {"Percent", "Pods", NULL};
    const json_t *pols = jarr(r, "policies");
    const char *sel = jstr(r, "selectPolicy");
    char p[PATHSZ], p2[PATHSZ], p3[PATHSZ];
    long long v;
    size_t i;
    if (!json_is_object(r))
        return;
    if (jint(r, "stabilizationWindowSeconds", &v) && v < 0)
        e_invalid_i(fe, pc(p, path, "stabilizationWindowSeconds"), v,
                    "must be greater than or equal to zero");
    else if (jint(r, "stabilizationWindowSeconds", &v) && v > 3600)
        e_invalid_i(fe, pc(p, path, "stabilizationWindowSeconds"), v,
                    "must be less than or equal to 3600");
    if (sel != NULL && !str_in(sel, selects))
        e_unsupported(fe, pc(p, path, "selectPolicy"), sel, selects);
    /* an absent list is defaulted (api/defaults.c); an explicit [] is not */
    if (pols != NULL && json_array_size(pols) == 0)
        e_required(fe, pc(p, path, "policies"), "must specify at least one Policy");
    for (i = 0; i < json_array_size(pols); i++) {
        const json_t *pol = json_array_get(pols, i);
        const char *type = jstr(pol, "type");
        pi(p2, pc(p, path, "policies"), i);
        if (type == NULL || !str_in(type, ptypes))
            e_unsupported(fe, pc(p3, p2, "type"), type ? type : "", ptypes);
        if (!jint(pol, "value", &v) || v <= 0)
            e_invalid_i(fe, pc(p3, p2, "value"), jint(pol, "value", &v) ? v : 0,
                        "must be greater than zero");
        if (!jint(pol, "periodSeconds", &v) || v <= 0)
            e_invalid_i(fe, pc(p3, p2, "periodSeconds"), jint(pol, "periodSeconds", &v) ? v : 0,
                        "must be greater than zero");
        else if (v > 1800)
            e_invalid_i(fe, pc(p3, p2, "periodSeconds"), v, "must be less than or equal to 1800");
    }
}

static void check_hpa(const json_t *obj, struct api_ferrs *fe)
{
    static const char *const mtypes[] = {"Resource", NULL};
    static const char *const rnames[] = {"cpu", "memory", NULL};
    const json_t *spec = jobj(obj, "spec"), *ref = jobj(spec, "scaleTargetRef");
    const json_t *metrics = jarr(spec, "metrics"), *beh = jobj(spec, "behavior");
    const char *kind = jstr(ref, "kind"), *name = jstr(ref, "name");
    size_t before = fe->n + fe->dropped, i;
    long long mn = 1, mx = 0;
    bool has_min = jint(spec, "minReplicas", &mn);
    char p[PATHSZ], p2[PATHSZ], p3[PATHSZ];

    if (has_min && mn < 1)
        e_invalid_i(fe, "spec.minReplicas", mn, "must be greater than or equal to 1");
    if (jint(spec, "maxReplicas", &mx) && mx < 1)
        e_invalid_i(fe, "spec.maxReplicas", mx, "must be greater than 0");
    if (has_min && jint(spec, "maxReplicas", &mx) && mx < mn)
        e_invalid_i(fe, "spec.maxReplicas", mx, "must be greater than or equal to `minReplicas`");
    if (kind == NULL || kind[0] == '\0')
        e_required(fe, "spec.scaleTargetRef.kind", "");
    else
        check_path_segment(fe, "spec.scaleTargetRef.kind", kind);
    if (name == NULL || name[0] == '\0')
        e_required(fe, "spec.scaleTargetRef.name", "");
    else
        check_path_segment(fe, "spec.scaleTargetRef.name", name);
    if (fe->n + fe->dropped != before)
        return; /* as the apiserver: metrics and behavior only on a sound reference */
    for (i = 0; i < json_array_size(metrics); i++) {
        const json_t *m = json_array_get(metrics, i), *res = jobj(m, "resource");
        const char *type = jstr(m, "type"), *rn = jstr(res, "name");
        pi(p, "spec.metrics", i);
        if (type == NULL || type[0] == '\0') {
            e_required(fe, pc(p2, p, "type"), "must specify a metric source type");
            continue;
        }
        if (!str_in(type, mtypes)) {
            e_unsupported(fe, pc(p2, p, "type"), type, mtypes);
            continue;
        }
        if (res == NULL) {
            e_required(fe, pc(p2, p, "resource"),
                       "must populate information for the given metric source");
            continue;
        }
        pc(p2, p, "resource");
        if (rn == NULL || rn[0] == '\0')
            e_required(fe, pc(p3, p2, "name"), "must specify a resource name");
        else if (!str_in(rn, rnames))
            e_unsupported(fe, pc(p3, p2, "name"), rn, rnames);
        check_hpa_target(fe, jobj(res, "target"), pc(p3, p2, "target"));
    }
    if (fe->n + fe->dropped != before)
        return;
    check_hpa_rules(fe, jobj(beh, "scaleUp"), "spec.behavior.scaleUp");
    check_hpa_rules(fe, jobj(beh, "scaleDown"), "spec.behavior.scaleDown");
}

static void check_lease(const json_t *obj, struct api_ferrs *fe)
{
    const json_t *spec = jobj(obj, "spec");
    long long v;
    if (jint(spec, "leaseDurationSeconds", &v) && v <= 0)
        e_invalid_i(fe, "spec.leaseDurationSeconds", v, "must be greater than 0");
    nonneg(fe, spec, "leaseTransitions", "spec");
}

/* ------------------------------------------------------------------ */

size_t api__validate(const struct api_kind *k, const json_t *obj, const json_t *old,
                     struct api_ferrs *fe)
{
    size_t before = fe->n + fe->dropped;
    const char *kind = k->kind;
    if (!json_is_object(obj))
        return 0; /* schema.c has said so */
    if (!json_is_object(old))
        old = NULL;
    check_meta(k, obj, old, fe);
    if (strcmp(kind, "Pod") == 0)
        check_pod_spec(fe, jobj(obj, "spec"), "spec", true);
    else if (strcmp(kind, "Deployment") == 0)
        check_deployment(obj, old, fe);
    else if (strcmp(kind, "ReplicaSet") == 0)
        check_replicaset(obj, old, fe);
    else if (strcmp(kind, "DaemonSet") == 0)
        check_daemonset(obj, old, fe);
    else if (strcmp(kind, "Job") == 0)
        check_job(obj, old, fe);
    else if (strcmp(kind, "CronJob") == 0)
        check_cronjob(obj, old, fe);
    else if (strcmp(kind, "Service") == 0)
        check_service(obj, old, fe);
    else if (strcmp(kind, "Endpoints") == 0)
        check_endpoints(obj, fe);
    else if (strcmp(kind, "Secret") == 0)
        check_secret(obj, old, fe);
    else if (strcmp(kind, "ConfigMap") == 0)
        check_configmap(obj, old, fe);
    else if (strcmp(kind, "Namespace") == 0)
        check_namespace(obj, fe);
    else if (strcmp(kind, "Node") == 0)
        check_node(obj, fe);
    else if (strcmp(kind, "Lease") == 0)
        check_lease(obj, fe);
    else if (strcmp(kind, "HorizontalPodAutoscaler") == 0)
        check_hpa(obj, fe);
    return fe->n + fe->dropped - before;
}
