#include "config.h"
#include "http.h"
#include "log.h"

#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct load_context {
    const struct ct_config_option *opts;
    size_t n_opts;
    void *settings;
    const char *path;
    char *err;
    size_t err_size;
    bool failed;
    int failed_line; /* where the problem in `err` is */
    int read_errno;  /* why fgets failed, if it did (e.g. EISDIR) */
    FILE *file;
    int lineno; /* of the line most recently handed to inih */
};

static const struct ct_config_option *find_option(const struct ct_config_option *opts,
                                                  size_t n_opts, const char *section,
                                                  const char *name)
{
    for (size_t i = 0; i < n_opts; i++) {
        if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].name, name) == 0)
            return &opts[i];
    }
    return NULL;
}

static int parse_int(const char *value, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_duration_ms(const char *value, int64_t *out)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
    char *end;

    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > INT64_MAX / units[i].ms)
                return -1;
            *out = v * units[i].ms;
            return 0;
        }
    }
    return -1;
}

static int parse_bool(const char *value, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int ct_config_set(const struct ct_config_option *opts, size_t n_opts, void *settings,
                  const char *section, const char *name, const char *value, char *err,
                  size_t err_size)
{
    const struct ct_config_option *opt = find_option(opts, n_opts, section, name);
    char *field;
    int64_t number;
    bool flag;
    enum ct_log_level level;
    struct sockaddr_storage addr;
    socklen_t addr_len;

    if (opt == NULL) {
        snprintf(err, err_size, "unknown key '%s' in section [%s]", name, section);
        return -1;
    }
    field = (char *)settings + opt->offset;
    switch (opt->type) {
    case CT_CONFIG_HTTP_ADDR:
        if (ct_http_parse_listen(value, &addr, &addr_len, err, err_size) < 0)
            return -1;
        /* fall through - stored as the text it was given */
    case CT_CONFIG_STRING:
        if (strlen(value) >= opt->size) {
            snprintf(err, err_size, "%s: value longer than %zu bytes", name, opt->size - 1);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case CT_CONFIG_INT:
        if (parse_int(value, &number) != 0 || number < opt->min || number > opt->max) {
            snprintf(err, err_size, "%s: '%s' is not an integer in [%lld, %lld]", name, value,
                     (long long)opt->min, (long long)opt->max);
            return -1;
        }
        memcpy(field, &number, sizeof(number));
        return 0;
    case CT_CONFIG_DURATION:
        if (parse_duration_ms(value, &number) != 0 || number < opt->min || number > opt->max) {
            snprintf(err, err_size,
                     "%s: '%s' is not a duration between %lldms and %lldms (e.g. 30s, 5m, 1h)",
                     name, value, (long long)opt->min, (long long)opt->max);
            return -1;
        }
        memcpy(field, &number, sizeof(number));
        return 0;
    case CT_CONFIG_BOOL:
        if (parse_bool(value, &flag) != 0) {
            snprintf(err, err_size, "%s: '%s' is not a boolean (true or false)", name, value);
            return -1;
        }
        memcpy(field, &flag, sizeof(flag));
        return 0;
    case CT_CONFIG_LOG_LEVEL:
        if (ct_log_level_parse(value, &level) != 0) {
            snprintf(err, err_size, "%s: '%s' is not one of error, warn, info, debug", name, value);
            return -1;
        }
        memcpy(field, &level, sizeof(level));
        return 0;
    }
    snprintf(err, err_size, "%s: unsupported option type", name);
    return -1;
}

/* Bytes of the option's value in a settings struct. */
static size_t value_size(const struct ct_config_option *o)
{
    switch (o->type) {
    case CT_CONFIG_STRING:
    case CT_CONFIG_HTTP_ADDR:
        return o->size;
    case CT_CONFIG_INT:
    case CT_CONFIG_DURATION:
        return sizeof(int64_t);
    case CT_CONFIG_BOOL:
        return sizeof(bool);
    case CT_CONFIG_LOG_LEVEL:
        return sizeof(enum ct_log_level);
    }
    return 0;
}

static bool value_differs(const struct ct_config_option *o, const char *a, const char *b)
{
    if (o->type == CT_CONFIG_STRING || o->type == CT_CONFIG_HTTP_ADDR)
        return strncmp(a, b, o->size) != 0; /* bytes after the NUL do not count */
    return memcmp(a, b, value_size(o)) != 0;
}

size_t ct_config_reload(const struct ct_config_option *opts, size_t n_opts, void *running,
                        const void *fresh, const struct ct_config_option **restart,
                        size_t max_restart, size_t *n_restart)
{
    size_t copied = 0;

    *n_restart = 0;
    for (size_t i = 0; i < n_opts; i++) {
        const struct ct_config_option *o = &opts[i];
        char *to = (char *)running + o->offset;
        const char *from = (const char *)fresh + o->offset;

        if (!value_differs(o, to, from))
            continue;
        if (o->reloadable) {
            memcpy(to, from, value_size(o));
            copied++;
        } else if (*n_restart < max_restart) {
            restart[(*n_restart)++] = o;
        }
    }
    return copied;
}

/* fgets for inih that counts lines, so errors can name them. */
static char *read_line(char *buf, int size, void *stream)
{
    struct load_context *ctx = stream;
    char *line = fgets(buf, size, ctx->file);
    size_t len;

    if (line == NULL) {
        if (ferror(ctx->file))
            ctx->read_errno = errno;
        return NULL;
    }
    ctx->lineno++;
    len = strlen(line);
    if (len > 0 && line[len - 1] != '\n' && !feof(ctx->file) && !ctx->failed) {
        snprintf(ctx->err, ctx->err_size, "%s:%d: line longer than %d bytes", ctx->path,
                 ctx->lineno, size - 2);
        ctx->failed = true;
        ctx->failed_line = ctx->lineno;
    }
    return line;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct load_context *ctx = user;
    char why[CT_CONFIG_ERR_MAX];

    if (ctx->failed)
        return 0;
    if (ct_config_set(ctx->opts, ctx->n_opts, ctx->settings, section, name, value, why,
                      sizeof(why)) != 0) {
        snprintf(ctx->err, ctx->err_size, "%s:%d: %s", ctx->path, ctx->lineno, why);
        ctx->failed = true;
        ctx->failed_line = ctx->lineno;
        return 0;
    }
    return 1;
}

int ct_config_load_file(const char *path, const struct ct_config_option *opts, size_t n_opts,
                        void *settings, char *err, size_t err_size)
{
    struct load_context ctx = {opts, n_opts, settings, path, err, err_size, false, 0, 0, NULL, 0};
    int rc;

    ctx.file = fopen(path, "r");
    if (ctx.file == NULL) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    rc = ini_parse_stream(read_line, &ctx, on_entry, &ctx);
    fclose(ctx.file);
    /* fopen() opens a directory; only reading it fails, and inih takes that for the end */
    if (ctx.read_errno != 0) {
        snprintf(err, err_size, "%s: cannot read: %s", path, strerror(ctx.read_errno));
        return -1;
    }
    /* inih goes on after a syntax error and returns the first bad line, which may come
     * before the entry that set ctx.failed: report whichever is first. inih counts lines
     * as read_line does up to the first over-long line, which fails at once. */
    if (rc > 0 && (!ctx.failed || rc < ctx.failed_line)) {
        snprintf(err, err_size, "%s:%d: syntax error (expected [section] or key = value)", path,
                 rc);
        return -1;
    }
    if (ctx.failed)
        return -1;
    if (rc != 0) {
        snprintf(err, err_size, "%s: cannot parse (out of memory)", path);
        return -1;
    }
    return 0;
}

const struct ct_config_option *ct_config_find_flag(const struct ct_config_option *opts,
                                                   size_t n_opts, const char *flag)
{
    for (size_t i = 0; i < n_opts; i++) {
        const char *a = opts[i].name, *b = flag;
        while (*a && *b && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return &opts[i];
    }
    return NULL;
}
