/*
 * endpoint.h - what a ZeroMQ endpoint string says about where traffic goes.
 *
 * Plain text (no CURVE) is allowed only where nobody else can listen: loopback TCP
 * (127.0.0.0/8, ::1, "localhost"), ipc:// and inproc://. Anything else, including the
 * wildcards "*" and 0.0.0.0, interface names and other host names, counts as a network.
 */
#ifndef CT_ENDPOINT_H
#define CT_ENDPOINT_H

#include <stdbool.h>

bool ct_endpoint_is_loopback(const char *endpoint);

#endif
