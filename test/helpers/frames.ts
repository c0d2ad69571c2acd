// Hand-built Ethernet frames for kernel tests that play a hostile pod (one with CAP_NET_RAW
// writes whatever it likes on its interface), and a reader for what a sniffer saw. Sent and
// sniffed by programs/frames.py inside the test's namespaces.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { run } from '../../src/netlink/exec.ts'
import { ipToBigInt } from '../../src/util/cidr.ts'
import { onInterrupt } from './netns.ts'

const FRAMES_PY = new URL('./programs/frames.py', import.meta.url).pathname

export const ETH_IP = 0x0800
export const ETH_ARP = 0x0806
export const ETH_IP6 = 0x86dd
export const ETH_VLAN = 0x8100

const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))
const ip4Bytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number))
function ip6Bytes(ip: string): Buffer {
  const b = Buffer.alloc(16)
  let v = ipToBigInt(ip)
  for (let i = 15; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn)
  return b
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

/** The Internet checksum of `parts`. */
function checksum(...parts: Buffer[]): number {
  const buf = Buffer.concat(parts)
  let sum = 0
  for (let i = 0; i < buf.length; i += 2) sum += (buf[i]! << 8) + (buf[i + 1] ?? 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

export function ethernet(dst: string, src: string, type: number, payload: Buffer, vlan?: number): Buffer {
  const tag = vlan === undefined ? Buffer.alloc(0) : Buffer.concat([u16(ETH_VLAN), u16(vlan)])
  return Buffer.concat([macBytes(dst), macBytes(src), tag, u16(type), payload])
}

function ipv4(src: string, dst: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.concat([Buffer.from([0x45, 0]), u16(20 + payload.length), u16(0x1234), u16(0x4000), Buffer.from([64, proto]), u16(0), ip4Bytes(src), ip4Bytes(dst)])
  h.writeUInt16BE(checksum(h), 10)
  return Buffer.concat([h, payload])
}

function ipv6(src: string, dst: string, next: number, payload: Buffer, hopLimit = 64): Buffer {
  return Buffer.concat([u32(0x60000000), u16(payload.length), Buffer.from([next, hopLimit]), ip6Bytes(src), ip6Bytes(dst), payload])
}

function pseudo4(src: string, dst: string, proto: number, len: number): Buffer {
  return Buffer.concat([ip4Bytes(src), ip4Bytes(dst), Buffer.from([0, proto]), u16(len)])
}

function pseudo6(src: string, dst: string, next: number, len: number): Buffer {
  return Buffer.concat([ip6Bytes(src), ip6Bytes(dst), u32(len), Buffer.from([0, 0, 0, next])])
}

function udpSegment(pseudo: (len: number) => Buffer, sport: number, dport: number, data: Buffer): Buffer {
  const seg = Buffer.concat([u16(sport), u16(dport), u16(8 + data.length), u16(0), data])
  seg.writeUInt16BE(checksum(pseudo(seg.length), seg) || 0xffff, 6)
  return seg
}

/** A UDP datagram in a frame; IPv4 or IPv6 by the addresses. */
export function udpFrame(f: { dstMac: string; srcMac: string; src: string; dst: string; sport: number; dport: number; data: string; vlan?: number }): Buffer {
  const data = Buffer.from(f.data)
  if (f.src.includes(':')) {
    const seg = udpSegment((len) => pseudo6(f.src, f.dst, 17, len), f.sport, f.dport, data)
    return ethernet(f.dstMac, f.srcMac, ETH_IP6, ipv6(f.src, f.dst, 17, seg), f.vlan)
  }
  const seg = udpSegment((len) => pseudo4(f.src, f.dst, 17, len), f.sport, f.dport, data)
  return ethernet(f.dstMac, f.srcMac, ETH_IP, ipv4(f.src, f.dst, 17, seg), f.vlan)
}

/** A TCP SYN over IPv4. */
export function tcpSynFrame(f: { dstMac: string; srcMac: string; src: string; dst: string; sport: number; dport: number; seq: number }): Buffer {
  const seg = Buffer.concat([u16(f.sport), u16(f.dport), u32(f.seq), u32(0), Buffer.from([0x50, 0x02]), u16(64240), u16(0), u16(0)])
  seg.writeUInt16BE(checksum(pseudo4(f.src, f.dst, 6, seg.length), seg), 16)
  return ethernet(f.dstMac, f.srcMac, ETH_IP, ipv4(f.src, f.dst, 6, seg))
}

/** An ARP request: who has `targetIp`, tell `senderIp` (at `senderMac`). */
export function arpRequestFrame(f: { srcMac: string; senderMac: string; senderIp: string; targetIp: string }): Buffer {
  const arp = Buffer.concat([u16(1), u16(ETH_IP), Buffer.from([6, 4]), u16(1), macBytes(f.senderMac), ip4Bytes(f.senderIp), Buffer.alloc(6), ip4Bytes(f.targetIp)])
  return ethernet('ff:ff:ff:ff:ff:ff', f.srcMac, ETH_ARP, arp)
}

function icmp6(src: string, dst: string, type: number, body: Buffer): Buffer {
  const msg = Buffer.concat([Buffer.from([type, 0]), u16(0), body])
  msg.writeUInt16BE(checksum(pseudo6(src, dst, 58, msg.length), msg), 2)
  return ipv6(src, dst, 58, msg, 255)
}

/** A neighbour advertisement (solicited, override) for `target` at `lladdr`. */
export function neighborAdvertFrame(f: { dstMac: string; srcMac: string; src: string; dst: string; target: string; lladdr: string }): Buffer {
  const body = Buffer.concat([u32(0x60000000), ip6Bytes(f.target), Buffer.from([2, 1]), macBytes(f.lladdr)])
  return ethernet(f.dstMac, f.srcMac, ETH_IP6, icmp6(f.src, f.dst, 136, body))
}

/** A router advertisement to all nodes: a default router for 30 minutes. */
export function routerAdvertFrame(f: { srcMac: string; src: string }): Buffer {
  const body = Buffer.concat([Buffer.from([64, 0]), u16(1800), u32(0), u32(0), Buffer.from([1, 1]), macBytes(f.srcMac)])
  return ethernet('33:33:00:00:00:01', f.srcMac, ETH_IP6, icmp6(f.src, 'ff02::1', 134, body))
}

/** What the tests look for in a received frame. */
export interface SeenFrame {
  srcMac: string
  type: number
  /** IPv4/IPv6 source and destination, or ARP sender and target address. */
  src?: string
  dst?: string
  /** 6, 17, 58 (ICMPv6). */
  proto?: number
  sport?: number
  dport?: number
  /** UDP payload as text. */
  data?: string
  tcpSeq?: number
  icmpType?: number
  /** An NA's target. */
  target?: string
}

const mac = (b: Buffer, at: number): string => [...b.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':')
const v4 = (b: Buffer, at: number): string => [...b.subarray(at, at + 4)].join('.')
function v6(b: Buffer, at: number): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16))
  // Canonical (RFC 5952) through the URL parser's IPv6 serializer.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

/** Reads one sniffed frame (hex). */
export function readFrame(hex: string): SeenFrame {
  const b = Buffer.from(hex, 'hex')
  let at = 12
  let type = b.readUInt16BE(at)
  if (type === ETH_VLAN) type = b.readUInt16BE((at += 4))
  const l3 = at + 2
  const out: SeenFrame = { srcMac: mac(b, 6), type }
  if (type === ETH_ARP) return { ...out, src: v4(b, l3 + 14), dst: v4(b, l3 + 24) }
  let l4: number
  if (type === ETH_IP) {
    Object.assign(out, { src: v4(b, l3 + 12), dst: v4(b, l3 + 16), proto: b[l3 + 9] })
    l4 = l3 + (b[l3]! & 0x0f) * 4
  } else if (type === ETH_IP6) {
    Object.assign(out, { src: v6(b, l3 + 8), dst: v6(b, l3 + 24), proto: b[l3 + 6] })
    l4 = l3 + 40
  } else return out
  if (out.proto === 17 || out.proto === 6) {
    out.sport = b.readUInt16BE(l4)
    out.dport = b.readUInt16BE(l4 + 2)
    if (out.proto === 17) out.data = b.subarray(l4 + 8).toString()
    else out.tcpSeq = b.readUInt32BE(l4 + 4)
  } else if (out.proto === 58) {
    out.icmpType = b[l4]
    if (out.icmpType === 135 || out.icmpType === 136) out.target = v6(b, l4 + 8)
  }
  return out
}

/** Sends `frames` out of `ifname` in network namespace `ns`, as they are. */
export async function sendFrames(ns: string, ifname: string, frames: readonly Buffer[]): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'python3', FRAMES_PY, 'send', ifname, ...frames.map((f) => f.toString('hex'))])
}

