#include "endpoint.h"

#include <arpa/inet.h>
#include <string.h>

/* The host part of "tcp://HOST:PORT" or "tcp://[V6]:PORT", copied into `host`. For tcp
 * endpoints that name a source address ("tcp://SRC;DST:PORT"), only DST counts. */
static bool tcp_host(const char *rest, char *host, size_t host_size)
{
    const char *semicolon = strchr(rest, ';');
    const char *end;
    size_t len;

    if (semicolon != NULL)
        rest = semicolon + 1;
    if (*rest == '[') {
        rest++;
        end = strchr(rest, ']');
        if (end == NULL || end[1] != ':')
            return false;
    } else {
        end = strrchr(rest, ':');
        if (end == NULL)
            return false;
    }
    len = (size_t)(end - rest);
    if (len == 0 || len >= host_size)
        return false;
    memcpy(host, rest, len);
    host[len] = '\0';
    return true;
}

bool ct_endpoint_is_loopback(const char *endpoint)
{
    char host[256];
    struct in_addr v4;
    struct in6_addr v6;

    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0 || !tcp_host(endpoint + 6, host, sizeof(host)))
        return false;
    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    /* ::ffff:127.x.y.z is IPv4's loopback seen through a dual-stack socket. */
    if (inet_pton(AF_INET6, host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    return false;
}
