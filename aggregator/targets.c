#include "targets.h"

#include "csv.h"
#include "db.h"
#include "text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum column {
    COL_CODE,
    COL_KIND,
    COL_INDICATOR,
    COL_DENOMINATOR,
    COL_SCALE,
    COL_OF_TARGET,
    COL_COMPARATOR,
    COL_TARGET,
    COL_UNIT,
    COL_NAME_ZH,
    COL_NAME_EN,
    COL_CLAUSE,
    COL_DISTRICT, /* empty: city-wide; else that unit's own target for `code` */
    COL_COUNT
};

static const struct {
    const char *name;
    bool required;
} columns[COL_COUNT] = {
    {"code", true},      {"kind", true},       {"indicator", false}, {"denominator", false},
    {"scale", false},    {"of_target", false}, {"comparator", true}, {"target", true},
    {"unit", false},     {"name_zh", true},    {"name_en", true},    {"clause", false},
    {"district", false},
};

#define FIELD_MAX 1024
#define NUMBER_MAX 40

struct row {
    size_t line;
    char *f[COL_COUNT]; /* owned; "" for an absent optional column */
};

struct loader {
    const char *name;
    struct ct_buf *problems;
    size_t n_problems;
    PGresult *indicators; /* code per row */
    PGresult *units;      /* id per row */
    struct row *rows;
    size_t n_rows;
};

static void problem(struct loader *l, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct loader *l, size_t line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ct_buf_printf(l->problems, "%s:%zu: %s\n", l->name, line, msg);
    l->n_problems++;
}

