/*
 * wire_scan.c - checks a frame's raw msgpack structure before msgpack-c sees it.
 *
 * msgpack-c's unpacker allocates an array of N objects as soon as it reads a header that
 * claims N elements, before it has seen them; a five-byte frame claiming an array32 of
 * 2^32-1 items asks for ~100 GB. This walk reads only headers and lengths, and refuses a
 * frame unless it is exactly one msgpack object that
 * - is nested at most CT_WIRE_MAX_DEPTH deep,
 * - never claims more elements (or bytes) than remain in the frame, and
 * - has at most SCAN_MAX_OBJECTS objects in all,
 * so what msgpack-c allocates afterwards is bounded by the frame's real size. It does not
 * allocate and never reads past `len`.
 */
#include "wire.h"

#include <stdio.h>

#define SCAN_MAX_OBJECTS 65536 /* a full v1 batch needs about 15,000 */

static uint32_t read_be(const unsigned char *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int scan_fail(char *msg, size_t msg_size, const char *why, size_t offset)
{
    snprintf(msg, msg_size, "%s at byte %zu", why, offset);
    return -1;
}

int ct_wire_scan(const unsigned char *data, size_t len, char *msg, size_t msg_size)
{
    /* pending[d] counts the objects still to read at depth d; depth 0 is the frame. */
    uint64_t pending[CT_WIRE_MAX_DEPTH + 2];
    size_t depth = 0, pos = 0, objects = 0;

    pending[0] = 1;
    for (;;) {
        while (depth > 0 && pending[depth] == 0)
            depth--;
        if (pending[depth] == 0)
            break;
        if (pos >= len)
            return scan_fail(msg, msg_size, "truncated msgpack", pos);
        if (++objects > SCAN_MAX_OBJECTS)
            return scan_fail(msg, msg_size, "too many msgpack objects", pos);
        pending[depth]--;

        unsigned char tag = data[pos++];
        size_t header = 0; /* length-field bytes after the tag */
        uint64_t body = 0; /* payload bytes to skip */
        uint64_t children = 0;

        if (tag <= 0x7f || tag >= 0xe0 || (tag >= 0xc0 && tag <= 0xc3 && tag != 0xc1)) {
            /* fixint, nil, bool: the tag is the whole object */
        } else if (tag >= 0x80 && tag <= 0x8f) {
            children = 2 * (uint64_t)(tag & 0x0f);
        } else if (tag >= 0x90 && tag <= 0x9f) {
            children = tag & 0x0f;
        } else if (tag >= 0xa0 && tag <= 0xbf) {
            body = tag & 0x1f;
        } else {
            switch (tag) {
            case 0xc4:
            case 0xd9:
                header = 1;
                break; /* bin8, str8 */
            case 0xc5:
            case 0xda:
                header = 2;
                break; /* bin16, str16 */
            case 0xc6:
            case 0xdb:
                header = 4;
                break; /* bin32, str32 */
            case 0xc7:
                header = 1;
                body = 1;
                break; /* ext8: length, then type byte */
            case 0xc8:
                header = 2;
                body = 1;
                break; /* ext16 */
            case 0xc9:
                header = 4;
                body = 1;
                break; /* ext32 */
            case 0xca:
                body = 4;
                break; /* float32 */
            case 0xcb:
                body = 8;
                break; /* float64 */
            case 0xcc:
            case 0xd0:
                body = 1;
                break;
            case 0xcd:
            case 0xd1:
                body = 2;
                break;
            case 0xce:
            case 0xd2:
                body = 4;
                break;
            case 0xcf:
            case 0xd3:
                body = 8;
                break;
            case 0xd4:
                body = 2;
                break; /* fixext1: type + 1 */
            case 0xd5:
                body = 3;
                break;
            case 0xd6:
                body = 5;
                break;
            case 0xd7:
                body = 9;
                break;
            case 0xd8:
                body = 17;
                break;
            case 0xdc:
            case 0xde:
                header = 2;
                break; /* array16, map16 */
            case 0xdd:
            case 0xdf:
                header = 4;
                break; /* array32, map32 */
            default:
                return scan_fail(msg, msg_size, "invalid msgpack type byte", pos - 1);
            }
            if (header > 0) {
                if (len - pos < header)
                    return scan_fail(msg, msg_size, "truncated msgpack length", pos);
                uint64_t n = read_be(data + pos, header);
                pos += header;
                if (tag == 0xdc || tag == 0xdd)
                    children = n;
                else if (tag == 0xde || tag == 0xdf)
                    children = 2 * n;
                else
                    body += n;
            }
        }

        if (body > len - pos)
            return scan_fail(msg, msg_size,
                             "truncated: msgpack string or number runs past the end of the frame",
                             pos);
        pos += (size_t)body;
        if (children > 0) {
            if (children > len - pos)
                return scan_fail(
                    msg, msg_size,
                    "truncated: msgpack container claims more items than the frame holds", pos);
            if (depth + 1 > CT_WIRE_MAX_DEPTH)
                return scan_fail(msg, msg_size, "msgpack nested too deeply", pos);
            pending[++depth] = children;
        }
    }
    if (pos != len)
        return scan_fail(msg, msg_size, "trailing bytes after the message", pos);
    return 0;
}
