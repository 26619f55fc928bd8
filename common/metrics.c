#include "metrics.h"
#include "value.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABELS_MAX 256

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

struct ct_counter {
    _Atomic uint64_t value;
};

/* Doubles live in atomics as their bit patterns. */
struct ct_gauge {
    _Atomic uint64_t bits;
    ct_gauge_fn fn;
    void *ctx;
};

struct ct_histogram {
    size_t n_bounds;
    double bounds[CT_METRICS_MAX_BUCKETS];
    _Atomic uint64_t buckets[CT_METRICS_MAX_BUCKETS + 1]; /* not cumulative; last is +Inf */
    _Atomic uint64_t sum_bits;
};

struct series {
    struct series *next;
    char *labels; /* as rendered: key="value",key="value"; "" for none */
    union {
        struct ct_counter counter;
        struct ct_gauge gauge;
        struct ct_histogram histogram;
    } u;
};

struct family {
    struct family *next;
    char *name;
    char *help;
    enum kind kind;
    struct series *first, *last;
};

struct ct_metrics {
    pthread_mutex_t lock; /* guards the lists, not the values */
    struct family *first, *last;
};

static uint64_t double_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static void add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, double_bits(bits_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

static bool name_valid(const char *s, bool label)
{
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || (*p == ':' && !label);
        if (!ok)
            return false;
    }
    return true;
}

/* "a=b,c=d" -> a="b",c="d". Returns 0, or -1 when a key or value breaks the rules. */
static int render_labels(const char *text, char *out, size_t out_size)
{
    size_t n = 0;
    const char *p = text;

    out[0] = '\0';
    if (text == NULL || text[0] == '\0')
        return 0;
    while (*p) {
        char key[64];
        size_t klen = strcspn(p, "="), vlen;
        const char *value;

        if (klen == 0 || klen >= sizeof(key) || p[klen] != '=')
            return -1;
        memcpy(key, p, klen);
        key[klen] = '\0';
        if (!name_valid(key, true) || strncmp(key, "__", 2) == 0 || strcmp(key, "le") == 0)
            return -1;
        value = p + klen + 1;
        vlen =
            strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/+-");
        if (value[vlen] != '\0' && value[vlen] != ',')
            return -1;
        if (n + klen + vlen + 5 >= out_size)
            return -1;
        n += (size_t)snprintf(out + n, out_size - n, "%s%s=\"%.*s\"", n ? "," : "", key, (int)vlen,
                              value);
        p = value + vlen;
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return -1;
        }
    }
    return 0;
}

struct ct_metrics *ct_metrics_new(void)
{
    struct ct_metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void ct_metrics_free(struct ct_metrics *m)
{
    struct family *f, *next_f;

