// What NetworkPolicy enforcement programs on one node: per local pod, its ingress and egress
// isolation as allow entries that point at named peer sets; the sets themselves, keyed by a
// stable name, hold addresses (or address/port triples). A pod that starts matching a selector
// changes only the elements of that selector's set, never a pod's entries.
export type Family = 4 | 6
export type L4Protocol = 'TCP' | 'UDP' | 'SCTP'

/** Destination ports `from`..`to` (inclusive) of one protocol; 0..65535 is every port of it. */
export interface PortMatch {
  protocol: L4Protocol
  from: number
  to: number
}

export const ALL_PORTS = { from: 0, to: 65535 } as const

/** One allow of a pod's direction: traffic to/from `peers` on `ports`. */
export interface AllowEntry {
  /** `namespace/name` of the policy, for counters and logs. */
  policy: string
  /**
   * 'any': every address. Otherwise the name of an `addresses` set (the peer's address must
   * be in it) or of an `addressPorts` set (the peer's address and the protocol and port must
   * be in it as one triple: egress named ports, resolved per peer pod; then `ports` is 'any').
   */
  peers: 'any' | string
  /** 'any': every port of every protocol. Never empty: an entry that allows nothing is left out. */
  ports: 'any' | PortMatch[]
}

/** One direction of a pod: not isolated, or isolated with what the selecting policies allow. */
export type Isolation = { isolated: false } | { isolated: true; allow: AllowEntry[] }

export interface LocalPod {
  uid: string
  /** `namespace/name`, for logs. */
  key: string
  /** Canonical addresses by family, sorted. */
  ips: { v4: string[]; v6: string[] }
  ingress: Isolation
  egress: Isolation
}

/** A peer address with the port a named port resolved to on that peer. */
export interface AddressPort {
  ip: string
  protocol: L4Protocol
  port: number
}

export type PeerSet =
  | {
      name: string
      kind: 'addresses'
      /** What the set stands for (`pods ns=… pod=…` or `ipBlock …`), for comments and logs. */
      describe: string
      /** False: single IPs (pod sets). True: CIDR prefixes (ipBlock sets, holes already cut; an nft interval set). */
      intervals: boolean
      /** Sorted. */
      v4: string[]
      v6: string[]
    }
  | {
      name: string
      kind: 'addressPorts'
      describe: string
      /** Sorted by ip, protocol, port. */
      v4: AddressPort[]
      v6: AddressPort[]
    }

/** Why a policy or one of its rules is not (fully) enforced; the shell turns it into an Event. */
export interface PolicyProblem {
  /** `namespace/name`. */
  policy: string
  /** The field, e.g. `spec.ingress[0].from[1].ipBlock.cidr`. */
  field: string
  message: string
  /** 'policy': the policy selects no pods (its podSelector is unusable); 'rule': that rule allows nothing. */
  scope: 'policy' | 'rule'
}

export interface CompiledNode {
  node: string
  /**
   * This node's own addresses, canonical and sorted. Traffic between a pod and the node it runs
   * on is always allowed, whatever isolates the pod (upstream's NetworkPolicy documentation and
   * the spec.ingress field docs: "OR if the traffic source is the pod's local node").
   */
  nodeIPs: { v4: string[]; v6: string[] }
  /** By pod uid, sorted by uid. */
  pods: ReadonlyMap<string, LocalPod>
  /** By set name, sorted by name; only the sets some local pod's entry refers to. */
  sets: ReadonlyMap<string, PeerSet>
  problems: PolicyProblem[]
}
