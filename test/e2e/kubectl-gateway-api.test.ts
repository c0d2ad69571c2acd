// The Gateway API standard channel (v1.3.0) through the real kubectl: the CRDs apply and
// become established, a GatewayClass, Gateway and HTTPRoute apply and round-trip with the
// schema's defaults, `kubectl get` prints the CRDs' columns, an invalid route is refused
// with the schema's and the CEL rules' errors, and `kubectl explain` reads the published schema.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { startTestServer } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { tmp } from '../helpers/openssl.ts'

const crds = fileURLToPath(new URL('../fixtures/gateway-api/standard-install-v1.3.0.yaml', import.meta.url))
const srv = await startTestServer(t)
const run = (...args: string[]) => kubectl(srv.kubeconfig, args)
const dir = tmp('weft-gateway-')
t.teardown(() => dir.remove())

const gatewayClass = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: weft
spec:
  controllerName: example.com/gateway-controller
`
const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
  namespace: default
spec:
  gatewayClassName: weft
  listeners:
  - name: http
    protocol: HTTP
    port: 80
`
const route = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'shop', namespace: 'default', labels: { app: 'shop' } },
  spec: {
    parentRefs: [{ name: 'web' }],
    hostnames: ['shop.example.com'],
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/cart' } }],
        backendRefs: [{ name: 'cart', port: 8080 }],
      },
      { backendRefs: [{ name: 'storefront', port: 80 }] },
    ],
  },
}

t.test('the standard-channel CRDs apply and are established', async (t) => {
  const applied = await run('apply', '-f', crds)
  t.equal(applied.code, 0, applied.stderr)
  for (const name of ['gatewayclasses', 'gateways', 'grpcroutes', 'httproutes', 'referencegrants']) {
    t.match(applied.stdout, `customresourcedefinition.apiextensions.k8s.io/${name}.gateway.networking.k8s.io created`)
  }
  const waited = await run('wait', '--for', 'condition=Established', '--timeout=30s', '-f', crds, '-v=6')
  t.equal(waited.code, 0, waited.stderr.split('\n').filter((l) => !/loader.go|Request Body/.test(l)).join('\n').slice(-6000))
  // The manifests carry an empty status, so kubectl's patch is never empty and it says
  // "configured" (against kube-apiserver too); the spec is the same, so the generation stays.
  const again = await run('apply', '-f', crds)
  t.equal(again.code, 0, again.stderr)
  const crd = JSON.parse((await run('get', 'crd', 'httproutes.gateway.networking.k8s.io', '-o', 'json')).stdout)
  t.equal(crd.metadata.generation, 1)
  t.same(crd.status.storedVersions, ['v1'])
  t.match(crd.status.conditions, [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True' }])
  const resources = await run('api-resources', '--api-group=gateway.networking.k8s.io', '-o', 'name')
  t.equal(resources.code, 0, resources.stderr)
  t.same(resources.stdout.trim().split('\n').sort(), [
    'gatewayclasses.gateway.networking.k8s.io',
    'gateways.gateway.networking.k8s.io',
    'grpcroutes.gateway.networking.k8s.io',
    'httproutes.gateway.networking.k8s.io',
    'referencegrants.gateway.networking.k8s.io',
  ])
  const crdList = await run('get', 'crd')
  t.match(crdList.stdout, /httproutes\.gateway\.networking\.k8s\.io\s+\d{4}-\d\d-\d\dT/)
})

t.test('a GatewayClass, Gateway and HTTPRoute apply and round-trip', async (t) => {
  const applied = await run('apply', '-f', dir.file('gw.yaml', `${gatewayClass}---\n${gateway}`))
  t.equal(applied.code, 0, applied.stderr)
  t.match(applied.stdout, 'gatewayclass.gateway.networking.k8s.io/weft created')
  t.match(applied.stdout, 'gateway.gateway.networking.k8s.io/web created')
  const routeFile = dir.file('route.json', JSON.stringify(route))
  const created = await run('apply', '-f', routeFile)
  t.equal(created.code, 0, created.stderr)
  t.equal(created.stdout.trim(), 'httproute.gateway.networking.k8s.io/shop created')

  const got = await run('get', 'httproute', 'shop', '-o', 'json')
  t.equal(got.code, 0, got.stderr)
  const obj = JSON.parse(got.stdout)
  t.equal(obj.apiVersion, 'gateway.networking.k8s.io/v1')
  t.equal(obj.metadata.generation, 1)
  // What was applied, plus the schema's defaults.
  t.same(obj.spec, {
    parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web' }],
    hostnames: ['shop.example.com'],
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/cart' } }],
        backendRefs: [{ group: '', kind: 'Service', name: 'cart', port: 8080, weight: 1 }],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        backendRefs: [{ group: '', kind: 'Service', name: 'storefront', port: 80, weight: 1 }],
      },
    ],
  })
  t.same(obj.metadata.labels, { app: 'shop' })

  // The live object's lists carry defaults the manifest does not, so kubectl's merge patch
  // replaces them and it says "configured" (against kube-apiserver too); defaulted again,
  // nothing changes.
  const reapplied = await run('apply', '-f', routeFile)
  t.equal(reapplied.code, 0, reapplied.stderr)
  const after = JSON.parse((await run('get', 'httproute', 'shop', '-o', 'json')).stdout)
  t.equal(after.metadata.resourceVersion, obj.metadata.resourceVersion, 'a write that changes nothing')

  const asBeta = await run('get', 'httproutes.v1beta1.gateway.networking.k8s.io', 'shop', '-o', 'json')
  t.equal(asBeta.code, 0, asBeta.stderr)
  t.equal(JSON.parse(asBeta.stdout).apiVersion, 'gateway.networking.k8s.io/v1beta1')
})

