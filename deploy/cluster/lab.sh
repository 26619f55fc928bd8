# shellcheck shell=bash
# deploy/cluster/lab.sh - several "machines" on one Linux host, as network namespaces.
#
# Sourced by deploy/cluster/*.sh and tests/cluster/*.sh (bash, as root). Each machine is a
# network namespace with one veth link to a switch: a bridge that lives in a namespace of
# its own, so the host gets no interface, no address and no route into the lab, and nothing
# in the lab can reach beyond it. Addresses are 10.231.0.X/24 on that bridge only.
#
#   lab_init SCRATCH          names this run's namespaces (unique per run) and its scratch dir
#   lab_machine NAME X        a machine NAME at 10.231.0.X
#   lab_exec NAME CMD...      runs CMD inside NAME's namespace
#   lab_link NAME up|down     plugs NAME's cable in or pulls it (the switch side goes down)
#   lab_kill NAME             SIGKILL to every process in NAME's namespace, by PID
#   lab_teardown              kills every lab process, deletes every namespace and the scratch
#
# Cleanup is by PID (`ip netns pids`), never by name; lab_teardown is safe to call twice and
# after a half-built lab, so callers put it in an EXIT trap. Every wait here is bounded.

LAB_SUBNET=10.231.0
lab_machines=()
lab_scratch=""
lab_switch=""
lab_tag=""

lab_init() {
    lab_scratch=$1
    # A short tag keeps interface names under 15 bytes and two labs (a developer's and a
    # test's) apart.
    lab_tag=ct$(($$ % 100000))
    lab_switch=$lab_tag-sw
    mkdir -p "$lab_scratch"
    ip netns add "$lab_switch"
    ip -n "$lab_switch" link set lo up
    ip -n "$lab_switch" link add br0 type bridge
    ip -n "$lab_switch" link set br0 up
}

lab_ns() { echo "$lab_tag-$1"; }

lab_machine() {
    local name=$1 host=$2 ns
    ns=$(lab_ns "$name")
    ip netns add "$ns"
    lab_machines+=("$name")
    ip link add "$ns-e" type veth peer name "$ns-b"
    ip link set "$ns-e" netns "$ns"
    ip link set "$ns-b" netns "$lab_switch"
    ip -n "$ns" link set "$ns-e" name eth0
    ip -n "$ns" addr add "$LAB_SUBNET.$host/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$lab_switch" link set "$ns-b" master br0
    ip -n "$lab_switch" link set "$ns-b" up
}

lab_exec() {
    local name=$1
    shift
    ip netns exec "$(lab_ns "$name")" "$@"
}

lab_link() {
    ip -n "$lab_switch" link set "$(lab_ns "$1")-b" "$2"
}

# Kills every process in the namespace; returns once none is left (at most 10 s).
lab_kill() {
    local ns pids
    ns=$(lab_ns "$1")
    for _ in $(seq 1 100); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] || return 0
        # shellcheck disable=SC2086 # a list of PIDs
        kill -KILL $pids 2>/dev/null || true
        sleep 0.1
    done
    echo "lab: processes still in $ns after 10 s: $pids" >&2
    return 1
}

lab_teardown() {
    local name
    for name in "${lab_machines[@]}"; do
        lab_kill "$name" || true
        ip netns del "$(lab_ns "$name")" 2>/dev/null || true
    done
    lab_machines=()
    if [ -n "${lab_switch:-}" ]; then
        ip netns del "$lab_switch" 2>/dev/null || true
        lab_switch=""
    fi
    if [ -n "${lab_scratch:-}" ]; then
        rm -rf "$lab_scratch"
        lab_scratch=""
    fi
}
