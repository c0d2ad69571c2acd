import t, { type Test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseScenario, readScenarioFile, ScenarioError } from '../../load/scenario/parse.ts'

const phases = 'phases:\n  - {name: steady, rate: 500, duration: 30s}\n  - {name: ramp, rate: 500, rateTo: 2000, duration: 20s}\n'

/** The message parseScenario throws for `text`. */
function errorOf(text: string, file = 'scenario.yaml'): string {
  try {
    parseScenario(text, file)
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err
    return err.message
  }
  throw new Error(`no error for:\n${text}`)
}

/** `file:line:column` of the first `needle` in `text` (after `from`, if given), found by plain search. */
function where(text: string, needle: string, from = '', file = 'scenario.yaml'): string {
  const start = from ? text.indexOf(from) : 0
  const offset = text.indexOf(needle, start)
  if (start < 0 || offset < 0) throw new Error(`${needle} is not in the text`)
  const before = text.slice(0, offset).split('\n')
  return `${file}:${before.length}:${before[before.length - 1].length + 1}`
}

/** Asserts that `text` fails with `message`, located at the first `needle` (after `from`). */
function fails(t: Test, text: string, needle: string, message: string, from = ''): void {
  t.equal(errorOf(text), `${where(text, needle, from)}: ${message}`)
}

/** Like fails, for a message whose end comes from elsewhere (the apimachinery validators): only its start is compared. */
function failsWith(t: Test, text: string, needle: string, start: string): void {
  const message = errorOf(text)
  const expected = `${where(text, needle, 'actions:')}: ${start}`
  t.ok(message.startsWith(expected), `${message}\n  starts with\n${expected}`)
}

/** The same for one action after the two phases (50 s in all). */
function actionFails(t: Test, action: string, needle: string, message: string): void {
  fails(t, `${phases}actions:\n  - ${action}\n`, needle, message, 'actions:')
}

t.test('the example from the issue parses into phases and actions in time order', async (t) => {
  const s = parseScenario(
    `target: svc/web:80            # the command line's target wins
${phases}actions:
  - {at: 45s, setReady: {selector: app=web, count: 1, ready: false}}
  - {at: 10s, rollout: deployment/web}
  - {at: 15s, scale: {deployment: web, replicas: 8}}
  - {at: 20s, deletePods: {selector: app=web, count: 1, gracePeriodSeconds: 0}}
  - {at: 25s, cordon: node-2}
  - {at: 26s, uncordon: node-2}
  - {at: 30s, drain: node-2}
  - {at: 35s, restartAgent: node-1}
  - {at: 36s, restartProxy: node-1}
  - {at: 40s, addServices: {count: 1000, prefix: load-svc, port: 80}}
  - {at: 42s, removeServices: {prefix: load-svc}}
`,
    'scenario.yaml',
  )
  t.equal(s.target, 'svc/web:80')
  t.same(s.phases, [
    { name: 'steady', durationMs: 30_000, rate: 500 },
    { name: 'ramp', durationMs: 20_000, rate: 500, rateTo: 2000 },
  ])
  t.equal(s.durationMs, 50_000)
  t.same(
    s.actions.map((a) => [a.atMs, a.kind, a.name]),
    [
      [10_000, 'rollout', 'rollout deployment/web'],
      [15_000, 'scale', 'scale deployment/web to 8'],
      [20_000, 'deletePods', 'delete 1 pod app=web'],
      [25_000, 'cordon', 'cordon node-2'],
      [26_000, 'uncordon', 'uncordon node-2'],
      [30_000, 'drain', 'drain node-2'],
      [35_000, 'restartAgent', 'restart the agent on node-1'],
      [36_000, 'restartProxy', 'restart the proxy on node-1'],
      [40_000, 'addServices', 'add 1000 Services load-svc-*'],
      [42_000, 'removeServices', 'remove Services load-svc-*'],
      [45_000, 'setReady', 'set 1 pod app=web not ready'],
    ],
  )
  t.equal(s.actions[10].source, 'scenario.yaml:6:5', 'the source points at the action as written')
})

