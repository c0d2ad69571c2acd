// Scenario files (`weft load -f scenario.yaml`): YAML → a validated Scenario. Every error names
// the file, the line and column, and the field: `scenario.yaml:12:5: actions[2].scale.replicas:
// expected a non-negative integer up to 100000, not -1`. Unknown keys are errors: a typo must not pass.
import { open } from 'node:fs/promises'
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml'
import { parseLabelSelector } from '../../src/api/selectors.ts'
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidPortName } from '../../src/api/names.ts'
import type { Phase } from '../types.ts'
import { describe, formatMs, Reader, ScenarioError, type Fields } from './yaml-reader.ts'
import { actionKinds, LIMITS, type ActionKind, type ActionSpec, type ObjectRef, type Scenario, type ScenarioAction } from './model.ts'

export { ScenarioError }

/** Reads and parses a scenario file, refusing one over 1 MiB before reading it whole. */
export async function readScenarioFile(path: string): Promise<Scenario> {
  const file = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the scenario file ${path}: ${err.code === 'ENOENT' ? 'there is no such file' : err.message}`)
  })
  try {
    const { size } = await file.stat()
    if (size > LIMITS.fileBytes) throw new Error(`the scenario file ${path} is ${size} bytes: the limit is 1 MiB`)
    const buffer = Buffer.alloc(LIMITS.fileBytes + 1)
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0)
    if (bytesRead > LIMITS.fileBytes) throw new Error(`the scenario file ${path} is larger than 1 MiB`)
    return parseScenario(buffer.subarray(0, bytesRead).toString('utf8'), path)
  } finally {
    await file.close()
  }
}

const printable = /^[^\p{Cc}\p{Cf}]+$/u

export function parseScenario(text: string, fileName: string): Scenario {
  if (Buffer.byteLength(text) > LIMITS.fileBytes) throw new ScenarioError(fileName, 1, 1, '', 'the file is larger than 1 MiB')
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true, schema: 'core', version: '1.2' })
  const r = new Reader(fileName, lines)
  const problem = doc.errors[0]
  if (problem) {
    const { line, col } = lines.linePos(problem.pos[0])
    throw new ScenarioError(fileName, line, col, '', `not valid YAML: ${problem.message.replace(/ at line \d+, column \d+:?$/s, '')}`)
  }
  rejectAliases(r, doc.contents)
  const root = doc.contents
  if (root === null || (isScalar(root) && root.value === null)) r.fail(root, '', 'the file is empty: expected a map with phases (and actions)')
  const top = r.map(root, '', ['target', 'phases', 'actions'])

  let target: string | undefined
  const targetNode = top.get('target')?.value
  if (targetNode !== undefined) {
    target = r.string(targetNode, 'target', 'a target (a URL, svc/NAME[.NS][:PORT], ingress/NAME or pod/NAME)')
    if (target.length === 0 || target.length > LIMITS.targetChars || /\s/.test(target) || !printable.test(target)) {
      r.fail(targetNode, 'target', `expected a target of 1 to ${LIMITS.targetChars} characters without spaces`)
    }
  }

  const phases = parsePhases(r, r.required(top, root, '', 'phases'))
  const durationMs = phases.reduce((sum, p) => sum + p.durationMs, 0)
  if (durationMs > LIMITS.durationMs) r.fail(top.get('phases')!.value, 'phases', `the phases add up to ${formatMs(durationMs)}: the limit is 24h`)

  const actionsNode = top.get('actions')?.value ?? null
  const noActions = actionsNode === null || (isScalar(actionsNode) && actionsNode.value === null)
  const actions = noActions ? [] : parseActions(r, actionsNode, durationMs)
  return { fileName, ...(target !== undefined ? { target } : {}), phases, durationMs, actions }
}

function rejectAliases(r: Reader, node: unknown): void {
  if (isAlias(node)) r.fail(node as YamlNode, '', 'aliases (*name) are not allowed in scenario files: write the value out')
  if (isMap(node)) {
    for (const pair of node.items as Pair[]) {
      rejectAliases(r, pair.key)
      rejectAliases(r, pair.value)
    }
  } else if (isSeq(node)) {
    for (const item of node.items) rejectAliases(r, item)
  }
}

function parsePhases(r: Reader, node: YamlNode | null): Phase[] {
  if (!isSeq(node) || node.items.length === 0) r.fail(node, 'phases', `expected a list of at least one phase ({name, rate, duration}), not ${isSeq(node) ? 'an empty list' : describe(node)}`)
  if (node.items.length > LIMITS.phases) r.fail(node, 'phases', `${node.items.length} phases: the limit is ${LIMITS.phases}`)
  const phases: Phase[] = []
  const names = new Set<string>()
  node.items.forEach((item, i) => {
    const field = `phases[${i}]`
    const f = r.map(item as YamlNode, field, ['name', 'rate', 'rateTo', 'duration'])
    let name = `phase-${i + 1}`
    const nameNode = f.get('name')?.value
    if (nameNode !== undefined) {
      name = r.string(nameNode, `${field}.name`)
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) r.fail(nameNode, `${field}.name`, 'expected 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit')
    }
    if (names.has(name)) r.fail(nameNode ?? (item as YamlNode), `${field}.name`, `another phase is already named "${name}"`)
    names.add(name)
    const durationMs = r.duration(r.required(f, item as YamlNode, field, 'duration'), `${field}.duration`, { min: 0, max: LIMITS.durationMs, above: true })
    const phase: Phase = { name, durationMs }
    const rateNode = f.get('rate')?.value
    const rateToNode = f.get('rateTo')?.value
    if (rateNode !== undefined) phase.rate = r.number(rateNode, `${field}.rate`, 0, LIMITS.rate, { above: true })
    if (rateToNode !== undefined) {
      if (rateNode === undefined) r.fail(f.get('rateTo')!.key, `${field}.rateTo`, 'a ramp needs rate (where it starts) too')
      phase.rateTo = r.number(rateToNode, `${field}.rateTo`, 0, LIMITS.rate, { above: true })
    }
    if (phase.rate === undefined && node.items.length > 1) {
      r.fail(item as YamlNode, field, 'a phase without rate runs closed loop (--connections in flight), which only a scenario with a single phase may do: give every phase a rate')
    }
    phases.push(phase)
  })
  return phases
}

const commonKeys = ['at', 'name', 'timeout'] as const

function parseActions(r: Reader, node: YamlNode, durationMs: number): ScenarioAction[] {
  if (!isSeq(node)) r.fail(node, 'actions', `expected a list of actions ({at: 10s, rollout: deployment/web}), not ${describe(node)}`)
  if (node.items.length > LIMITS.actions) r.fail(node, 'actions', `${node.items.length} actions: the limit is ${LIMITS.actions}`)
  const parsed = node.items.map((item, i) => ({ action: parseAction(r, item as YamlNode, `actions[${i}]`, durationMs), node: item as YamlNode, index: i }))
  // Stable: actions at the same moment keep their order in the file.
  parsed.sort((a, b) => a.action.atMs - b.action.atMs || a.index - b.index)
  checkServiceSequence(r, parsed)
  return parsed.map((p) => p.action)
}

function parseAction(r: Reader, node: YamlNode, field: string, durationMs: number): ScenarioAction {
  const f = r.map(node, field, [...commonKeys, ...actionKinds])
  const kinds = actionKinds.filter((k) => f.has(k))
  if (kinds.length === 0) r.fail(node, field, `expected one action: ${actionKinds.join(', ')}`)
  if (kinds.length > 1) r.fail(f.get(kinds[1])!.key, field, `one action per list item, not ${kinds.join(' and ')}: make them two items`)
  const kind = kinds[0]
  const atNode = r.required(f, node, field, 'at')
  const atMs = r.duration(atNode, `${field}.at`, { min: 0, max: LIMITS.durationMs })
  if (atMs >= durationMs) r.fail(atNode, `${field}.at`, `${formatMs(atMs)} is not within the phases' ${formatMs(durationMs)}: an action must start before the load ends`)
  const spec = parseSpec(r, kind, f.get(kind)!.value, `${field}.${kind}`)
  const action: ScenarioAction = { ...spec, name: describeAction(spec), atMs, source: r.where(node) }
  const nameNode = f.get('name')?.value
  if (nameNode !== undefined) {
    action.name = r.string(nameNode, `${field}.name`)
    if (action.name.length === 0 || action.name.length > LIMITS.nameChars || !printable.test(action.name)) r.fail(nameNode, `${field}.name`, `expected 1 to ${LIMITS.nameChars} printable characters`)
  }
  const timeoutNode = f.get('timeout')?.value
  if (timeoutNode !== undefined) action.timeoutMs = r.duration(timeoutNode, `${field}.timeout`, { min: 0, max: LIMITS.durationMs, above: true })
  return action
}

