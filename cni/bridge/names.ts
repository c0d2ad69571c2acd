// Deterministic host-side names and fresh MAC addresses for pod veths.
import { createHash, randomBytes } from 'node:crypto'

/** `veth` + 8 hex digits of a hash of the attachment: the same on ADD and DEL. */
export function hostVethName(containerID: string, ifname: string): string {
  return 'veth' + createHash('sha256').update(`${containerID}\n${ifname}`).digest('hex').slice(0, 8)
}

/** A random locally administered unicast MAC, so ADD knows both ends' MACs without reading them back. */
export function randomMac(): string {
  const b = randomBytes(6)
  b[0] = (b[0] & 0xfe) | 0x02
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}
