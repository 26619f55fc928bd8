#include "http_api.h"
#include "api_assessment.h"
#include "api_briefings.h"
#include "briefing.h"
#include "bulletin.h"
#include "changes_page.h"
#include "dashboard.h"
#include "dashboard_warnings.h"
#include "db.h"
#include "health.h"
#include "http.h"
#include "http_completeness.h"
#include "known_at.h"
#include "metrics.h"
#include "progress.h"
#include "text.h"
#include "timefmt.h"
#include "version.h"
#include "xlsx_report.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_YEARS 64
#define DASHBOARD_REFRESH_S 10
#define APPLICATION_NAME "citytally-aggregator http"
/* The server ends a statement the client abandoned at its deadline (db.h) by then. */
#define STATEMENT_TIMEOUT_MS 8000

static const double commit_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                       0.25,  0.5,    1,     2.5,  5,     10};

struct agg_http {
    const struct ct_log *log;
    struct ct_http_server *server;
    struct ct_metrics *metrics;

    /* Written by the daemon's thread in agg_http_observe(), read by renders. */
    struct ct_counter *committed, *rejected, *batches, *commits, *refused;
    struct ct_histogram *commit_seconds;
    struct ct_counter *conflicts;
    struct ct_gauge *db_up, *last_commit;
    struct agg_ingest_stats seen; /* the daemon thread's copy, for deltas */

    /* The pages' connections (one per worker), and what /healthz says. */
    struct agg_db_pool *pool;
    struct agg_health *health;

    /* Whose connections citytally_agents_connected counts (borrowed), or NULL. */
    _Atomic(const struct agg_ingest *) ingest;
};

/* ---- database, from the HTTP threads ---------------------------------------------- */

PGconn *agg_http_page_conn(struct agg_http *h, const struct ct_http_request *req, char *err,
                           size_t err_size)
{
    /* At once when the probe already knows that the database does not answer, so no page
     * queues behind a dead server. */
    if (!agg_health_db_answering(h->health, err, err_size))
        return NULL;
    return agg_db_pool_get(h->pool, req->deadline_mono_ms, err, err_size);
}

void agg_http_page_done(struct agg_http *h, PGconn *conn)
{
    if (conn != NULL)
        agg_db_pool_put(h->pool, conn);
}

static int load_years(PGconn *conn, int *years, size_t *n_years, char *err, size_t err_size)
{
    PGresult *res = agg_db_query(conn, "reading target years",
                                 "SELECT DISTINCT year FROM targets ORDER BY year", 0, NULL,
                                 PGRES_TUPLES_OK, err, err_size);

    if (res == NULL)
        return -1;
    *n_years = 0;
    for (int i = 0; i < PQntuples(res) && *n_years < MAX_YEARS; i++)
        years[(*n_years)++] = atoi(PQgetvalue(res, i, 0));
    PQclear(res);
    return 0;
}

/* ---- request parameters ----------------------------------------------------------- */

struct query {
    int year; /* 0: not given */
    bool has_as_of;
    int64_t as_of_ms;
    const char *as_of;   /* as given; "" for now */
    int64_t known_at_ms; /* AGG_KNOWN_AT_NOW unless known_at= */
};

/* Reads ?year=Y&as_of=TIME. An empty value counts as not given (a form's empty date
 * field). Returns 0, or -1 with the 400's text in `err`. */
static int parse_query(const struct ct_http_request *req, struct query *q, char *err,
                       size_t err_size)
{
    /* "/" (the dashboard) also takes revised_since=, which handle_dashboard reads. */
    static const char *const known[] = {"year", "as_of", "known_at", NULL};
    static const char *const known_page[] = {"year", "as_of", "known_at", "revised_since", NULL};
    const char *year = ct_http_query(req, "year"), *as_of = ct_http_query(req, "as_of");

    if (ct_http_query_check(req, req->path[1] == '\0' ? known_page : known, err, err_size) != 0 ||
        agg_known_at_from_query(req, &q->known_at_ms, err, err_size) != 0)
        return -1;
    q->year = 0;
    q->as_of = as_of != NULL ? as_of : "";
    q->has_as_of = q->as_of[0] != '\0';
    q->as_of_ms = ct_time_now_ms();
    if (year != NULL && year[0] != '\0') {
        size_t n = strlen(year);
        int y = n == 4 && strspn(year, "0123456789") == 4 ? atoi(year) : 0;
        if (y < 1900 || y > 9999) {
            char shown[64];
            ct_text_escape(year, n, shown, sizeof(shown));
            snprintf(err, err_size, "year: '%s' is not a year (1900 to 9999)", shown);
            return -1;
        }
        q->year = y;
    }
    if (q->as_of[0] != '\0' &&
        ct_http_parse_time("as_of", q->as_of, &q->as_of_ms, err, err_size) != 0)
        return -1;
    return 0;
}

