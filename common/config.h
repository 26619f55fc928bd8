/*
 * config.h - INI configuration files and command-line overrides, checked the same way.
 *
 * Each program describes its settings once, as a table of `struct ct_config_option`
 * pointing into its own settings struct. ct_config_load_file() reads an INI file with
 * libinih; ct_config_set() applies one value, and is what both the file and the command
 * line go through, so a flag and a file entry are validated identically and a flag beats
 * the file simply by being applied after it.
 *
 * An unknown section or key, or a bad value, is an error that names the file, the line
 * and the key. Strings are copied into fixed-size arrays inside the settings struct, so
 * the caller owns everything and nothing needs freeing.
 *
 * Each option says whether SIGHUP may change it (`reloadable`); ct_config_reload() is what
 * both daemons use, so what is reloaded and what is warned about come from the one table.
 */
#ifndef CT_CONFIG_H
#define CT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ct_config_type {
    CT_CONFIG_STRING,    /* char[size]; longer values are an error, not truncated */
    CT_CONFIG_INT,       /* int64_t within [min, max] */
    CT_CONFIG_BOOL,      /* bool: true/false, yes/no, on/off, 1/0 */
    CT_CONFIG_DURATION,  /* int64_t milliseconds: "250ms", "30s", "5m", "1h", "2d", or plain
                            seconds; within [min, max] ms */
    CT_CONFIG_LOG_LEVEL, /* enum ct_log_level: error, warn, info, debug */
    CT_CONFIG_HTTP_ADDR  /* char[size] holding "ADDR:PORT" (IP literal, IPv6 in brackets) or
                            "off", checked by ct_http_parse_listen() (http.h) */
};

struct ct_config_option {
    const char *section; /* INI section, e.g. "collector" */
    const char *name;    /* key, e.g. "state_dir" */
    enum ct_config_type type;
    size_t offset; /* offsetof(settings struct, field) */
    size_t size;   /* for strings: sizeof the char array */
    int64_t min, max;
    const char *help; /* one line, for --help and the example configs */
    bool reloadable;  /* SIGHUP applies it; otherwise it changes only with a restart */
};

#define CT_CONFIG_ERR_MAX 512

/* Applies `value` to the option `section`.`name`. Returns 0; -1 with "unknown key" or the
 * reason the value is bad in `err` (the caller adds where it came from). */
int ct_config_set(const struct ct_config_option *opts, size_t n_opts, void *settings,
                  const char *section, const char *name, const char *value, char *err,
                  size_t err_size);

/* Reads the INI file at `path` into `settings`. Returns 0; -1 with "PATH:LINE: ..." in
 * `err` for the first problem (a missing or unreadable file, a syntax error, an unknown
 * key, a bad value). Settings read before the error have been applied, so callers load
 * into a scratch copy when they must keep the old values (SIGHUP). */
int ct_config_load_file(const char *path, const struct ct_config_option *opts, size_t n_opts,
                        void *settings, char *err, size_t err_size);

/* For SIGHUP: copies into `running` the value of every reloadable option that differs in
 * `fresh` (both settings structs of this table), and lists in `restart` (at most
 * `max_restart`; the count in *n_restart) the options that differ but are not reloadable,
 * so the caller can warn about each. Returns how many options were copied. */
size_t ct_config_reload(const struct ct_config_option *opts, size_t n_opts, void *running,
                        const void *fresh, const struct ct_config_option **restart,
                        size_t max_restart, size_t *n_restart);

/* Finds the option for a command-line flag name such as "state-dir" (dashes match the
 * underscores of the key) in any section. Returns NULL when there is none. */
const struct ct_config_option *ct_config_find_flag(const struct ct_config_option *opts,
                                                   size_t n_opts, const char *flag);

#endif
