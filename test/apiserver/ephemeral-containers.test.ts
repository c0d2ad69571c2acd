import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'

const pods = '/api/v1/namespaces/default/pods'
const json = { 'content-type': 'application/json' }
const strategic = { 'content-type': 'application/strategic-merge-patch+json' }
const merge = { 'content-type': 'application/merge-patch+json' }
const jsonPatch = { 'content-type': 'application/json-patch+json' }

type Obj = Record<string, any>

function pod(name: string, extra: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'weft/echo' }], initContainers: [{ name: 'init', image: 'weft/echo' }], ...extra },
  }
}

function debugContainer(name: string, extra: Obj = {}): Obj {
  return { name, image: 'busybox', targetContainerName: 'c', terminationMessagePolicy: 'File', ...extra }
}

const causes = (body: Obj) => (body.details?.causes ?? []).map((c: Obj) => [c.reason, c.field, c.message])

t.test('the subresource adds ephemeral containers and changes nothing else', async (t) => {
  const { url } = await startTestServer(t)
  const created = await call(url, 'POST', pods, pod('p'))
  t.equal(created.status, 201)
  const path = `${pods}/p/ephemeralcontainers`

  const got = await call(url, 'GET', path)
  t.equal(got.status, 200, 'GET answers the pod')
  t.equal(got.body.kind, 'Pod')
  t.same(got.body.metadata.uid, created.body.metadata.uid)

  const patched = await call(url, 'PATCH', path, { spec: { ephemeralContainers: [debugContainer('dbg')] } }, strategic)
  t.equal(patched.status, 200, JSON.stringify(patched.body))
  const ec = patched.body.spec.ephemeralContainers
  t.equal(ec.length, 1)
  t.equal(ec[0].name, 'dbg')
  t.equal(ec[0].targetContainerName, 'c')
  t.equal(ec[0].terminationMessagePath, '/dev/termination-log', 'ephemeral containers are defaulted like containers')
  t.equal(ec[0].imagePullPolicy, 'Always')
  t.equal(patched.body.metadata.generation, 2, 'a spec change bumps the generation')
  const managers = patched.body.metadata.managedFields.map((m: Obj) => [m.operation, m.subresource])
  t.ok(managers.some(([op, sub]: string[]) => op === 'Update' && sub === 'ephemeralcontainers'), 'field tracking names the subresource')

  // A PUT (older kubectl) with other changes: only the ephemeral containers count.
  const put = structuredClone(patched.body)
  put.metadata.labels = { sneaky: 'yes' }
  put.spec.containers[0].image = 'weft/other'
  put.spec.activeDeadlineSeconds = 5
  put.status = { phase: 'Succeeded' }
  put.spec.ephemeralContainers.push(debugContainer('dbg2', { command: ['sh'], stdin: true, tty: true }))
  const updated = await call(url, 'PUT', path, put, json)
  t.equal(updated.status, 200, JSON.stringify(updated.body))
  t.same(updated.body.spec.ephemeralContainers.map((c: Obj) => c.name), ['dbg', 'dbg2'])
  t.equal(updated.body.metadata.labels, undefined, 'labels kept from the stored pod')
  t.equal(updated.body.spec.containers[0].image, 'weft/echo', 'containers kept')
  t.equal(updated.body.spec.activeDeadlineSeconds, undefined)
  t.equal(updated.body.status.phase, 'Pending', 'status kept')

  const stale = await call(url, 'PUT', path, put, json)
  t.equal(stale.status, 409, 'the resourceVersion in the body is a precondition')

  const merged = await call(url, 'PATCH', path, { spec: { ephemeralContainers: [...updated.body.spec.ephemeralContainers, debugContainer('dbg3')] } }, merge)
  t.equal(merged.status, 200, JSON.stringify(merged.body))
  t.equal(merged.body.spec.ephemeralContainers.length, 3)

  const added = await call(url, 'PATCH', path, [{ op: 'add', path: '/spec/ephemeralContainers/-', value: debugContainer('dbg4') }], jsonPatch)
  t.equal(added.status, 200, JSON.stringify(added.body))
  t.same(added.body.spec.ephemeralContainers.map((c: Obj) => c.name), ['dbg', 'dbg2', 'dbg3', 'dbg4'])

  const applied = await call(
    url,
    'PATCH',
    `${path}?fieldManager=debugger`,
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { ignored: 'yes' } }, spec: { ephemeralContainers: [debugContainer('dbg5')] } },
    { 'content-type': 'application/apply-patch+yaml' },
  )
  t.equal(applied.status, 200, JSON.stringify(applied.body))
  t.same(applied.body.spec.ephemeralContainers.map((c: Obj) => c.name), ['dbg', 'dbg2', 'dbg3', 'dbg4', 'dbg5'], 'server-side apply adds too')
  t.equal(applied.body.metadata.labels, undefined, 'apply to the subresource ignores labels')
  const entry = applied.body.metadata.managedFields.find((m: Obj) => m.manager === 'debugger')
  t.equal(entry.subresource, 'ephemeralcontainers')
  t.notOk(JSON.stringify(entry.fieldsV1).includes('f:labels'), 'the manager does not own what the subresource ignores')

  const after = await call(url, 'GET', `${pods}/p`)
  t.same(after.body.spec.ephemeralContainers.map((c: Obj) => c.name), ['dbg', 'dbg2', 'dbg3', 'dbg4', 'dbg5'])
})

