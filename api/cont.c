/* List continue tokens. Like the apiserver's, they are opaque to clients:
 * base64url (no padding) of {"v":1,"k":"<last key returned>"}. The decoder
 * checks the key lies under the list's prefix so a token cannot be replayed
 * against another resource or namespace. Unlike the apiserver we do not pin
 * the list's revision: a continued list reads the current revision (no MVCC
 * snapshot reads in the store), which is documented in the list handler. */
#include "api/internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define CONT_TOKEN_MAX 2048

int api__continue_encode(const char *prefix, const char *last_key, char **out, struct err *e)
{
    json_t *j;
    char *txt;
    size_t n, i, b64_len;
    char *b64;

    (void)prefix;
    j = json_pack("{s:i, s:s}", "v", 1, "k", last_key);
    if (j == NULL)
        return err_setf(e, ERR_NOMEM, "continue: out of memory");
    txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (txt == NULL)
        return err_setf(e, ERR_NOMEM, "continue: out of memory");
    n = strlen(txt);
    b64 = malloc(4 * ((n + 2) / 3) + 1);
    if (b64 == NULL) {
        free(txt);
        return err_setf(e, ERR_NOMEM, "continue: out of memory");
    }
    b64_len = (size_t)EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)txt, (int)n);
    free(txt);
    /* base64url without padding: safe in a query string unescaped */
    while (b64_len > 0 && b64[b64_len - 1] == '=')
        b64_len--;
    b64[b64_len] = '\0';
    for (i = 0; i < b64_len; i++) {
        if (b64[i] == '+')
            b64[i] = '-';
        else if (b64[i] == '/')
            b64[i] = '_';
    }
    *out = b64;
    return 0;
}

static int decode_b64url(const char *tok, unsigned char **out, size_t *out_len, struct err *e)
{
    size_t n = strlen(tok), padded, i;
    char *std;
    unsigned char *bin;
    int len;

    if (n == 0 || n > CONT_TOKEN_MAX || n % 4 == 1)
        return err_setf(e, ERR_INVALID, "continue: malformed token");
    padded = (n + 3) / 4 * 4;
    std = malloc(padded + 1);
    bin = malloc(padded / 4 * 3 + 1);
    if (std == NULL || bin == NULL) {
        free(std);
        free(bin);
        return err_setf(e, ERR_NOMEM, "continue: out of memory");
    }
    for (i = 0; i < n; i++) {
        char c = tok[i];
        if (c == '+' || c == '/' || c == '=') { /* we never emit these */
            free(std);
            free(bin);
            return err_setf(e, ERR_INVALID, "continue: malformed token");
        }
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (; i < padded; i++)
        std[i] = '=';
    std[padded] = '\0';
    len = EVP_DecodeBlock(bin, (unsigned char *)std, (int)padded);
    free(std);
    if (len < 0) {
        free(bin);
        return err_setf(e, ERR_INVALID, "continue: malformed token");
    }
    len -= (int)(padded - n); /* DecodeBlock counts padding as zero bytes */
    bin[len] = '\0';
    *out = bin;
    *out_len = (size_t)len;
    return 0;
}

int api__continue_decode(const char *tok, const char *prefix, char **last_key, struct err *e)
{
    unsigned char *bin = NULL;
    size_t len = 0;
    json_t *j, *k;
    int rv;

    rv = decode_b64url(tok, &bin, &len, e);
    if (rv != 0)
        return rv;
    j = json_loadb((const char *)bin, len, JSON_REJECT_DUPLICATES, NULL);
    free(bin);
    k = json_object_get(j, "k");
    if (!json_is_object(j) || json_integer_value(json_object_get(j, "v")) != 1 ||
        !json_is_string(k)) {
        json_decref(j);
        return err_setf(e, ERR_INVALID, "continue: malformed token");
    }
    if (strncmp(json_string_value(k), prefix, strlen(prefix)) != 0) {
        json_decref(j);
        return err_setf(e, ERR_INVALID, "continue: token belongs to another list");
    }
    *last_key = strdup(json_string_value(k));
    json_decref(j);
    if (*last_key == NULL)
        return err_setf(e, ERR_NOMEM, "continue: out of memory");
    return 0;
}
