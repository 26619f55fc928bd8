#include "targets.h"

#include "csv.h"
#include "csv_load.h"
#include "db.h"
#include "text.h"

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

_Static_assert(COL_COUNT <= AGG_CSV_COLUMNS_MAX,
               "agg_csv_check reads every column of a targets file");

struct loader {
    struct agg_csv_file csv;
    PGresult *units;  /* owned: id per row */
    struct row *rows; /* owned: AGG_TARGETS_ROWS_MAX of them */
    size_t n_rows;
    int map[COL_COUNT + 1]; /* the column of each field, from the header */
};

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
    return agg_csv_known(l->csv.indicators, code, strlen(code));
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

/* Checks one row on its own; references between rows are checked once all are read. */
static void check_row(struct loader *l, const struct row *r)
{
    const char *kind = r->f[COL_KIND], *cmp = r->f[COL_COMPARATOR];
    char shown[160];

    if (!ct_id_valid(r->f[COL_CODE], strlen(r->f[COL_CODE]))) {
        agg_csv_shown(r->f[COL_CODE], shown, sizeof(shown));
        agg_csv_problem(&l->csv, r->line, "code '%s' is not an id ([a-z0-9_-], at most %d bytes)",
                        shown, CT_ID_MAX);
    }
    for (const struct row *o = l->rows; o < r; o++) {
        if (strcmp(o->f[COL_CODE], r->f[COL_CODE]) != 0 ||
            strcmp(o->f[COL_DISTRICT], r->f[COL_DISTRICT]) != 0)
            continue;
        if (is_unit_row(r))
            agg_csv_problem(&l->csv, r->line, "code '%s' for district '%s' is already on line %zu",
                            r->f[COL_CODE], r->f[COL_DISTRICT], o->line);
        else
            agg_csv_problem(&l->csv, r->line, "code '%s' is already used on line %zu",
                            r->f[COL_CODE], o->line);
    }
    bool is_sum = strcmp(kind, "sum") == 0, is_ratio = strcmp(kind, "ratio") == 0,
         is_growth = strcmp(kind, "growth") == 0, is_city = strcmp(kind, "city") == 0;
    if (!is_sum && !is_ratio && !is_growth && !is_city) {
        agg_csv_shown(kind, shown, sizeof(shown));
        agg_csv_problem(&l->csv, r->line, "kind '%s' is not one of sum, ratio, growth, city",
                        shown);
    }
    if (is_growth) {
        if (r->f[COL_OF_TARGET][0] == '\0')
            agg_csv_problem(&l->csv, r->line, "a growth target needs of_target");
        if (r->f[COL_INDICATOR][0] != '\0' || r->f[COL_DENOMINATOR][0] != '\0')
            agg_csv_problem(&l->csv, r->line,
                            "a growth target takes of_target, not indicator or denominator");
    } else if (is_sum || is_ratio || is_city) {
        if (r->f[COL_INDICATOR][0] == '\0') {
            agg_csv_problem(&l->csv, r->line, "a %s target needs an indicator", kind);
        } else if (!known_indicator(l, r->f[COL_INDICATOR])) {
            agg_csv_shown(r->f[COL_INDICATOR], shown, sizeof(shown));
            agg_csv_problem(&l->csv, r->line, "unknown indicator '%s'", shown);
        }
        if (is_ratio && r->f[COL_DENOMINATOR][0] == '\0') {
            agg_csv_problem(&l->csv, r->line, "a ratio target needs a denominator");
        } else if (is_ratio && !known_indicator(l, r->f[COL_DENOMINATOR])) {
            agg_csv_shown(r->f[COL_DENOMINATOR], shown, sizeof(shown));
            agg_csv_problem(&l->csv, r->line, "unknown denominator indicator '%s'", shown);
        } else if (!is_ratio && r->f[COL_DENOMINATOR][0] != '\0') {
            agg_csv_problem(&l->csv, r->line, "only a ratio target takes a denominator");
        }
        if (r->f[COL_OF_TARGET][0] != '\0')
            agg_csv_problem(&l->csv, r->line, "only a growth target takes of_target");
    }
    if (r->f[COL_SCALE][0] != '\0') {
        if (!is_number(r->f[COL_SCALE])) {
            agg_csv_shown(r->f[COL_SCALE], shown, sizeof(shown));
            agg_csv_problem(&l->csv, r->line, "scale '%s' is not a number", shown);
        } else if (is_zero(r->f[COL_SCALE])) {
            agg_csv_problem(&l->csv, r->line, "scale must not be 0");
        }
    }
    if (strcmp(cmp, ">=") != 0 && strcmp(cmp, ">") != 0 && strcmp(cmp, "<=") != 0 &&
        strcmp(cmp, "<") != 0) {
        agg_csv_shown(cmp, shown, sizeof(shown));
        agg_csv_problem(&l->csv, r->line, "comparator '%s' is not one of >=, >, <=, <", shown);
    }
    if (!is_number(r->f[COL_TARGET])) {
        agg_csv_shown(r->f[COL_TARGET], shown, sizeof(shown));
        agg_csv_problem(&l->csv, r->line, "target '%s' is not a number", shown);
    }
    /* A unit row's names are the city row's; it may leave them empty. */
    if (!is_unit_row(r) && (r->f[COL_NAME_ZH][0] == '\0' || r->f[COL_NAME_EN][0] == '\0'))
        agg_csv_problem(&l->csv, r->line, "name_zh and name_en must not be empty");
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
        !agg_csv_known(l->units, r->f[COL_DISTRICT], strlen(r->f[COL_DISTRICT]))) {
        agg_csv_shown(r->f[COL_DISTRICT], shown, sizeof(shown));
        agg_csv_problem(&l->csv, r->line, "unknown district '%s'", shown);
        return;
    }
    agg_csv_shown(r->f[COL_CODE], shown, sizeof(shown));
    if (city == NULL) {
        agg_csv_problem(&l->csv, r->line, "unit target '%s' has no city-wide row in this file",
                        shown);
        return;
    }
    if (strcmp(city->f[COL_KIND], "city") == 0) {
        agg_csv_problem(&l->csv, r->line,
                        "target '%s' is of kind city (line %zu): it has no unit targets", shown,
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
        agg_csv_shown(mine, shown, sizeof(shown));
        agg_csv_shown(theirs, was, sizeof(was));
        agg_csv_problem(&l->csv, r->line,
                        "%s '%s' differs from the city-wide row on line %zu ('%s')",
                        columns[same[k]].name, shown, city->line, was);
    }
}

