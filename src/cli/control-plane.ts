// `weft scheduler` and `weft controller-manager`: the control loops on their own,
// against any API server (weft's or Kubernetes').
import { componentAddress, connectionUsage } from './serve.ts'
import { parseArgs } from 'node:util'
import { ControlPlane } from '../controllers/control-plane.ts'
import { logger } from '../util/log.ts'
import { boolFlag, timerDuration } from './flag-values.ts'
import { checkTimings, defaultLeaderElectionTimings } from '../client/leader-election.ts'

const connectionFlags = connectionUsage

/** The node lifecycle's eviction flags' help (upstream's names and defaults). */
export const nodeEvictionUsage = `  --node-eviction-rate R      nodes per second whose pods may be evicted in a healthy zone (default 0.1)
  --secondary-node-eviction-rate R   the same in a large zone that is partly down (default 0.01)
  --unhealthy-zone-threshold F       share of not-Ready nodes that makes a zone partly down (default 0.55);
                              when every zone is down, nothing is evicted
  --large-cluster-size-threshold N   a partly down zone this small gets no evictions (default 50)`

/** The leader-election flags' help, shared by every command that runs control loops. */
export const leaderElectionUsage = `  --leader-elect BOOL          run the control loops only while holding their Lease in kube-system
                              (kube-scheduler, kube-controller-manager), so several servers can
                              stand by (default true)
  --leader-elect-lease-duration D   how long standbys wait on an unrenewed Lease before taking over (default 15s)
  --leader-elect-renew-deadline D   how long the leader tries to renew before it stops leading (default 10s)
  --leader-elect-retry-period D     time between tries (default 2s)`

export const schedulerUsage = `Usage: weft scheduler [flags]

Runs the scheduler: binds pending pods whose schedulerName is default-scheduler or weft-scheduler.

Flags:
${connectionFlags}
${leaderElectionUsage}
  -h, --help                  show this help
`

export const controllerManagerUsage = `Usage: weft controller-manager [flags]

Runs the controllers: EndpointSlice/Endpoints, ReplicaSet, Deployment, DaemonSet, Job, CronJob,
TTL-after-finished, node lifecycle, pod GC, node IPAM, service load balancers, namespace deletion and
the garbage collector. CronJobs without spec.timeZone run in this process's time zone.

Flags:
${connectionFlags}
  --cluster-cidr CIDRS        pod CIDRs handed to nodes (default 10.244.0.0/16)
  --load-balancer-pool LIST   addresses for LoadBalancer Services: CIDRs or a-b ranges (default: none)
  --node-monitor-grace-period SECONDS   silence before a node is marked unknown (default 40)
${nodeEvictionUsage}
${leaderElectionUsage}
  -h, --help                  show this help
`

/** The controller flags `weft server` and `weft controller-manager` share (parseArgs options). */
export const controlPlaneOptions = {
  'cluster-cidr': { type: 'string', default: '10.244.0.0/16' },
  'load-balancer-pool': { type: 'string', default: '' },
  'node-monitor-grace-period': { type: 'string', default: '40' },
  'node-eviction-rate': { type: 'string', default: '0.1' },
  'secondary-node-eviction-rate': { type: 'string', default: '0.01' },
  'unhealthy-zone-threshold': { type: 'string', default: '0.55' },
  'large-cluster-size-threshold': { type: 'string', default: '50' },
  'leader-elect': { type: 'string', default: 'true' },
  'leader-elect-lease-duration': { type: 'string', default: '15s' },
  'leader-elect-renew-deadline': { type: 'string', default: '10s' },
  'leader-elect-retry-period': { type: 'string', default: '2s' },
} as const

function nonNegative(flag: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN
  if (!(n >= 0 && n <= max)) throw new Error(`${flag} "${String(value)}" must be a number ${max === Number.MAX_SAFE_INTEGER ? 'of at least 0' : `from 0 to ${max}`}`)
  return n
}

/** `--leader-elect*`: false, or the timings (checked as upstream checks them). */
export function leaderElectionFlags(values: Record<string, string | boolean | undefined>) {
  if (!boolFlag('--leader-elect', values['leader-elect'], true)) return false as const
  const d = defaultLeaderElectionTimings
  const duration = (flag: string, fallback: number) => {
    const v = values[flag]
    return typeof v === 'string' ? timerDuration(`--${flag}`, v) : fallback
  }
  const timings = {
    leaseDurationMs: duration('leader-elect-lease-duration', d.leaseDurationMs),
    renewDeadlineMs: duration('leader-elect-renew-deadline', d.renewDeadlineMs),
    retryPeriodMs: duration('leader-elect-retry-period', d.retryPeriodMs),
  }
  checkTimings(timings)
  return timings
}

export function controlPlaneFlags(values: Record<string, string | boolean | undefined>) {
  const grace = Number(values['node-monitor-grace-period'] ?? 40)
  if (!Number.isFinite(grace) || grace <= 0) throw new Error(`--node-monitor-grace-period "${values['node-monitor-grace-period']}" must be a positive number of seconds`)
  const list = (v: unknown) => String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  return {
    clusterCidrs: list(values['cluster-cidr'] ?? '10.244.0.0/16'),
    loadBalancerPool: list(values['load-balancer-pool']),
    nodeMonitorGracePeriodSeconds: grace,
    nodeEvictionRate: nonNegative('--node-eviction-rate', values['node-eviction-rate'] ?? '0.1'),
    secondaryNodeEvictionRate: nonNegative('--secondary-node-eviction-rate', values['secondary-node-eviction-rate'] ?? '0.01'),
    unhealthyZoneThreshold: nonNegative('--unhealthy-zone-threshold', values['unhealthy-zone-threshold'] ?? '0.55', 1),
    largeClusterSizeThreshold: nonNegative('--large-cluster-size-threshold', values['large-cluster-size-threshold'] ?? '50'),
    leaderElection: leaderElectionFlags(values),
  }
}

async function run(argv: string[], which: 'scheduler' | 'controller-manager', usage: string): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      kubeconfig: { type: 'string' },
      socket: { type: 'string' },
      ...controlPlaneOptions,
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(usage)
    return
  }
  const server = componentAddress(values)
  const plane = new ControlPlane({
    server,
    scheduler: which === 'scheduler',
    controllers: which === 'controller-manager',
    ...controlPlaneFlags(values),
  })
  const log = logger(which)
  await plane.start()
  log.info({ server }, `${which} running`)
  const stop = async () => {
    await plane.stop()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
}

export const runScheduler = (argv: string[]) => run(argv, 'scheduler', schedulerUsage)
export const runControllerManager = (argv: string[]) => run(argv, 'controller-manager', controllerManagerUsage)