t.test('every action shape, with its options', async (t) => {
  const s = parseScenario(
    `${phases}actions:
  - {at: 1s, rollout: {deployment: prod/web}, name: roll the web tier, timeout: 2m}
  - {at: 1s, rollout: {deployment: web, namespace: prod}}
  - {at: 1s, rollout: deploy/api}
  - {at: 2s, scale: {deployment: web, namespace: prod, replicas: 0}}
  - {at: 3s, deletePods: {selector: 'app=web,tier in (a,b)', namespace: prod}}
  - {at: 4s, drain: {node: node-2, gracePeriodSeconds: 5, force: true}}
  - {at: 5s, addServices: {count: 3, prefix: s, port: 8080, targetPort: http, selector: 'app=web,tier==front', namespace: other}}
  - {at: 5s, addServices: {count: 2, prefix: t, targetPort: 9000}}
  - {at: 6s, setReady: {selector: app=web, count: 2, ready: true, conditionType: example.com/in-rotation}}
  - {at: 0, cordon: node-3}
  - {at: 1m30s, uncordon: node-3}
  - {at: 1m, removeServices: {prefix: t}}
`.replace('duration: 20s', 'duration: 2m'),
    'x.yaml',
  )
  const byName = (n: string) => s.actions.find((a) => a.name === n)
  t.match(byName('roll the web tier'), { kind: 'rollout', deployment: { namespace: 'prod', name: 'web' }, timeoutMs: 120_000 })
  t.same(s.actions.filter((a) => a.kind === 'rollout').map((a) => a.kind === 'rollout' && a.deployment), [{ namespace: 'prod', name: 'web' }, { namespace: 'prod', name: 'web' }, { name: 'api' }])
  t.match(s.actions.find((a) => a.kind === 'scale'), { deployment: { namespace: 'prod', name: 'web' }, replicas: 0 })
  t.match(s.actions.find((a) => a.kind === 'deletePods'), { selector: 'app=web,tier in (a,b)', count: 1, namespace: 'prod' })
  t.notOk('gracePeriodSeconds' in s.actions.find((a) => a.kind === 'deletePods')!)
  t.match(s.actions.find((a) => a.kind === 'drain'), { node: 'node-2', gracePeriodSeconds: 5, force: true })
  const adds = s.actions.filter((a) => a.kind === 'addServices')
  t.same(adds.map((a) => a.kind === 'addServices' && [a.prefix, a.count, a.port, a.targetPort, a.selector, a.namespace]), [
    ['s', 3, 8080, 'http', { app: 'web', tier: 'front' }, 'other'],
    ['t', 2, 80, 9000, undefined, undefined],
  ])
  t.match(s.actions.find((a) => a.kind === 'setReady'), { selector: 'app=web', count: 2, ready: true, conditionType: 'example.com/in-rotation', name: 'set 2 pods app=web ready' })
  t.same(
    s.actions.map((a) => a.atMs),
    [0, 1000, 1000, 1000, 2000, 3000, 4000, 5000, 5000, 6000, 60_000, 90_000],
    'in time order; the same moment keeps file order',
  )
  t.equal(s.target, undefined)
})