/* A plain decimal as people write targets: sign, digits, optional fraction. */
static bool is_number(const char *s)
{
    size_t n = strlen(s), i = 0, digits = 0;

    if (n == 0 || n > NUMBER_MAX)
        return false;
    if (s[i] == '-' || s[i] == '+')
        i++;
    for (; s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (s[i] == '.') {
        size_t frac = 0;
        for (i++; s[i] >= '0' && s[i] <= '9'; i++)
            frac++;
        if (frac == 0)
            return false;
    }
    return digits > 0 && s[i] == '\0';
}

static bool is_zero(const char *s)
{
    for (; *s; s++) {
        if (*s >= '1' && *s <= '9')
            return false;
    }
    return true;
}

static bool known_indicator(const struct loader *l, const char *code)
{
    for (int i = 0; i < PQntuples(l->indicators); i++) {
        if (strcmp(PQgetvalue(l->indicators, i, 0), code) == 0)
            return true;
    }
    return false;
}

static bool known_unit(const struct loader *l, const char *id)
{
    for (int i = 0; i < PQntuples(l->units); i++) {
        if (strcmp(PQgetvalue(l->units, i, 0), id) == 0)
            return true;
    }
    return false;
}

static bool is_unit_row(const struct row *r)
{
    return r->f[COL_DISTRICT][0] != '\0';
}

/* The city-wide row of `code`. */
static const struct row *find_row(const struct loader *l, const char *code)
{
    for (size_t i = 0; i < l->n_rows; i++) {
        if (!is_unit_row(&l->rows[i]) && strcmp(l->rows[i].f[COL_CODE], code) == 0)
            return &l->rows[i];
    }
    return NULL;
}

static void escaped(const char *s, char *out, size_t out_size)
{
    ct_text_escape(s, strlen(s), out, out_size);
}

/* Checks one row on its own; references between rows are checked once all are read. */
static void check_row(struct loader *l, const struct row *r)
{
    const char *kind = r->f[COL_KIND], *cmp = r->f[COL_COMPARATOR];
    char shown[160];

    if (!ct_id_valid(r->f[COL_CODE], strlen(r->f[COL_CODE]))) {
        escaped(r->f[COL_CODE], shown, sizeof(shown));
        problem(l, r->line, "code '%s' is not an id ([a-z0-9_-], at most %d bytes)", shown,
                CT_ID_MAX);
    }
    for (const struct row *o = l->rows; o < r; o++) {
        if (strcmp(o->f[COL_CODE], r->f[COL_CODE]) != 0 ||
            strcmp(o->f[COL_DISTRICT], r->f[COL_DISTRICT]) != 0)
            continue;
        if (is_unit_row(r))
            problem(l, r->line, "code '%s' for district '%s' is already on line %zu",
                    r->f[COL_CODE], r->f[COL_DISTRICT], o->line);
        else
            problem(l, r->line, "code '%s' is already used on line %zu", r->f[COL_CODE], o->line);
    }
    bool is_sum = strcmp(kind, "sum") == 0, is_ratio = strcmp(kind, "ratio") == 0,
         is_growth = strcmp(kind, "growth") == 0, is_city = strcmp(kind, "city") == 0;
    if (!is_sum && !is_ratio && !is_growth && !is_city) {
        escaped(kind, shown, sizeof(shown));
        problem(l, r->line, "kind '%s' is not one of sum, ratio, growth, city", shown);
    }
    if (is_growth) {
        if (r->f[COL_OF_TARGET][0] == '\0')
            problem(l, r->line, "a growth target needs of_target");
        if (r->f[COL_INDICATOR][0] != '\0' || r->f[COL_DENOMINATOR][0] != '\0')
            problem(l, r->line, "a growth target takes of_target, not indicator or denominator");
    } else if (is_sum || is_ratio || is_city) {
        if (r->f[COL_INDICATOR][0] == '\0') {
            problem(l, r->line, "a %s target needs an indicator", kind);
        } else if (!known_indicator(l, r->f[COL_INDICATOR])) {
            escaped(r->f[COL_INDICATOR], shown, sizeof(shown));
            problem(l, r->line, "unknown indicator '%s'", shown);
        }
        if (is_ratio && r->f[COL_DENOMINATOR][0] == '\0') {
            problem(l, r->line, "a ratio target needs a denominator");
        } else if (is_ratio && !known_indicator(l, r->f[COL_DENOMINATOR])) {
            escaped(r->f[COL_DENOMINATOR], shown, sizeof(shown));
            problem(l, r->line, "unknown denominator indicator '%s'", shown);
        } else if (!is_ratio && r->f[COL_DENOMINATOR][0] != '\0') {
            problem(l, r->line, "only a ratio target takes a denominator");
        }
        if (r->f[COL_OF_TARGET][0] != '\0')
            problem(l, r->line, "only a growth target takes of_target");
    }
    if (r->f[COL_SCALE][0] != '\0') {
        if (!is_number(r->f[COL_SCALE])) {
            escaped(r->f[COL_SCALE], shown, sizeof(shown));
            problem(l, r->line, "scale '%s' is not a number", shown);
        } else if (is_zero(r->f[COL_SCALE])) {
            problem(l, r->line, "scale must not be 0");
        }
    }
    if (strcmp(cmp, ">=") != 0 && strcmp(cmp, ">") != 0 && strcmp(cmp, "<=") != 0 &&
        strcmp(cmp, "<") != 0) {
        escaped(cmp, shown, sizeof(shown));
        problem(l, r->line, "comparator '%s' is not one of >=, >, <=, <", shown);
    }
    if (!is_number(r->f[COL_TARGET])) {
        escaped(r->f[COL_TARGET], shown, sizeof(shown));
        problem(l, r->line, "target '%s' is not a number", shown);
    }
    /* A unit row's names are the city row's; it may leave them empty. */
    if (!is_unit_row(r) && (r->f[COL_NAME_ZH][0] == '\0' || r->f[COL_NAME_EN][0] == '\0'))
        problem(l, r->line, "name_zh and name_en must not be empty");
}

/* A unit row is that unit's own number for the city row's figure, so everything that
 * defines the figure must be the city row's. An empty scale means 1 on both. */
static void check_unit_row(struct loader *l, const struct row *r)
{
    static const int same[] = {COL_KIND,      COL_INDICATOR,  COL_DENOMINATOR, COL_SCALE,
                               COL_OF_TARGET, COL_COMPARATOR, COL_UNIT};
    const struct row *city = find_row(l, r->f[COL_CODE]);
    char shown[160], was[160];

    if (!ct_id_valid(r->f[COL_DISTRICT], strlen(r->f[COL_DISTRICT])) ||
        !known_unit(l, r->f[COL_DISTRICT])) {
        escaped(r->f[COL_DISTRICT], shown, sizeof(shown));
        problem(l, r->line, "unknown district '%s'", shown);
        return;
    }
    escaped(r->f[COL_CODE], shown, sizeof(shown));
    if (city == NULL) {
        problem(l, r->line, "unit target '%s' has no city-wide row in this file", shown);
        return;
    }
    if (strcmp(city->f[COL_KIND], "city") == 0) {
        problem(l, r->line, "target '%s' is of kind city (line %zu): it has no unit targets", shown,
                city->line);
        return;
    }
    for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
        const char *mine = r->f[same[k]], *theirs = city->f[same[k]];
        if (same[k] == COL_SCALE) {
            mine = mine[0] ? mine : "1";
            theirs = theirs[0] ? theirs : "1";
        }
        if (strcmp(mine, theirs) == 0)
            continue;
        escaped(mine, shown, sizeof(shown));
        escaped(theirs, was, sizeof(was));
        problem(l, r->line, "%s '%s' differs from the city-wide row on line %zu ('%s')",
                columns[same[k]].name, shown, city->line, was);
    }
}

