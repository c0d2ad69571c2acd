// What weft dns keeps per Service, without the garbage a live heap reading includes:
// `node --expose-gc retained-heap.ts API_URL KUBECONFIG` runs the DNS server's zone source (the same
// informers, trimmed objects and index as `weft dns`) against the API server, collects
// garbage, and prints JSON: the main thread's bytes, and the bytes of the index each extra
// query thread builds for itself.
import { RestClient } from '../../src/client/index.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { defaultDnsConfig } from '../../dns/run.ts'
import { buildZoneIndex } from '../../dns/zone-index.ts'
import { ZoneSource } from '../../dns/zone-source.ts'
import { logger } from '../../src/util/log.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')
const settled = (): number => {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

const client = new RestClient({ server: process.argv[2]!, credentials: loadKubeconfig(process.argv[3]!).credentials }, { userAgent: 'weft-bench-dns' })
const zone = { zone: defaultDnsConfig.zone, ttl: defaultDnsConfig.ttl, pods: defaultDnsConfig.pods, nameserverIPs: [] }
const source = new ZoneSource({ client, config: zone, watchPods: true, onIndex: () => {}, log: logger('bench') })
const before = settled()
await source.start()
const loaded = settled()
const extra = buildZoneIndex(source.snapshot!, zone)
const withThreadIndex = settled()
process.stdout.write(JSON.stringify({ services: extra.serviceCount, mainBytes: loaded - before, threadIndexBytes: withThreadIndex - loaded }) + '\n')
await source.stop()
await client.close()