t.test('existing ephemeral containers may not be changed or removed', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', pods, pod('p'))
  const path = `${pods}/p/ephemeralcontainers`
  const first = await call(url, 'PATCH', path, { spec: { ephemeralContainers: [debugContainer('dbg')] } }, strategic)
  t.equal(first.status, 200)

  const changed = await call(url, 'PATCH', path, { spec: { ephemeralContainers: [{ name: 'dbg', image: 'alpine' }] } }, strategic)
  t.equal(changed.status, 422)
  t.equal(changed.body.reason, 'Invalid')
  t.equal(changed.body.details.causes.length, 1)
  const cause = changed.body.details.causes[0]
  t.equal(cause.reason, 'FieldValueForbidden')
  t.equal(cause.field, 'spec.ephemeralContainers')
  t.match(cause.message, /^Forbidden: existing ephemeral containers "dbg" may not be changed\n/)
  t.match(cause.message, /image/, 'the message says what changed')
  t.match(changed.body.message, /^Pod "p" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be changed/)

  const removed = await call(url, 'PATCH', path, [{ op: 'remove', path: '/spec/ephemeralContainers/0' }], jsonPatch)
  t.equal(removed.status, 422)
  t.same(causes(removed.body), [['FieldValueForbidden', 'spec.ephemeralContainers', 'Forbidden: existing ephemeral containers "dbg" may not be removed\n']])

  const replaced = await call(url, 'PATCH', path, { spec: { ephemeralContainers: [debugContainer('other')] } }, merge)
  t.equal(replaced.status, 422, 'a merge patch that replaces the list removes the old one')
  t.same(causes(replaced.body), [['FieldValueForbidden', 'spec.ephemeralContainers', 'Forbidden: existing ephemeral containers "dbg" may not be removed\n']])

  const reordered = await call(url, 'PATCH', path, { spec: { ephemeralContainers: [debugContainer('new'), first.body.spec.ephemeralContainers[0]] } }, merge)
  t.equal(reordered.status, 200, 'order does not matter, only each container')
})

