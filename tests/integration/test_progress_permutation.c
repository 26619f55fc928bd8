/* The same 5,000 updates stored in three different orders (and batchings) give identical
 * progress, at every as-of time: the result never depends on arrival order. A brute-force
 * reference computed from the log alone agrees too. */
#include "buf.h"
#include "store_fixture.h"

#define N_UPDATES 5000

struct gen_update {
    char agent[24];
    long long seq;
    const char *district, *indicator;
    int period;
    const char *op;
    char value[24];
    char at[40];
};

static const char *const districts[] = {"zhongyuan", "erqi",      "jinshui",
                                        "gaoxin",    "zhengdong", "city"};
static const char *const indicators[] = {"rd_centers_municipal",   "hightech_value_added",
                                         "industrial_value_added", "invention_patents_held",
                                         "resident_population",    "tech_contract_turnover",
                                         "st_contribution_rate"};

static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void generate(struct gen_update *u)
{
    long long seqs[6][2] = {{0}};

    for (int i = 0; i < N_UPDATES; i++) {
        int d = (int)rnd(6), a = (int)rnd(2);
        struct gen_update *x = &u[i];
        snprintf(x->agent, sizeof(x->agent), "%s-%d", districts[d], a + 1);
        x->seq = ++seqs[d][a];
        x->district = districts[d];
        x->indicator = d == 5 ? "st_contribution_rate" : indicators[rnd(6)];
        x->period = rnd(4) == 0 ? 2014 : 2015;
        x->op = rnd(3) == 0 ? "set" : "add";
        if (x->op[0] == 's')
            snprintf(x->value, sizeof(x->value), "%u.%u", rnd(1000), rnd(10));
        else
            snprintf(x->value, sizeof(x->value), "%s%u.%02u", rnd(5) == 0 ? "-" : "", rnd(20),
                     rnd(100));
        /* hours only, over 2014-07 .. 2015-12, so many updates share an instant */
        unsigned day = rnd(540), hour = rnd(3) * 8;
        snprintf(x->at, sizeof(x->at), "%u days %u hours", day, hour);
    }
}

static void insert(PGconn *c, const struct gen_update *u, const int *order, unsigned max_chunk)
{
    struct ct_buf sql = CT_BUF_INIT;

    for (int i = 0; i < N_UPDATES;) {
        int n = 1 + (int)rnd(max_chunk);
        ct_buf_reset(&sql);
        ct_buf_puts(&sql, "INSERT INTO updates (agent_id, seq, district, indicator, period, op,"
                          " value, observed_at) VALUES ");
        for (int k = 0; k < n && i < N_UPDATES; k++, i++) {
            const struct gen_update *x = &u[order[i]];
            ct_buf_printf(&sql,
                          "%s('%s', %lld, '%s', '%s', %d, '%s', %s,"
                          " timestamptz '2014-07-01T00:00:00+08' + interval '%s')",
                          k ? "," : "", x->agent, x->seq, x->district, x->indicator, x->period,
                          x->op, x->value, x->at);
        }
        cr_assert(!sql.failed);
        pgtest_exec(c, sql.data);
    }
    ct_buf_free(&sql);
}

static const char *const as_of[] = {"2014-12-31T23:59:59.999+08", "2015-01-01T00:00:00+08",
                                    "2015-03-15T08:00:00+08",     "2015-06-30T23:59:59.999+08",
                                    "2015-09-30T16:00:00+08",     "2016-01-01T00:00:00+08"};