t.test('durations are Go durations; a bare number needs a unit', async (t) => {
  const s = parseScenario('phases:\n  - {rate: 1, duration: 1m30s}\n  - {rate: 2, duration: 500ms}\n  - {rate: 0.5, duration: 1h}\nactions:\n  - {at: 1m30.25s, cordon: n}\n', 'd.yaml')
  t.same(s.phases.map((p) => [p.name, p.durationMs, p.rate]), [['phase-1', 90_000, 1], ['phase-2', 500, 2], ['phase-3', 3_600_000, 0.5]])
  t.equal(s.actions[0].atMs, 90_250)
  const phase = (d: string) => `phases:\n  - {rate: 1, duration: ${d}}\n`
  fails(t, phase('30'), '30', 'phases[0].duration: expected a duration like 500ms, 30s or 1m30s, not 30 (a number needs a unit: 30s or 30ms)')
  fails(t, phase('3 seconds'), '3 seconds', 'phases[0].duration: expected a duration like 500ms, 30s or 1m30s, not "3 seconds"')
  fails(t, phase('0s'), '0s', 'phases[0].duration: must be longer than 0s, not 0s')
  fails(t, phase('-5s'), '-5s', 'phases[0].duration: must be longer than 0s, not -5s')
  fails(t, phase('25h'), '25h', 'phases[0].duration: must be at most 24h, not 25h')
  fails(t, 'phases:\n  - {rate: 1, duration: 20h}\n  - {rate: 1, duration: 5h}\n', '- {rate', 'phases: the phases add up to 25h: the limit is 24h')
  actionFails(t, '{at: -1s, cordon: n}', '-1s', 'actions[0].at: must be at least 0s, not -1s')
  actionFails(t, '{at: 50s, cordon: n}', '50s', "actions[0].at: 50s is not within the phases' 50s: an action must start before the load ends")
  actionFails(t, '{at: 1s, cordon: n, timeout: 0s}', '0s', 'actions[0].timeout: must be longer than 0s, not 0s')
})

t.test('phases: rates, ramps and the one closed-loop phase', async (t) => {
  t.same(parseScenario('phases:\n  - {duration: 10s}\n', 'c.yaml').phases, [{ name: 'phase-1', durationMs: 10_000 }], 'a single phase without rate: closed loop')
  fails(t, 'phases:\n  - {duration: 10s}\n  - {rate: 5, duration: 10s}\n', '{duration', 'phases[0]: a phase without rate runs closed loop (--connections in flight), which only a scenario with a single phase may do: give every phase a rate')
  fails(t, 'phases:\n  - {rateTo: 5, duration: 10s}\n', 'rateTo', 'phases[0].rateTo: a ramp needs rate (where it starts) too')
  fails(t, 'phases:\n  - {rate: 0, duration: 10s}\n', '0,', 'phases[0].rate: expected a number above 0 and at most 1000000, not 0')
  fails(t, 'phases:\n  - {rate: "500", duration: 10s}\n', '"500"', 'phases[0].rate: expected a number above 0 and at most 1000000, not "500"')
  fails(t, 'phases:\n  - {rate: .inf, duration: 10s}\n', '.inf', 'phases[0].rate: expected a number above 0 and at most 1000000, not Infinity')
  fails(t, 'phases:\n  - {rate: 1, rateTo: 2000000, duration: 10s}\n', '2000000', 'phases[0].rateTo: expected a number above 0 and at most 1000000, not 2000000')
  fails(t, 'phases:\n  - {rate: 1}\n', '{rate', 'phases[0]: duration is required')
  fails(t, 'phases:\n  - {name: a, rate: 1, duration: 1s}\n  - {name: a, rate: 1, duration: 1s}\n', 'a,', 'phases[1].name: another phase is already named "a"', 'duration: 1s}\n')
  fails(t, 'phases:\n  - {name: "two words", rate: 1, duration: 1s}\n', '"two', 'phases[0].name: expected 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit')
  fails(t, 'phases: []\n', '[]', 'phases: expected a list of at least one phase ({name, rate, duration}), not an empty list')
  fails(t, 'target: svc/web\n', 'target', 'phases is required')
  fails(t, 'phases:\n  - 5\n', '5', 'phases[0]: expected a map (key: value), not 5')
  fails(t, `phases:\n${'  - {rate: 1, duration: 1ms}\n'.repeat(1001)}`, '- {', 'phases: 1001 phases: the limit is 1000')
})