function parseSpec(r: Reader, kind: ActionKind, node: YamlNode | null, field: string): ActionSpec {
  const nodeName = (n: YamlNode | null, at: string) => r.name(n, at, isDNS1123Subdomain, 'node name')
  switch (kind) {
    case 'rollout': {
      if (isScalar(node)) {
        const text = r.string(node, field, 'deployment/NAME')
        const m = /^(?:deployment|deployments|deploy)\/(.*)$/.exec(text)
        if (!m) r.fail(node, field, `expected deployment/NAME (or {deployment: NAME, namespace: NS}), not "${text}"`)
        return { kind, deployment: objectRef(r, node, field, m[1], undefined) }
      }
      const f = r.map(node, field, ['deployment', 'namespace'])
      return { kind, deployment: deploymentRef(r, f, node, field) }
    }
    case 'scale': {
      const f = r.map(node, field, ['deployment', 'replicas', 'namespace'])
      const replicas = r.integer(r.required(f, node, field, 'replicas'), `${field}.replicas`, 0, LIMITS.replicas)
      return { kind, deployment: deploymentRef(r, f, node, field), replicas }
    }
    case 'deletePods': {
      const f = r.map(node, field, ['selector', 'count', 'gracePeriodSeconds', 'namespace'])
      const spec: ActionSpec = { kind, selector: r.selector(r.required(f, node, field, 'selector'), `${field}.selector`), count: 1, ...namespaceOf(r, f, field) }
      if (f.has('count')) spec.count = r.integer(f.get('count')!.value, `${field}.count`, 1, LIMITS.podsPerAction)
      if (f.has('gracePeriodSeconds')) spec.gracePeriodSeconds = r.integer(f.get('gracePeriodSeconds')!.value, `${field}.gracePeriodSeconds`, 0, LIMITS.gracePeriodSeconds)
      return spec
    }
    case 'cordon':
    case 'uncordon':
    case 'restartAgent':
    case 'restartProxy':
      return { kind, node: nodeName(node, field) }
    case 'drain': {
      if (isScalar(node)) return { kind, node: nodeName(node, field), force: false }
      const f = r.map(node, field, ['node', 'gracePeriodSeconds', 'force'])
      const spec: ActionSpec = { kind, node: nodeName(r.required(f, node, field, 'node'), `${field}.node`), force: false }
      if (f.has('gracePeriodSeconds')) spec.gracePeriodSeconds = r.integer(f.get('gracePeriodSeconds')!.value, `${field}.gracePeriodSeconds`, 0, LIMITS.gracePeriodSeconds)
      if (f.has('force')) spec.force = r.boolean(f.get('force')!.value, `${field}.force`)
      return spec
    }
    case 'addServices': {
      const f = r.map(node, field, ['count', 'prefix', 'port', 'targetPort', 'selector', 'namespace'])
      const count = r.integer(r.required(f, node, field, 'count'), `${field}.count`, 1, LIMITS.servicesPerAction)
      const prefix = servicePrefix(r, r.required(f, node, field, 'prefix'), `${field}.prefix`)
      const spec: ActionSpec = { kind, prefix, count, port: 80, ...namespaceOf(r, f, field) }
      if (f.has('port')) spec.port = r.integer(f.get('port')!.value, `${field}.port`, 1, 65535)
      const targetPort = f.get('targetPort')?.value
      if (targetPort !== undefined) {
        spec.targetPort = isScalar(targetPort) && typeof targetPort.value === 'string' ? r.name(targetPort, `${field}.targetPort`, isValidPortName, 'port name') : r.integer(targetPort, `${field}.targetPort`, 1, 65535)
      }
      const selectorNode = f.get('selector')?.value
      if (selectorNode !== undefined) spec.selector = serviceSelector(r, selectorNode, `${field}.selector`)
      return spec
    }
    case 'removeServices': {
      const f = r.map(node, field, ['prefix', 'namespace'])
      return { kind, prefix: servicePrefix(r, r.required(f, node, field, 'prefix'), `${field}.prefix`), ...namespaceOf(r, f, field) }
    }
    case 'setReady': {
      const f = r.map(node, field, ['selector', 'count', 'ready', 'conditionType', 'namespace'])
      const spec: ActionSpec = {
        kind,
        selector: r.selector(r.required(f, node, field, 'selector'), `${field}.selector`),
        ready: r.boolean(r.required(f, node, field, 'ready'), `${field}.ready`),
        count: 1,
        ...namespaceOf(r, f, field),
      }
      if (f.has('count')) spec.count = r.integer(f.get('count')!.value, `${field}.count`, 1, LIMITS.podsPerAction)
      if (f.has('conditionType')) spec.conditionType = r.name(f.get('conditionType')!.value, `${field}.conditionType`, isQualifiedName, 'condition type')
      return spec
    }
  }
}

