// `weft agent`: the node agent (kubelet, service proxy and NetworkPolicy enforcement).
import { hostname } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isQuantity, parseQuantityValue } from '../api/quantity.ts'
import { Agent } from '../kubelet/agent.ts'
import { warmImagesCompileCache } from '../images/warm-compile-cache.ts'
import { nodeCredentials } from '../kubelet/join.ts'
import { parseAllowedHostPaths } from '../kubelet/host-path-policy.ts'
import { parseReserved } from '../kubelet/cgroups/allocatable.ts'
import { DEFAULT_EVICTION_HARD, parseEvictionHard } from '../kubelet/eviction-thresholds.ts'
import { loadKubeconfig } from '../client/kubeconfig.ts'
import { logger } from '../util/log.ts'
import { boolFlag, ipList, oneOf, optionalTimeout, timerDuration, wholeNumber } from './flag-values.ts'
import { proxyConfigFrom, proxyFlagsUsage, proxyOptions } from './proxy.ts'
import { defaultNetpolConfig, type NetpolConfig } from '../../netpol/run.ts'
import { defaultMeshConfig, type MeshConfig } from '../../mesh/run.ts'

const repoBin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin')

export const agentUsage = `Usage: weft agent [flags]

Runs the node agent: registers this host as a Node, heartbeats through its Lease, runs the
pods bound to it (each in its own network and UTS namespace, wired by the CNI plugins of
the node's network config), serves the kubelet API (container logs), and runs the service
proxy (as \`weft proxy\` does; its flags below), and enforces NetworkPolicy for its pods.

Flags:
  --server URL                the API server (default https://127.0.0.1:6443)
  --socket PATH               reach the API server through this unix socket instead (same HTTPS)
  --token TOKEN               join: a bootstrap token (\`weft token create\` on the server prints it
                              with the whole join command); used once, to have the node's client
                              certificate signed, which is then kept in DIR/pki and renewed
  --ca-cert-hash sha256:HEX   join: the cluster CA's public-key hash; the server's CA is trusted
                              only if it matches
  --kubeconfig FILE           the node's credentials from a kubeconfig instead of joining
  --node-name NAME            the Node's name (default: the hostname)
  --node-ip IPS               the node's InternalIP(s), comma-separated (default: the address
                              of the interface with the default route)
  --data-dir DIR              pod sandboxes, logs, IPAM and CNI cache (default /var/lib/weft/agent)
  --netns-prefix PREFIX       pod network namespaces are PREFIX-<pod uid> (default weft-pod)
  --cni-bin-dir DIRS          where CNI plugins are looked up, colon-separated
                              (default ${repoBin}:/opt/cni/bin:/usr/lib/cni); the reference portmap
                              and bandwidth are chained when found there, left out with a warning if not
  --cni-conf-dir DIR          where the agent writes and reads the network config (default DIR/net.d)
  --host-gw                   route other nodes' pod CIDRs via their InternalIPs (nodes on one L2 network)
  --cni-anti-spoof=false      let pods send from any MAC and address (default: the bridge drops what a
                              pod sends from another MAC or address than its own, as NetworkPolicy,
                              which judges traffic by source address, needs; weft-cni's "antiSpoof")
  --ip-masq=false             do not masquerade pod traffic leaving the pod network (default: masquerade,
                              in the nft tables ip/ip6 weft-agent; traffic between pods is never masqueraded,
                              except same-node Service traffic where br_netfilter is off or cannot be loaded)
  --kubelet-listen ADDR:PORT  where the kubelet API listens over TCP (default: the node's first
                              InternalIP, port 10250; '' for none); it is also served on
                              DIR/kubelet.sock (mode 0600). HTTPS only, with a serving certificate
                              the node requests (kubelet-serving signer): neither listener opens
                              before it is signed. Callers need a cluster-CA client certificate or
                              a bearer token, and nodes/proxy, nodes/log, ... on this node
  --cluster-dns IPS           nameservers for ClusterFirst pods (default 10.96.0.10)
  --cluster-domain DOMAIN     the cluster's DNS domain (default cluster.local)
  --resolv-conf PATH          the host resolv.conf that Default pods get (default /etc/resolv.conf)
  --allow-host-path PREFIXES  host directories pods may mount as hostPath volumes, comma-separated
                              (default: none; a pod naming another path gets CreateContainerConfigError)
  --volume-refresh-period D   how often running pods' configMap, secret, downwardAPI and projected
                              volumes are read again from the API and updated (default 30s)
  --container-log-max-size Q  rotate a container's log when it reaches this size (default 10Mi)
  --container-log-max-files N log files kept per container, the live one included (default 5, at least 2)
  --cgroup-driver D           cgroupfs, systemd (naming only: weft writes the cgroup tree itself) or none
                              (default: systemd when systemd is init, else cgroupfs). Each pod and container
                              gets a cgroup with its limits under weft/ (cgroupfs) or weft.slice (systemd);
                              where cgroups cannot be used the agent says so once and runs pods without them
  --cgroup-root PATH          the cgroup weft's tree goes under, in every hierarchy (default /)
  --pod-max-pids N            pids.max of each pod's cgroup (default -1: unlimited)
  --system-reserved LIST      resources kept from pods, e.g. cpu=500m,memory=1Gi,pid=1000: the Node's
                              allocatable is capacity − this − the memory.available hard eviction threshold
  --eviction-hard LIST        hard eviction thresholds (default ${DEFAULT_EVICTION_HARD});
                              weft acts on memory.available: below it, one pod per 10 s is evicted
                              (ranked as the kubelet does) and the Node reports MemoryPressure; '' for none
  --proxy=false               do not run the service proxy
  --network-policy=false      do not enforce NetworkPolicy, and remove the rules an earlier run left
                              (default: enforce it, in weft's own nft tables; where nft cannot be
                              used the agent logs an error, runs on without enforcement, and
                              /healthz/netpol answers 503)
  --network-policy-deny A     what a denied packet gets: drop, or reject (TCP reset, ICMP
                              unreachable) (default drop)
  --network-policy-log-rate N log denied packets, at most N a second (default 0: none)
  --network-policy-resync-period D
                              a full resync of the NetworkPolicy rules at least every D (default 5m)
  --network-policy-min-sync-period D
                              at most one incremental NetworkPolicy sync per D (default 0: a change
                              is synced at once; changes that come during a sync wait for its end and
                              go together in the next)
  --mesh=false                do not run the mesh's node proxy (default: it runs; it holds a workload
                              certificate for each service account its meshed pods run as, kept in
                              DATA_DIR/mesh/identities; \`weft mesh certs\` lists them)
  --mesh-outbound-port N      where meshed pods' outbound TCP is redirected to (default 15001)
  --mesh-inbound-port N       where node proxies take each other's mTLS tunnels; the same on every
                              node (default 15008)
  --mesh-drain-period D       how long a stopping node proxy lets carried connections go on (default 30s)
${proxyFlagsUsage}
  -h, --help                  show this help
`

