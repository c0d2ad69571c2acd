// `kubectl get pods`: READY, the computed STATUS reason and RESTARTS as printPod renders them.
import type { V1Container, V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node'
import { ageColumn, col, nameColumn, since, timeOf } from './format.ts'
import type { Printer, PrintedRow, TableRowCondition } from './format.ts'

const succeeded: TableRowCondition[] = [
  { type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' },
]
const failed: TableRowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }]

function isRestartableInit(c: V1Container | undefined): boolean {
  return c?.restartPolicy === 'Always'
}

function conditionTrue(conditions: V1PodCondition[] | undefined, type: string): boolean {
  const c = (conditions ?? []).find((x) => x.type === type)
  return c?.status === 'True'
}

function hasReadyCondition(conditions: V1PodCondition[] | undefined): boolean {
  return (conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

/** The latest of `last` and the container's last termination time. */
function laterRestart(last: number | undefined, status: V1ContainerStatus): number | undefined {
  const t = timeOf(status.lastState?.terminated?.finishedAt)
  if (t === undefined) return last
  return last === undefined || last < t ? t : last
}

interface PodSummary {
  ready: string
  reason: string
  restarts: string
}

export function summarizePod(pod: V1Pod, now: number): PodSummary {
  const spec = pod.spec ?? { containers: [] }
  const status = pod.status ?? {}
  let restarts = 0
  let restartableInitRestarts = 0
  let totalContainers = (spec.containers ?? []).length
  let readyContainers = 0
  let lastRestart: number | undefined
  let lastRestartableInitRestart: number | undefined

  const phase = status.phase ?? ''
  let reason = status.reason || phase
  for (const c of status.conditions ?? []) {
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated'
  }

  const initContainers = new Map<string, V1Container>()
  for (const c of spec.initContainers ?? []) {
    initContainers.set(c.name, c)
    if (isRestartableInit(c)) totalContainers++
  }

  let initializing = false
  const initStatuses = status.initContainerStatuses ?? []
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]
    restarts += cs.restartCount ?? 0
    lastRestart = laterRestart(lastRestart, cs)
    const restartable = isRestartableInit(initContainers.get(cs.name))
    if (restartable) {
      restartableInitRestarts += cs.restartCount ?? 0
      lastRestartableInitRestart = laterRestart(lastRestartableInitRestart, cs)
    }
    const terminated = cs.state?.terminated
    const waiting = cs.state?.waiting
    if (terminated && (terminated.exitCode ?? 0) === 0) continue
    if (restartable && cs.started === true) {
      if (cs.ready) readyContainers++
      continue
    }
    if (terminated) {
      if (!terminated.reason) {
        reason = terminated.signal ? `Init:Signal:${terminated.signal}` : `Init:ExitCode:${terminated.exitCode ?? 0}`
      } else {
        reason = `Init:${terminated.reason}`
      }
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`
    } else {
      reason = `Init:${i}/${(spec.initContainers ?? []).length}`
    }
    initializing = true
    break
  }

  if (!initializing || conditionTrue(status.conditions, 'Initialized')) {
    restarts = restartableInitRestarts
    lastRestart = lastRestartableInitRestart
    let hasRunning = false
    const statuses = status.containerStatuses ?? []
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i]
      restarts += cs.restartCount ?? 0
      lastRestart = laterRestart(lastRestart, cs)
      const waiting = cs.state?.waiting
      const terminated = cs.state?.terminated
      if (waiting?.reason) {
        reason = waiting.reason
      } else if (terminated?.reason) {
        reason = terminated.reason
      } else if (terminated) {
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`
      } else if (cs.ready && cs.state?.running) {
        hasRunning = true
        readyContainers++
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = hasReadyCondition(status.conditions) ? 'Running' : 'NotReady'
    }
  }

  const deleting = pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null
  if (deleting && status.reason === 'NodeLost') reason = 'Unknown'
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating'

  let restartsText = String(restarts)
  if (restarts !== 0 && lastRestart !== undefined) restartsText = `${restarts} (${since(new Date(lastRestart), now)} ago)`

  return { ready: `${readyContainers}/${totalContainers}`, reason, restarts: restartsText }
}

function readinessGates(pod: V1Pod): string {
  const gates = pod.spec?.readinessGates ?? []
  if (gates.length === 0) return '<none>'
  let trueConditions = 0
  for (const gate of gates) {
    const c = (pod.status?.conditions ?? []).find((x) => x.type === gate.conditionType)
    if (c?.status === 'True') trueConditions++
  }
  return `${trueConditions}/${gates.length}`
}

export const podPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'integer', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ageColumn(),
    col('IP', 'string', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
    col('Node', 'string', 'NodeName indicates in which node this pod is scheduled.', 1),
    col('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.', 1),
    col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
  ],
  row(obj: unknown, now: number): PrintedRow {
    const pod = obj as V1Pod
    const summary = summarizePod(pod, now)
    const podIP = pod.status?.podIPs?.[0]?.ip || pod.status?.podIP || '<none>'
    const cells = [
      pod.metadata?.name ?? '',
      summary.ready,
      summary.reason,
      summary.restarts,
      since(pod.metadata?.creationTimestamp, now),
      podIP,
      pod.spec?.nodeName || '<none>',
      pod.status?.nominatedNodeName || '<none>',
      readinessGates(pod),
    ]
    const phase = pod.status?.phase
    if (phase === 'Succeeded') return { cells, conditions: succeeded }
    if (phase === 'Failed') return { cells, conditions: failed }
    return { cells }
  },
}
