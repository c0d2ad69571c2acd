// One node of the mesh bench, run inside the node's network namespace: a NodeProxy with the
// bench's pods and identities (no API server: the state is given), and the mesh's nftables
// capture, switched on and off between the bench's direct and meshed rounds. Commands on
// stdin, one JSON answer per line on stdout:
//   capture on | capture off    write or remove the capture of this node's meshed pods
//   stats                       {"cpuUs":…, "rss":…, "heldBytes":…, "carried":…} of this process
//                               (heldBytes: malloc's bytes in use plus V8's live heap after a GC)
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { createInterface } from 'node:readline'
import pino from 'pino'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { NftExec } from '../../src/netfilter/index.ts'
import { AuthorizationIndex } from '../../mesh/authorization.ts'
import { spiffeId } from '../../mesh/identity.ts'
import { MeshMetrics } from '../../mesh/metrics.ts'
import { identityKey, type HeldIdentity } from '../../mesh/node-identities.ts'
import { meshAddon } from '../../mesh/addon.ts'
import { NodeProxy } from '../../mesh/node-proxy.ts'
import { MeshRules } from '../../mesh/nftables.ts'
import { ServiceIndex, WorkloadIndex } from '../../mesh/workloads.ts'

export interface NodeHostConfig {
  nodeName: string
  trustDomain: string
  rootPem: string
  identities: { namespace: string; serviceAccount: string; certPem: string; keyPem: string }[]
  pods: V1Pod[]
  namespaces: V1Namespace[]
  outboundPort: number
  inboundPort: number
  /** This node's meshed pod IPs, captured when capture is on. */
  capture: string[]
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as NodeHostConfig
const held = new Map<string, HeldIdentity>()
for (const i of config.identities) {
  const identity = { trustDomain: config.trustDomain, namespace: i.namespace, serviceAccount: i.serviceAccount }
  const cert = new X509Certificate(i.certPem)
  held.set(identityKey(identity), { identity, spiffeId: spiffeId(identity), certPem: i.certPem, keyPem: i.keyPem, notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo), renewAt: new Date(cert.validTo) })
}
const namespaces = new Map(config.namespaces.map((n) => [n.metadata!.name!, n]))
const state = { workloads: new WorkloadIndex(config.pods, (n) => namespaces.get(n)), services: new ServiceIndex([]), policies: new AuthorizationIndex([]) }
const proxy = new NodeProxy({
  nodeName: config.nodeName,
  trustDomain: config.trustDomain,
  identities: { get: (id) => held.get(identityKey(id)), rootPem: config.rootPem },
  state: () => state,
  outboundPort: config.outboundPort,
  inboundPort: config.inboundPort,
  listenHosts: { v4: '0.0.0.0' },
  metrics: new MeshMetrics(),
  log: pino({ level: 'warn' }, pino.destination(2)),
})
await proxy.start()
const gc = (globalThis as { gc?: () => void }).gc
/** What the proxy holds: malloc's bytes in use (the engine, OpenSSL, nghttp2) and V8's live heap. */
const heldBytes = () => {
  gc?.()
  return meshAddon().heapInUse() + process.memoryUsage().heapUsed
}
const rules = new MeshRules(new NftExec())
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim()
  try {
    if (command === 'capture on') await rules.apply({ meshed: config.capture, strict: [], outboundPort: config.outboundPort })
    else if (command === 'capture off') await rules.remove()
    else if (command === 'stats') {
      const cpu = process.cpuUsage()
      process.stdout.write(JSON.stringify({ cpuUs: cpu.user + cpu.system, rss: process.memoryUsage().rss, heldBytes: heldBytes(), carried: proxy.carried }) + '\n')
      continue
    } else throw new Error(`unknown command ${JSON.stringify(command)}`)
    process.stdout.write(JSON.stringify({ ok: true }) + '\n')
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message }) + '\n')
  }
}
await rules.remove().catch(() => undefined)
await proxy.stop()
process.exit(0)
