// `weft load -f scenario.yaml`: what the command uses of the scenario parts.
export { parseScenario, readScenarioFile, ScenarioError, describeAction } from './parse.ts'
export { preflight, PreflightError } from './preflight.ts'
export { runScenarioActions, cleanupScenario, DEFAULT_ACTION_TIMEOUT_MS } from './run.ts'
export type { ScenarioRunOptions, CleanupOptions } from './run.ts'
export { newLedger } from './context.ts'
export type { LabHandle, ScenarioLedger } from './context.ts'
export type { Scenario, ScenarioAction, ActionSpec, ActionKind } from './model.ts'