function namespaceOf(r: Reader, f: Fields, field: string): { namespace?: string } {
  const node = f.get('namespace')?.value
  if (node === undefined) return {}
  return { namespace: r.name(node, `${field}.namespace`, isDNS1123Label, 'namespace') }
}

/** `NAME` or `NS/NAME`; a `namespace:` key beside it must agree. */
function objectRef(r: Reader, node: YamlNode | null, field: string, text: string, namespace: string | undefined): ObjectRef {
  const parts = text.split('/')
  if (parts.length > 2) r.fail(node, field, `expected NAME or NAMESPACE/NAME, not "${text}"`)
  const name = parts[parts.length - 1]
  const nameProblems = isDNS1123Subdomain(name)
  if (nameProblems.length > 0) r.fail(node, field, `"${name}" is not a valid name: ${nameProblems.join('; ')}`)
  if (parts.length === 1) return { name, ...(namespace !== undefined ? { namespace } : {}) }
  const ns = parts[0]
  const nsProblems = isDNS1123Label(ns)
  if (nsProblems.length > 0) r.fail(node, field, `"${ns}" is not a valid namespace: ${nsProblems.join('; ')}`)
  if (namespace !== undefined && namespace !== ns) r.fail(node, field, `names namespace ${ns} but namespace says ${namespace}: give it once`)
  return { namespace: ns, name }
}

