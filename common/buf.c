#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ct_buf_free(struct ct_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void ct_buf_reset(struct ct_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int reserve(struct ct_buf *b, size_t extra)
{
    size_t want, cap;
    char *bigger;

    if (b->failed)
        return -1;
    if (extra > (size_t)-1 / 2 - b->len)
        goto fail;
    want = b->len + extra + 1;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    bigger = realloc(b->data, cap);
    if (bigger == NULL)
        goto fail;
    b->data = bigger;
    b->cap = cap;
    return 0;
fail:
    b->failed = true;
    return -1;
}

int ct_buf_append(struct ct_buf *b, const void *data, size_t len)
{
    if (reserve(b, len) != 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int ct_buf_puts(struct ct_buf *b, const char *s)
{
    return ct_buf_append(b, s, strlen(s));
}

int ct_buf_printf(struct ct_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0) {
        b->failed = true;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int ct_buf_json_string(struct ct_buf *b, const char *s)
{
    ct_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            ct_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            ct_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            ct_buf_append(b, "\\n", 2);
            break;
        case '\r':
            ct_buf_append(b, "\\r", 2);
            break;
        case '\t':
            ct_buf_append(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20)
                ct_buf_printf(b, "\\u%04x", *p);
            else
                ct_buf_append(b, p, 1);
        }
    }
    return ct_buf_append(b, "\"", 1);
}

int ct_buf_html(struct ct_buf *b, const char *s)
{
    for (; s != NULL && *s; s++) {
        const char *ref = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        if (ref != NULL)
            ct_buf_puts(b, ref);
        else
            ct_buf_append(b, s, 1);
    }
    return b->failed ? -1 : 0;
}