export async function runAgent(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string', default: 'https://127.0.0.1:6443' },
      socket: { type: 'string' },
      token: { type: 'string' },
      'ca-cert-hash': { type: 'string' },
      kubeconfig: { type: 'string' },
      'node-name': { type: 'string' },
      'node-ip': { type: 'string' },
      'data-dir': { type: 'string', default: '/var/lib/weft/agent' },
      'netns-prefix': { type: 'string', default: 'weft-pod' },
      'cni-bin-dir': { type: 'string', default: `${repoBin}:/opt/cni/bin:/usr/lib/cni` },
      'cni-conf-dir': { type: 'string' },
      'host-gw': { type: 'boolean', default: false },
      'ip-masq': { type: 'string', default: 'true' },
      'cni-anti-spoof': { type: 'string', default: 'true' },
      'kubelet-listen': { type: 'string' },
      'cluster-dns': { type: 'string', default: '10.96.0.10' },
      'cluster-domain': { type: 'string', default: 'cluster.local' },
      'resolv-conf': { type: 'string', default: '/etc/resolv.conf' },
      'volume-refresh-period': { type: 'string', default: '30s' },
      'allow-host-path': { type: 'string', default: '' },
      'container-log-max-size': { type: 'string', default: '10Mi' },
      'container-log-max-files': { type: 'string', default: '5' },
      'cgroup-driver': { type: 'string' },
      'cgroup-root': { type: 'string', default: '/' },
      'pod-max-pids': { type: 'string', default: '-1' },
      'system-reserved': { type: 'string', default: '' },
      'eviction-hard': { type: 'string', default: DEFAULT_EVICTION_HARD },
      proxy: { type: 'string', default: 'true' },
      'network-policy': { type: 'string', default: 'true' },
      'network-policy-deny': { type: 'string', default: defaultNetpolConfig.deny },
      'network-policy-log-rate': { type: 'string', default: '0' },
      'network-policy-resync-period': { type: 'string', default: '5m' },
      'network-policy-min-sync-period': { type: 'string', default: '0s' },
      mesh: { type: 'string', default: 'true' },
      'mesh-outbound-port': { type: 'string', default: String(defaultMeshConfig.outboundPort) },
      'mesh-inbound-port': { type: 'string', default: String(defaultMeshConfig.inboundPort) },
      'mesh-drain-period': { type: 'string', default: '30s' },
      ...proxyOptions,
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(agentUsage)
    return
  }
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  const dataDir = resolve(values['data-dir']!)
  const listen = values['kubelet-listen']
  const port = listen ? Number(listen.slice(listen.lastIndexOf(':') + 1)) : 10250
  if (listen && !(port > 0 && port < 65536)) throw new Error(`--kubelet-listen "${listen}" must be ADDR:PORT`)
  const logMaxSize = isQuantity(values['container-log-max-size']) ? parseQuantityValue(values['container-log-max-size']!) : NaN
  if (!(logMaxSize >= 1)) throw new Error(`--container-log-max-size "${values['container-log-max-size']}" must be a size like 10Mi or 500Ki`)
  const logMaxFiles = wholeNumber('--container-log-max-files', values['container-log-max-files']!, { min: 2 })
  const prefix = values['netns-prefix']!
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(prefix)) throw new Error(`--netns-prefix "${prefix}" may hold only letters, digits, '_', '.' and '-'`)
  const nodeName = values['node-name'] ?? hostname()
  const log = logger('agent')
  const options = {
    nodeName,
    nodeIPs: values['node-ip'] ? ipList('--node-ip', values['node-ip']) : undefined,
    dataDir,
    netnsPrefix: prefix,
    cniBinDirs: values['cni-bin-dir']!.split(':').filter(Boolean),
    cniConfDir: values['cni-conf-dir'] ?? join(dataDir, 'net.d'),
    hostGw: values['host-gw']!,
    ipMasq: boolFlag('--ip-masq', values['ip-masq'], true),
    cniAntiSpoof: boolFlag('--cni-anti-spoof', values['cni-anti-spoof'], true),
    kubeletListen: listen,
    kubeletPort: port,
    clusterDNS: list(values['cluster-dns']),
    clusterDomain: values['cluster-domain']!,
    resolvConf: values['resolv-conf']!,
    logRotation: { maxSize: Math.floor(logMaxSize), maxFiles: logMaxFiles },
    volumeRefreshMs: timerDuration('--volume-refresh-period', values['volume-refresh-period']!),
    allowedHostPaths: parseAllowedHostPaths(values['allow-host-path']!),
    cgroups: {
      ...(values['cgroup-driver'] !== undefined ? { driver: oneOf('--cgroup-driver', values['cgroup-driver'], ['cgroupfs', 'systemd', 'none'] as const) } : {}),
      cgroupRoot: values['cgroup-root']!,
      podPidsLimit: values['pod-max-pids'] === '-1' ? -1 : wholeNumber('--pod-max-pids', values['pod-max-pids']!, { min: 1, what: 'pids (or -1 for unlimited)' }),
    },
    systemReserved: parseReserved('--system-reserved', values['system-reserved']!),
    evictionHard: parseEvictionHard('--eviction-hard', values['eviction-hard']!),
    proxy: boolFlag('--proxy', values.proxy, true) ? proxyConfigFrom(values) : undefined,
    networkPolicy: networkPolicyConfigFrom(values),
    mesh: meshConfigFrom(values),
    log,
  }
  // Credentials last: every flag is checked before the agent joins the cluster.
  const abort = new AbortController()
  const credentials = await nodeCredentials({
    endpoint: values.socket ? { socketPath: resolve(values.socket) } : { server: values.server! },
    nodeName,
    dataDir,
    kubeconfig: values.kubeconfig ? loadKubeconfig(values.kubeconfig) : undefined,
    token: values.token,
    caCertHash: values['ca-cert-hash'],
    log: (msg) => log.info(msg),
    signal: abort.signal,
  })
  const agent = new Agent({ ...options, server: credentials.address, certificateRenewal: credentials.renewal })
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    abort.abort()
    void agent.stop().then(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  void warmImagesCompileCache(log)
  await agent.start(abort.signal)
}