/* Picks the year to show as `report` does: the one asked for, else the year of as_of,
 * else the latest with targets. Returns 0, or -1 with the 404's text in `err` when it has
 * no targets. */
static int choose_year(struct query *q, const int *years, size_t n_years, char *err,
                       size_t err_size)
{
    size_t used;

    if (q->year == 0 && q->has_as_of)
        q->year = ct_time_year_of(q->as_of_ms);
    if (q->year == 0 && n_years > 0)
        q->year = years[n_years - 1];
    for (size_t i = 0; i < n_years; i++) {
        if (years[i] == q->year)
            return 0;
    }
    used = (size_t)snprintf(err, err_size, "no targets for year %d (years with targets:",
                            q->year != 0 ? q->year : ct_time_year_of(q->as_of_ms));
    for (size_t i = 0; i < n_years && used < err_size; i++)
        used += (size_t)snprintf(err + used, err_size - used, " %d", years[i]);
    if (n_years == 0 && used < err_size)
        used += (size_t)snprintf(err + used, err_size - used, " none; see targets import");
    if (used < err_size)
        snprintf(err + used, err_size - used, ")");
    return -1;
}

static void error_text(struct ct_http_response *resp, unsigned status, const char *msg)
{
    ct_http_text(resp, status, msg);
    ct_buf_puts(&resp->body, "\n");
}

/* ---- handlers --------------------------------------------------------------------- */

/* Never waits on the database: health.h keeps the answer ready. */
static void handle_healthz(void *ctx, const struct ct_http_request *req,
                           struct ct_http_response *resp)
{
    struct agg_http *h = ctx;
    char why[AGG_DB_ERR_MAX + 32], line[AGG_DB_ERR_MAX + 64];

    (void)req;
    if (agg_health_check(h->health, why, sizeof(why))) {
        ct_http_text(resp, 200, "ok\n");
        return;
    }
    snprintf(line, sizeof(line), "%s\n", why);
    ct_http_text(resp, 503, line);
}

static void handle_progress(void *ctx, const struct ct_http_request *req,
                            struct ct_http_response *resp)
{
    struct agg_http *h = ctx;
    struct agg_progress *p = NULL;
    char err[AGG_DB_ERR_MAX];
    int years[MAX_YEARS];
    size_t n_years = 0;
    struct query q = {0};
    PGconn *conn = NULL;

    if (parse_query(req, &q, err, sizeof(err)) != 0) {
        error_text(resp, 400, err);
        return;
    }
    conn = agg_http_page_conn(h, req, err, sizeof(err));
    if (conn == NULL || load_years(conn, years, &n_years, err, sizeof(err)) != 0) {
        error_text(resp, 503, err);
        goto out;
    }
    if (choose_year(&q, years, n_years, err, sizeof(err)) != 0) {
        error_text(resp, 404, err);
        goto out;
    }
    if (agg_progress_load_known(conn, q.year, q.as_of_ms, q.known_at_ms, NULL, &p, err,
                                sizeof(err)) != 0) {
        error_text(resp, 503, err);
        goto out;
    }
    resp->content_type = "application/json; charset=utf-8";
    agg_progress_json(p, &resp->body);
    ct_buf_puts(&resp->body, "\n");
out:
    agg_http_page_done(h, conn);
    agg_progress_free(p);
}

/* Pages kept in files of their own (api_assessment.c): the query and the year as for
 * /api/progress, then `page` on the connection; its -1 is a 503. */
static void serve_year(struct agg_http *h, const struct ct_http_request *req,
                       struct ct_http_response *resp, agg_api_year_page page)
{
    char err[AGG_DB_ERR_MAX];
    int years[MAX_YEARS];
    size_t n_years = 0;
    struct query q = {0};
    bool opened = false;
    PGconn *conn;