static void check_references(struct loader *l)
{
    char shown[160];

    for (size_t i = 0; i < l->n_rows; i++) {
        const struct row *r = &l->rows[i];
        if (is_unit_row(r)) {
            check_unit_row(l, r);
            continue;
        }
        if (strcmp(r->f[COL_KIND], "growth") != 0 || r->f[COL_OF_TARGET][0] == '\0')
            continue;
        const struct row *base = find_row(l, r->f[COL_OF_TARGET]);
        escaped(r->f[COL_OF_TARGET], shown, sizeof(shown));
        if (base == NULL)
            problem(l, r->line, "of_target '%s' is not a target of this file", shown);
        else if (strcmp(base->f[COL_KIND], "growth") == 0)
            problem(l, r->line, "of_target '%s' is itself a growth target", shown);
    }
}

/* Maps header names to columns; -1 in `map` for none. Returns false on any problem. */
static bool read_header(struct loader *l, const struct ct_csv_field *fields, size_t n, size_t line,
                        int *map)
{
    bool seen[COL_COUNT] = {false};
    size_t before = l->n_problems;
    char shown[160];

    for (size_t i = 0; i < n; i++) {
        map[i] = -1;
        for (int c = 0; c < COL_COUNT; c++) {
            if (strcmp(fields[i].ptr, columns[c].name) == 0)
                map[i] = c;
        }
        escaped(fields[i].ptr, shown, sizeof(shown));
        if (map[i] < 0)
            problem(l, line, "unknown column '%s'", shown);
        else if (seen[map[i]])
            problem(l, line, "column '%s' appears twice", shown);
        else
            seen[map[i]] = true;
    }
    for (int c = 0; c < COL_COUNT; c++) {
        if (columns[c].required && !seen[c])
            problem(l, line, "missing column '%s'", columns[c].name);
    }
    return l->n_problems == before;
}

static int read_rows(struct loader *l, const char *data, size_t len)
{
    struct ct_csv_reader rd;
    struct ct_csv_field fields[COL_COUNT + 1];
    int map[COL_COUNT + 1];
    size_t n_fields, n_header = 0;
    char scratch[16 * 1024], err[256];
    bool have_header = false;
    int rc;

    if (!ct_utf8_valid(data, len)) {
        problem(l, 1, "the file is not UTF-8 text");
        return 0;
    }
    ct_csv_init(&rd, data, len);
    while ((rc = ct_csv_next(&rd, fields, COL_COUNT + 1, &n_fields, scratch, sizeof(scratch), err,
                             sizeof(err))) != 0) {
        if (rc < 0) {
            problem(l, rd.record_line, "%s", err);
            if (!have_header)
                return 0;
            continue;
        }
        if (!have_header) {
            have_header = true;
            n_header = n_fields;
            if (!read_header(l, fields, n_fields, rd.record_line, map))
                return 0;
            continue;
        }
        if (n_fields != n_header) {
            problem(l, rd.record_line, "%zu fields, but the header has %zu", n_fields, n_header);
            continue;
        }
        if (l->n_rows == AGG_TARGETS_ROWS_MAX) {
            problem(l, rd.record_line, "more than %d targets", AGG_TARGETS_ROWS_MAX);
            return 0;
        }
        struct row *r = &l->rows[l->n_rows];
        memset(r, 0, sizeof(*r));
        r->line = rd.record_line;
        l->n_rows++;
        for (size_t i = 0; i < n_fields; i++) {
            if (fields[i].len > FIELD_MAX) {
                problem(l, r->line, "field '%s' is longer than %d bytes", columns[map[i]].name,
                        FIELD_MAX);
                continue;
            }
            r->f[map[i]] = strdup(fields[i].ptr);
            if (r->f[map[i]] == NULL)
                return -1;
        }
        for (int c = 0; c < COL_COUNT; c++) {
            if (r->f[c] == NULL && (r->f[c] = strdup("")) == NULL)
                return -1;
        }
        check_row(l, r);
    }
    if (!have_header)
        problem(l, 1, "the file is empty (a header row is required)");
    else if (l->n_rows == 0 && l->n_problems == 0)
        problem(l, rd.line, "the file has no targets");
    check_references(l);
    return 0;
}

