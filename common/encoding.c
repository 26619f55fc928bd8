#include "encoding.h"
#include "text.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ct_text_converter {
    iconv_t cd; /* (iconv_t)-1 until the first GB18030 text */
};

struct ct_text_converter *ct_text_converter_new(void)
{
    struct ct_text_converter *c = malloc(sizeof(*c));
    if (c != NULL)
        c->cd = (iconv_t)-1;
    return c;
}

void ct_text_converter_free(struct ct_text_converter *c)
{
    if (c == NULL)
        return;
    if (c->cd != (iconv_t)-1)
        iconv_close(c->cd);
    free(c);
}

const char *ct_encoding_name(enum ct_encoding e)
{
    switch (e) {
    case CT_ENCODING_UTF8:
        return "UTF-8";
    case CT_ENCODING_UTF8_BOM:
        return "UTF-8 with BOM";
    case CT_ENCODING_GB18030:
        return "GB18030/GBK";
    }
    return "?";
}

static size_t line_of(const char *in, size_t offset)
{
    size_t line = 1;
    for (size_t i = 0; i < offset; i++) {
        if (in[i] == '\n')
            line++;
    }
    return line;
}

static char *copy_text(const char *in, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, in, len);
    out[len] = '\0';
    return out;
}

/* GB18030 -> UTF-8 through iconv. Two-byte GBK characters become three UTF-8 bytes and
 * four-byte GB18030 ones stay four, so 3/2 of the input (plus slack) always suffices;
 * E2BIG is still handled in case a converter disagrees. */
static int from_gb18030(struct ct_text_converter *conv, const char *in, size_t len, char **out,
                        size_t *out_len, char *err, size_t err_size)
{
    iconv_t cd = conv != NULL ? conv->cd : (iconv_t)-1;
    size_t cap = len + len / 2 + 16, used = 0;
    char *buf = NULL;
    char *src = (char *)in; /* iconv's prototype is not const-correct */
    size_t left = len;
    int rc = -1;

    if (cd == (iconv_t)-1) {
        cd = iconv_open("UTF-8", "GB18030");
        if (cd == (iconv_t)-1) {
            snprintf(err, err_size, "cannot convert GB18030 text: iconv: %s", strerror(errno));
            return -1;
        }
        if (conv != NULL)
            conv->cd = cd;
    } else {
        (void)iconv(cd, NULL, NULL, NULL, NULL); /* back to the initial state */
    }
    buf = malloc(cap + 1);
    if (buf == NULL) {
        snprintf(err, err_size, "out of memory converting %zu bytes of GB18030 text", len);
        goto out;
    }
    while (left > 0) {
        char *dst = buf + used;
        size_t room = cap - used;
        if (iconv(cd, &src, &left, &dst, &room) != (size_t)-1) {
            used = (size_t)(dst - buf);
            break;
        }
        used = (size_t)(dst - buf);
        if (errno == E2BIG) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (bigger == NULL) {
                snprintf(err, err_size, "out of memory converting GB18030 text");
                goto out;
            }
            buf = bigger;
            cap *= 2;
            continue;
        }
        size_t at = (size_t)(src - in);
        if (errno == EINVAL)
            snprintf(err, err_size,
                     "neither UTF-8 nor GB18030/GBK text: the last character on line %zu is cut "
                     "short",
                     line_of(in, at));
        else
            snprintf(err, err_size,
                     "neither UTF-8 nor GB18030/GBK text: byte 0x%02X on line %zu is invalid in "
                     "both (save the file as CSV UTF-8)",
                     (unsigned char)in[at], line_of(in, at));
        goto out;
    }
    buf[used] = '\0';
    *out = buf;
    *out_len = used;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (conv == NULL)
        iconv_close(cd);
    return rc;
}

int ct_text_to_utf8(struct ct_text_converter *conv, const char *in, size_t len, char **out,
                    size_t *out_len, enum ct_encoding *detected, char *err, size_t err_size)
{
    const char *nul;

    *out = NULL;
    *out_len = 0;
    if (len >= 2 && (((unsigned char)in[0] == 0xFF && (unsigned char)in[1] == 0xFE) ||
                     ((unsigned char)in[0] == 0xFE && (unsigned char)in[1] == 0xFF))) {
        snprintf(err, err_size,
                 "the text is UTF-16 (Excel's \"Unicode text\"); save it as CSV UTF-8 or CSV");
        return -1;
    }
    nul = len > 0 ? memchr(in, '\0', len) : NULL;
    if (nul != NULL) {
        snprintf(err, err_size, "a NUL byte on line %zu: this is not a text file",
                 line_of(in, (size_t)(nul - in)));
        return -1;
    }
    if (len >= 3 && memcmp(in, "\xef\xbb\xbf", 3) == 0) {
        if (!ct_utf8_valid(in + 3, len - 3)) {
            snprintf(err, err_size,
                     "the file starts with a UTF-8 byte order mark but is not valid UTF-8");
            return -1;
        }
        *detected = CT_ENCODING_UTF8_BOM;
        *out = copy_text(in + 3, len - 3);
        *out_len = len - 3;
    } else if (ct_utf8_valid(in, len)) {
        *detected = CT_ENCODING_UTF8;
        *out = copy_text(in, len);
        *out_len = len;
    } else {
        *detected = CT_ENCODING_GB18030;
        return from_gb18030(conv, in, len, out, out_len, err, err_size);
    }
    if (*out == NULL) {
        snprintf(err, err_size, "out of memory copying %zu bytes of text", len);
        return -1;
    }
    return 0;
}
