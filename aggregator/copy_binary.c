#include "copy_binary.h"

#include <string.h>

static const unsigned char signature[11] = "PGCOPY\n\377\r\n";

struct cursor {
    const unsigned char *p, *end;
};

static bool take(struct cursor *c, size_t n, const unsigned char **at)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    *at = c->p;
    c->p += n;
    return true;
}

static bool take_u32(struct cursor *c, uint32_t *v)
{
    const unsigned char *p;

    if (!take(c, 4, &p))
        return false;
    *v = (uint32_t)agg_copy_int32(p);
    return true;
}

int32_t agg_copy_int32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

int64_t agg_copy_int64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

int64_t agg_copy_timestamptz_ms(int64_t pg_us)
{
    int64_t us = pg_us + INT64_C(946684800000000);

    return us >= 0 ? (us + 500) / 1000 : -((-us + 500) / 1000);
}

static enum agg_copy_read bad(struct agg_copy_reader *r, const char *why)
{
    r->why = why;
    return AGG_COPY_BAD;
}

enum agg_copy_read agg_copy_read(struct agg_copy_reader *r, const unsigned char *data, size_t size,
                                 int n_fields, const unsigned char **values, long *lens)
{
    struct cursor c = {data, data + size};
    const unsigned char *at;

    if (!r->header_seen) {
        uint32_t flags, extension;

        if (!take(&c, sizeof(signature), &at) || memcmp(at, signature, sizeof(signature)) != 0 ||
            !take_u32(&c, &flags) || !take_u32(&c, &extension) || !take(&c, extension, &at))
            return bad(r, "not COPY's binary format");
        r->header_seen = true;
        if (c.p == c.end)
            return AGG_COPY_HEADER;
    }
    if (!take(&c, 2, &at))
        return bad(r, "a row is cut short");
    if (at[0] == 0xff && at[1] == 0xff)
        return c.p == c.end ? AGG_COPY_END : bad(r, "the trailer is followed by stray bytes");
    if ((at[0] << 8 | at[1]) != n_fields)
        return bad(r, "a row has the wrong number of fields");
    for (int i = 0; i < n_fields; i++) {
        uint32_t n;

        if (!take_u32(&c, &n))
            return bad(r, "a row is cut short");
        if (n == UINT32_MAX) {
            values[i] = NULL;
            lens[i] = -1;
            continue;
        }
        if (n > INT32_MAX || !take(&c, n, &values[i]))
            return bad(r, "a row is cut short");
        lens[i] = (long)n;
    }
    return c.p == c.end ? AGG_COPY_ROW : bad(r, "a row is followed by stray bytes");
}
