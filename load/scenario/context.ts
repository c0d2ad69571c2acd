// What every scenario action works with: the API client, the run's namespace and id, the signal
// that ends its wait, and the ledger of what the run changed (for cleanup).
import { findByKind, type ResourceInfo } from '../../src/api/registry.ts'
import type { RestClient } from '../../src/client/index.ts'
import type { AgentControl } from './lab-agent.ts'

/** A lab made by `weft up`: its data dir holds lab.json (the nodes and their agents' pids). */
export interface LabHandle {
  dataDir: string
  /** How its agents are stopped and started; default: as weft up runs them. */
  agents?: AgentControl
}

/** What a run changed that cleanup undoes. */
export interface ScenarioLedger {
  /** Nodes the run cordoned (cordon or drain) that were schedulable before and are not uncordoned yet. */
  cordoned: Set<string>
  /** Pods the run set not ready, by `namespace/name`: their uid and the readiness gate's condition type. */
  unready: Map<string, { namespace: string; name: string; uid: string; conditionType: string }>
}

export function newLedger(): ScenarioLedger {
  return { cordoned: new Set(), unready: new Map() }
}

export interface ActionContext {
  client: RestClient
  /** For objects the scenario names without a namespace. */
  namespace: string
  /** Labels the Services the run adds (`weft.dev/load-run`), so removal and cleanup find exactly them. */
  runId: string
  /** Aborted when the action's time is up or the run is interrupted: every wait ends. */
  signal: AbortSignal
  lab?: LabHandle
  ledger: ScenarioLedger
  /** Between two looks at what the action waits for. */
  pollMs: number
  /** After an eviction a disruption budget refused (429). */
  evictionRetryMs: number
}

export const RUN_LABEL = 'weft.dev/load-run'
export const PREFIX_LABEL = 'weft.dev/load-prefix'
/** Who the run's writes are from, in managedFields. */
export const FIELD_MANAGER = 'weft-load'
/** The most API requests one action has in flight at once (creating Services, evicting pods). */
export const MAX_CONCURRENT_REQUESTS = 32

function info(apiVersion: string, kind: string): ResourceInfo {
  const found = findByKind(apiVersion, kind)
  if (!found) throw new Error(`${kind} is not a served kind`)
  return found
}

export const kinds = {
  deployment: info('apps/v1', 'Deployment'),
  pod: info('v1', 'Pod'),
  node: info('v1', 'Node'),
  service: info('v1', 'Service'),
  namespace: info('v1', 'Namespace'),
  lease: info('coordination.k8s.io/v1', 'Lease'),
}

export function namespaceOf(ctx: { namespace: string }, namespace: string | undefined): string {
  return namespace ?? ctx.namespace
}