/* Every figure, per target and per unit, at every as_of, as one text. */
static void snapshot(PGconn *c, struct ct_buf *out)
{
    for (size_t i = 0; i < sizeof(as_of) / sizeof(as_of[0]); i++) {
        const char *params[1] = {as_of[i]};
        PGresult *res = PQexecParams(
            c,
            "SELECT coalesce(string_agg(p::text, E'\\n'), '') FROM citytally_progress(2015, $1) p"
            " UNION ALL SELECT coalesce(string_agg(b::text, E'\\n'), '')"
            " FROM citytally_progress_by_unit(2015, $1) b",
            1, NULL, params, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
        ct_buf_printf(out, "as of %s\n%s\n%s\n", as_of[i], PQgetvalue(res, 0, 0),
                      PQgetvalue(res, 1, 0));
        PQclear(res);
    }
}

/* The value of every key at every as_of, computed from the log alone, must match. */
static void check_against_reference(PGconn *c)
{
    for (size_t i = 0; i < sizeof(as_of) / sizeof(as_of[0]); i++) {
        const char *params[1] = {as_of[i]};
        PGresult *res = PQexecParams(
            c,
            "WITH u AS (SELECT *, agent_id COLLATE \"C\" AS ag FROM updates"
            "           WHERE observed_at <= $1::timestamptz),"
            " ls AS (SELECT DISTINCT ON (district, indicator, period) * FROM u WHERE op = 'set'"
            "        ORDER BY district, indicator, period, observed_at DESC, ag DESC, seq DESC),"
            " k AS (SELECT DISTINCT district, indicator, period FROM u),"
            " ref AS (SELECT k.district, k.indicator, k.period,"
            "   coalesce(ls.value, 0) + coalesce((SELECT sum(a.value) FROM u a"
            "     WHERE a.district = k.district AND a.indicator = k.indicator"
            "       AND a.period = k.period AND a.op = 'add' AND (ls.seq IS NULL OR"
            "       (a.observed_at, a.ag, a.seq) > (ls.observed_at, ls.ag, ls.seq))), 0) AS value"
            "   FROM k LEFT JOIN ls USING (district, indicator, period))"
            " SELECT (SELECT count(*) FROM ref),"
            "  (SELECT count(*) FROM (SELECT * FROM ref EXCEPT"
            "   SELECT * FROM citytally_unit_values(2015, $1::timestamptz)) x),"
            "  (SELECT count(*) FROM (SELECT * FROM citytally_unit_values(2015, $1::timestamptz)"
            "   EXCEPT SELECT * FROM ref) y)",
            1, NULL, params, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
        cr_assert_eq(atoi(PQgetvalue(res, 0, 1)), 0, "as of %s: %s reference values missing",
                     as_of[i], PQgetvalue(res, 0, 1));
        cr_assert_eq(atoi(PQgetvalue(res, 0, 2)), 0, "as of %s: %s values differ", as_of[i],
                     PQgetvalue(res, 0, 2));
        PQclear(res);
    }
}

Test(progress_permutation, three_arrival_orders_give_identical_progress, .timeout = 300)
{
    static struct gen_update u[N_UPDATES];
    static int order[3][N_UPDATES];
    struct ct_buf snap[3] = {CT_BUF_INIT, CT_BUF_INIT, CT_BUF_INIT};
    const char *names[3] = {"ct_perm_forward", "ct_perm_reverse", "ct_perm_shuffled"};
    const unsigned chunks[3] = {500, 50, 7};
    char ci[512];

    generate(u);
    for (int i = 0; i < N_UPDATES; i++) {
        order[0][i] = i;
        order[1][i] = N_UPDATES - 1 - i;
        order[2][i] = i;
    }
    for (int i = N_UPDATES - 1; i > 0; i--) {
        int j = (int)rnd((unsigned)i + 1), t = order[2][i];
        order[2][i] = order[2][j];
        order[2][j] = t;
    }
    for (int k = 0; k < 3; k++) {
        PGconn *c = store_db(names[k], ci, sizeof(ci));
        insert(c, u, order[k], chunks[k]);
        cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM updates"), N_UPDATES);
        snapshot(c, &snap[k]);
        check_against_reference(c);
        PQfinish(c);
    }
    cr_assert(strstr(snap[0].data, ",met,") != NULL || strstr(snap[0].data, ",behind,") != NULL,
              "the data set must produce figures, not only no_data");
    cr_assert_str_eq(snap[1].data, snap[0].data, "reverse order changed the figures");
    cr_assert_str_eq(snap[2].data, snap[0].data, "shuffled order changed the figures");
    for (int k = 0; k < 3; k++)
        ct_buf_free(&snap[k]);
}
