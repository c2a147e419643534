# shellcheck shell=bash
# Shared by run-containers.sh and run-k8s-sim.sh: a lab of network namespaces joined by a bridge.
#
#   netns_lab_init TAG          remember TAG; the bridge lives in netns TAG-br
#   netns_lab_host NAME IP      netns TAG-NAME with eth0 = IP/24, veth'd to the bridge
#   netns_lab_loss PERCENT      drop PERCENT % of bridged frames at random (nftables, bridge family)
#   netns_lab_dropped           frames dropped so far
#   netns_lab_cleanup           delete every namespace created (veths and bridge go with them)
#
# Every veth is created directly inside the lab's namespaces: nothing is added to the root namespace.

LAB_TAG=""
LAB_NS=()
LAB_NEXT_VETH=0

netns_lab_init() {
    LAB_TAG="$1"
    ip netns add "$LAB_TAG-br"; LAB_NS+=("$LAB_TAG-br")
    ip -n "$LAB_TAG-br" link set lo up
    ip -n "$LAB_TAG-br" link add br0 type bridge
    ip -n "$LAB_TAG-br" link set br0 up
}

netns_lab_host() {
    local name="$1" addr="$2" ns="$LAB_TAG-$1" v="v$LAB_NEXT_VETH"
    LAB_NEXT_VETH=$((LAB_NEXT_VETH + 1))
    ip netns add "$ns"; LAB_NS+=("$ns")
    ip link add eth0 netns "$ns" type veth peer name "$v" netns "$LAB_TAG-br"
    ip -n "$LAB_TAG-br" link set "$v" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
}

netns_lab_loss() {
    [[ "$1" == 0 ]] && return 0
    ip netns exec "$LAB_TAG-br" nft -f - <<NFT
table bridge qnet {
  chain loss {
    type filter hook forward priority 0; policy accept;
    numgen random mod 100 < $1 counter drop
  }
}
NFT
}

netns_lab_dropped() {
    ip netns exec "$LAB_TAG-br" nft list table bridge qnet 2>/dev/null | grep -o 'packets [0-9]*' | cut -d' ' -f2
}

netns_lab_cleanup() {
    local ns
    for ns in "${LAB_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    LAB_NS=()
}

elapsed_since() {  # seconds (2 decimals) since a `date +%s.%N` stamp
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}
