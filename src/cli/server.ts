// `weft server`: the API server over the embedded SQLite store or etcd.
import { writeFile } from 'node:fs/promises'
import { readFileSync, statSync } from 'node:fs'
import type { EtcdTls } from '../store/etcd-http.ts'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { IngressMode } from '../apiserver/bootstrap-ingress.ts'
import { ApiServer, splitHostPort } from '../apiserver/server.ts'
import { openStore } from '../store/open-store.ts'
import { defaultDataDir } from './data-dir.ts'
import { issueCertificate } from '../pki/certificates.ts'
import { logger } from '../util/log.ts'
import { makePrivateDir, restrictFiles } from '../util/private-files.ts'
import { ControlPlane } from '../controllers/control-plane.ts'
import { securityFromPki } from '../apiserver/security.ts'
import { kubeconfigText } from '../client/kubeconfig.ts'
import { ensureClusterPki, type ClusterPki } from '../pki/cluster-pki.ts'
import { openEncryption } from '../store/encryption/secrets-encryption.ts'
import { cidrAddress, parseCidr } from '../util/cidr.ts'
import { isIP } from 'node:net'
import { oneOf, optionalTimeout, timerDuration, wholeNumber } from './flag-values.ts'
import { runSnapshot } from './snapshot.ts'
import { controlPlaneFlags, controlPlaneOptions, leaderElectionUsage, nodeEvictionUsage } from './control-plane.ts'

export const serverUsage = `Usage: weft server [flags]
       weft server snapshot save|restore FILE [flags]   (see weft server snapshot --help)

Runs the API server (Kubernetes REST API) over the embedded SQLite store, or etcd.

Flags:
  --data-dir DIR              where the SQLite store and the kubeconfig live
                              (default: $XDG_STATE_HOME/weft, else ~/.local/state/weft)
  --listen ADDR:PORT          address to serve HTTPS on (default 127.0.0.1:6443)
  --advertise-address IP[:PORT]  where pods reach the API server: the endpoint of the \`kubernetes\`
                              Service (default: the --listen address, unless it is unspecified)
  --socket PATH               also serve HTTPS on this unix socket, mode 0600 (default DIR/apiserver.sock)
  --tls-cert-file FILE        serving certificate (PEM) instead of the one weft issues from its CA
  --tls-private-key-file FILE its key
  --client-ca-file FILE       also accept client certificates signed by these CAs
  --encryption-provider-config FILE   encrypt resources at rest as kube-apiserver's EncryptionConfiguration says
  --secrets-encryption        encrypt Secrets at rest with a key weft keeps in DIR/encryption-config.yaml
                              (k3s's shortcut); Secrets written before are re-encrypted at start
  --etcd-endpoints URLS       comma-separated etcd client URLs; selects etcd instead of SQLite
  --etcd-prefix PREFIX        key prefix in etcd (default /weft)
  --etcd-cafile FILE          the CA of etcd's serving certificate (https:// endpoints)
  --etcd-certfile FILE        a client certificate for etcd (with --etcd-keyfile, mode 0600)
  --etcd-keyfile FILE         its key
  --etcd-request-timeout D    deadline of every call to etcd (default 10s); /readyz gives etcd 2s
  --sqlite-synchronous MODE   full (default): a write is fsync'd before it is acknowledged, so it
                              survives power loss; normal: it survives the process's death but a
                              power loss can take the last writes, for disks with slow fsync
  --service-cidr CIDRS        service IP range(s), one per family (default 10.96.0.0/12)
  --service-node-port-range A-B   NodePort range (default 30000-32767)
  --max-requests-inflight N   read-only requests served at once; more get 429 and Retry-After
                              (default 400; 0: no limit; watches, logs, exec and cluster admins are not counted)
  --max-mutating-requests-inflight N   the same for writes (default 200)
  --request-timeout D         the deadline of a request that is not long-running: 504 after it (default 60s)
  --max-watches N             watches open at once (default 100000; 0: no limit)
  --max-watches-per-user N    watches one user may hold open (default 1000; 0: no limit)
  --event-ttl D               Events are deleted this long after they were last seen (default 1h; 0: never)
  --compaction-interval SECONDS   keep this much store history; compact every SECONDS (default 300, 0: never)
  --kubelet-socket-dir DIR    reach each node's kubelet (for kubectl logs) at DIR/<node>/kubelet.sock
                              instead of its InternalIP (lab clusters)
  --api-only                  serve the API only: no scheduler, no controllers
  --dns-replicas N            cluster DNS: the kube-system Deployment coredns (image weft/dns) with N pods
                              behind the Service kube-dns at the tenth service address (default 2; 0: none)
  --cluster-domain DOMAIN     the cluster's DNS domain (default cluster.local); also the mesh's trust domain
  --mesh-certificate-lifetime D  how long a mesh workload certificate (signer weft.dev/mesh) is valid
                              (default 24h, at least 10s; node proxies renew at half-life)
  --ingress MODE              the Ingress controller (image weft/ingress, namespace weft-ingress) and the
                              default IngressClass weft: host-network (a DaemonSet serving ports 80 and
                              443 on every node; the default), load-balancer (a Deployment behind the
                              LoadBalancer Service weft-ingress, whose address --load-balancer-pool
                              gives), or none
  --ingress-replicas N        pods of the load-balancer mode's Deployment (default 2)
  --cluster-cidr CIDRS        pod CIDRs handed to nodes, one /24 (IPv6: /64) each (default 10.244.0.0/16)
  --load-balancer-pool LIST   addresses for LoadBalancer Services: CIDRs or a-b ranges, comma-separated (default: none)
  --node-monitor-grace-period SECONDS   silence before a node is marked unknown (default 40)
${nodeEvictionUsage}
${leaderElectionUsage}
  -h, --help                  show this help
`

