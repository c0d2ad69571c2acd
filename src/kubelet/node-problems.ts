// What the agent leaves out of Nodes' network fields (node-networks.ts), reported as the
// proxy reports Services: a warning and a Warning Event `InvalidNodeNetwork` on the Node,
// each distinct problem once while it lasts (proxy/problem-reporter.ts, with its cap on
// queued Events), and a metric.
import { Counter } from 'prom-client'
import type { V1Node } from '@kubernetes/client-node'
import { ProblemReporter } from '../../proxy/problem-reporter.ts'
import type { RestClient } from '../client/index.ts'
import type { Logger } from '../util/log.ts'
import type { NodeProblem } from './node-networks.ts'

export interface NodeProblemReporterOptions {
  client: RestClient
  /** This agent's Node: named in the messages and the Events' source. */
  nodeName: string
  log: Logger
}

export class NodeProblemReporter {
  /** Not in any registry: the agent serves it beside the proxy's metrics. */
  readonly invalid = new Counter({
    name: 'weft_agent_invalid_node_networks_total',
    help: "Pod CIDRs and InternalIP addresses of Nodes the agent left out of routes, masquerade and the CNI config (not a CIDR or address, or overlapping another Node's), by field (each distinct problem of a Node counted once).",
    labelNames: ['field'] as const,
    registers: [],
  })
  readonly #nodeName: string
  readonly #reporter: ProblemReporter
  /** The Nodes with problems at the last report. */
  #nodes = new Set<string>()

  constructor(options: NodeProblemReporterOptions) {
    this.#nodeName = options.nodeName
    this.#reporter = new ProblemReporter({ ...options, kind: 'Node', component: 'weft-agent' })
  }

  /** Reports `problems` (nodeNetworks' for `nodes`): the new ones are logged, posted and counted; those gone are forgotten. */
  report(nodes: readonly V1Node[], problems: readonly NodeProblem[]): void {
    const byNode = new Map<string, NodeProblem[]>()
    for (const p of problems) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p])
    for (const name of this.#nodes) if (!byNode.has(name)) this.#reporter.set(name, 'networks', undefined, [])
    const involved = byNode.size ? new Map(nodes.map((n) => [n.metadata?.name, n])) : undefined
    for (const [name, list] of byNode) {
      const fields = new Map<string, NodeProblem['field']>()
      const reported = list.map((p) => {
        const message = `${p.message}; fix the Node object (seen by the agent of ${this.#nodeName})`
        fields.set(message, p.field)
        return { reason: 'InvalidNodeNetwork', message }
      })
      for (const fresh of this.#reporter.set(name, 'networks', involved?.get(name), reported)) this.invalid.inc({ field: fields.get(fresh.message)! })
    }
    this.#nodes = new Set(byNode.keys())
  }

  /** Resolves once the Events queued so far are posted (or failed). */
  flush(): Promise<void> {
    return this.#reporter.flush()
  }
}
