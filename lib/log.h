/* lib/log: one line per event: "time LEVEL module event k=v ...".
 * Writes to stderr (the daemon runs in the foreground). Loop thread or any
 * thread: each line is written with one write(2). Never pass secrets. */
#ifndef SKIFF_LIB_LOG_H
#define SKIFF_LIB_LOG_H

enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR, LOG_LEVEL_OFF };

/* Minimum level written; default INFO, or SKIFF_LOG=debug|info|warn|error|off. */
void log_set_level(int level);
int log_level(void);
/* Prefix every line with this node name (borrowed: copied). */
void log_set_node(const char *name);

void log_write(int level, const char *module, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_DEBUG(mod, ev, ...)                                                                    \
    do {                                                                                           \
        if (log_level() <= LOG_LEVEL_DEBUG)                                                        \
            log_write(LOG_LEVEL_DEBUG, mod, ev, __VA_ARGS__);                                      \
    } while (0)
#define LOG_INFO(mod, ev, ...)  log_write(LOG_LEVEL_INFO, mod, ev, __VA_ARGS__)
#define LOG_WARN(mod, ev, ...)  log_write(LOG_LEVEL_WARN, mod, ev, __VA_ARGS__)
#define LOG_ERROR(mod, ev, ...) log_write(LOG_LEVEL_ERROR, mod, ev, __VA_ARGS__)

#endif