function deploymentRef(r: Reader, f: Fields, owner: YamlNode | null, field: string): ObjectRef {
  const node = r.required(f, owner, field, 'deployment')
  const text = r.string(node, `${field}.deployment`, 'a Deployment name (NAME or NAMESPACE/NAME)')
  return objectRef(r, node, `${field}.deployment`, text, namespaceOf(r, f, field).namespace)
}

function servicePrefix(r: Reader, node: YamlNode | null, field: string): string {
  const prefix = r.string(node, field, 'a name prefix like load-svc')
  // The Services are `<prefix>-<i>`, DNS-1035 labels of up to 63 characters with i up to 9999.
  const problems = isDNS1035Label(prefix)
  if (problems.length > 0 || prefix.length > 58) r.fail(node, field, `"${prefix}" cannot start Service names: ${problems.length > 0 ? problems.join('; ') : 'at most 58 characters'}`)
  return prefix
}

/** A Service selector: equality requirements only (`app=web,tier=front`). */
function serviceSelector(r: Reader, node: YamlNode | null, field: string): Record<string, string> {
  const text = r.selector(node, field)
  const selector: Record<string, string> = {}
  for (const req of parseLabelSelector(text).requirements) {
    if (req.operator !== 'Equals' && req.operator !== 'DoubleEquals') r.fail(node, field, `a Service selects by equality only (key=value, joined by commas), not "${text}"`)
    selector[req.key] = req.values[0]
  }
  return selector
}

/** addServices/removeServices pairs in time order: no prefix added twice while it exists, no removal of what was never added. */
function checkServiceSequence(r: Reader, parsed: { action: ScenarioAction; node: YamlNode; index: number }[]): void {
  const live = new Set<string>()
  let total = 0
  for (const { action, node, index } of parsed) {
    if (action.kind !== 'addServices' && action.kind !== 'removeServices') continue
    const key = `${action.namespace ?? ''}/${action.prefix}`
    const where = `actions[${index}].${action.kind}`
    if (action.kind === 'addServices') {
      if (live.has(key)) r.fail(node, where, `Services with prefix ${action.prefix} exist already by then (an earlier addServices): remove them first or use another prefix`)
      total += action.count
      if (total > LIMITS.servicesPerScenario) r.fail(node, `${where}.count`, `the scenario adds ${total} Services in all: the limit is ${LIMITS.servicesPerScenario}`)
      live.add(key)
    } else {
      if (!live.has(key)) r.fail(node, where, `removes nothing: no addServices with prefix ${action.prefix}${action.namespace ? ` in namespace ${action.namespace}` : ''} comes before it`)
      live.delete(key)
    }
  }
}

/** The timeline's name of an action without one: `scale deployment/web to 8`. */
export function describeAction(spec: ActionSpec): string {
  const ref = (o: ObjectRef) => `${o.namespace ? `${o.namespace}/` : ''}${o.name}`
  const ns = (n: string | undefined) => (n ? ` in ${n}` : '')
  switch (spec.kind) {
    case 'rollout':
      return `rollout deployment/${ref(spec.deployment)}`
    case 'scale':
      return `scale deployment/${ref(spec.deployment)} to ${spec.replicas}`
    case 'deletePods':
      return `delete ${spec.count} pod${spec.count === 1 ? '' : 's'} ${spec.selector}${ns(spec.namespace)}`
    case 'cordon':
    case 'uncordon':
    case 'drain':
      return `${spec.kind} ${spec.node}`
    case 'restartAgent':
      return `restart the agent on ${spec.node}`
    case 'restartProxy':
      return `restart the proxy on ${spec.node}`
    case 'addServices':
      return `add ${spec.count} Service${spec.count === 1 ? '' : 's'} ${spec.prefix}-*${ns(spec.namespace)}`
    case 'removeServices':
      return `remove Services ${spec.prefix}-*${ns(spec.namespace)}`
    case 'setReady':
      return `set ${spec.count} pod${spec.count === 1 ? '' : 's'} ${spec.selector} ${spec.ready ? 'ready' : 'not ready'}${ns(spec.namespace)}`
  }
}