t.test('ephemeral containers are validated as upstream does', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', pods, pod('p', { volumes: [{ name: 'data', emptyDir: {} }] }))
  const path = `${pods}/p/ephemeralcontainers`
  const add = (c: Obj) => call(url, 'PATCH', path, { spec: { ephemeralContainers: [c] } }, strategic)

  const cases: [string, Obj, [string, string, string][]][] = [
    ['a name that is not a DNS label', debugContainer('Bad_Name'), [['FieldValueInvalid', 'spec.ephemeralContainers[0].name', 'Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character (e.g. \'my-name\',  or \'123-abc\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?\')']]],
    ['the name of a container', debugContainer('c'), [['FieldValueDuplicate', 'spec.ephemeralContainers[0].name', 'Duplicate value: "c"']]],
    ['the name of an init container', debugContainer('init'), [['FieldValueDuplicate', 'spec.ephemeralContainers[0].name', 'Duplicate value: "init"']]],
    ['no image', debugContainer('dbg', { image: '' }), [['FieldValueRequired', 'spec.ephemeralContainers[0].image', 'Required value']]],
    ['an image with spaces around it', debugContainer('dbg', { image: ' busybox' }), [['FieldValueInvalid', 'spec.ephemeralContainers[0].image', 'Invalid value: " busybox": must not have leading or trailing whitespace']]],
    ['a target that is no container', debugContainer('dbg', { targetContainerName: 'nope' }), [['FieldValueNotFound', 'spec.ephemeralContainers[0].targetContainerName', 'Not found: "nope"']]],
    ['ports', debugContainer('dbg', { ports: [{ containerPort: 80 }] }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].ports', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['a liveness probe', debugContainer('dbg', { livenessProbe: { exec: { command: ['true'] } } }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].livenessProbe', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['a readiness probe', debugContainer('dbg', { readinessProbe: { exec: { command: ['true'] } } }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].readinessProbe', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['a startup probe', debugContainer('dbg', { startupProbe: { exec: { command: ['true'] } } }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].startupProbe', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['lifecycle hooks', debugContainer('dbg', { lifecycle: { preStop: { exec: { command: ['true'] } } } }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].lifecycle', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['resources', debugContainer('dbg', { resources: { limits: { cpu: '1' } } }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].resources', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['a resize policy', debugContainer('dbg', { resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }] }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].resizePolicy', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['a restart policy', debugContainer('dbg', { restartPolicy: 'Always' }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].restartPolicy', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['a subPath mount', debugContainer('dbg', { volumeMounts: [{ name: 'data', mountPath: '/data', subPath: 'x' }] }), [['FieldValueForbidden', 'spec.ephemeralContainers[0].volumeMounts[0].subPath', 'Forbidden: cannot be set for an Ephemeral Container']]],
    ['a mount of no volume', debugContainer('dbg', { volumeMounts: [{ name: 'none', mountPath: '/x' }] }), [['FieldValueNotFound', 'spec.ephemeralContainers[0].volumeMounts[0].name', 'Not found: "none"']]],
    ['a bad pull policy', debugContainer('dbg', { imagePullPolicy: 'Sometimes' }), [['FieldValueNotSupported', 'spec.ephemeralContainers[0].imagePullPolicy', 'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"']]],
  ]
  for (const [what, c, want] of cases) {
    const res = await add(c)
    t.equal(res.status, 422, `${what}: 422`)
    t.equal(res.body.reason, 'Invalid', what)
    t.same(causes(res.body), want, what)
  }

  const two = await call(url, 'PATCH', path, { spec: { ephemeralContainers: [debugContainer('d1'), debugContainer('d1')] } }, merge)
  t.equal(two.status, 422)
  t.same(causes(two.body), [['FieldValueDuplicate', 'spec.ephemeralContainers[1].name', 'Duplicate value: "d1"']], 'names are unique among ephemeral containers too')

  const fine = await add(debugContainer('dbg', { volumeMounts: [{ name: 'data', mountPath: '/data' }], env: [{ name: 'A', value: 'b' }], workingDir: '/', securityContext: { privileged: true }, resources: {} }))
  t.equal(fine.status, 200, `allowed fields pass: ${JSON.stringify(fine.body)}`)
  const untargeted = await add({ name: 'plain', image: 'busybox' })
  t.equal(untargeted.status, 200, 'targetContainerName is optional')
})

t.test('ephemeral containers come only through the subresource', async (t) => {
  const { url } = await startTestServer(t)
  const withEc = pod('p', { ephemeralContainers: [debugContainer('dbg')] })
  const create = await call(url, 'POST', pods, withEc)
  t.equal(create.status, 422)
  t.same(causes(create.body), [['FieldValueForbidden', 'spec.ephemeralContainers', 'Forbidden: cannot be set on create']])

  const created = await call(url, 'POST', pods, pod('p'))
  t.equal(created.status, 201)
  const put = structuredClone(created.body)
  put.spec.ephemeralContainers = [debugContainer('dbg')]
  const update = await call(url, 'PUT', `${pods}/p`, put)
  t.equal(update.status, 422, 'the pod itself cannot gain ephemeral containers')
  t.match(update.body.details.causes[0].message, /pod updates may not change fields other than .*changed: spec\.ephemeralContainers/s)

  const patch = await call(url, 'PATCH', `${pods}/p`, { spec: { ephemeralContainers: [debugContainer('dbg')] } }, strategic)
  t.equal(patch.status, 422)

  const added = await call(url, 'PATCH', `${pods}/p/ephemeralcontainers`, { spec: { ephemeralContainers: [debugContainer('dbg')] } }, strategic)
  t.equal(added.status, 200)
  const labelled = structuredClone(added.body)
  labelled.metadata.labels = { a: 'b' }
  const relabel = await call(url, 'PUT', `${pods}/p`, labelled)
  t.equal(relabel.status, 200, 'a pod with ephemeral containers still updates where pods may')

  const dropped = structuredClone(relabel.body)
  delete dropped.spec.ephemeralContainers
  const drop = await call(url, 'PUT', `${pods}/p`, dropped)
  t.equal(drop.status, 422, 'nor lose them')

  const template = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd' },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }], ephemeralContainers: [{ name: 'e', image: 'x' }] } } },
  }
  const deploy = await call(url, 'POST', '/apis/apps/v1/namespaces/default/deployments', template)
  t.equal(deploy.status, 422)
  t.same(causes(deploy.body), [['FieldValueForbidden', 'spec.template.spec.ephemeralContainers', 'Forbidden: ephemeral containers not allowed in pod template']])
})