t.test('unknown keys are errors, with the nearest known key as a hint', async (t) => {
  fails(t, 'phases:\n  - {rate: 1, duraton: 1s}\n', 'duraton', 'phases[0].duraton: unknown key (did you mean duration?); allowed here: name, rate, rateTo, duration')
  fails(t, `${phases}action:\n  - {at: 1s, cordon: n}\n`, 'action:', 'action: unknown key (did you mean actions?); allowed here: target, phases, actions')
  actionFails(t, '{at: 1s, scael: {deployment: web, replicas: 2}}', 'scael', 'actions[0].scael: unknown key (did you mean scale?); allowed here: at, name, timeout, rollout, scale, deletePods, cordon, uncordon, drain, restartAgent, restartProxy, addServices, removeServices, setReady')
  actionFails(t, '{at: 1s, scale: {deployment: web, replica: 2}}', 'replica', 'actions[0].scale.replica: unknown key (did you mean replicas?); allowed here: deployment, replicas, namespace')
  actionFails(t, '{at: 1s, drain: {node: n, grace: 1}}', 'grace', 'actions[0].drain.grace: unknown key; allowed here: node, gracePeriodSeconds, force')
  fails(t, 'phases:\n  - {rate: 1, duration: 1s, 7: x}\n', '7:', 'phases[0]: expected a key that is a plain word, not 7')
})

t.test('actions: each shape refuses what it cannot do', async (t) => {
  actionFails(t, '{at: 1s}', '{at', 'actions[0]: expected one action: rollout, scale, deletePods, cordon, uncordon, drain, restartAgent, restartProxy, addServices, removeServices, setReady')
  actionFails(t, '{at: 1s, cordon: a, drain: a}', 'drain', 'actions[0]: one action per list item, not cordon and drain: make them two items')
  actionFails(t, '{cordon: a}', '{cordon', 'actions[0]: at is required')
  actionFails(t, '{at: 1s, cordon: a, name: ""}', '""', 'actions[0].name: expected 1 to 100 printable characters')
  actionFails(t, '{at: 1s, rollout: web}', 'web', 'actions[0].rollout: expected deployment/NAME (or {deployment: NAME, namespace: NS}), not "web"')
  actionFails(t, '{at: 1s, rollout: deployment/Web}', 'deployment/', `actions[0].rollout: "Web" is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`)
  actionFails(t, '{at: 1s, rollout: {deployment: a/b/c}}', 'a/b/c', 'actions[0].rollout.deployment: expected NAME or NAMESPACE/NAME, not "a/b/c"')
  actionFails(t, '{at: 1s, rollout: {deployment: a/web, namespace: b}}', 'a/web', 'actions[0].rollout.deployment: names namespace a but namespace says b: give it once')
  actionFails(t, '{at: 1s, rollout: {deployment: Prod/web}}', 'Prod', `actions[0].rollout.deployment: "Prod" is not a valid namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`)
  actionFails(t, '{at: 1s, scale: {deployment: web}}', '{deployment', 'actions[0].scale: replicas is required')
  actionFails(t, '{at: 1s, scale: {deployment: web, replicas: -1}}', '-1', 'actions[0].scale.replicas: expected a non-negative integer up to 100000, not -1')
  actionFails(t, '{at: 1s, scale: {deployment: web, replicas: 2.5}}', '2.5', 'actions[0].scale.replicas: expected a non-negative integer up to 100000, not 2.5')
  actionFails(t, '{at: 1s, scale: {replicas: 2}}', '{replicas', 'actions[0].scale: deployment is required')
  actionFails(t, '{at: 1s, scale: {deployment: web, replicas: 2, namespace: Bad_NS}}', 'Bad_NS', `actions[0].scale.namespace: "Bad_NS" is not a valid namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`)
  actionFails(t, '{at: 1s, deletePods: {selector: "", count: 1}}', '""', 'actions[0].deletePods.selector: an empty selector would select every pod in the namespace: name the pods, e.g. app=web')
  failsWith(t, `${phases}actions:\n  - {at: 1s, deletePods: {selector: "app in (a", count: 1}}\n`, '"app', `actions[0].deletePods.selector: "app in (a" is not a valid label selector: unable to parse requirement: found '', expected: ',' or ')'`)
  actionFails(t, '{at: 1s, deletePods: {selector: app=web, count: 0}}', '0}', 'actions[0].deletePods.count: expected a whole number from 1 to 10000, not 0')
  actionFails(t, '{at: 1s, deletePods: {selector: app=web, gracePeriodSeconds: 100000}}', '100000', 'actions[0].deletePods.gracePeriodSeconds: expected a non-negative integer up to 86400, not 100000')
  actionFails(t, '{at: 1s, cordon: {node: a}}', '{node', 'actions[0].cordon: expected node name, not a map')
  failsWith(t, `${phases}actions:\n  - {at: 1s, restartAgent: Node_1}\n`, 'Node_1', 'actions[0].restartAgent: "Node_1" is not a valid node name: a lowercase RFC 1123 subdomain')
  actionFails(t, '{at: 1s, drain: {gracePeriodSeconds: 1}}', '{grace', 'actions[0].drain: node is required')
  actionFails(t, '{at: 1s, drain: {node: a, force: "yes"}}', '"yes"', 'actions[0].drain.force: expected true or false, not "yes"')
  actionFails(t, '{at: 1s, setReady: {selector: app=web}}', '{selector', 'actions[0].setReady: ready is required')
  failsWith(t, `${phases}actions:\n  - {at: 1s, setReady: {selector: app=web, ready: false, conditionType: "a b"}}\n`, '"a b"', 'actions[0].setReady.conditionType: "a b" is not a valid condition type: name part must consist of')
})