    if (parse_query(req, &q, err, sizeof(err)) != 0) {
        error_text(resp, 400, err);
        return;
    }
    conn = agg_http_page_conn(h, req, err, sizeof(err));
    if (conn == NULL || load_years(conn, years, &n_years, err, sizeof(err)) != 0)
        error_text(resp, 503, err);
    else if (choose_year(&q, years, n_years, err, sizeof(err)) != 0)
        error_text(resp, 404, err);
    else if (agg_known_at_begin(conn, q.known_at_ms, &opened, err, sizeof(err)) != 0)
        error_text(resp, 503, err);
    else if (page(conn, &(struct agg_api_year){q.year, q.as_of_ms, q.as_of, years, n_years}, resp,
                  err, sizeof(err)) != 0)
        error_text(resp, 503, err);
    agg_known_at_end(conn, opened);
    agg_http_page_done(h, conn);
}

static void handle_assessment(void *ctx, const struct ct_http_request *req,
                              struct ct_http_response *resp)
{
    serve_year(ctx, req, resp, agg_api_assessment);
}

static void handle_assessment_page(void *ctx, const struct ct_http_request *req,
                                   struct ct_http_response *resp)
{
    serve_year(ctx, req, resp, agg_api_assessment_page);
}

static void handle_dashboard(void *ctx, const struct ct_http_request *req,
                             struct ct_http_response *resp)
{
    struct agg_http *h = ctx;
    struct agg_dashboard_view view = {0};
    struct agg_dashboard_unit *units = NULL;
    struct agg_dashboard_warnings warnings = {0};
    struct agg_progress *p = NULL;
    struct agg_trends *trends = NULL;
    struct agg_revisions *revisions = NULL;
    const char *since = ct_http_query(req, "revised_since");
    int64_t since_ms = 0;
    PGresult *unit_rows = NULL;
    char problem[AGG_DB_ERR_MAX] = "";
    int years[MAX_YEARS];
    size_t n_years = 0;
    struct query q = {0};
    PGconn *conn = NULL;

    resp->content_type = "text/html; charset=utf-8";
    /* Inline script and style only; no other origin, no framing. */
    resp->headers[0].name = "Content-Security-Policy";
    resp->headers[0].value = "default-src 'none'; script-src 'unsafe-inline'; "
                             "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
                             "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
    resp->headers[1].name = "Referrer-Policy";
    resp->headers[1].value = "no-referrer";

    if (parse_query(req, &q, problem, sizeof(problem)) != 0 ||
        (since != NULL && since[0] != '\0' &&
         agg_known_at_parse("revised_since", since, &since_ms, problem, sizeof(problem)) != 0)) {
        resp->status = 400;
        q.year = ct_time_year_of(ct_time_now_ms());
        q.as_of = "";
        goto render;
    }
    conn = agg_http_page_conn(h, req, problem, sizeof(problem));
    if (conn == NULL || load_years(conn, years, &n_years, problem, sizeof(problem)) != 0) {
        resp->status = 503;
        goto render;
    }
    unit_rows = agg_db_query(conn, "reading units",
                             "SELECT id, name_zh, name_en FROM units ORDER BY position", 0, NULL,
                             PGRES_TUPLES_OK, problem, sizeof(problem));
    if (unit_rows == NULL) {
        resp->status = 503;
        goto render;
    }
    units = calloc((size_t)PQntuples(unit_rows) + 1, sizeof(*units));
    if (units == NULL) {
        resp->body.failed = true;
        goto out;
    }
    for (int i = 0; i < PQntuples(unit_rows); i++)
        units[i] = (struct agg_dashboard_unit){
            PQgetvalue(unit_rows, i, 0), PQgetvalue(unit_rows, i, 1), PQgetvalue(unit_rows, i, 2)};
    view.units = units;
    view.n_units = (size_t)PQntuples(unit_rows);
    if (choose_year(&q, years, n_years, problem, sizeof(problem)) != 0) {
        resp->status = 404;
        goto render;
    }
    if (agg_progress_load(conn, q.year, q.as_of_ms, NULL, &p, problem, sizeof(problem)) != 0 ||
        agg_trends_load(conn, q.year, q.as_of_ms, &trends, problem, sizeof(problem)) != 0 ||
        (since != NULL && since[0] != '\0' &&
         agg_revisions_load(conn, q.year, q.as_of_ms, since_ms, &revisions, problem,
                            sizeof(problem)) != 0))
        resp->status = 503;
    else if (q.as_of[0] == '\0' &&
             agg_dashboard_warnings_load(conn, q.year, &warnings, problem, sizeof(problem)) != 0)
        resp->status = 503;
render:
    view.warnings = warnings.rows;
    view.n_warnings = warnings.n;
    view.trends = trends;
    view.revisions = revisions;
    view.revised_since = since != NULL ? since : "";
    view.progress = p;
    view.problem = problem[0] != '\0' ? problem : NULL;
    view.year = q.year != 0 ? q.year : ct_time_year_of(q.as_of_ms);
    view.as_of = q.as_of;
    view.years = years;
    view.n_years = n_years;
    view.refresh_s = DASHBOARD_REFRESH_S;
    if (agg_dashboard_render(&view, &resp->body) != 0)
        resp->body.failed = true;
out:
    agg_http_page_done(h, conn);
    agg_progress_free(p);
    agg_dashboard_warnings_free(&warnings);
    agg_trends_free(trends);
    agg_revisions_free(revisions);
    free(units);
    PQclear(unit_rows);
}