    if (m == NULL)
        return;
    for (f = m->first; f != NULL; f = next_f) {
        struct series *s, *next_s;
        next_f = f->next;
        for (s = f->first; s != NULL; s = next_s) {
            next_s = s->next;
            free(s->labels);
            free(s);
        }
        free(f->name);
        free(f->help);
        free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static struct family *find_or_add_family(struct ct_metrics *m, const char *name, const char *help,
                                         enum kind kind)
{
    struct family *f;

    for (f = m->first; f != NULL; f = f->next) {
        if (strcmp(f->name, name) == 0)
            return f->kind == kind && strcmp(f->help, help) == 0 ? f : NULL;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help);
    f->kind = kind;
    if (f->name == NULL || f->help == NULL) {
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
    }
    if (m->last != NULL)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    return f;
}

/* Adds a zeroed series; the caller fills its kind's fields before unlocking. */
static struct series *add_series(struct ct_metrics *m, const char *name, const char *labels,
                                 const char *help, enum kind kind)
{
    char rendered[LABELS_MAX];
    struct family *f;
    struct series *s = NULL;

    if (!name_valid(name, false) || help == NULL ||
        render_labels(labels, rendered, sizeof(rendered)) != 0)
        return NULL;
    f = find_or_add_family(m, name, help, kind);
    if (f == NULL)
        return NULL;
    for (s = f->first; s != NULL; s = s->next) {
        if (strcmp(s->labels, rendered) == 0)
            return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->labels = strdup(rendered);
    if (s->labels == NULL) {
        free(s);
        return NULL;
    }
    if (f->last != NULL)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    return s;
}

struct ct_counter *ct_metrics_counter(struct ct_metrics *m, const char *name, const char *labels,
                                      const char *help)
{
    struct series *s;

    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->lock);
    s = add_series(m, name, labels, help, KIND_COUNTER);
    pthread_mutex_unlock(&m->lock);
    return s != NULL ? &s->u.counter : NULL;
}

struct ct_gauge *ct_metrics_gauge_fn(struct ct_metrics *m, const char *name, const char *labels,
                                     const char *help, ct_gauge_fn fn, void *ctx)
{
    struct series *s;

    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->lock);
    s = add_series(m, name, labels, help, KIND_GAUGE);
    if (s != NULL) {
        s->u.gauge.fn = fn;
        s->u.gauge.ctx = ctx;
    }
    pthread_mutex_unlock(&m->lock);
    return s != NULL ? &s->u.gauge : NULL;
}

struct ct_gauge *ct_metrics_gauge(struct ct_metrics *m, const char *name, const char *labels,
                                  const char *help)
{
    return ct_metrics_gauge_fn(m, name, labels, help, NULL, NULL);
}

struct ct_histogram *ct_metrics_histogram(struct ct_metrics *m, const char *name,
                                          const char *labels, const char *help,
                                          const double *bounds, size_t n_bounds)
{
    struct series *s;

    if (m == NULL || n_bounds == 0 || n_bounds > CT_METRICS_MAX_BUCKETS)
        return NULL;
    for (size_t i = 0; i < n_bounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return NULL;
    }
    pthread_mutex_lock(&m->lock);
    s = add_series(m, name, labels, help, KIND_HISTOGRAM);
    if (s != NULL) {
        s->u.histogram.n_bounds = n_bounds;
        memcpy(s->u.histogram.bounds, bounds, n_bounds * sizeof(double));
    }
    pthread_mutex_unlock(&m->lock);
    return s != NULL ? &s->u.histogram : NULL;
}

void ct_counter_add(struct ct_counter *c, uint64_t n)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void ct_counter_inc(struct ct_counter *c)
{
    ct_counter_add(c, 1);
}

uint64_t ct_counter_value(const struct ct_counter *c)
{
    return c != NULL ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

void ct_gauge_set(struct ct_gauge *g, double v)
{
    if (g != NULL)
        atomic_store_explicit(&g->bits, double_bits(v), memory_order_relaxed);
}

void ct_gauge_add(struct ct_gauge *g, double delta)
{
    if (g != NULL)
        add_double(&g->bits, delta);
}

double ct_gauge_value(const struct ct_gauge *g)
{
    if (g == NULL)
        return 0;
    if (g->fn != NULL)
        return g->fn(g->ctx);
    return bits_double(atomic_load_explicit(&g->bits, memory_order_relaxed));
}

void ct_histogram_observe(struct ct_histogram *h, double v)
{
    size_t i = 0;

    if (h == NULL)
        return;
    while (i < h->n_bounds && !(v <= h->bounds[i]))
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    add_double(&h->sum_bits, v);
}

uint64_t ct_histogram_count(const struct ct_histogram *h)
{
    uint64_t total = 0;

    if (h == NULL)
        return 0;
    for (size_t i = 0; i <= h->n_bounds; i++)
        total += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return total;
}

/* Prometheus floats: Go's strconv forms for the special values, shortest decimal else. */
static void append_double(struct ct_buf *out, double v)
{
    char text[CT_VALUE_TEXT_MAX];

    if (isnan(v))
        ct_buf_puts(out, "NaN");
    else if (isinf(v))
        ct_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (ct_value_format_double(v, text, sizeof(text)) == 0)
        ct_buf_puts(out, text);
}

static void append_help(struct ct_buf *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            ct_buf_puts(out, "\\\\");
        else if (*p == '\n')
            ct_buf_puts(out, "\\n");
        else
            ct_buf_append(out, p, 1);
    }
}

/* name{labels} or name{labels,extra} or name, then a space. */
static void append_series_name(struct ct_buf *out, const char *name, const char *suffix,
                               const char *labels, const char *extra)
{
    bool any = labels[0] != '\0' || extra != NULL;

    ct_buf_printf(out, "%s%s", name, suffix);
    if (any) {
        ct_buf_printf(out, "{%s%s%s}", labels, labels[0] != '\0' && extra != NULL ? "," : "",
                      extra != NULL ? extra : "");
    }
    ct_buf_puts(out, " ");
}

static void render_histogram(struct ct_buf *out, const char *name, const struct series *s)
{
    const struct ct_histogram *h = &s->u.histogram;
    uint64_t cumulative = 0;
    char le[CT_VALUE_TEXT_MAX + 8];

    for (size_t i = 0; i <= h->n_bounds; i++) {
        cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->n_bounds) {
            char bound[CT_VALUE_TEXT_MAX];
            ct_value_format_double(h->bounds[i], bound, sizeof(bound));
            snprintf(le, sizeof(le), "le=\"%s\"", bound);
        } else {
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        }
        append_series_name(out, name, "_bucket", s->labels, le);
        ct_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
    }
    append_series_name(out, name, "_sum", s->labels, NULL);
    append_double(out, bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
    ct_buf_puts(out, "\n");
    append_series_name(out, name, "_count", s->labels, NULL);
    ct_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
}

int ct_metrics_render(struct ct_metrics *m, struct ct_buf *out)
{
    pthread_mutex_lock(&m->lock);
    for (const struct family *f = m->first; f != NULL; f = f->next) {
        ct_buf_printf(out, "# HELP %s ", f->name);
        append_help(out, f->help);
        ct_buf_printf(out, "\n# TYPE %s %s\n", f->name, kind_names[f->kind]);
        for (const struct series *s = f->first; s != NULL; s = s->next) {
            switch (f->kind) {
            case KIND_COUNTER:
                append_series_name(out, f->name, "", s->labels, NULL);
                ct_buf_printf(out, "%llu\n", (unsigned long long)ct_counter_value(&s->u.counter));
                break;
            case KIND_GAUGE:
                append_series_name(out, f->name, "", s->labels, NULL);
                append_double(out, ct_gauge_value(&s->u.gauge));
                ct_buf_puts(out, "\n");
                break;
            case KIND_HISTOGRAM:
                render_histogram(out, f->name, s);
                break;
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return out->failed ? -1 : 0;
}
