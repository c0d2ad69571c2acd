// The userspace proxier of one data path, run inside its node namespace (started under
// nsenter: the proxier listens in its own process's namespace).
//   userspace-node.ts SERVICES BACKEND_IP:PORT NODE_IPS SYNC_RUNS [WORKERS]
// Syncs SYNC_RUNS times from nothing (removing everything in between), printing
// "SYNC <ms>" for each, then "READY" with the last sync in place. SIGTERM closes it.
import { performance } from 'node:perf_hooks'
import { UserspaceProxier } from '../../proxy/userspace/index.ts'
import { benchState } from './services.ts'

const [services = '10', backend = '', nodeIPs = '', syncRuns = '1', workers = '1'] = process.argv.slice(2)
const [ip, port] = backend.split(':')
const state = benchState({ services: Number(services), backend: { ip: ip!, port: Number(port) }, nodeIPs: nodeIPs.split(',') })
const empty = { ...state, services: new Map() }
const proxier = new UserspaceProxier({ family: 4, workers: Number(workers) })

for (let i = 0; i < Number(syncRuns); i++) {
  if (i > 0) await proxier.sync(empty, 'all')
  const t0 = performance.now()
  await proxier.sync(state, 'all')
  process.stdout.write(`SYNC ${(performance.now() - t0).toFixed(1)}\n`)
}
process.stdout.write(`READY ${proxier.addresses?.device}\n`)

process.once('SIGTERM', () => {
  void proxier.close().finally(() => process.exit(0))
})
