// The reference path of the mesh bench: HAProxy on both nodes as a mutual-TLS TCP tunnel over
// the same hops as the mesh (client pod → n1 → TLS 1.3 → n2 → server pod), one thread per
// node as weft's node proxy has. It is what a mature C proxy does with the same work on the
// same machine; it has no transparent capture (the client dials n1's HAProxy), no identity
// check beyond the chain, no policy and no pooling: each client connection is its own TLS
// connection. Runs in the foreground (-db) with everything in its own dir; stopped by pid.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { startProcess, type ChildProcess } from '../lib/process.ts'

export interface HaproxyTunnel {
  /** n1's side: where the client dials (the node's address on the pod link). */
  entry: string
  /** n2's address on the underlay. */
  exitHost: string
  /** The server pod. */
  server: string
  /** [entry port, tunnel port, server port] for each forwarded service. */
  ports: Array<[number, number, number]>
}

const GLOBAL = `global
  nbthread 1
  maxconn 8000

defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
`

/** Starts both HAProxies (n1 dials n2 with a client certificate; n2 asks for it) in their node namespaces. */
export function startHaproxyTunnel(cleanup: Cleanup, dir: string, nodes: [string, string], t: HaproxyTunnel, pki: { caPem: string; n1Pem: string; n2Pem: string }): ChildProcess[] {
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o600 })
    return join(dir, name)
  }
  const ca = file('ca.pem', pki.caPem)
  const n1 = file('n1.pem', pki.n1Pem)
  const n2 = file('n2.pem', pki.n2Pem)
  const tls = `ca-file ${ca} verify required ssl-min-ver TLSv1.3`
  const entry = t.ports.map(([e, tunnel], i) => `frontend in${i}\n  bind ${t.entry}:${e}\n  default_backend out${i}\nbackend out${i}\n  server n2 ${t.exitHost}:${tunnel} ssl crt ${n1} ${tls}\n`).join('')
  const exit = t.ports.map(([, tunnel, s], i) => `frontend in${i}\n  bind ${t.exitHost}:${tunnel} ssl crt ${n2} ${tls}\n  default_backend out${i}\nbackend out${i}\n  server pod ${t.server}:${s}\n`).join('')
  return [
    [nodes[0], file('n1.cfg', GLOBAL + entry)],
    [nodes[1], file('n2.cfg', GLOBAL + exit)],
  ].map(([node, config]) => startProcess(cleanup, 'nsenter', [`--net=/run/netns/${node}`, '--', 'haproxy', '-db', '-f', config!], { logFile: join(dir, `${node}-haproxy.log`) }))
}