t.test('addServices and removeServices: names, limits and their order', async (t) => {
  actionFails(t, '{at: 1s, addServices: {prefix: s}}', '{prefix', 'actions[0].addServices: count is required')
  actionFails(t, '{at: 1s, addServices: {count: 10001, prefix: s}}', '10001', 'actions[0].addServices.count: expected a whole number from 1 to 10000, not 10001')
  failsWith(t, `${phases}actions:\n  - {at: 1s, addServices: {count: 1, prefix: 9s}}\n`, '9s', 'actions[0].addServices.prefix: "9s" cannot start Service names: a DNS-1035 label must')
  const long = 'a'.repeat(59)
  actionFails(t, `{at: 1s, addServices: {count: 1, prefix: ${long}}}`, long, `actions[0].addServices.prefix: "${long}" cannot start Service names: at most 58 characters`)
  t.equal(parseScenario(`${phases}actions:\n  - {at: 1s, addServices: {count: 10000, prefix: ${'a'.repeat(58)}}}\n`, 'a.yaml').actions.length, 1, 'the longest prefix still makes 63-character names')
  actionFails(t, '{at: 1s, addServices: {count: 1, prefix: s, port: 0}}', '0}', 'actions[0].addServices.port: expected a whole number from 1 to 65535, not 0')
  failsWith(t, `${phases}actions:\n  - {at: 1s, addServices: {count: 1, prefix: s, targetPort: HTTP}}\n`, 'HTTP', 'actions[0].addServices.targetPort: "HTTP" is not a valid port name: must contain only alpha-numeric')
  actionFails(t, '{at: 1s, addServices: {count: 1, prefix: s, selector: "app!=web"}}', '"app!=web"', 'actions[0].addServices.selector: a Service selects by equality only (key=value, joined by commas), not "app!=web"')
  actionFails(t, '{at: 1s, removeServices: {prefix: s}}', '{at', 'actions[0].removeServices: removes nothing: no addServices with prefix s comes before it')
  const otherNamespace = `${phases}actions:\n  - {at: 2s, removeServices: {prefix: s}}\n  - {at: 1s, addServices: {count: 1, prefix: s, namespace: x}}\n`
  fails(t, otherNamespace, '{at: 2s', 'actions[0].removeServices: removes nothing: no addServices with prefix s comes before it')
  const twice = `${phases}actions:\n  - {at: 1s, addServices: {count: 1, prefix: s}}\n  - {at: 2s, addServices: {count: 1, prefix: s}}\n`
  fails(t, twice, '{at: 2s', 'actions[1].addServices: Services with prefix s exist already by then (an earlier addServices): remove them first or use another prefix')
  const again = parseScenario(`${phases}actions:\n  - {at: 1s, addServices: {count: 1, prefix: s}}\n  - {at: 2s, removeServices: {prefix: s}}\n  - {at: 3s, addServices: {count: 1, prefix: s}}\n`, 'ok.yaml')
  t.equal(again.actions.length, 3, 'added again after removal')
  const many = `${phases}actions:\n${Array.from({ length: 6 }, (_, i) => `  - {at: ${i}s, addServices: {count: 10000, prefix: p${i}}}`).join('\n')}\n`
  fails(t, many, '{at: 5s', 'actions[5].addServices.count: the scenario adds 60000 Services in all: the limit is 50000')
})

