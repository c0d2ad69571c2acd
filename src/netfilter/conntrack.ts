// Removes stale UDP conntrack entries with the `conntrack` tool, as kube-proxy does when a
// UDP Service gains or loses endpoints (UDP has no connection end to clear them).
import { isIPv6 } from 'node:net'
import { CommandError, run } from '../netlink/exec.ts'
import { inNetns, type NetnsRef } from '../netlink/netns.ts'

/** Entries sent to a Service IP (it just got its first endpoint: drop the cached rejections). */
export function flushUdpToServiceIP(ip: string, netns?: NetnsRef): Promise<number> {
  return conntrackDelete(ip, ['--orig-dst', ip], netns)
}

/** Entries sent to a NodePort (its Service just got its first endpoint), in `family`. */
export function flushUdpToNodePort(nodePort: number, family: 4 | 6, netns?: NetnsRef): Promise<number> {
  return conntrackDelete(family === 6 ? '::' : '0.0.0.0', ['--dport', String(nodePort)], netns)
}

/** Entries from a Service IP DNAT-ed to an endpoint that went away. */
export function flushUdpServiceEndpoint(serviceIP: string, endpointIP: string, netns?: NetnsRef): Promise<number> {
  return conntrackDelete(endpointIP, ['--orig-dst', serviceIP, '--dst-nat', endpointIP], netns)
}

/** Entries to a NodePort DNAT-ed to an endpoint that went away. */
export function flushUdpNodePortEndpoint(nodePort: number, endpointIP: string, netns?: NetnsRef): Promise<number> {
  return conntrackDelete(endpointIP, ['--dport', String(nodePort), '--dst-nat', endpointIP], netns)
}

/** Runs `conntrack -D -p udp …` and returns how many entries went (it prints one per line). */
async function conntrackDelete(familyOf: string, filter: string[], netns: NetnsRef): Promise<number> {
  // The family must come before the addresses or conntrack reads them as IPv4.
  const args = ['-D', '-f', isIPv6(familyOf) ? 'ipv6' : 'ipv4', '-p', 'udp', ...filter]
  const [file, argv] = inNetns(netns, 'conntrack', args)
  try {
    const out = await run(file, argv)
    return out.split('\n').filter((l) => l.trim()).length
  } catch (err) {
    // Nothing matched: conntrack exits 1 after "0 flow entries have been deleted."
    if (err instanceof CommandError && /\b0 flow entries have been deleted/.test(err.stderr)) return 0
    throw err
  }
}