/** The --mesh* flags. */
export function meshConfigFrom(values: Record<string, string | boolean | undefined>): MeshConfig | undefined {
  if (!boolFlag('--mesh', values.mesh, true)) return undefined
  const port = (flag: string) => wholeNumber(`--${flag}`, String(values[flag]), { min: 1, max: 65535, what: 'a port' })
  const outboundPort = port('mesh-outbound-port')
  const inboundPort = port('mesh-inbound-port')
  if (outboundPort === inboundPort) throw new Error('--mesh-outbound-port and --mesh-inbound-port must differ')
  return { outboundPort, inboundPort, drainMs: timerDuration('--mesh-drain-period', String(values['mesh-drain-period'])), dataPath: true }
}

/** The --network-policy* flags. */
export function networkPolicyConfigFrom(values: Record<string, string | boolean | undefined>): NetpolConfig {
  const s = (k: string, fallback: string) => String(values[k] ?? fallback)
  return {
    enabled: boolFlag('--network-policy', values['network-policy'], true),
    deny: oneOf('--network-policy-deny', s('network-policy-deny', defaultNetpolConfig.deny), ['drop', 'reject'] as const),
    logRate: wholeNumber('--network-policy-log-rate', s('network-policy-log-rate', '0'), { min: 0, what: 'packets a second' }),
    resyncMs: timerDuration('--network-policy-resync-period', s('network-policy-resync-period', '5m')),
    minSyncMs: optionalTimeout('--network-policy-min-sync-period', s('network-policy-min-sync-period', '0s'), 'the wait between syncs'),
  }
}
