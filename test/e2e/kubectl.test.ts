// The real, preinstalled kubectl against weft server on a loopback port.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { startTestServer } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'

const manifest = (replicas: number, image = 'weft/echo:1.0') => `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {example.com/owner: team-a}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      securityContext: {runAsNonRoot: true, runAsUser: 1000}
      containers:
      - name: web
        image: ${image}
        args: ["--port", "8080"]
        ports: [{containerPort: 8080, name: http}]
        env: [{name: MODE, value: demo}]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 1, memory: 128Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
spec:
  rules:
  - host: web.example.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {name: http}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  color: blue
`

t.test('kubectl apply, get, scale, server-side apply and delete', async (t) => {
  const { kubeconfig, dir } = await startTestServer(t)
  const file = join(dir, 'app.yaml')
  await writeFile(file, manifest(2))

  const created = await kubectl(kubeconfig, ['apply', '-f', file])
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /namespace\/shop created/)
  t.match(created.stdout, /deployment.apps\/web created/)
  t.match(created.stdout, /service\/web created/)
  t.match(created.stdout, /ingress.networking.k8s.io\/web created/)

  const again = await kubectl(kubeconfig, ['apply', '-f', file])
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /deployment.apps\/web unchanged/)

  await writeFile(file, manifest(3, 'weft/echo:1.1'))
  const updated = await kubectl(kubeconfig, ['apply', '-f', file])
  t.equal(updated.code, 0, updated.stderr)
  t.match(updated.stdout, /deployment.apps\/web configured/)
  const dep = await kubectl(kubeconfig, ['get', 'deployment', 'web', '-n', 'shop', '-o', 'json'])
  const obj = JSON.parse(dep.stdout)
  t.equal(obj.spec.replicas, 3)
  t.equal(obj.spec.template.spec.containers[0].image, 'weft/echo:1.1')
  t.equal(obj.metadata.generation, 2)
  t.same(obj.spec.template.spec.securityContext, { runAsNonRoot: true, runAsUser: 1000 }, 'fields weft does not act on are kept')

  const get = await kubectl(kubeconfig, ['get', 'deploy,svc,ing,cm', '-n', 'shop'])
  t.equal(get.code, 0, get.stderr)
  t.match(get.stdout, /NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/)
  t.match(get.stdout, /service\/web\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+80:3\d{4}\/TCP/)
  t.match(get.stdout, /ingress.networking.k8s.io\/web\s+<none>\s+web.example.test/)

  const wide = await kubectl(kubeconfig, ['get', 'deploy', '-n', 'shop', '-o', 'wide'])
  t.match(wide.stdout, /CONTAINERS\s+IMAGES\s+SELECTOR/)
  t.match(wide.stdout, /web\s+weft\/echo:1\.1\s+app=web/)

  const yaml = await kubectl(kubeconfig, ['get', 'svc', 'web', '-n', 'shop', '-o', 'yaml'])
  const svc = parseYaml(yaml.stdout)
  t.equal(svc.kind, 'Service')
  t.equal(svc.spec.ports[0].targetPort, 'http')

  const scaled = await kubectl(kubeconfig, ['scale', 'deployment/web', '-n', 'shop', '--replicas=5'])
  t.equal(scaled.code, 0, scaled.stderr)
  t.match(scaled.stdout, /scaled/)
  const replicas = await kubectl(kubeconfig, ['get', 'deploy', 'web', '-n', 'shop', '-o', 'jsonpath={.spec.replicas}'])
  t.equal(replicas.stdout, '5')

  const ssa = await kubectl(kubeconfig, ['apply', '--server-side', '--field-manager=ci', '-f', file])
  t.not(ssa.code, 0, 'server-side apply conflicts with the field kubectl scale set')
  t.match(ssa.stderr, /conflict/i)
  t.match(ssa.stderr, /\.spec\.replicas/)
  const forced = await kubectl(kubeconfig, ['apply', '--server-side', '--field-manager=ci', '--force-conflicts', '-f', file])
  t.equal(forced.code, 0, forced.stderr)
  t.match(forced.stdout, /serverside-applied/)
  const after = await kubectl(kubeconfig, ['get', 'deploy', 'web', '-n', 'shop', '-o', 'jsonpath={.spec.replicas}'])
  t.equal(after.stdout, '3')
  const managed = JSON.parse((await kubectl(kubeconfig, ['get', 'deploy', 'web', '-n', 'shop', '-o', 'json', '--show-managed-fields'])).stdout)
  t.ok(managed.metadata.managedFields.some((m: any) => m.manager === 'ci' && m.operation === 'Apply'), 'managedFields record the apply')

  const deleted = await kubectl(kubeconfig, ['delete', '-n', 'shop', 'deployment/web', 'service/web', 'configmap/settings'])
  t.equal(deleted.code, 0, deleted.stderr)
  t.match(deleted.stdout, /deployment.apps "web" deleted/)
  const none = await kubectl(kubeconfig, ['get', 'deploy,svc,cm', '-n', 'shop', '-o', 'name'])
  t.equal(none.stdout.trim(), '', 'nothing left')
})

t.test('kubectl shows validation errors with field names', async (t) => {
  const { kubeconfig, dir } = await startTestServer(t)
  const typo = join(dir, 'typo.yaml')
  await writeFile(typo, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    imagee: x\n')
  const res = await kubectl(kubeconfig, ['apply', '-f', typo])
  t.not(res.code, 0)
  t.match(res.stderr, /unknown field "spec.containers\[0\].imagee"/)

  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: 0\n')
  const invalid = await kubectl(kubeconfig, ['create', '-f', bad])
  t.not(invalid.code, 0)
  t.match(invalid.stderr, /spec.ports\[0\].port: Invalid value: 0/)
})

t.test('the README example applies cleanly', async (t) => {
  const { kubeconfig } = await startTestServer(t)
  const example = join(import.meta.dirname, '..', '..', 'examples', 'web.yaml')
  const res = await kubectl(kubeconfig, ['apply', '-f', example])
  t.equal(res.code, 0, res.stderr)
  t.match(res.stdout, /deployment.apps\/web created\nservice\/web created\ningress.networking.k8s.io\/web created/)
})

t.test('kubectl get of every served kind prints a table', async (t) => {
  const { kubeconfig } = await startTestServer(t)
  const kinds = ['namespaces', 'nodes', 'pods', 'services', 'endpoints', 'secrets', 'configmaps', 'events', 'events.events.k8s.io', 'endpointslices', 'ingresses', 'ingressclasses', 'deployments', 'replicasets', 'replicationcontrollers', 'daemonsets', 'leases']
  for (const kind of kinds) {
    const res = await kubectl(kubeconfig, ['get', kind, '-A'])
    t.equal(res.code, 0, `${kind}: ${res.stderr}`)
  }
  const ns = await kubectl(kubeconfig, ['get', 'ns'])
  t.match(ns.stdout, /NAME\s+STATUS\s+AGE/)
  t.match(ns.stdout, /kube-system\s+Active/)
  const explain = await kubectl(kubeconfig, ['explain', 'deployment.spec.replicas'])
  t.equal(explain.code, 0, explain.stderr)
  t.match(explain.stdout, /replicas/)
})