/* ---- documents of a briefing (briefing.h): the bulletin and the workbook ----------- */

typedef int (*document_fn)(const struct agg_briefing *b, struct ct_http_response *resp, char *err,
                           size_t err_size);

static int serve_bulletin(const struct agg_briefing *b, struct ct_http_response *resp, char *err,
                          size_t err_size)
{
    if (agg_bulletin_render(b, ct_time_now_ms(), &resp->body) != 0) {
        snprintf(err, err_size, "out of memory rendering the bulletin");
        return -1;
    }
    resp->content_type = "text/html; charset=utf-8";
    resp->headers[0].name = "Content-Security-Policy";
    resp->headers[0].value = AGG_BULLETIN_CSP;
    return 0;
}

static int serve_xlsx(const struct agg_briefing *b, struct ct_http_response *resp, char *err,
                      size_t err_size)
{
    if (agg_xlsx_render(b, &resp->body, err, err_size) != 0)
        return -1;
    resp->content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    resp->headers[0].name = "Content-Disposition";
    resp->headers[0].value = "attachment; filename=\"citytally-progress.xlsx\"";
    return 0;
}

/* ?year=Y&as_of=TIME as /api/progress takes them; the document is made after the
 * connection is released. */
static void handle_document(struct agg_http *h, const struct ct_http_request *req,
                            struct ct_http_response *resp, document_fn serve)
{
    struct agg_briefing *b = NULL;
    char err[AGG_DB_ERR_MAX];
    int years[MAX_YEARS];
    size_t n_years = 0;
    struct query q = {0};
    bool opened = false;
    PGconn *conn;
    int rc = -1;

    if (parse_query(req, &q, err, sizeof(err)) != 0) {
        error_text(resp, 400, err);
        return;
    }
    conn = agg_http_page_conn(h, req, err, sizeof(err));
    if (conn == NULL || load_years(conn, years, &n_years, err, sizeof(err)) != 0)
        error_text(resp, 503, err);
    else if (choose_year(&q, years, n_years, err, sizeof(err)) != 0)
        error_text(resp, 404, err);
    else if (agg_known_at_begin(conn, q.known_at_ms, &opened, err, sizeof(err)) != 0)
        error_text(resp, 503, err);
    else if (agg_briefing_load(conn, &(struct agg_briefing_query){q.year, q.as_of_ms}, &b, err,
                               sizeof(err)) != 0)
        error_text(resp, 503, err);
    else
        rc = 0;
    agg_known_at_end(conn, opened);
    agg_http_page_done(h, conn);
    /* as the other handlers, the reason goes to the client, not the log */
    if (rc == 0 && serve(b, resp, err, sizeof(err)) != 0)
        error_text(resp, 500, err);
    agg_briefing_free(b);
}

static void handle_bulletin(void *ctx, const struct ct_http_request *req,
                            struct ct_http_response *resp)
{
    handle_document(ctx, req, resp, serve_bulletin);
}

static void handle_xlsx(void *ctx, const struct ct_http_request *req, struct ct_http_response *resp)
{
    handle_document(ctx, req, resp, serve_xlsx);
}