export interface Sniffer {
  /** Stops the sniffer and returns every frame it saw. */
  stop(): Promise<SeenFrame[]>
}

/** Starts a sniffer on `ifname` in `ns`; resolves once it listens. Stopped by pid at teardown, or on Ctrl-C. */
export async function sniff(t: { teardown(fn: () => unknown): void }, ns: string, ifname: string): Promise<Sniffer> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, 'python3', FRAMES_PY, 'sniff', ifname], { stdio: ['pipe', 'pipe', 'inherit'] })
  // 'close': the process is gone and its stdout read to the end.
  const exited = new Promise<void>((r) => child.once('close', () => r()))
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  const forget = onInterrupt(kill)
  t.teardown(async () => {
    kill()
    await exited
    forget()
  })
  const seen: string[] = []
  let ready!: () => void
  const isReady = new Promise<void>((r) => (ready = r))
  createInterface({ input: child.stdout! }).on('line', (line) => (line === 'ready' ? ready() : seen.push(line)))
  await Promise.race([isReady, exited.then(() => Promise.reject(new Error(`the sniffer in ${ns} exited before it was ready`)))])
  return {
    async stop() {
      child.stdin!.end()
      await exited
      forget()
      return seen.map(readFrame)
    },
  }
}

/** Whether `python3` runs here (the raw-frame helper needs it). */
export async function havePython(): Promise<boolean> {
  return run('python3', ['-c', 'import socket; socket.AF_PACKET']).then(
    () => true,
    () => false,
  )
}
