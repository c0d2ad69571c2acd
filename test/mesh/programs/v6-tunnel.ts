// Run inside a test's network namespace, whose loopback has fd00:77::1, ::2 (two "nodes"), ::5
// (a client pod on node 1) and ::9 (a server pod on node 2): two node proxies tunnel the client's
// connection over IPv6, by pod address and through an IPv6 ClusterIP. Prints one JSON line.
import { connect, createServer, type Socket } from 'node:net'
import pino from 'pino'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { makeServicePort } from '../../../proxy/model.ts'
import { createCA } from '../../../src/pki/certificates.ts'
import { issueSvid } from '../../helpers/mesh.ts'
import { AuthorizationIndex } from '../../../mesh/authorization.ts'
import { MeshMetrics } from '../../../mesh/metrics.ts'
import { identityKey } from '../../../mesh/node-identities.ts'
import { NodeProxy } from '../../../mesh/node-proxy.ts'
import { ServiceIndex, WorkloadIndex } from '../../../mesh/workloads.ts'

const TD = 'cluster.local'
const ca = await createCA('weft mesh CA', 1)
const ids = new Map([await issueSvid(ca, 'shop', 'web'), await issueSvid(ca, 'shop', 'db')].map((h) => [identityKey(h.identity), h]))
const namespaces: Record<string, V1Namespace> = { shop: { metadata: { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } } } }
const pod = (name: string, ip: string, node: string, hostIP: string): V1Pod => ({ metadata: { namespace: 'shop', name }, spec: { containers: [], nodeName: node, serviceAccountName: name }, status: { phase: 'Running', hostIP, podIP: ip, podIPs: [{ ip }] } })
const state = {
  workloads: new WorkloadIndex([pod('web', 'fd00:77::5', 'n1', 'fd00:77::1'), pod('db', 'fd00:77::9', 'n2', 'fd00:77::2')], (n) => namespaces[n]),
  services: new ServiceIndex([{ port: makeServicePort({ namespace: 'shop', name: 'db', portName: '', protocol: 'TCP', clusterIP: 'fd00:96::50', port: 80 }), endpoints: [{ ip: 'fd00:77::9', port: 7000, ready: true, serving: true, terminating: false, local: false }] }]),
  policies: new AuthorizationIndex([]),
}
let target = ''
const log = pino({ level: 'warn' }, pino.destination(2))
const proxies = ['1', '2'].map(
  (n) =>
    new NodeProxy({
      nodeName: `n${n}`,
      trustDomain: TD,
      identities: { get: (id) => ids.get(identityKey(id)), rootPem: ca.certPem },
      state: () => state,
      outboundPort: 0,
      inboundPort: 15008,
      listenHosts: { v6: `fd00:77::${n}` },
      metrics: new MeshMetrics(),
      log,
      originalDestination: () => {
        const colon = target.lastIndexOf(':')
        return { address: target.slice(1, colon - 1), port: Number(target.slice(colon + 1)) }
      },
    }),
)
for (const p of proxies) await p.start()
const peers: string[] = []
const echo = createServer({ allowHalfOpen: true }, (s) => {
  peers.push(s.remoteAddress!)
  s.on('data', (d) => s.write(d.toString().toUpperCase()))
  s.on('end', () => s.end('!'))
})
await new Promise<void>((r) => echo.listen(7000, 'fd00:77::9', r))
const exchange = (to: string, text: string) =>
  new Promise<string>((resolve) => {
    target = to
    const s: Socket = connect({ host: 'fd00:77::1', port: proxies[0]!.outboundPort, localAddress: 'fd00:77::5', allowHalfOpen: true })
    let got = ''
    s.on('data', (d) => (got += d.toString()))
    s.on('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code}`))
    s.on('close', () => resolve(got))
    s.end(text)
  })
const byPod = await exchange('[fd00:77::9]:7000', 'six')
const byService = await exchange('[fd00:96::50]:80', 'vip')
process.stdout.write(JSON.stringify({ byPod, byService, peers, sessions: proxies[0]!.pooledSessions }) + '\n')
for (const p of proxies) await p.stop()
echo.close()
process.exit(0)
