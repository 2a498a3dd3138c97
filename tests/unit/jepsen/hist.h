/* Test helper: histories written as one short line per event,
 *   "PROCESS TYPE F KEY VALUE"   e.g. "1 ok read x 2", "2 invoke cas x [1,3]"
 * (VALUE is JSON; "-" or nothing for none), turned into the JSON lines
 * jepsen/client writes and parsed with jepsen_history_parse. */
#ifndef SKIFF_TESTS_UNIT_JEPSEN_HIST_H
#define SKIFF_TESTS_UNIT_JEPSEN_HIST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker.h"

#define HIST(h, ...) hist_parse((h), (const char *const[]){__VA_ARGS__, NULL})

static inline void hist_parse(struct jepsen_history *h, const char *const *lines)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    struct err e = {0};

    assert_non_null(buf);
    memset(h, 0, sizeof *h);
    for (size_t i = 0; lines[i] != NULL; i++) {
        char type[16], f[16], key[64], value[256] = "";
        long p;
        int n = sscanf(lines[i], "%ld %15s %15s %63s %255[^\n]", &p, type, f, key, value);
        assert_true(n >= 4);
        if (n == 4 || strcmp(value, "-") == 0)
            strcpy(value, "null");
        if (cap - len < 512) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        len += (size_t)snprintf(buf + len, cap - len,
                                "{\"process\":%ld,\"type\":\"%s\",\"f\":\"%s\",\"key\":\"%s\","
                                "\"value\":%s,\"time_ns\":%zu}\n",
                                p, type, f, key, value, i * 1000);
        assert_true(len < cap);
    }
    if (jepsen_history_parse(buf, len, h, &e) != 0)
        fail_msg("parse: %s", e.msg);
    free(buf);
}

#endif