/* Handlers kept in files of their own (api_briefings.c, changes_page.c) get a pooled
 * connection for the call. */
static void
serve_with_db(struct agg_http *h, const struct ct_http_request *req, struct ct_http_response *resp,
              void (*page)(PGconn *, const struct ct_http_request *, struct ct_http_response *))
{
    char err[AGG_DB_ERR_MAX];
    PGconn *conn = agg_http_page_conn(h, req, err, sizeof(err));

    if (conn == NULL)
        error_text(resp, 503, err);
    else
        page(conn, req, resp);
    agg_http_page_done(h, conn);
}

static void handle_series(void *ctx, const struct ct_http_request *req,
                          struct ct_http_response *resp)
{
    serve_with_db(ctx, req, resp, agg_api_series);
}

/* A diff also takes a second connection when one is free at once, to read half of a long
 * listing; it never waits for one, so diffs cannot hold the pool against each other. */
static void serve_diff(struct agg_http *h, const struct ct_http_request *req,
                       struct ct_http_response *resp,
                       void (*page)(PGconn *, PGconn *, const struct ct_http_request *,
                                    struct ct_http_response *))
{
    char err[AGG_DB_ERR_MAX];
    PGconn *conn = agg_http_page_conn(h, req, err, sizeof(err)), *helper = NULL;

    if (conn == NULL) {
        error_text(resp, 503, err);
        return;
    }
    helper = agg_db_pool_try_get(h->pool, req->deadline_mono_ms);
    page(conn, helper, req, resp);
    agg_http_page_done(h, helper);
    agg_http_page_done(h, conn);
}

static void handle_diff(void *ctx, const struct ct_http_request *req, struct ct_http_response *resp)
{
    serve_diff(ctx, req, resp, agg_api_diff);
}

static void handle_changes(void *ctx, const struct ct_http_request *req,
                           struct ct_http_response *resp)
{
    serve_diff(ctx, req, resp, agg_changes_page);
}

/* ---- the collectors' connections ---------------------------------------------------- */

static double agents_connected(void *ctx)
{
    struct agg_http *h = ctx;
    const struct agg_ingest *in = atomic_load(&h->ingest);

    return in != NULL ? (double)agg_ingest_connections(in) : 0;
}

void agg_http_count_connections(struct agg_http *h, const struct agg_ingest *in)
{
    atomic_store(&h->ingest, in);
}

/* ---- the daemon's side ------------------------------------------------------------ */

static uint64_t delta(uint64_t now, uint64_t before)
{
    return now >= before ? now - before : now;
}

void agg_http_observe(struct agg_http *h, const struct agg_ingest_stats *st, bool db_up)
{
    uint64_t new_commits;

    if (h == NULL)
        return;
    ct_counter_add(h->committed, delta(st->updates_committed, h->seen.updates_committed));
    ct_counter_add(h->rejected, delta(st->updates_rejected, h->seen.updates_rejected));
    ct_counter_add(h->batches, delta(st->batches, h->seen.batches));
    ct_counter_add(h->refused, delta(st->refused, h->seen.refused));
    new_commits = delta(st->commits, h->seen.commits);
    ct_counter_add(h->commits, new_commits);
    /* Each commit's own duration: a loop turn may collect one commit per writer. */
    for (uint64_t i = 0; i < new_commits && i < AGG_INGEST_COMMIT_RING; i++)
        ct_histogram_observe(h->commit_seconds,
                             (double)st->commit_us[(h->seen.commits + i) % AGG_INGEST_COMMIT_RING] /
                                 1e6);
    ct_counter_add(h->conflicts, delta(st->agent_conflicts, h->seen.agent_conflicts));
    if (st->last_commit_ms > 0)
        ct_gauge_set(h->last_commit, (double)st->last_commit_ms / 1000.0);
    ct_gauge_set(h->db_up, db_up ? 1 : 0);
    agg_health_note_session(h->health, db_up);
    agg_health_note_commits(h->health, st->last_commit_ms, st->last_failure_ms, st->last_failure);
    h->seen = *st;
}

/* ---- life cycle ------------------------------------------------------------------- */

