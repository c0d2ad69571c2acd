// Before the load starts: do the Deployments, nodes, namespaces and the lab a scenario names
// exist, and do the pods setReady would flip declare a readiness gate? A typo fails here, with
// every problem at once, not minutes into a run.
import type { V1Pod } from '@kubernetes/client-node'
import type { RestClient } from '../../src/client/index.ts'
import { isNotFound } from '../../src/util/errors.ts'
import { kinds, namespaceOf, type LabHandle } from './context.ts'
import { labNode, weftUpAgents } from './lab-agent.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'
import type { Scenario } from './model.ts'
import { gateOf } from './readiness.ts'
import { isActivePod } from './workloads.ts'

export interface PreflightOptions {
  client: RestClient
  namespace: string
  lab?: LabHandle
  signal?: AbortSignal
}

export class PreflightError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`the scenario cannot run:\n${problems.map((p) => `  ${p}`).join('\n')}`)
    this.name = 'PreflightError'
    this.problems = problems
  }
}

/** Throws a PreflightError listing every problem found. */
export async function preflight(scenario: Scenario, opts: PreflightOptions): Promise<void> {
  const problems: string[] = []
  const seen = new Map<string, Promise<string | undefined>>()
  /** `undefined` when the object exists, else what is wrong; each object is asked about once. */
  const missing = (info: ResourceInfo, name: string, namespace: string | undefined, what: string) => {
    const key = `${info.plural}/${namespace ?? ''}/${name}`
    if (!seen.has(key)) {
      seen.set(
        key,
        opts.client.get(info, name, namespace, { signal: opts.signal }).then(
          () => undefined,
          (err: unknown) => (isNotFound(err) ? `there is no ${what}` : `cannot look up ${what}: ${(err as Error).message}`),
        ),
      )
    }
    return seen.get(key)!
  }
  const checks = scenario.actions.map(async (action): Promise<string | undefined> => {
    const ns = 'namespace' in action ? namespaceOf(opts, action.namespace) : opts.namespace
    switch (action.kind) {
      case 'rollout':
      case 'scale': {
        const d = action.deployment
        const namespace = namespaceOf(opts, d.namespace)
        return missing(kinds.deployment, d.name, namespace, `Deployment ${d.name} in namespace ${namespace}`)
      }
      case 'cordon':
      case 'uncordon':
      case 'drain':
        return missing(kinds.node, action.node, undefined, `node ${action.node}`)
      case 'restartAgent':
      case 'restartProxy': {
        if (!opts.lab) return `${action.kind} works only in a lab made by weft up (the agent's process is restarted): this run has no lab`
        const agents = opts.lab.agents ?? weftUpAgents(opts.lab)
        try {
          await labNode(agents, opts.lab, action.node)
        } catch (err) {
          return (err as Error).message
        }
        const cannot = agents.cannotControl()
        if (cannot) return cannot
        return missing(kinds.node, action.node, undefined, `node ${action.node} in the API`)
      }
      case 'addServices':
      case 'removeServices':
      case 'deletePods':
        return missing(kinds.namespace, ns, undefined, `namespace ${ns}`)
      case 'setReady': {
        const absent = await missing(kinds.namespace, ns, undefined, `namespace ${ns}`)
        if (absent) return absent
        const { items } = await opts.client.list<V1Pod>(kinds.pod, { namespace: ns, labelSelector: action.selector, signal: opts.signal })
        for (const pod of items.filter(isActivePod)) {
          const gate = gateOf(pod, action.conditionType)
          if ('problem' in gate) return gate.problem
        }
        return undefined
      }
    }
  })
  const answers = await Promise.all(checks.map((c) => c.catch((err: unknown) => `cannot check: ${(err as Error).message}`)))
  answers.forEach((problem, i) => {
    const action = scenario.actions[i]
    if (problem) problems.push(`${action.source}: ${action.name}: ${problem}`)
  })
  if (problems.length > 0) throw new PreflightError(problems)
}
