/* test_endpoint.c - common/endpoint.c: where plain text may go (CONTRACT section 1). */
#include "endpoint.h"

#include <criterion/criterion.h>
#include <stddef.h>

static void expect(const char *endpoint, bool loopback)
{
    cr_assert_eq(ct_endpoint_is_loopback(endpoint), loopback, "%s should %sbe loopback", endpoint,
                 loopback ? "" : "not ");
}

Test(endpoint, the_whole_of_127_0_0_0_8_is_loopback)
{
    expect("tcp://127.0.0.1:5560", true);
    expect("tcp://127.0.0.0:5560", true);
    expect("tcp://127.1.2.3:5560", true);
    expect("tcp://127.255.255.255:5560", true);
    expect("tcp://126.255.255.255:5560", false);
    expect("tcp://128.0.0.1:5560", false);
}

Test(endpoint, ipv6_loopback_and_ipv4_mapped_loopback_are_loopback)
{
    expect("tcp://[::1]:5560", true);
    expect("tcp://::1:5560", true);
    expect("tcp://[0:0:0:0:0:0:0:1]:5560", true);
    expect("tcp://[::ffff:127.0.0.1]:5560", true);
    expect("tcp://[::ffff:127.255.255.255]:5560", true);
    expect("tcp://[::ffff:10.0.0.1]:5560", false);
    expect("tcp://[::2]:5560", false);
    expect("tcp://[::]:5560", false);
    expect("tcp://[fe80::1]:5560", false);
    expect("tcp://[::1:5560", false); /* unclosed bracket */
}

Test(endpoint, wildcards_and_other_addresses_are_a_network)
{
    expect("tcp://0.0.0.0:5560", false);
    expect("tcp://*:5560", false);
    expect("tcp://10.0.0.5:5560", false);
    expect("tcp://192.168.1.10:5560", false);
}

Test(endpoint, ipc_and_inproc_are_local_whatever_follows)
{
    expect("ipc:///run/citytally/router", true);
    expect("ipc://", true);
    expect("ipc://@abstract", true);
    expect("inproc://x", true);
    expect("inproc://", true);
}

Test(endpoint, host_names_other_than_localhost_and_interfaces_are_a_network)
{
    expect("tcp://localhost:5560", true);
    expect("tcp://bureau.example.org:5560", false);
    expect("tcp://127.0.0.1.example.org:5560", false);
    expect("tcp://localhost.example.org:5560", false);
    expect("tcp://eth0:5560", false);
    expect("tcp://lo:5560", false);
    expect("tcp://127.1:5560", false); /* short forms are names to a resolver */
}

Test(endpoint, only_the_destination_of_a_source_and_destination_pair_counts)
{
    expect("tcp://192.168.1.5;127.0.0.1:5560", true);
    expect("tcp://127.0.0.1;192.168.1.5:5560", false);
}

Test(endpoint, malformed_and_other_transports_are_never_loopback)
{
    expect("", false);
    expect("tcp://", false);
    expect("tcp://127.0.0.1", false); /* no port */
    expect("tcp://:5560", false);
    expect("TCP://127.0.0.1:5560", false);
    expect("127.0.0.1:5560", false);
    expect("pgm://127.0.0.1;239.192.1.1:5555", false);
    expect("ws://127.0.0.1:5560", false);
    expect("udp://127.0.0.1:5560", false);
}
