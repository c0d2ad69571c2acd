// What the relays ask before they connect a client to an endpoint. In userspace mode the node
// relays Service traffic from its own address, so the kernel's NetworkPolicy rules would judge
// the node, not the client pod; the node agent hands in its NetworkPolicy enforcer's verdict
// (the client pod's egress and the endpoint pod's ingress), judged after the endpoint is
// picked, as the kernel judges nftables mode's traffic after DNAT.
export interface RelayedConnection {
  /** The client's address, as the relay's socket sees it. */
  source: string
  /** The endpoint picked for it. */
  destination: string
  protocol: 'TCP' | 'UDP'
  /** The endpoint's port. */
  port: number
}

/** True: relay it. False: a TCP client is reset, a UDP client's datagrams are dropped (no session starts). */
export type ConnectionPolicy = (c: RelayedConnection) => boolean
