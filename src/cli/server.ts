// `weft server`: the API server over the embedded SQLite store or etcd.
import { writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { IngressMode } from '../apiserver/bootstrap-ingress.ts'
import { ApiServer, splitHostPort } from '../apiserver/server.ts'
import { openStore } from '../store/open-store.ts'
import { logger } from '../util/log.ts'
import { makePrivateDir, restrictFiles } from '../util/private-files.ts'
import { ControlPlane } from '../controllers/control-plane.ts'
import { controlPlaneFlags, controlPlaneOptions } from './control-plane.ts'

export const serverUsage = `Usage: weft server [flags]

Runs the API server (Kubernetes REST API) over the embedded SQLite store, or etcd.

Flags:
  --data-dir DIR              where the SQLite store and the kubeconfig live
                              (default: $XDG_STATE_HOME/weft, else ~/.local/state/weft)
  --listen ADDR:PORT          address to serve on (default 127.0.0.1:6443)
  --socket PATH               also serve on this unix socket (default DIR/apiserver.sock)
  --etcd-endpoints URLS       comma-separated etcd client URLs; selects etcd instead of SQLite
  --etcd-prefix PREFIX        key prefix in etcd (default /weft)
  --service-cidr CIDRS        service IP range(s), one per family (default 10.96.0.0/12)
  --service-node-port-range A-B   NodePort range (default 30000-32767)
  --compaction-interval SECONDS   keep this much store history; compact every SECONDS (default 300, 0: never)
  --kubelet-socket-dir DIR    reach each node's kubelet (for kubectl logs) at DIR/<node>/kubelet.sock
                              instead of its InternalIP (lab clusters)
  --api-only                  serve the API only: no scheduler, no controllers
  --dns-replicas N            cluster DNS: the kube-system Deployment coredns (image weft/dns) with N pods
                              behind the Service kube-dns at the tenth service address (default 2; 0: none)
  --cluster-domain DOMAIN     the cluster's DNS domain (default cluster.local)
  --ingress MODE              the Ingress controller (image weft/ingress, namespace weft-ingress) and the
                              default IngressClass weft: host-network (a DaemonSet serving ports 80 and
                              443 on every node; the default), load-balancer (a Deployment behind the
                              LoadBalancer Service weft-ingress, whose address --load-balancer-pool
                              gives), or none
  --ingress-replicas N        pods of the load-balancer mode's Deployment (default 2)
  --cluster-cidr CIDRS        pod CIDRs handed to nodes, one /24 (IPv6: /64) each (default 10.244.0.0/16)
  --load-balancer-pool LIST   addresses for LoadBalancer Services: CIDRs or a-b ranges, comma-separated (default: none)
  --node-monitor-grace-period SECONDS   silence before a node is marked unknown (default 40)
  -h, --help                  show this help
`

export function defaultDataDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(state, 'weft')
}

export function kubeconfigFor(url: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: weft
  cluster:
    server: ${url}
    # Plain HTTP until TLS arrives; @kubernetes/client-node refuses http:// without this.
    insecure-skip-tls-verify: true
users:
- name: weft-admin
  user: {}
contexts:
- name: weft
  context:
    cluster: weft
    user: weft-admin
    namespace: default
current-context: weft
`
}

const ingressModes: Record<string, IngressMode | undefined> = { 'host-network': 'hostNetwork', 'load-balancer': 'loadBalancer', none: undefined }

export function ingressFlags(mode: string, replicas: string): { mode: IngressMode; replicas: number } | undefined {
  if (!(mode in ingressModes)) throw new Error(`--ingress "${mode}" must be host-network, load-balancer or none`)
  const n = Number(replicas)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--ingress-replicas "${replicas}" must be a whole number of at least 1`)
  const m = ingressModes[mode]
  return m && { mode: m, replicas: n }
}

export async function runServer(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:6443' },
      socket: { type: 'string' },
      'kubelet-socket-dir': { type: 'string' },
      'etcd-endpoints': { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'service-cidr': { type: 'string', default: '10.96.0.0/12' },
      'service-node-port-range': { type: 'string', default: '30000-32767' },
      'compaction-interval': { type: 'string', default: '300' },
      'api-only': { type: 'boolean', default: false },
      'dns-replicas': { type: 'string', default: '2' },
      'cluster-domain': { type: 'string', default: 'cluster.local' },
      ingress: { type: 'string', default: 'host-network' },
      'ingress-replicas': { type: 'string', default: '2' },
      ...controlPlaneOptions,
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(serverUsage)
    return
  }
  splitHostPort(values.listen!)
  const log = logger('server')
  const dataDir = resolve(values['data-dir'] ?? defaultDataDir())
  if (makePrivateDir(dataDir).openToOthers) log.warn({ dataDir }, 'the data dir can be read by other users; weft leaves the mode of a directory it did not create alone: chmod 700 it, or use a dir of its own')
  const range = /^(\d+)-(\d+)$/.exec(values['service-node-port-range']!)
  if (!range || Number(range[1]) > Number(range[2])) {
    throw new Error(`--service-node-port-range "${values['service-node-port-range']}" must look like 30000-32767`)
  }
  const compaction = Number(values['compaction-interval'])
  if (!Number.isFinite(compaction) || compaction < 0) {
    throw new Error(`--compaction-interval "${values['compaction-interval']}" must be a number of seconds (0 turns compaction off)`)
  }
  const dnsReplicas = Number(values['dns-replicas'])
  if (!Number.isInteger(dnsReplicas) || dnsReplicas < 0) throw new Error(`--dns-replicas "${values['dns-replicas']}" must be a whole number (0: no cluster DNS)`)
  const ingress = ingressFlags(values.ingress!, values['ingress-replicas']!)
  const store = values['etcd-endpoints']
    ? await openStore({ etcdEndpoints: values['etcd-endpoints'].split(',').map((s) => s.trim()).filter(Boolean), etcdPrefix: values['etcd-prefix'] })
    : await openStore({ dataDir })
  const server = new ApiServer({
    store,
    listen: values.listen!,
    socketPath: values.socket ?? join(dataDir, 'apiserver.sock'),
    serviceCidrs: values['service-cidr']!.split(',').map((s) => s.trim()),
    nodePortRange: { first: Number(range[1]), last: Number(range[2]) },
    compactionIntervalMs: compaction * 1000,
    kubeletSocketDir: values['kubelet-socket-dir'],
    dnsReplicas,
    clusterDomain: values['cluster-domain']!,
    ingress,
  })
  const { url } = await server.start()
  const controlPlane = values['api-only']
    ? undefined
    : new ControlPlane({ server: { server: url }, ...controlPlaneFlags(values) })
  await controlPlane?.start()
  const kubeconfig = join(dataDir, 'kubeconfig')
  await writeFile(kubeconfig, kubeconfigFor(url), { mode: 0o600 })
  restrictFiles(kubeconfig)
  log.info({ kubeconfig }, 'kubeconfig written')
  process.stderr.write(`weft API server at ${url}\nPoint kubectl at it:  export KUBECONFIG=${kubeconfig}\n`)
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down')
    await controlPlane?.stop()
    await server.close()
    await store.close()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
}
