import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'

type Obj = Record<string, any>

const pods = '/api/v1/namespaces/default/pods'

function pod(name: string, container: Obj, spec: Obj = {}): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'weft/echo', ...container }], ...spec } }
}

const causes = (body: Obj) => (body.details?.causes ?? []).map((c: Obj) => [c.reason, c.field, c.message])

t.test('lifecycle hooks: exactly one well-formed handler each', async (t) => {
  const { url } = await startTestServer(t)
  const at = 'spec.containers[0].lifecycle'
  let n = 0
  const create = (container: Obj, spec: Obj = {}) => call(url, 'POST', pods, pod(`p${n++}`, container, spec))

  const invalidCases: [string, Obj, [string, string, string][], Obj?][] = [
    ['an empty hook', { lifecycle: { postStart: {} } }, [['FieldValueRequired', `${at}.postStart`, 'Required value: must specify a handler type']]],
    [
      'two handler types',
      { lifecycle: { preStop: { exec: { command: ['true'] }, httpGet: { port: 80 }, sleep: { seconds: 1 } } } },
      [
        ['FieldValueForbidden', `${at}.preStop.httpGet`, 'Forbidden: may not specify more than 1 handler type'],
        ['FieldValueForbidden', `${at}.preStop.sleep`, 'Forbidden: may not specify more than 1 handler type'],
      ],
    ],
    ['exec without a command', { lifecycle: { postStart: { exec: {} } } }, [['FieldValueRequired', `${at}.postStart.exec.command`, 'Required value']]],
    ['exec with an empty command', { lifecycle: { postStart: { exec: { command: [] } } } }, [['FieldValueRequired', `${at}.postStart.exec.command`, 'Required value']]],
    ['httpGet without a port', { lifecycle: { postStart: { httpGet: { path: '/hook' } } } }, [['FieldValueInvalid', `${at}.postStart.httpGet.port`, 'Invalid value: 0: must be between 1 and 65535, inclusive']]],
    ['httpGet with port 70000', { lifecycle: { postStart: { httpGet: { port: 70000 } } } }, [['FieldValueInvalid', `${at}.postStart.httpGet.port`, 'Invalid value: 70000: must be between 1 and 65535, inclusive']]],
    ['httpGet with a bad port name', { lifecycle: { postStart: { httpGet: { port: 'Web_Port' } } } }, [['FieldValueInvalid', `${at}.postStart.httpGet.port`, 'Invalid value: "Web_Port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)']]],
    ['httpGet with scheme FTP', { lifecycle: { postStart: { httpGet: { port: 80, scheme: 'FTP' } } } }, [['FieldValueNotSupported', `${at}.postStart.httpGet.scheme`, 'Unsupported value: "FTP": supported values: "HTTP", "HTTPS"']]],
    [
      'httpGet with a bad header name',
      { lifecycle: { postStart: { httpGet: { port: 80, httpHeaders: [{ name: 'Bad Header', value: 'x' }] } } } },
      [['FieldValueInvalid', `${at}.postStart.httpGet.httpHeaders`, "Invalid value: \"Bad Header\": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')"]],
    ],
    ['tcpSocket without a port', { lifecycle: { preStop: { tcpSocket: {} } } }, [['FieldValueInvalid', `${at}.preStop.tcpSocket.port`, 'Invalid value: 0: must be between 1 and 65535, inclusive']]],
    ['a sleep longer than the grace period', { lifecycle: { preStop: { sleep: { seconds: 31 } } } }, [['FieldValueInvalid', `${at}.preStop.sleep`, 'Invalid value: 31: must be non-negative and less than terminationGracePeriodSeconds (30)']]],
    ['a negative sleep', { lifecycle: { preStop: { sleep: { seconds: -1 } } } }, [['FieldValueInvalid', `${at}.preStop.sleep`, 'Invalid value: -1: must be non-negative and less than terminationGracePeriodSeconds (5)']], { terminationGracePeriodSeconds: 5 }],
  ]
  for (const [what, container, want, spec] of invalidCases) {
    const res = await create(container, spec)
    t.equal(res.status, 422, `${what}: 422 (${JSON.stringify(res.body.message)})`)
    t.equal(res.body.reason, 'Invalid', what)
    t.same(causes(res.body), want, what)
  }

  const validCases: [string, Obj][] = [
    ['exec', { lifecycle: { postStart: { exec: { command: ['sh', '-c', 'true'] } } } }],
    ['httpGet with a named port', { lifecycle: { preStop: { httpGet: { port: 'http', httpHeaders: [{ name: 'X-Hook', value: '1' }] } } } }],
    ['tcpSocket (deprecated, still accepted)', { lifecycle: { preStop: { tcpSocket: { port: 8080 } } } }],
    ['a zero sleep', { lifecycle: { preStop: { sleep: { seconds: 0 } } } }],
    ['a sleep of the whole grace period', { lifecycle: { preStop: { sleep: { seconds: 30 } } } }],
    ['both hooks', { lifecycle: { postStart: { exec: { command: ['true'] } }, preStop: { sleep: { seconds: 1 } } } }],
  ]
  for (const [what, container] of validCases) {
    const res = await create(container)
    t.equal(res.status, 201, `${what}: ${JSON.stringify(res.body.message)}`)
  }

  const defaulted = await create({ lifecycle: { postStart: { httpGet: { port: 80 } } } })
  t.equal(defaulted.status, 201)
  t.same(defaulted.body.spec.containers[0].lifecycle.postStart.httpGet, { port: 80, path: '/', scheme: 'HTTP' }, 'httpGet in a hook is defaulted as in a probe')
})