t.test('kubectl get prints the printer columns', async (t) => {
  const routes = await run('get', 'httproute')
  t.equal(routes.code, 0, routes.stderr)
  const [header, row] = routes.stdout.trim().split('\n')
  t.match(header, /^NAME\s+HOSTNAMES\s+AGE$/)
  t.match(row, /^shop\s+\["shop\.example\.com"\]\s+\d+s$/)
  const classes = await run('get', 'gatewayclass')
  t.match(classes.stdout.split('\n')[0], /^NAME\s+CONTROLLER\s+ACCEPTED\s+AGE$/)
  t.match(classes.stdout.split('\n')[1], /^weft\s+example\.com\/gateway-controller\s+Unknown\s+\d+s$/)
  const category = await run('get', 'gateway-api', '-o', 'name')
  t.equal(category.code, 0, category.stderr)
  t.match(category.stdout, 'httproute.gateway.networking.k8s.io/shop')
  t.match(category.stdout, 'gateway.gateway.networking.k8s.io/web')
  const gateways = await run('get', 'gateways')
  t.match(gateways.stdout.split('\n')[0], /^NAME\s+CLASS\s+ADDRESS\s+PROGRAMMED\s+AGE$/)
  t.match(gateways.stdout.split('\n')[1], /^web\s+weft\s+Unknown\s+\d+s$/)
})

t.test('an invalid HTTPRoute is refused with the schema error', async (t) => {
  const tooMany = structuredClone(route) as any
  tooMany.metadata.name = 'bad'
  tooMany.spec.rules[0].matches = Array.from({ length: 65 }, (_, i) => ({ path: { type: 'PathPrefix', value: `/p${i}` } }))
  tooMany.spec.rules[1].backendRefs[0].port = 70000
  const refused = await run('apply', '-f', dir.file('bad.json', JSON.stringify(tooMany)))
  t.not(refused.code, 0)
  t.match(refused.stderr, 'The HTTPRoute "bad" is invalid')
  t.match(refused.stderr, 'spec.rules[0].matches: Too many: 65: must have at most 64 items')
  t.match(refused.stderr, 'spec.rules[1].backendRefs[0].port: Invalid value: 70000: spec.rules[1].backendRefs[0].port in body should be less than or equal to 65535')
  // The CRDs' CEL rules (x-kubernetes-validations) are enforced too.
  const relative = structuredClone(route) as any
  relative.metadata.name = 'relative'
  relative.spec.rules[0].matches[0].path.value = 'cart'
  delete relative.spec.rules[0].backendRefs[0].port
  const cel = await run('apply', '-f', dir.file('relative.json', JSON.stringify(relative)))
  t.not(cel.code, 0)
  t.match(cel.stderr, 'The HTTPRoute "relative" is invalid')
  t.match(cel.stderr, `spec.rules[0].matches[0].path: Invalid value: "object": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']`)
  t.match(cel.stderr, 'spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for Service reference')
  const typo = structuredClone(route) as any
  typo.metadata.name = 'typo'
  typo.spec.hostnamez = ['x']
  const strict = await run('apply', '-f', dir.file('typo.json', JSON.stringify(typo)))
  t.not(strict.code, 0)
  t.match(strict.stderr, 'unknown field "spec.hostnamez"')
  t.equal((await run('get', 'httproute', 'bad')).code, 1, 'nothing stored')
})