/* Once every row is read: what a row says of another. */
static void check_references(void *ctx)
{
    struct loader *l = ctx;
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
        agg_csv_shown(r->f[COL_OF_TARGET], shown, sizeof(shown));
        if (base == NULL)
            agg_csv_problem(&l->csv, r->line, "of_target '%s' is not a target of this file", shown);
        else if (strcmp(base->f[COL_KIND], "growth") == 0)
            agg_csv_problem(&l->csv, r->line, "of_target '%s' is itself a growth target", shown);
    }
}

/* Maps header names to columns (l->map; -1 for none). Returns the header's field count, or
 * 0 after listing its problems. */
static size_t read_header(void *ctx, const struct ct_csv_field *fields, size_t n, size_t line)
{
    struct loader *l = ctx;
    bool seen[COL_COUNT] = {false};
    size_t before = l->csv.n_problems;
    char shown[160];

    for (size_t i = 0; i < n; i++) {
        l->map[i] = -1;
        for (int c = 0; c < COL_COUNT; c++) {
            if (strcmp(fields[i].ptr, columns[c].name) == 0)
                l->map[i] = c;
        }
        agg_csv_shown(fields[i].ptr, shown, sizeof(shown));
        if (l->map[i] < 0)
            agg_csv_problem(&l->csv, line, "unknown column '%s'", shown);
        else if (seen[l->map[i]])
            agg_csv_problem(&l->csv, line, "column '%s' appears twice", shown);
        else
            seen[l->map[i]] = true;
    }
    for (int c = 0; c < COL_COUNT; c++) {
        if (columns[c].required && !seen[c])
            agg_csv_problem(&l->csv, line, "missing column '%s'", columns[c].name);
    }
    return l->csv.n_problems == before ? n : 0;
}

static int read_row(void *ctx, const struct ct_csv_field *fields, size_t n_fields, size_t line)
{
    struct loader *l = ctx;
    struct row *r = &l->rows[l->n_rows];

    memset(r, 0, sizeof(*r));
    r->line = line;
    l->n_rows++;
    for (size_t i = 0; i < n_fields; i++) {
        if (fields[i].len > FIELD_MAX) {
            agg_csv_problem(&l->csv, r->line, "field '%s' is longer than %d bytes",
                            columns[l->map[i]].name, FIELD_MAX);
            continue;
        }
        r->f[l->map[i]] = strdup(fields[i].ptr);
        if (r->f[l->map[i]] == NULL)
            return -1;
    }
    for (int c = 0; c < COL_COUNT; c++) {
        if (r->f[c] == NULL && (r->f[c] = strdup("")) == NULL)
            return -1;
    }
    check_row(l, r);
    return 1;
}

static int prepare(void *ctx, PGconn *conn, char *err, size_t err_size)
{
    struct loader *l = ctx;

    l->units = agg_db_query(conn, "reading units", "SELECT id FROM units", 0, NULL, PGRES_TUPLES_OK,
                            err, err_size);
    if (l->units == NULL)
        return -1;
    l->rows = calloc(AGG_TARGETS_ROWS_MAX, sizeof(*l->rows));
    if (l->rows == NULL) {
        snprintf(err, err_size, "out of memory reading %s", l->csv.name);
        return -1;
    }
    return 0;
}

static const struct agg_csv_loader targets_file = {
    .file_max = AGG_TARGETS_FILE_MAX,
    .max_fields = COL_COUNT,
    .max_rows = AGG_TARGETS_ROWS_MAX,
    .noun = "targets",
    .empty = "the file is empty (a header row is required)",
    .prepare = prepare,
    .header = read_header,
    .row = read_row,
    .finish = check_references,
};

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
    struct loader l = {.csv = {.name = name, .problems = problems}};
    enum agg_targets_result result;

    if (year < 1900 || year > 9999) {
        agg_csv_problem(&l.csv, 1, "year %d is out of range", year);
        return AGG_TARGETS_INVALID;
    }
    result = agg_csv_check(&l.csv, conn, data, len, &targets_file, &l, err, err_size);
    if (result == AGG_TARGETS_OK && replace_year(conn, &l, year, err, err_size) != 0)
        result = AGG_TARGETS_DB_ERROR;
    for (size_t i = 0; l.rows != NULL && i < l.n_rows; i++) {
        for (int c = 0; c < COL_COUNT; c++)
            free(l.rows[i].f[c]);
    }
    free(l.rows);
    PQclear(l.units);
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