t.test('lifecycle on init containers needs restartPolicy Always', async (t) => {
  const { url } = await startTestServer(t)
  const hook = { postStart: { exec: { command: ['true'] } } }
  const plain = await call(url, 'POST', pods, pod('a', {}, { initContainers: [{ name: 'i', image: 'x', lifecycle: hook }] }))
  t.equal(plain.status, 422)
  t.same(causes(plain.body), [['FieldValueForbidden', 'spec.initContainers[0].lifecycle', 'Forbidden: may not be set for init containers without restartPolicy=Always']])

  const sidecar = await call(url, 'POST', pods, pod('b', {}, { initContainers: [{ name: 'i', image: 'x', restartPolicy: 'Always', lifecycle: { postStart: {} } }] }))
  t.equal(sidecar.status, 422, 'a sidecar hook is validated like a container one')
  t.same(causes(sidecar.body), [['FieldValueRequired', 'spec.initContainers[0].lifecycle.postStart', 'Required value: must specify a handler type']])

  const good = await call(url, 'POST', pods, pod('c', {}, { initContainers: [{ name: 'i', image: 'x', restartPolicy: 'Always', lifecycle: hook }] }))
  t.equal(good.status, 201)

  const onFailure = await call(url, 'POST', pods, pod('d', {}, { initContainers: [{ name: 'i', image: 'x', restartPolicy: 'OnFailure' }] }))
  t.equal(onFailure.status, 422)
  t.same(causes(onFailure.body), [['FieldValueNotSupported', 'spec.initContainers[0].restartPolicy', 'Unsupported value: "OnFailure": supported values: "Always"']])

  const template = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd' },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x', lifecycle: { preStop: { httpGet: { port: 0 } } } }] } } },
  }
  const deploy = await call(url, 'POST', '/apis/apps/v1/namespaces/default/deployments', template)
  t.equal(deploy.status, 422, 'pod templates are checked too')
  t.same(causes(deploy.body), [['FieldValueInvalid', 'spec.template.spec.containers[0].lifecycle.preStop.httpGet.port', 'Invalid value: 0: must be between 1 and 65535, inclusive']])
})

t.test('termination message path and policy', async (t) => {
  const { url } = await startTestServer(t)
  const defaulted = await call(url, 'POST', pods, pod('a', {}))
  t.equal(defaulted.status, 201)
  t.equal(defaulted.body.spec.containers[0].terminationMessagePath, '/dev/termination-log')
  t.equal(defaulted.body.spec.containers[0].terminationMessagePolicy, 'File')

  const at = 'spec.containers[0]'
  const cases: [string, Obj, [string, string, string][]][] = [
    ['a relative path', { terminationMessagePath: 'dev/termination-log' }, [['FieldValueInvalid', `${at}.terminationMessagePath`, 'Invalid value: "dev/termination-log": must be an absolute path']]],
    ['a path longer than 4096 bytes', { terminationMessagePath: '/' + 'a'.repeat(4096) }, [['FieldValueTooLong', `${at}.terminationMessagePath`, 'Too long: may not be more than 4096 bytes']]],
    ['an unknown policy', { terminationMessagePolicy: 'Never' }, [['FieldValueNotSupported', `${at}.terminationMessagePolicy`, 'Unsupported value: "Never": supported values: "FallbackToLogsOnError", "File"']]],
  ]
  for (const [what, container, want] of cases) {
    const res = await call(url, 'POST', pods, pod('b', container))
    t.equal(res.status, 422, what)
    t.same(causes(res.body), want, what)
  }
  const custom = await call(url, 'POST', pods, pod('c', { terminationMessagePath: '/tmp/' + 'm'.repeat(4000), terminationMessagePolicy: 'FallbackToLogsOnError' }))
  t.equal(custom.status, 201, 'an absolute path within the limit and the other policy')
  t.equal(custom.body.spec.containers[0].terminationMessagePolicy, 'FallbackToLogsOnError')

  const eph = await call(url, 'PATCH', `${pods}/a/ephemeralcontainers`, { spec: { ephemeralContainers: [{ name: 'dbg', image: 'busybox', terminationMessagePath: 'rel' }] } }, { 'content-type': 'application/strategic-merge-patch+json' })
  t.equal(eph.status, 422, 'ephemeral containers get the same checks')
  t.same(causes(eph.body), [['FieldValueInvalid', 'spec.ephemeralContainers[0].terminationMessagePath', 'Invalid value: "rel": must be an absolute path']])
})
