// kubectl's uses of /openapi/v2 (gnostic protobuf): client-side validation of a `kind: List`
// and of kinds the server does not serve (which must end in kubectl's own "no matches for
// kind" message), and `kubectl explain --output plaintext-openapiv2`.
import t from 'tap'
import { startTestServer } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { tmp } from '../helpers/openssl.ts'

const srv = await startTestServer(t)
const run = (...args: string[]) => kubectl(srv.kubeconfig, args)
const dir = tmp('weft-oapi2-')
t.teardown(() => dir.remove())

t.test('kubectl apply of a kind: List validates each item and applies them all', async (t) => {
  const list = dir.file('list.yaml', `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: first, labels: {app: listed}}
  data: {a: "1"}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: listed, labels: {app: listed}}
  spec:
    replicas: 0
    selector: {matchLabels: {app: listed}}
    template:
      metadata: {labels: {app: listed}}
      spec: {containers: [{name: c, image: registry.k8s.io/pause:3.10}]}
`)
  const applied = await run('apply', '-f', list)
  t.equal(applied.code, 0, applied.stderr)
  t.equal(applied.stdout.trim(), 'configmap/first created\ndeployment.apps/listed created')
  const typo = dir.file('typo.yaml', `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: second}
  dta: {a: "1"}
`)
  const refused = await run('apply', '-f', typo)
  t.not(refused.code, 0)
  t.match(refused.stderr, /unknown field "dta"/, 'client-side validation found the typo in the item')
  const nested = dir.file('nested.yaml', `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: nested}
  spec:
    replcas: 1
    selector: {matchLabels: {app: nested}}
    template:
      metadata: {labels: {app: nested}}
      spec: {containers: [{name: c, image: registry.k8s.io/pause:3.10, imagePullPolicy: Sometimes}]}
`)
  const deep = await run('apply', '-f', nested)
  t.not(deep.code, 0)
  t.match(deep.stderr, /ValidationError\(Deployment.spec\): unknown field "replcas"/, 'down through the $refs of the definitions')
  t.equal((await run('get', 'deployment', 'nested')).code, 1, 'nothing was applied')
})

t.test('a kind the server does not serve gets kubectl\'s "no matches for kind"', async (t) => {
  const widget = dir.file('widget.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n')
  const applied = await run('apply', '-f', widget)
  t.not(applied.code, 0)
  t.match(applied.stderr, /no matches for kind "Widget" in version "example.com\/v1"/)
  t.notMatch(applied.stderr, /mime|openapi/)
})

t.test('kubectl explain from OpenAPI v2', async (t) => {
  const explained = await run('explain', 'deployment.spec.replicas', '--output=plaintext-openapiv2')
  t.equal(explained.code, 0, explained.stderr)
  t.match(explained.stdout, /KIND:\s+Deployment/)
  t.match(explained.stdout, /FIELD:\s+replicas <integer>/)
  t.match(explained.stdout, /Number of desired pods/)
})
