#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int level = -1;
static char node[64];

static int level_from_env(void)
{
    const char *v = getenv("SKIFF_LOG");
    if (v == NULL)
        return LOG_LEVEL_INFO;
    if (strcasecmp(v, "debug") == 0)
        return LOG_LEVEL_DEBUG;
    if (strcasecmp(v, "warn") == 0)
        return LOG_LEVEL_WARN;
    if (strcasecmp(v, "error") == 0)
        return LOG_LEVEL_ERROR;
    if (strcasecmp(v, "off") == 0)
        return LOG_LEVEL_OFF;
    return LOG_LEVEL_INFO;
}

void log_set_level(int l)
{
    level = l;
}

int log_level(void)
{
    if (level < 0)
        level = level_from_env();
    return level;
}

void log_set_node(const char *name)
{
    snprintf(node, sizeof node, "%s", name ? name : "");
}

void log_write(int l, const char *module, const char *event, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[2048];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (l < log_level() || l >= LOG_LEVEL_OFF)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s%s%s %s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)tv.tv_usec / 1000, names[l], node[0] ? node : "", node[0] ? " " : "", module,
                 event);
    if (n < 0 || (size_t)n >= sizeof line)
        n = (int)sizeof line - 2;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write per line so concurrent nodes' logs in one file stay whole. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