export { defaultDataDir }

/** `--etcd-cafile/--etcd-certfile/--etcd-keyfile`, read now (a key others can read is refused). */
function etcdTlsFiles(values: Record<string, string | boolean | undefined>): EtcdTls | undefined {
  const read = (flag: string, secret = false) => {
    const path = values[flag]
    if (typeof path !== 'string' || path === '') return undefined
    let text: string
    try {
      if (secret && (statSync(path).mode & 0o077) !== 0) throw new Error(`it can be read by others than its owner: chmod 600 it`)
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw new Error(`--${flag} ${path}: ${(err as Error).message}`)
    }
    return text
  }
  const tls = { caPem: read('etcd-cafile'), certPem: read('etcd-certfile'), keyPem: read('etcd-keyfile', true) }
  if (!tls.caPem && !tls.certPem && !tls.keyPem) return undefined
  if (Boolean(tls.certPem) !== Boolean(tls.keyPem)) throw new Error('--etcd-certfile and --etcd-keyfile go together')
  const endpoints = String(values['etcd-endpoints'] ?? '')
  if (!endpoints) throw new Error('--etcd-cafile, --etcd-certfile and --etcd-keyfile need --etcd-endpoints')
  return tls
}

/** The admin kubeconfig: the cluster CA and the admin client certificate (system:masters). */
export function adminKubeconfig(url: string, pki: ClusterPki): string {
  return kubeconfigText({ server: url, caPem: pki.ca.certPem, user: 'kubernetes-admin', certPem: pki.admin.certPem, keyPem: pki.admin.keyPem })
}

export function firstServiceIP(serviceCidrs: string[]): string {
  return cidrAddress(parseCidr(serviceCidrs[0]), 1n)
}

/** `--advertise-address IP[:PORT]`. */
export function parseAdvertise(text: string): { host: string; port?: number } {
  const m = /^\[?([0-9a-fA-F:.]+?)\]?(?::(\d+))?$/.exec(text)
  const host = m?.[1] ?? ''
  const port = m?.[2] === undefined ? undefined : Number(m[2])
  if (!m || isIP(host) === 0 || (port !== undefined && (port < 1 || port > 65535)) || (isIP(host) === 6 && m[2] !== undefined && !text.startsWith('['))) {
    throw new Error(`--advertise-address "${text}" must be an IP address, optionally with :PORT (IPv6 as [ADDR]:PORT)`)
  }
  return { host, port }
}

