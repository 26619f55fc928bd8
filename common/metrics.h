/*
 * metrics.h - a small registry of Prometheus metrics, rendered in the text exposition
 * format (version 0.0.4) for GET /metrics.
 *
 * The daemon's main thread updates metrics while the HTTP thread renders them, so values
 * are C11 atomics: updates never lock and never allocate. The registry's structure (which
 * series exist) is guarded by a mutex, so a series may be registered at any time, also
 * after the HTTP server started.
 *
 * A `struct ct_metrics` owns every series registered in it; the pointers it hands out stay
 * valid until ct_metrics_free(). Series with the same name form one family: one # HELP and
 * # TYPE line, then each series with its labels, families in order of first registration.
 *
 * Three kinds, as Prometheus defines them:
 * - counter: a uint64 that only goes up (names end in _total by convention);
 * - gauge: a double that is set, or computed at render time by a callback;
 * - histogram: fixed upper bounds chosen at registration, cumulative buckets with a +Inf
 *   bucket, _sum and _count. A render reads each bucket once and derives _count from them,
 *   so the bucket counts and _count always agree even while observations arrive.
 *
 * Every update function takes NULL as a no-op, so a module can be run without metrics.
 */
#ifndef CT_METRICS_H
#define CT_METRICS_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

struct ct_metrics;
struct ct_counter;
struct ct_gauge;
struct ct_histogram;

#define CT_METRICS_MAX_BUCKETS 32

/* Called by a render (on the HTTP thread) for a gauge's current value; must be safe to
 * call concurrently with the code that owns `ctx`. */
typedef double (*ct_gauge_fn)(void *ctx);

struct ct_metrics *ct_metrics_new(void);
void ct_metrics_free(struct ct_metrics *m);

/*
 * Registration. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*. `labels` is NULL or
 * "key=value[,key=value...]" with keys like names (not starting with "__", not "le") and
 * values of [A-Za-z0-9_.:/+-]. `help` is one line of text. Names and help are copied.
 * Each returns NULL when a rule is broken, when the same name and labels are already
 * registered, when the name exists with another type or help, or when memory ran out.
 */
struct ct_counter *ct_metrics_counter(struct ct_metrics *m, const char *name, const char *labels,
                                      const char *help);
struct ct_gauge *ct_metrics_gauge(struct ct_metrics *m, const char *name, const char *labels,
                                  const char *help);
/* A gauge whose value is `fn(ctx)` at each render; `ctx` is borrowed and must outlive `m`. */
struct ct_gauge *ct_metrics_gauge_fn(struct ct_metrics *m, const char *name, const char *labels,
                                     const char *help, ct_gauge_fn fn, void *ctx);
/* `bounds`: 1..CT_METRICS_MAX_BUCKETS finite upper bounds in strictly increasing order
 * (copied); the +Inf bucket is implied. */
struct ct_histogram *ct_metrics_histogram(struct ct_metrics *m, const char *name,
                                          const char *labels, const char *help,
                                          const double *bounds, size_t n_bounds);

void ct_counter_add(struct ct_counter *c, uint64_t n);
void ct_counter_inc(struct ct_counter *c);
uint64_t ct_counter_value(const struct ct_counter *c);

void ct_gauge_set(struct ct_gauge *g, double v);
void ct_gauge_add(struct ct_gauge *g, double delta);
double ct_gauge_value(const struct ct_gauge *g);

/* Counts `v` in the first bucket whose bound is >= v (NaN counts in +Inf only). */
void ct_histogram_observe(struct ct_histogram *h, double v);
uint64_t ct_histogram_count(const struct ct_histogram *h);

/* Appends the text exposition of every family to `out`. Returns 0, or -1 when `out`
 * failed to grow. */
int ct_metrics_render(struct ct_metrics *m, struct ct_buf *out);

/* The Content-Type of the rendered text. */
#define CT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