static int replace_year(PGconn *conn, struct loader *l, int year, char *err, size_t err_size)
{
    char year_text[16], position[24];
    const char *del[] = {year_text};
    size_t n_city = 0;

    snprintf(year_text, sizeof(year_text), "%d", year);
    if (agg_db_exec(conn, "removing the year's targets", "DELETE FROM targets WHERE year = $1", 1,
                    del, err, err_size) != 0)
        return -1;
    for (size_t i = 0; i < l->n_rows; i++) {
        const struct row *r = &l->rows[i];
        const char *p[14];
        if (is_unit_row(r))
            continue;
        snprintf(position, sizeof(position), "%zu", ++n_city);
        p[0] = year_text;
        p[1] = r->f[COL_CODE];
        p[2] = position;
        p[3] = r->f[COL_KIND];
        p[4] = r->f[COL_INDICATOR][0] ? r->f[COL_INDICATOR] : NULL;
        p[5] = r->f[COL_DENOMINATOR][0] ? r->f[COL_DENOMINATOR] : NULL;
        p[6] = r->f[COL_SCALE][0] ? r->f[COL_SCALE] : "1";
        p[7] = r->f[COL_OF_TARGET][0] ? r->f[COL_OF_TARGET] : NULL;
        p[8] = r->f[COL_COMPARATOR];
        p[9] = r->f[COL_TARGET];
        p[10] = r->f[COL_UNIT];
        p[11] = r->f[COL_NAME_ZH];
        p[12] = r->f[COL_NAME_EN];
        p[13] = r->f[COL_CLAUSE];
        if (agg_db_exec(conn, "storing a target",
                        "INSERT INTO targets (year, code, position, kind, indicator, denominator,"
                        " scale, of_target, comparator, target, unit, name_zh, name_en, clause)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                        14, p, err, err_size) != 0)
            return -1;
    }
    /* After every city row, which each unit row references. The DELETE above took the
     * year's old unit targets with it (ON DELETE CASCADE). */
    for (size_t i = 0; i < l->n_rows; i++) {
        const struct row *r = &l->rows[i];
        const char *p[] = {year_text, r->f[COL_CODE], r->f[COL_DISTRICT], r->f[COL_TARGET]};
        if (is_unit_row(r) && agg_db_exec(conn, "storing a unit target",
                                          "INSERT INTO unit_targets (year, code, district, target)"
                                          " VALUES ($1, $2, $3, $4)",
                                          4, p, err, err_size) != 0)
            return -1;
    }
    return 0;
}

enum agg_targets_result agg_targets_load(PGconn *conn, int year, const char *name, const char *data,
                                         size_t len, struct ct_buf *problems, char *err,
                                         size_t err_size)
{
    struct loader l = {name, problems, 0, NULL, NULL, NULL, 0};
    enum agg_targets_result result = AGG_TARGETS_DB_ERROR;

    if (year < 1900 || year > 9999) {
        problem(&l, 1, "year %d is out of range", year);
        return AGG_TARGETS_INVALID;
    }
    if (len > AGG_TARGETS_FILE_MAX) {
        problem(&l, 1, "the file is larger than %d bytes", AGG_TARGETS_FILE_MAX);
        return AGG_TARGETS_INVALID;
    }
    l.indicators = agg_db_query(conn, "reading indicators", "SELECT code FROM indicators", 0, NULL,
                                PGRES_TUPLES_OK, err, err_size);
    if (l.indicators == NULL)
        goto out;
    l.units = agg_db_query(conn, "reading units", "SELECT id FROM units", 0, NULL, PGRES_TUPLES_OK,
                           err, err_size);
    if (l.units == NULL)
        goto out;
    l.rows = calloc(AGG_TARGETS_ROWS_MAX, sizeof(*l.rows));
    if (l.rows == NULL || read_rows(&l, data, len) != 0) {
        snprintf(err, err_size, "out of memory reading %s", name);
        goto out;
    }
    if (l.n_problems > 0) {
        result = AGG_TARGETS_INVALID;
        goto out;
    }
    if (replace_year(conn, &l, year, err, err_size) != 0)
        goto out;
    result = AGG_TARGETS_OK;
out:
    for (size_t i = 0; l.rows != NULL && i < l.n_rows; i++) {
        for (int c = 0; c < COL_COUNT; c++)
            free(l.rows[i].f[c]);
    }
    free(l.rows);
    PQclear(l.units);
    PQclear(l.indicators);
    return result;
}

int agg_targets_year_from_name(const char *path, int *year)
{
    const char *base = strrchr(path, '/');
    int found = -1;

    base = base != NULL ? base + 1 : path;
    for (const char *p = base; *p; p++) {
        bool starts = p == base || !(p[-1] >= '0' && p[-1] <= '9');
        if (!starts)
            continue;
        size_t n = 0;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n == 4) {
            *year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
            found = 0;
        }
    }
    return found;
}
