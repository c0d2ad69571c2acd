// A scenario file after parsing: the phases of the load and the actions run against the cluster
// while it goes. Plain data; parse.ts makes it, run.ts and actions.ts act on it.
import type { Phase } from '../types.ts'

export const actionKinds = [
  'rollout',
  'scale',
  'deletePods',
  'cordon',
  'uncordon',
  'drain',
  'restartAgent',
  'restartProxy',
  'addServices',
  'removeServices',
  'setReady',
] as const
export type ActionKind = (typeof actionKinds)[number]

/** A namespaced object; no namespace: the run's (`-n`). */
export interface ObjectRef {
  namespace?: string
  name: string
}

export type ActionSpec =
  | { kind: 'rollout'; deployment: ObjectRef }
  | { kind: 'scale'; deployment: ObjectRef; replicas: number }
  | { kind: 'deletePods'; namespace?: string; selector: string; count: number; gracePeriodSeconds?: number }
  | { kind: 'cordon' | 'uncordon' | 'restartAgent' | 'restartProxy'; node: string }
  | { kind: 'drain'; node: string; gracePeriodSeconds?: number; force: boolean }
  | { kind: 'addServices'; namespace?: string; prefix: string; count: number; port: number; targetPort?: number | string; selector?: Record<string, string> }
  | { kind: 'removeServices'; namespace?: string; prefix: string }
  | { kind: 'setReady'; namespace?: string; selector: string; count: number; ready: boolean; conditionType?: string }

export type ScenarioAction = ActionSpec & {
  /** For the timeline: given in the file, or made from the action (`scale deployment/web to 8`). */
  name: string
  /** From t0 (the end of warm-up). */
  atMs: number
  /** The longest wait for the action's completion; undefined: the runner's default. */
  timeoutMs?: number
  /** Where the file says it, for messages: `scenario.yaml:12:5`. */
  source: string
}

export interface Scenario {
  fileName: string
  /** The target the file names; the command line's wins. */
  target?: string
  /** In order; rates are totals over every generator, as --rate is. */
  phases: Phase[]
  /** The phases' durations added up. */
  durationMs: number
  /** By `atMs`; those at the same moment in file order. */
  actions: ScenarioAction[]
}

export const LIMITS = {
  fileBytes: 1 << 20,
  phases: 1000,
  actions: 1000,
  durationMs: 24 * 3_600_000,
  rate: 1_000_000,
  servicesPerAction: 10_000,
  servicesPerScenario: 50_000,
  podsPerAction: 10_000,
  replicas: 100_000,
  gracePeriodSeconds: 86_400,
  nameChars: 100,
  targetChars: 2048,
} as const
