#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the UTF-8 sequence at s[0..avail), or 0 when it is malformed. */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;

    if (c < 0x80)
        return c == 0 ? 0 : 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

bool ct_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_sequence_len(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

bool ct_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > CT_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

size_t ct_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);

    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

/* Renders the character or byte at p[0..avail) into piece[8]; sets *consumed. */
static size_t escape_piece(const unsigned char *p, size_t avail, char *piece, size_t *consumed)
{
    size_t n = utf8_sequence_len(p, avail);

    if (n == 1 && (p[0] < 0x20 || p[0] == 0x7f || p[0] == '\\'))
        n = 0;
    /* C1 controls (U+0080..U+009F) are valid UTF-8, and terminals obey them: 0xC2 0x9B
     * is CSI, the start of an escape sequence. */
    if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
        n = 0;
    if (n > 0) {
        memcpy(piece, p, n);
        *consumed = n;
        return n;
    }
    snprintf(piece, 8, "\\x%02x", p[0]);
    *consumed = 1;
    return 4;
}

void ct_text_escape(const char *in, size_t len, char *out, size_t out_size)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, i = 0, total = 0, n;
    char piece[8];
    bool cut;

    if (out_size == 0)
        return;
    /* Text that fits is copied whole; only text that does not is cut, with room kept
     * for the "..." that says so. */
    for (i = 0; i < len; i += n)
        total += escape_piece(p + i, len - i, piece, &n);
    cut = total >= out_size;
    for (i = 0; i < len; i += n) {
        size_t piece_len = escape_piece(p + i, len - i, piece, &n);
        if (cut && o + piece_len + 4 > out_size) {
            if (o + 4 <= out_size) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, piece, piece_len);
        o += piece_len;
    }
    out[o] = '\0';
}