t.test('bad YAML, aliases and other hostile input get line-numbered errors', async (t) => {
  t.equal(errorOf('phases: [1\n'), 'scenario.yaml:2:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]', 'where the parser found the end missing')
  t.equal(errorOf('phases:\n  - {rate: 1, duration: 1s}\n    rate: 2\n'), 'scenario.yaml:3:1: not valid YAML: Sequence item without - indicator')
  fails(t, 'phases:\n  - {rate: 1, duration: 1s}\nphases: []\n', 'phases: []', 'not valid YAML: Map keys must be unique')
  fails(t, 'phases:\n  - &p {rate: 1, duration: 1s}\n  - *p\n', '*p', 'aliases (*name) are not allowed in scenario files: write the value out')
  t.equal(errorOf(''), 'scenario.yaml:1:1: the file is empty: expected a map with phases (and actions)')
  t.equal(errorOf('# only a comment\n'), 'scenario.yaml:1:1: the file is empty: expected a map with phases (and actions)')
  t.equal(errorOf('- a\n- b\n'), 'scenario.yaml:1:1: expected a map (key: value), not a list')
  t.match(errorOf('a: 1\n---\nb: 2\n'), /^scenario\.yaml:2:1: not valid YAML: /)
  fails(t, `${phases}actions: {at: 1s}\n`, '{at', 'actions: expected a list of actions ({at: 10s, rollout: deployment/web}), not a map')
  fails(t, `target: "svc/web 80"\n${phases}`, '"svc', 'target: expected a target of 1 to 2048 characters without spaces')
  fails(t, `target: 80\n${phases}`, '80', 'target: expected a target (a URL, svc/NAME[.NS][:PORT], ingress/NAME or pod/NAME), not 80')
  fails(t, `${phases}actions:\n${'  - {at: 1s, cordon: n}\n'.repeat(1001)}`, '- {at', 'actions: 1001 actions: the limit is 1000')
  t.equal(errorOf(`# ${'x'.repeat(1 << 20)}\n`), 'scenario.yaml:1:1: the file is larger than 1 MiB')
  t.equal(parseScenario(`${phases}actions:\n`, 'a.yaml').actions.length, 0, 'an empty actions key is no actions')
})

t.test('readScenarioFile reads a file, names it in errors and refuses one over 1 MiB unread', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-scenario-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const good = join(dir, 'good.yaml')
  await writeFile(good, `${phases}actions:\n  - {at: 1s, cordon: n}\n`)
  t.equal((await readScenarioFile(good)).actions[0].kind, 'cordon')
  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, `${phases}actions:\n  - {at: 1s, cordon: N}\n`)
  const error = await readScenarioFile(bad).then(() => undefined, (err: Error) => err.message)
  t.match(error, `${bad}:5:22: actions[0].cordon: "N" is not a valid node name`)
  const big = join(dir, 'big.yaml')
  await writeFile(big, Buffer.alloc((1 << 20) + 1, 0x20))
  await t.rejects(readScenarioFile(big), { message: `the scenario file ${big} is ${(1 << 20) + 1} bytes: the limit is 1 MiB` })
  await t.rejects(readScenarioFile(join(dir, 'none.yaml')), { message: `cannot read the scenario file ${join(dir, 'none.yaml')}: there is no such file` })
})
