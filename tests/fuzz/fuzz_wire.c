/*
 * fuzz_wire.c - libFuzzer target for the frame decoder.
 *
 * Any byte string must decode or fail cleanly, and whatever decodes must encode again and
 * decode to the same message (updates with faults excepted, since their values cannot be
 * sent).
 */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ct_msg *msg, *again;
    static struct ct_wire_encoder *enc;
    struct ct_wire_fault fault;
    const void *bytes;
    size_t len;

    if (msg == NULL) {
        msg = ct_msg_new();
        again = ct_msg_new();
        enc = ct_wire_encoder_new();
        if (msg == NULL || again == NULL || enc == NULL)
            abort();
    }
    if (ct_wire_decode(data, size, msg, &fault) != 0) {
        if (fault.error == CT_WERR_NONE || fault.msg[0] == '\0')
            abort(); /* every failure must be named */
        return 0;
    }
    if (msg->type == CT_MSG_BATCH) {
        for (size_t i = 0; i < msg->batch.n_updates; i++) {
            if (msg->batch.updates[i].fault != CT_REJECT_NONE)
                return 0;
        }
    }
    if (ct_wire_encode(enc, msg, &bytes, &len) != 0)
        return 0; /* e.g. a huge unknown key made the input fit but not the canonical form */
    if (ct_wire_decode(bytes, len, again, &fault) != 0 || again->type != msg->type)
        abort();
    return 0;
}
