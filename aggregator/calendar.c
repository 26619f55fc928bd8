#include "calendar.h"

#include "csv.h"
#include "csv_load.h"
#include "db.h"
#include "text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "year,round,period_end,due,indicators"
#define N_COLUMNS 5
#define FIELD_MAX 4096

struct round_row {
    size_t line;
    int year;
    char round[AGG_CALENDAR_ROUND_MAX + 1];
    char period_end[11], due[11];
    char *indicators; /* owned: NULL for `*`, else a PostgreSQL array literal "{a,b}" */
};

_Static_assert(N_COLUMNS <= AGG_CSV_COLUMNS_MAX, "agg_csv_check reads every column of a calendar");

struct loader {
    struct agg_csv_file csv;
    struct round_row *rows; /* owned: AGG_CALENDAR_ROWS_MAX of them */
    size_t n_rows;
};

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A real calendar date written YYYY-MM-DD, as PostgreSQL's date type reads it back. */
static bool parse_date(const char *s, int *year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || strspn(s, "0123456789") != 4 ||
        strspn(s + 5, "0123456789") != 2 || strspn(s + 8, "0123456789") != 2)
        return false;
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return false;
    if (d > days[m - 1] + (m == 2 && leap(y)))
        return false;
    *year = y;
    return true;
}

/* `*`, or codes separated by ';' (spaces around them allowed). Sets `*out` to the array
 * literal (NULL for `*`) and returns true, or returns false after naming the problem. */
static bool parse_indicators(struct loader *l, size_t line, const char *text, char **out)
{
    struct ct_buf lit = CT_BUF_INIT;
    const char *p = text;
    char shown[160];
    bool ok = true;

    *out = NULL;
    if (strcmp(text, "*") == 0)
        return true;
    ct_buf_puts(&lit, "{");
    for (;;) {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        ct_text_escape(p, len, shown, sizeof(shown));
        if (len == 0) {
            agg_csv_problem(&l->csv, line,
                            "indicators: an empty code (write * for every indicator, or codes "
                            "separated by ';')");
            ok = false;
            break;
        }
        if (!ct_id_valid(p, len) || !agg_csv_known(l->csv.indicators, p, len)) {
            agg_csv_problem(&l->csv, line, "indicators: unknown indicator '%s'", shown);
            ok = false;
            break;
        }
        /* Codes are ids, so the literal needs no quoting, and ",code," finds a repeat. */
        ct_buf_puts(&lit, ",");
        ct_buf_append(&lit, p, len);
        ct_buf_puts(&lit, ",");
        if (lit.failed)
            break;
        const char *seen = strstr(lit.data, lit.data + lit.len - len - 2);
        if (seen != lit.data + lit.len - len - 2) {
            agg_csv_problem(&l->csv, line, "indicators: '%s' is listed twice", shown);
            ok = false;
            break;
        }
        lit.len--; /* the trailing ',' was only for that search */
        if (end == NULL)
            break;
        p = end + 1;
    }
    ct_buf_puts(&lit, "}");
    if (!ok || lit.failed) {
        ct_buf_free(&lit);
        return false;
    }
    memmove(lit.data + 1, lit.data + 2, lit.len - 1); /* "{,a,b}" -> "{a,b}" */
    *out = lit.data;
    return true;
}