t.test('the subresource needs the pod, and static pods refuse it', async (t) => {
  const { url } = await startTestServer(t)
  const missing = await call(url, 'PATCH', `${pods}/nope/ephemeralcontainers`, { spec: { ephemeralContainers: [debugContainer('dbg')] } }, strategic)
  t.equal(missing.status, 404)
  t.equal(missing.body.details.name, 'nope', 'a missing pod names itself (kubectl tells it from a missing subresource)')
  const applyMissing = await call(url, 'PATCH', `${pods}/nope/ephemeralcontainers?fieldManager=x`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'nope' }, spec: { ephemeralContainers: [debugContainer('dbg')] } }, { 'content-type': 'application/apply-patch+yaml' })
  t.equal(applyMissing.status, 404, 'apply to the subresource does not create the pod')
  const stillMissing = await call(url, 'GET', `${pods}/nope`)
  t.equal(stillMissing.status, 404)

  await call(url, 'POST', pods, pod('p'))
  const protobuf = await call(url, 'PUT', `${pods}/p/ephemeralcontainers`, Buffer.from('k8s\x00'), { 'content-type': 'application/vnd.kubernetes.protobuf' })
  t.equal(protobuf.status, 400, 'a protobuf body that is only the magic is refused as malformed, here as on the pod itself')

  const del = await call(url, 'DELETE', `${pods}/nope/ephemeralcontainers`)
  t.equal(del.status, 405)
  const post = await call(url, 'POST', `${pods}/nope/ephemeralcontainers`, {})
  t.equal(post.status, 405)

  const mirror = pod('static', { nodeName: 'n1' })
  mirror.metadata.annotations = { 'kubernetes.io/config.mirror': 'abc' }
  t.equal((await call(url, 'POST', pods, mirror)).status, 201)
  const refused = await call(url, 'PATCH', `${pods}/static/ephemeralcontainers`, { spec: { ephemeralContainers: [debugContainer('dbg')] } }, strategic)
  t.equal(refused.status, 422)
  t.same(causes(refused.body), [['FieldValueForbidden', '', 'Forbidden: static pods do not support ephemeral containers']])
})

t.test('a status write does not judge the stored spec again', async (t) => {
  const { url, server } = await startTestServer(t)
  await call(url, 'POST', pods, pod('p'))
  // A pod stored before a rule existed: its status must still be writable.
  const info = server.objects
  const { resources } = await import('../../src/api/registry.ts')
  const podInfo = resources.find((r) => r.kind === 'Pod')!
  const stored = await info.mustGet(podInfo, 'default', 'p')
  stored.spec.containers[0].terminationMessagePath = 'relative'
  await info.update(podInfo, stored, Number(stored.metadata.resourceVersion))
  const current = await call(url, 'GET', `${pods}/p`)
  current.body.status = { ...current.body.status, phase: 'Running' }
  const status = await call(url, 'PUT', `${pods}/p/status`, current.body)
  t.equal(status.status, 200, JSON.stringify(status.body.message))
  t.equal(status.body.status.phase, 'Running')
  const labelled = structuredClone(status.body)
  labelled.metadata.labels = { a: 'b' }
  t.equal((await call(url, 'PUT', `${pods}/p`, labelled)).status, 422, 'a spec write is judged in full, as upstream')
})

t.test('discovery lists the subresource', async (t) => {
  const { url } = await startTestServer(t)
  const list = await call(url, 'GET', '/api/v1')
  const entry = list.body.resources.find((r: Obj) => r.name === 'pods/ephemeralcontainers')
  t.ok(entry)
  t.equal(entry.kind, 'Pod')
  t.same([...entry.verbs].sort(), ['get', 'patch', 'update'])
})