/**
 * The in-process scheduler and controllers each get a client certificate of their own
 * from the cluster CA (CN system:kube-scheduler, system:kube-controller-manager), issued
 * at every start and kept in memory only.
 */
async function controlPlaneIdentities(url: string, pki: ClusterPki, mesh: { trustDomain: string; certificateSeconds: number }) {
  const issue = (cn: string) => issueCertificate(pki.ca, { commonName: cn, usages: ['client'], validityDays: 30 })
  const [cm, sched] = await Promise.all([issue('system:kube-controller-manager'), issue('system:kube-scheduler')])
  const creds = (c: { certPem: string; keyPem?: string }) => ({ caPem: pki.ca.certPem, certPem: c.certPem, keyPem: c.keyPem })
  return { server: { server: url, credentials: creds(cm) }, schedulerServer: { server: url, credentials: creds(sched) }, rootCaPem: pki.ca.certPem, signingCa: pki.ca, meshCa: pki.meshCa, meshTrustDomain: mesh.trustDomain, meshCertificateSeconds: mesh.certificateSeconds }
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
  if (argv[0] === 'snapshot') return runSnapshot(argv.slice(1))
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:6443' },
      'advertise-address': { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'client-ca-file': { type: 'string' },
      'encryption-provider-config': { type: 'string' },
      'secrets-encryption': { type: 'boolean', default: false },
      socket: { type: 'string' },
      'kubelet-socket-dir': { type: 'string' },
      'etcd-endpoints': { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'etcd-cafile': { type: 'string' },
      'etcd-certfile': { type: 'string' },
      'etcd-keyfile': { type: 'string' },
      'etcd-request-timeout': { type: 'string', default: '10s' },
      'sqlite-synchronous': { type: 'string', default: 'full' },
      'service-cidr': { type: 'string', default: '10.96.0.0/12' },
      'service-node-port-range': { type: 'string', default: '30000-32767' },
      'compaction-interval': { type: 'string', default: '300' },
      'max-requests-inflight': { type: 'string', default: '400' },
      'max-mutating-requests-inflight': { type: 'string', default: '200' },
      'request-timeout': { type: 'string', default: '60s' },
      'max-watches': { type: 'string', default: '100000' },
      'max-watches-per-user': { type: 'string', default: '1000' },
      'event-ttl': { type: 'string', default: '1h' },
      'api-only': { type: 'boolean', default: false },
      'dns-replicas': { type: 'string', default: '2' },
      'cluster-domain': { type: 'string', default: 'cluster.local' },
      'mesh-certificate-lifetime': { type: 'string', default: '24h' },
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
  const range = /^(\d+)-(\d+)$/.exec(values['service-node-port-range']!)
  if (!range || Number(range[1]) > Number(range[2])) {
    throw new Error(`--service-node-port-range "${values['service-node-port-range']}" must look like 30000-32767`)
  }
  const limits = {
    maxRequestsInflight: wholeNumber('--max-requests-inflight', values['max-requests-inflight']!, { what: 'requests (0: no limit)' }),
    maxMutatingRequestsInflight: wholeNumber('--max-mutating-requests-inflight', values['max-mutating-requests-inflight']!, { what: 'requests (0: no limit)' }),
    requestTimeoutMs: optionalTimeout('--request-timeout', values['request-timeout']!, 'the deadline'),
    maxWatches: wholeNumber('--max-watches', values['max-watches']!, { what: 'watches (0: no limit)' }),
    maxWatchesPerUser: wholeNumber('--max-watches-per-user', values['max-watches-per-user']!, { what: 'watches (0: no limit)' }),
  }
  const eventTtlMs = optionalTimeout('--event-ttl', values['event-ttl']!, 'event expiry')
  const meshCertificateSeconds = Math.round(timerDuration('--mesh-certificate-lifetime', values['mesh-certificate-lifetime']!) / 1000)
  if (meshCertificateSeconds < 10) throw new Error(`--mesh-certificate-lifetime "${values['mesh-certificate-lifetime']}" must be at least 10s`)
  const compaction = Number(values['compaction-interval'])
  if (!Number.isFinite(compaction) || compaction < 0) {
    throw new Error(`--compaction-interval "${values['compaction-interval']}" must be a number of seconds (0 turns compaction off)`)
  }
  const planeFlags = controlPlaneFlags(values)
  const etcdTls = etcdTlsFiles(values)
  const etcdRequestTimeoutMs = timerDuration('--etcd-request-timeout', values['etcd-request-timeout']!)
  const synchronous = oneOf('--sqlite-synchronous', values['sqlite-synchronous']!, ['full', 'normal'] as const)
  const dnsReplicas = Number(values['dns-replicas'])
  if (!Number.isInteger(dnsReplicas) || dnsReplicas < 0) throw new Error(`--dns-replicas "${values['dns-replicas']}" must be a whole number (0: no cluster DNS)`)
  const ingress = ingressFlags(values.ingress!, values['ingress-replicas']!)
  // Every flag is checked before anything is made on disk.
  if (makePrivateDir(dataDir).openToOthers) log.warn({ dataDir }, 'the data dir can be read by other users; weft leaves the mode of a directory it did not create alone: chmod 700 it, or use a dir of its own')
  const serviceCidrs = values['service-cidr']!.split(',').map((s) => s.trim())
  const [listenHost] = splitHostPort(values.listen!)
  const advertise = values['advertise-address'] ? parseAdvertise(values['advertise-address']) : undefined
  const clusterDomain = values['cluster-domain']!
  const pki = await ensureClusterPki(dataDir, {
    listenHosts: [listenHost, ...(advertise ? [advertise.host] : [])],
    serviceIP: firstServiceIP(serviceCidrs),
    clusterDomain,
    userFiles: { tlsCertFile: values['tls-cert-file'], tlsPrivateKeyFile: values['tls-private-key-file'], clientCaFile: values['client-ca-file'] },
  })
  for (const change of pki.changes) log.info({ change }, 'cluster PKI')
  const encryption = openEncryption({ configPath: values['encryption-provider-config'], secretsEncryption: values['secrets-encryption'], dataDir })
  const opened = values['etcd-endpoints']
    ? await openStore({ etcdEndpoints: values['etcd-endpoints'].split(',').map((s) => s.trim()).filter(Boolean), etcdPrefix: values['etcd-prefix'], etcdTls, etcdRequestTimeoutMs })
    : await openStore({ dataDir, synchronous })
  const store = encryption ? encryption.wrap(opened) : opened
  const server = new ApiServer({
    store,
    security: securityFromPki(pki, clusterDomain),
    advertise,
    listen: values.listen!,
    socketPath: values.socket ?? join(dataDir, 'apiserver.sock'),
    serviceCidrs,
    nodePortRange: { first: Number(range[1]), last: Number(range[2]) },
    compactionIntervalMs: compaction * 1000,
    limits,
    eventTtlMs,
    kubeletSocketDir: values['kubelet-socket-dir'],
    dnsReplicas,
    clusterDomain,
    ingress,
  })
  const { url } = await server.start()
  if (encryption) {
    const { rewritten, total } = await encryption.rewriteStale(store)
    log.info({ rewritten, total }, 'encryption at rest: values not written with the current key were rewritten')
  }
  const controlPlane = values['api-only'] ? undefined : new ControlPlane({ ...(await controlPlaneIdentities(url, pki, { trustDomain: clusterDomain, certificateSeconds: meshCertificateSeconds })), ...planeFlags })
  await controlPlane?.start()
  const kubeconfig = join(dataDir, 'kubeconfig')
  await writeFile(kubeconfig, adminKubeconfig(url, pki), { mode: 0o600 })
  restrictFiles(kubeconfig)
  log.info({ kubeconfig }, 'kubeconfig written')
  process.stderr.write(
    `weft API server at ${url}\n` +
      `Point kubectl at it:  export KUBECONFIG=${kubeconfig}\n` +
      `  (HTTPS with the cluster CA ${join(pki.dir, 'ca.crt')}; kubectl authenticates with the admin client certificate, CN=kubernetes-admin O=system:masters)\n` +
      `Join a node:  weft token create --data-dir ${dataDir}\n`,
  )
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