static void check_row(struct loader *l, struct round_row *r, const struct ct_csv_field *f)
{
    char shown[160];
    int y = 0, y_end = 0, y_due = 0;
    bool dates_ok = true;

    agg_csv_shown(f[0].ptr, shown, sizeof(shown));
    if (f[0].len != 4 || strspn(f[0].ptr, "0123456789") != 4 || (y = atoi(f[0].ptr)) < 1900) {
        agg_csv_problem(&l->csv, r->line, "year '%s' is not a year (1900-9999)", shown);
        y = 0;
    }
    r->year = y;
    agg_csv_shown(f[1].ptr, shown, sizeof(shown));
    if (f[1].len == 0 || f[1].len > AGG_CALENDAR_ROUND_MAX ||
        strspn(f[1].ptr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
            f[1].len)
        agg_csv_problem(&l->csv, r->line,
                        "round '%s' is not a name (1-%d of A-Z, a-z, 0-9, '_', '-')", shown,
                        AGG_CALENDAR_ROUND_MAX);
    else
        memcpy(r->round, f[1].ptr, f[1].len + 1);
    for (int c = 2; c <= 3; c++) {
        int *out = c == 2 ? &y_end : &y_due;
        agg_csv_shown(f[c].ptr, shown, sizeof(shown));
        if (!parse_date(f[c].ptr, out)) {
            agg_csv_problem(&l->csv, r->line, "%s '%s' is not a date (YYYY-MM-DD)",
                            c == 2 ? "period_end" : "due", shown);
            dates_ok = false;
        } else {
            memcpy(c == 2 ? r->period_end : r->due, f[c].ptr, 11);
        }
    }
    if (dates_ok && y != 0 && y_end != y)
        agg_csv_problem(&l->csv, r->line, "period_end %s is not in year %d", r->period_end, y);
    if (dates_ok && strcmp(r->due, r->period_end) < 0)
        agg_csv_problem(&l->csv, r->line, "due %s is before period_end %s", r->due, r->period_end);
    if (!parse_indicators(l, r->line, f[4].ptr, &r->indicators))
        r->indicators = NULL;
    if (r->year == 0 || r->round[0] == '\0')
        return;
    for (const struct round_row *o = l->rows; o < r; o++) {
        if (o->year != r->year)
            continue;
        if (strcmp(o->round, r->round) == 0)
            agg_csv_problem(&l->csv, r->line, "round %d %s is already defined on line %zu", r->year,
                            r->round, o->line);
        else if (dates_ok && o->period_end[0] != '\0' && strcmp(o->period_end, r->period_end) >= 0)
            agg_csv_problem(
                &l->csv, r->line,
                "periods out of order: period_end %s is not after %s (round %s, line %zu)",
                r->period_end, o->period_end, o->round, o->line);
    }
}

static size_t read_header(void *ctx, const struct ct_csv_field *fields, size_t n_fields,
                          size_t line)
{
    struct loader *l = ctx;
    char header[256], shown[300];
    size_t k = 0;

    header[0] = '\0';
    for (size_t i = 0; i < n_fields && k < sizeof(header); i++)
        k += (size_t)snprintf(header + k, sizeof(header) - k, "%s%s", i ? "," : "", fields[i].ptr);
    if (strcmp(header, HEADER) != 0) {
        agg_csv_shown(header, shown, sizeof(shown));
        agg_csv_problem(&l->csv, line, "the header is '%s'; it must be %s", shown, HEADER);
        return 0;
    }
    return N_COLUMNS;
}

static int read_row(void *ctx, const struct ct_csv_field *fields, size_t n_fields, size_t line)
{
    struct loader *l = ctx;
    bool too_long = false;

    for (size_t i = 0; i < n_fields; i++)
        too_long = too_long || fields[i].len > FIELD_MAX;
    if (too_long) {
        agg_csv_problem(&l->csv, line, "a field is longer than %d bytes", FIELD_MAX);
        return 0;
    }
    struct round_row *r = &l->rows[l->n_rows++];
    memset(r, 0, sizeof(*r));
    r->line = line;
    check_row(l, r, fields);
    return 1;
}

static int prepare(void *ctx, PGconn *conn, char *err, size_t err_size)
{
    struct loader *l = ctx;

    (void)conn;
    l->rows = calloc(AGG_CALENDAR_ROWS_MAX, sizeof(*l->rows));
    if (l->rows == NULL) {
        snprintf(err, err_size, "out of memory reading %s", l->csv.name);
        return -1;
    }
    return 0;
}

static const struct agg_csv_loader calendar_file = {
    .file_max = AGG_CALENDAR_FILE_MAX,
    .max_fields = N_COLUMNS,
    .max_rows = AGG_CALENDAR_ROWS_MAX,
    .noun = "rounds",
    .empty = "the file is empty (the header " HEADER " is required)",
    .prepare = prepare,
    .header = read_header,
    .row = read_row,
};

static int replace_years(PGconn *conn, const struct loader *l, char *err, size_t err_size)
{
    for (size_t i = 0; i < l->n_rows; i++) {
        const struct round_row *r = &l->rows[i];
        char year[16], position[24];
        bool first_of_year = true;
        int pos = 1;

        for (size_t j = 0; j < i; j++) {
            if (l->rows[j].year == r->year) {
                first_of_year = false;
                pos++;
            }
        }
        snprintf(year, sizeof(year), "%d", r->year);
        snprintf(position, sizeof(position), "%d", pos);
        if (first_of_year) {
            const char *del[] = {year};
            if (agg_db_exec(conn, "removing the year's rounds",
                            "DELETE FROM rounds WHERE year = $1", 1, del, err, err_size) != 0)
                return -1;
        }
        const char *p[] = {year, r->round, position, r->period_end, r->due, r->indicators};
        if (agg_db_exec(conn, "storing a round",
                        "INSERT INTO rounds (year, round, position, period_end, due, indicators)"
                        " VALUES ($1, $2, $3, $4, $5, $6)",
                        6, p, err, err_size) != 0)
            return -1;
    }
    return 0;
}

enum agg_calendar_result agg_calendar_load(PGconn *conn, const char *name, const char *data,
                                           size_t len, struct ct_buf *problems, size_t *n_rows,
                                           char *err, size_t err_size)
{
    struct loader l = {.csv = {.name = name, .problems = problems}};
    enum agg_calendar_result result =
        agg_csv_check(&l.csv, conn, data, len, &calendar_file, &l, err, err_size);

    if (result == AGG_CALENDAR_OK && replace_years(conn, &l, err, err_size) != 0)
        result = AGG_CALENDAR_DB_ERROR;
    if (result == AGG_CALENDAR_OK && n_rows != NULL)
        *n_rows = l.n_rows;
    for (size_t i = 0; l.rows != NULL && i < l.n_rows; i++)
        free(l.rows[i].indicators);
    free(l.rows);
    return result;
}