static int register_metrics(struct agg_http *h)
{
    struct ct_metrics *m = h->metrics;
    struct ct_gauge *info;

    h->committed = ct_metrics_counter(m, "citytally_updates_committed_total", NULL,
                                      "Updates committed to the update log.");
    h->rejected = ct_metrics_counter(m, "citytally_updates_rejected_total", NULL,
                                     "Updates refused and kept with their reason.");
    h->batches = ct_metrics_counter(m, "citytally_batches_total", NULL,
                                    "Batches committed or acknowledged as duplicates.");
    h->commits = ct_metrics_counter(m, "citytally_commits_total", NULL,
                                    "Group-commit transactions committed.");
    h->refused = ct_metrics_counter(m, "citytally_messages_refused_total", NULL,
                                    "Collector messages answered with an error.");
    h->commit_seconds = ct_metrics_histogram(
        m, "citytally_commit_seconds", NULL, "Time to commit one group of batches, COPY to COMMIT.",
        commit_bounds, sizeof(commit_bounds) / sizeof(commit_bounds[0]));
    h->conflicts = ct_metrics_counter(m, "citytally_agent_conflicts_total", NULL,
                                      "Hellos and batches refused as agent_in_use: another "
                                      "collector instance holds the agent.");
    h->db_up = ct_metrics_gauge(m, "citytally_db_up", NULL,
                                "1 while the daemon's database session is up, else 0.");
    h->last_commit = ct_metrics_gauge(m, "citytally_last_commit_timestamp_seconds", NULL,
                                      "Unix time of the last COMMIT (0: none since start).");
    info = ct_metrics_gauge(m, "citytally_build_info", "program=aggregator,version=" CT_VERSION,
                            "Always 1; the labels tell the program and version.");
    ct_gauge_set(info, 1);
    if (h->committed == NULL || h->rejected == NULL || h->batches == NULL || h->commits == NULL ||
        h->refused == NULL || h->commit_seconds == NULL || h->conflicts == NULL ||
        h->db_up == NULL || h->last_commit == NULL || info == NULL ||
        ct_metrics_gauge_fn(m, "citytally_agents_connected", NULL,
                            "Collector connections open on the ROUTER socket.", agents_connected,
                            h) == NULL)
        return -1;
    return 0;
}

struct agg_http *agg_http_new(const struct agg_settings *settings, const struct ct_log *log,
                              char *err, size_t err_size)
{
    struct agg_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        snprintf(err, err_size, "http: out of memory");
        return NULL;
    }
    h->log = log;
    atomic_init(&h->ingest, NULL);
    h->metrics = ct_metrics_new();
    /* One connection per worker: a page never waits for another's connection. */
    h->pool =
        agg_db_pool_new(settings->db, APPLICATION_NAME, CT_HTTP_THREADS, STATEMENT_TIMEOUT_MS);
    h->health = agg_health_new(settings->db, APPLICATION_NAME, log);
    if (h->metrics == NULL || h->pool == NULL || h->health == NULL || register_metrics(h) != 0) {
        snprintf(err, err_size, "http: out of memory");
        goto fail;
    }
    const struct ct_http_route_entry routes[] = {
        {"/metrics", ct_http_metrics, h->metrics, true},
        {"/healthz", handle_healthz, h, true},
        {"/api/assessment", handle_assessment, h, false},
        {"/assessment", handle_assessment_page, h, false},
        {"/api/progress", handle_progress, h, false},
        {"/api/progress.xlsx", handle_xlsx, h, false},
        {"/bulletin", handle_bulletin, h, false},
        {"/api/completeness", agg_http_completeness_api, h, false},
        {"/completeness", agg_http_completeness_page, h, false},
        {"/api/series", handle_series, h, false},
        {"/api/diff", handle_diff, h, false},
        {"/changes", handle_changes, h, false},
        {"/", handle_dashboard, h, false},
    };
    h->server = ct_http_new_serving(log, settings->http, routes, sizeof(routes) / sizeof(routes[0]),
                                    err, err_size);
    if (h->server != NULL)
        return h;
fail:
    agg_http_free(h);
    return NULL;
}

void agg_http_free(struct agg_http *h)
{
    if (h == NULL)
        return;
    /* The server first: no handler runs after this, so the pool is idle. */
    ct_http_free(h->server);
    agg_health_free(h->health);
    agg_db_pool_free(h->pool);
    ct_metrics_free(h->metrics);
    free(h);
}

uint16_t agg_http_port(const struct agg_http *h)
{
    return h != NULL && ct_http_running(h->server) ? ct_http_port(h->server) : 0;
}
