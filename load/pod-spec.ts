// The load pods of one `weft load --from-pods` run, as data: each generator's share of the
// plan, the nodes they go to, and the Pod objects themselves.
import { randomBytes } from 'node:crypto'
import { arrayAt, numberAt, objectAt, pathAt, stringAt } from './json-fields.ts'
import { jobEnvName, type LoadJob } from './job.ts'
import type { LoadPlan } from './types.ts'

export const loadImage = 'weft/load'
export const loadContainer = 'load'
export const appLabel = 'app.kubernetes.io/name'
export const appName = 'weft-load'
export const runLabel = 'weft.dev/load-run'
export const maxGenerators = 1000

export class PodsError extends Error {
  readonly code: 'InvalidOption' | 'NoNodes' | 'NotReady' | 'GeneratorFailed' | 'Aborted'
  constructor(code: PodsError['code'], message: string) {
    super(message)
    this.name = 'PodsError'
    this.code = code
  }
}

/** A run's id: 8 lower-case hex digits, so pod names stay short DNS labels. */
export function newRunId(): string {
  return randomBytes(4).toString('hex')
}

export function podName(runId: string, index: number): string {
  return `weft-load-${runId}-${index + 1}`
}

/** Generator `index`'s share of `total`, the remainder going to the first ones. */
function share(total: number, count: number, index: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0)
}

/**
 * Each of `count` generators' plan: rates (and ramps) divided by `count`, the request limit
 * and the connections split (the first generators take the remainder; at least one connection each).
 */
export function splitPlan(plan: LoadPlan, count: number): LoadPlan[] {
  if (!Number.isInteger(count) || count < 1 || count > maxGenerators) throw new PodsError('InvalidOption', `--from-pods must be 1 to ${maxGenerators}`)
  if (plan.requests !== undefined && plan.requests < count) throw new PodsError('InvalidOption', `${plan.requests} requests cannot be shared by ${count} load pods: give at least one request per pod`)
  const { requests, ...rest } = plan
  return Array.from({ length: count }, (_, i) => ({
    ...rest,
    phases: plan.phases.map((p) => ({ ...p, ...(p.rate !== undefined ? { rate: p.rate / count } : {}), ...(p.rateTo !== undefined ? { rateTo: p.rateTo / count } : {}) })),
    connections: Math.max(1, share(plan.connections, count, i)),
    ...(requests !== undefined ? { requests: share(requests, count, i) } : {}),
  }))
}

function nodeName(node: unknown): string {
  return stringAt(objectAt(node, 'metadata'), 'name') ?? ''
}

function isReady(node: unknown): boolean {
  return arrayAt(objectAt(node, 'status'), 'conditions').some((c) => stringAt(c, 'type') === 'Ready' && stringAt(c, 'status') === 'True')
}

function isSchedulable(node: unknown): boolean {
  const spec = objectAt(node, 'spec')
  if (spec?.unschedulable === true) return false
  return !arrayAt(spec, 'taints').some((t) => ['NoSchedule', 'NoExecute'].includes(stringAt(t, 'effect') ?? ''))
}

/**
 * The nodes load pods go to: the `requested` ones (each must exist and be Ready), else every
 * Ready, schedulable, untainted node; sorted by name.
 */
export function chooseNodes(nodes: unknown[], requested?: string[]): string[] {
  if (requested !== undefined && requested.length > 0) {
    const byName = new Map(nodes.map((n) => [nodeName(n), n]))
    const seen = new Set<string>()
    for (const name of requested) {
      if (seen.has(name)) throw new PodsError('InvalidOption', `--nodes names ${name} twice`)
      seen.add(name)
      const node = byName.get(name)
      if (!node) throw new PodsError('NoNodes', `--nodes: there is no node ${JSON.stringify(name.slice(0, 253))} (nodes: ${[...byName.keys()].sort().join(', ') || 'none'})`)
      if (!isReady(node)) throw new PodsError('NoNodes', `--nodes: node ${name} is not Ready`)
    }
    return [...requested]
  }
  const usable = nodes.filter((n) => isReady(n) && isSchedulable(n)).map(nodeName).filter(Boolean).sort()
  if (usable.length === 0) throw new PodsError('NoNodes', `no Ready, schedulable node to run load pods on (${nodes.length} node${nodes.length === 1 ? '' : 's'} in all); name nodes with --nodes`)
  return usable
}

/** Node of each of `count` generators, round-robin. */
export function spreadOverNodes(count: number, nodes: string[]): string[] {
  return Array.from({ length: count }, (_, i) => nodes[i % nodes.length]!)
}

export interface LoadPodOptions {
  runId: string
  index: number
  namespace: string
  node: string
  job: LoadJob
  image?: string
}

export function loadPodManifest(o: LoadPodOptions): Record<string, unknown> {
  const name = podName(o.runId, o.index)
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace, labels: { [appLabel]: appName, [runLabel]: o.runId } },
    spec: {
      nodeName: o.node,
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 5,
      // Placed by name: tolerate what would evict it mid-run.
      tolerations: [{ operator: 'Exists', effect: 'NoExecute' }],
      containers: [
        {
          name: loadContainer,
          image: o.image ?? loadImage,
          stdin: true,
          env: [{ name: jobEnvName, value: JSON.stringify(o.job) }],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '512Mi' } },
        },
      ],
    },
  }
}

/** Why a pod is where it is: `Pending (ContainerCreating: …)`, `Failed (exit code 1: Error)`. */
export function podState(pod: unknown): string {
  const phase = stringAt(objectAt(pod, 'status'), 'phase') ?? 'Pending'
  const status = arrayAt(objectAt(pod, 'status'), 'containerStatuses')[0]
  const waiting = pathAt(status, 'state', 'waiting')
  const terminated = pathAt(status, 'state', 'terminated')
  const detail = (reason: string | undefined, message: string | undefined): string => [reason, message?.slice(0, 300)].filter(Boolean).join(': ')
  let why = ''
  if (terminated) why = [`exit code ${numberAt(terminated, 'exitCode') ?? '?'}`, detail(stringAt(terminated, 'reason'), stringAt(terminated, 'message'))].filter(Boolean).join(': ')
  else if (waiting) why = detail(stringAt(waiting, 'reason'), stringAt(waiting, 'message'))
  else if (phase !== 'Running') why = detail(stringAt(objectAt(pod, 'status'), 'reason'), stringAt(objectAt(pod, 'status'), 'message'))
  return why ? `${phase} (${why})` : phase
}