t.test('kubectl explain reads the CRD schema', async (t) => {
  const explained = await run('explain', 'httproute.spec')
  t.equal(explained.code, 0, explained.stderr)
  t.match(explained.stdout, 'GROUP:      gateway.networking.k8s.io')
  t.match(explained.stdout, 'KIND:       HTTPRoute')
  t.match(explained.stdout, /FIELD: spec <Object>/)
  t.match(explained.stdout, /hostnames\s+<\[\]string>/)
  t.match(explained.stdout, /rules\s+<\[\]Object>/)
  const deeper = await run('explain', 'httproute.spec.rules.backendRefs.port')
  t.equal(deeper.code, 0, deeper.stderr)
  t.match(deeper.stdout, /FIELD: port <integer>/)
  const v2 = await run('explain', 'httproute.spec.rules.matches', '--output', 'plaintext-openapiv2')
  t.equal(v2.code, 0, v2.stderr)
  t.match(v2.stdout, /RESOURCE: matches <\[\]Object>/)
})

t.test('server-side apply of the CRDs and of a route', async (t) => {
  const crdsAgain = await run('apply', '--server-side', '--force-conflicts', '-f', crds)
  t.equal(crdsAgain.code, 0, crdsAgain.stderr)
  const ssa = structuredClone(route) as any
  ssa.metadata.name = 'ssa'
  ssa.metadata.labels = { app: 'ssa' }
  const file = dir.file('ssa.json', JSON.stringify(ssa))
  const applied = await run('apply', '--server-side', '-f', file)
  t.equal(applied.code, 0, applied.stderr)
  t.equal(applied.stdout.trim(), 'httproute.gateway.networking.k8s.io/ssa serverside-applied')
  ssa.spec.hostnames = ['ssa.example.com']
  const changed = await run('apply', '--server-side', '-f', dir.file('ssa.json', JSON.stringify(ssa)))
  t.equal(changed.code, 0, changed.stderr)
  const got = JSON.parse((await run('get', 'httproute', 'ssa', '-o', 'json', '--show-managed-fields')).stdout)
  t.same(got.spec.hostnames, ['ssa.example.com'])
  t.equal(got.metadata.generation, 2)
  t.equal(got.spec.rules[1].matches[0].path.value, '/', 'defaulted')
  t.ok(got.metadata.managedFields.some((m: any) => m.manager === 'kubectl' && m.operation === 'Apply'))
})

t.test('watch, patch and delete through kubectl', async (t) => {
  const patched = await run('patch', 'httproute', 'shop', '--type=merge', '-p', '{"spec":{"hostnames":["shop.example.com","www.example.com"]}}')
  t.equal(patched.code, 0, patched.stderr)
  const strategic = await run('patch', 'httproute', 'shop', '-p', '{"spec":{"hostnames":["x.example.com"]}}')
  t.not(strategic.code, 0)
  t.match(strategic.stderr, /UnsupportedMediaType|unknown format|not supported/i)
  const labelled = await run('get', 'httproutes', '-l', 'app=shop', '-o', 'name')
  t.equal(labelled.stdout.trim(), 'httproute.gateway.networking.k8s.io/shop')
  const deleted = await run('delete', 'crd', 'httproutes.gateway.networking.k8s.io')
  t.equal(deleted.code, 0, deleted.stderr)
  const gone = await run('get', 'httproutes.gateway.networking.k8s.io')
  t.not(gone.code, 0)
})
