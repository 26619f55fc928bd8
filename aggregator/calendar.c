#include "calendar.h"

#include "csv.h"
#include "db.h"
#include "text.h"

#include <stdarg.h>
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

struct loader {
    const char *name;
    struct ct_buf *problems;
    size_t n_problems;
    PGresult *indicators; /* code per row */
    struct round_row *rows;
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

static void escaped(const char *s, char *out, size_t out_size)
{
    ct_text_escape(s, strlen(s), out, out_size);
}

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

static bool known_indicator(const struct loader *l, const char *code, size_t len)
{
    for (int i = 0; i < PQntuples(l->indicators); i++) {
        const char *c = PQgetvalue(l->indicators, i, 0);
        if (strlen(c) == len && memcmp(c, code, len) == 0)
            return true;
    }
    return false;
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
            problem(l, line,
                    "indicators: an empty code (write * for every indicator, or codes "
                    "separated by ';')");
            ok = false;
            break;
        }
        if (!ct_id_valid(p, len) || !known_indicator(l, p, len)) {
            problem(l, line, "indicators: unknown indicator '%s'", shown);
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
            problem(l, line, "indicators: '%s' is listed twice", shown);
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

    escaped(f[0].ptr, shown, sizeof(shown));
    if (f[0].len != 4 || strspn(f[0].ptr, "0123456789") != 4 || (y = atoi(f[0].ptr)) < 1900) {
        problem(l, r->line, "year '%s' is not a year (1900-9999)", shown);
        y = 0;
    }
    r->year = y;
    escaped(f[1].ptr, shown, sizeof(shown));
    if (f[1].len == 0 || f[1].len > AGG_CALENDAR_ROUND_MAX ||
        strspn(f[1].ptr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
            f[1].len)
        problem(l, r->line, "round '%s' is not a name (1-%d of A-Z, a-z, 0-9, '_', '-')", shown,
                AGG_CALENDAR_ROUND_MAX);
    else
        memcpy(r->round, f[1].ptr, f[1].len + 1);
    for (int c = 2; c <= 3; c++) {
        int *out = c == 2 ? &y_end : &y_due;
        escaped(f[c].ptr, shown, sizeof(shown));
        if (!parse_date(f[c].ptr, out)) {
            problem(l, r->line, "%s '%s' is not a date (YYYY-MM-DD)", c == 2 ? "period_end" : "due",
                    shown);
            dates_ok = false;
        } else {
            memcpy(c == 2 ? r->period_end : r->due, f[c].ptr, 11);
        }
    }
    if (dates_ok && y != 0 && y_end != y)
        problem(l, r->line, "period_end %s is not in year %d", r->period_end, y);
    if (dates_ok && strcmp(r->due, r->period_end) < 0)
        problem(l, r->line, "due %s is before period_end %s", r->due, r->period_end);
    if (!parse_indicators(l, r->line, f[4].ptr, &r->indicators))
        r->indicators = NULL;
    if (r->year == 0 || r->round[0] == '\0')
        return;
    for (const struct round_row *o = l->rows; o < r; o++) {
        if (o->year != r->year)
            continue;
        if (strcmp(o->round, r->round) == 0)
            problem(l, r->line, "round %d %s is already defined on line %zu", r->year, r->round,
                    o->line);
        else if (dates_ok && o->period_end[0] != '\0' && strcmp(o->period_end, r->period_end) >= 0)
            problem(l, r->line,
                    "periods out of order: period_end %s is not after %s (round %s, line %zu)",
                    r->period_end, o->period_end, o->round, o->line);
    }
}

static int read_rows(struct loader *l, const char *data, size_t len)
{
    struct ct_csv_reader rd;
    struct ct_csv_field fields[N_COLUMNS + 1];
    size_t n_fields;
    char scratch[16 * 1024], err[256];
    bool have_header = false;
    int rc;

    if (!ct_utf8_valid(data, len)) {
        problem(l, 1, "the file is not UTF-8 text");
        return 0;
    }
    ct_csv_init(&rd, data, len);
    while ((rc = ct_csv_next(&rd, fields, N_COLUMNS + 1, &n_fields, scratch, sizeof(scratch), err,
                             sizeof(err))) != 0) {
        if (rc < 0) {
            problem(l, rd.record_line, "%s", err);
            if (!have_header)
                return 0;
            continue;
        }
        if (!have_header) {
            char header[256];
            size_t k = 0;
            have_header = true;
            header[0] = '\0';
            for (size_t i = 0; i < n_fields && k < sizeof(header); i++)
                k += (size_t)snprintf(header + k, sizeof(header) - k, "%s%s", i ? "," : "",
                                      fields[i].ptr);
            if (strcmp(header, HEADER) != 0) {
                char shown[300];
                escaped(header, shown, sizeof(shown));
                problem(l, rd.record_line, "the header is '%s'; it must be %s", shown, HEADER);
                return 0;
            }
            continue;
        }
        if (n_fields != N_COLUMNS) {
            problem(l, rd.record_line, "%zu fields, but the header has %d", n_fields, N_COLUMNS);
            continue;
        }
        if (l->n_rows == AGG_CALENDAR_ROWS_MAX) {
            problem(l, rd.record_line, "more than %d rounds", AGG_CALENDAR_ROWS_MAX);
            return 0;
        }
        bool too_long = false;
        for (size_t i = 0; i < n_fields; i++)
            too_long = too_long || fields[i].len > FIELD_MAX;
        if (too_long) {
            problem(l, rd.record_line, "a field is longer than %d bytes", FIELD_MAX);
            continue;
        }
        struct round_row *r = &l->rows[l->n_rows++];
        memset(r, 0, sizeof(*r));
        r->line = rd.record_line;
        check_row(l, r, fields);
    }
    if (!have_header)
        problem(l, 1, "the file is empty (the header " HEADER " is required)");
    else if (l->n_rows == 0 && l->n_problems == 0)
        problem(l, rd.line, "the file has no rounds");
    return 0;
}

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
    struct loader l = {name, problems, 0, NULL, NULL, 0};
    enum agg_calendar_result result = AGG_CALENDAR_DB_ERROR;

    if (len > AGG_CALENDAR_FILE_MAX) {
        problem(&l, 1, "the file is larger than %d bytes", AGG_CALENDAR_FILE_MAX);
        return AGG_CALENDAR_INVALID;
    }
    l.indicators = agg_db_query(conn, "reading indicators", "SELECT code FROM indicators", 0, NULL,
                                PGRES_TUPLES_OK, err, err_size);
    if (l.indicators == NULL)
        goto out;
    l.rows = calloc(AGG_CALENDAR_ROWS_MAX, sizeof(*l.rows));
    if (l.rows == NULL || read_rows(&l, data, len) != 0 || problems->failed) {
        snprintf(err, err_size, "out of memory reading %s", name);
        goto out;
    }
    if (l.n_problems > 0) {
        result = AGG_CALENDAR_INVALID;
        goto out;
    }
    if (replace_years(conn, &l, err, err_size) != 0)
        goto out;
    if (n_rows != NULL)
        *n_rows = l.n_rows;
    result = AGG_CALENDAR_OK;
out:
    for (size_t i = 0; l.rows != NULL && i < l.n_rows; i++)
        free(l.rows[i].indicators);
    free(l.rows);
    PQclear(l.indicators);
    return result;
}
