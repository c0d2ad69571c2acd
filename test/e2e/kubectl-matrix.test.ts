// Everyday kubectl, as a new user types it, against a real weft API server and controllers:
// each invocation must succeed and print what kubectl prints against Kubernetes.
import t, { type Test } from 'tap'
import { startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { tmp } from '../helpers/openssl.ts'

const c = await startCluster(t)
const dir = tmp('weft-matrix-')
t.teardown(() => dir.remove())

interface Case {
  args: string[]
  /** What stdout must match. */
  says: RegExp
  input?: string
}

async function matrix(t: Test, cases: Case[]): Promise<void> {
  for (const { args, says, input } of cases) {
    const run = await kubectl(c.kubeconfig, args, input)
    t.equal(run.code, 0, `kubectl ${args.join(' ')}: ${run.stderr}`)
    t.match(run.stdout, says, `kubectl ${args.join(' ')}`)
  }
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app: shop, tier: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: web
        image: weft/echo
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 100m}}
---
apiVersion: v1
kind: Service
metadata:
  name: shop
  labels: {app: shop}
spec:
  selector: {app: shop}
  ports: [{port: 80, targetPort: 8080}]
`

t.test('create: every generator', async (t) => {
  await matrix(t, [
    { args: ['create', 'namespace', 'matrix'], says: /^namespace\/matrix created$/m },
    { args: ['create', 'configmap', 'cfg', '--from-literal=a=1', '-n', 'matrix'], says: /^configmap\/cfg created$/m },
    { args: ['create', 'secret', 'generic', 's', '--from-literal=p=q', '-n', 'matrix'], says: /^secret\/s created$/m },
    { args: ['create', 'deployment', 'd', '--image=weft/echo', '--replicas=1', '-n', 'matrix'], says: /^deployment\.apps\/d created$/m },
    { args: ['create', 'service', 'clusterip', 'd', '--tcp=80:8080', '-n', 'matrix'], says: /^service\/d created$/m },
    { args: ['create', 'ingress', 'd', '--rule=d.example/*=d:80', '-n', 'matrix'], says: /^ingress\.networking\.k8s\.io\/d created$/m },
    { args: ['create', 'serviceaccount', 'sa', '-n', 'matrix'], says: /^serviceaccount\/sa created$/m },
    { args: ['create', 'role', 'r', '--verb=get', '--resource=pods', '-n', 'matrix'], says: /^role\.rbac\.authorization\.k8s\.io\/r created$/m },
    { args: ['create', 'rolebinding', 'rb', '--role=r', '--serviceaccount=matrix:sa', '-n', 'matrix'], says: /^rolebinding\.rbac\.authorization\.k8s\.io\/rb created$/m },
    { args: ['create', 'clusterrole', 'cr', '--verb=get', '--resource=nodes'], says: /^clusterrole\.rbac\.authorization\.k8s\.io\/cr created$/m },
    { args: ['create', 'clusterrolebinding', 'crb', '--clusterrole=cr', '--group=g'], says: /^clusterrolebinding\.rbac\.authorization\.k8s\.io\/crb created$/m },
    { args: ['create', 'priorityclass', 'pc', '--value=100'], says: /^priorityclass\.scheduling\.k8s\.io\/pc created$/m },
    { args: ['create', 'job', 'j', '--image=weft/echo', '-n', 'matrix'], says: /^job\.batch\/j created$/m },
    { args: ['create', 'cronjob', 'cj', '--image=weft/echo', '--schedule=*/5 * * * *', '-n', 'matrix'], says: /^cronjob\.batch\/cj created$/m },
    { args: ['create', 'job', 'from-cj', '--from=cronjob/cj', '-n', 'matrix'], says: /^job\.batch\/from-cj created$/m },
    { args: ['create', 'poddisruptionbudget', 'pdb', '--selector=app=d', '--min-available=1', '-n', 'matrix'], says: /^poddisruptionbudget\.policy\/pdb created$/m },
    { args: ['create', 'quota', 'q', '--hard=pods=50,requests.cpu=4', '-n', 'matrix'], says: /^resourcequota\/q created$/m },
    { args: ['create', 'token', 'sa', '-n', 'matrix'], says: /^[\w-]+\.[\w-]+\.[\w-]+$/m },
    { args: ['create', 'configmap', 'dry', '--from-literal=a=1', '--dry-run=server', '-n', 'matrix'], says: /^configmap\/dry created \(server dry run\)$/m },
    { args: ['create', '-f', '-', '-n', 'matrix'], input: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-stdin}\n', says: /^configmap\/from-stdin created$/m },
  ])
})

t.test('apply, get, describe, label, annotate, patch, scale, set, rollout, autoscale', async (t) => {
  const file = dir.file('shop.yaml', deployment)
  await matrix(t, [
    { args: ['apply', '-f', file], says: /^deployment\.apps\/shop created\nservice\/shop created$/m },
    { args: ['apply', '-f', file], says: /^deployment\.apps\/shop unchanged\nservice\/shop unchanged$/m },
    { args: ['diff', '-f', file], says: /^$/ },
    { args: ['get', 'deploy', 'shop'], says: /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nshop\s+/ },
    { args: ['get', 'all', '-l', 'app=shop'], says: /deployment\.apps\/shop/ },
    { args: ['get', 'deploy,svc', '-l', 'app=shop', '-o', 'name'], says: /^deployment\.apps\/shop\nservice\/shop$/m },
    { args: ['get', 'deploy', 'shop', '-o', 'jsonpath={.spec.replicas}'], says: /^2$/ },
    { args: ['get', 'deploy', 'shop', '-o', 'wide'], says: /CONTAINERS\s+IMAGES\s+SELECTOR/ },
    { args: ['get', 'svc', 'shop', '-o', 'yaml'], says: /^kind: Service$/m },
    { args: ['describe', 'deployment', 'shop'], says: /^Name:\s+shop$/m },
    { args: ['describe', 'service', 'shop'], says: /^Selector:\s+app=shop$/m },
    { args: ['label', 'deploy', 'shop', 'env=test'], says: /^deployment\.apps\/shop labeled$/m },
    { args: ['annotate', 'deploy', 'shop', 'owner=team-a'], says: /^deployment\.apps\/shop annotated$/m },
    { args: ['patch', 'deploy', 'shop', '--type=merge', '-p', '{"spec":{"minReadySeconds":1}}'], says: /^deployment\.apps\/shop patched$/m },
    { args: ['patch', 'deploy', 'shop', '--type=json', '-p', '[{"op":"replace","path":"/spec/minReadySeconds","value":0}]'], says: /^deployment\.apps\/shop patched$/m },
    { args: ['scale', 'deploy', 'shop', '--replicas=3'], says: /^deployment\.apps\/shop scaled$/m },
    { args: ['set', 'image', 'deploy/shop', 'web=weft/echo:v2'], says: /^deployment\.apps\/shop image updated$/m },
    { args: ['set', 'env', 'deploy/shop', 'MODE=fast'], says: /^deployment\.apps\/shop env updated$/m },
    { args: ['rollout', 'history', 'deploy/shop'], says: /^REVISION\s+CHANGE-CAUSE$/m },
    { args: ['rollout', 'restart', 'deploy/shop'], says: /^deployment\.apps\/shop restarted$/m },
    { args: ['rollout', 'undo', 'deploy/shop'], says: /^deployment\.apps\/shop rolled back$/m },
    { args: ['autoscale', 'deploy', 'shop', '--min=1', '--max=4', '--cpu-percent=70'], says: /^horizontalpodautoscaler\.autoscaling\/shop autoscaled$/m },
    { args: ['get', 'hpa', 'shop'], says: /^shop\s+Deployment\/shop\s+cpu: .*\/70%\s+1\s+4\s+/m },
    { args: ['get', 'events', '--field-selector', 'involvedObject.name=shop'], says: /ScalingReplicaSet|No resources found|LAST SEEN/ },
    { args: ['get', 'jobs,cronjobs,pdb,quota,pv,pvc,sc,sts', '-A'], says: /cronjob\.batch\/cj|NAME/ },
  ])
})

const daemonSetAndStatefulSet = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: agent, image: weft/echo}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - {name: db, image: weft/echo}
`

t.test('rollout history and undo of a DaemonSet and a StatefulSet (their ControllerRevisions)', async (t) => {
  const file = dir.file('rollouts.yaml', daemonSetAndStatefulSet)
  const revisions = async (target: string, n: number) => {
    const want = new RegExp(`^${n}\\s+<none>$`, 'm')
    await until(`${target}: revision ${n}`, async () => want.test((await kubectl(c.kubeconfig, ['rollout', 'history', target])).stdout), 20_000)
  }
  await matrix(t, [{ args: ['apply', '-f', file], says: /^daemonset\.apps\/agent created\nstatefulset\.apps\/db created$/m }])
  await revisions('ds/agent', 1)
  await revisions('sts/db', 1)
  await matrix(t, [
    { args: ['set', 'image', 'ds/agent', 'agent=weft/echo:v2'], says: /^daemonset\.apps\/agent image updated$/m },
    { args: ['set', 'image', 'sts/db', 'db=weft/echo:v2'], says: /^statefulset\.apps\/db image updated$/m },
  ])
  await revisions('ds/agent', 2)
  await revisions('sts/db', 2)
  await matrix(t, [
    { args: ['rollout', 'history', 'ds/agent'], says: /^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>$/m },
    { args: ['rollout', 'history', 'ds/agent', '--revision=1'], says: /Image:\s+weft\/echo\n/ },
    { args: ['rollout', 'history', 'sts/db'], says: /^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>$/m },
    { args: ['rollout', 'undo', 'ds/agent'], says: /^daemonset\.apps\/agent rolled back$/m },
    { args: ['rollout', 'undo', 'sts/db'], says: /^statefulset\.apps\/db rolled back$/m },
    { args: ['get', 'ds', 'agent', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], says: /^weft\/echo$/ },
    { args: ['get', 'sts', 'db', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], says: /^weft\/echo$/ },
  ])
  // The revision rolled back to is renumbered, as upstream does: 2 and 3 remain.
  await revisions('ds/agent', 3)
  await revisions('sts/db', 3)
  await matrix(t, [{ args: ['get', 'controllerrevisions', '-l', 'app=agent'], says: /^NAME\s+CONTROLLER\s+REVISION\s+AGE\nagent-[a-z0-9]+\s+daemonset\.apps\/agent\s+[23]\s/m }])
})

t.test('apply --prune with the default allowlist', async (t) => {
  const both = dir.file('prune-both.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep, labels: {set: prune}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: drop, labels: {set: prune}}\n')
  const one = dir.file('prune-one.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep, labels: {set: prune}}\n')
  await matrix(t, [
    { args: ['apply', '--prune', '-l', 'set=prune', '-f', both], says: /^configmap\/keep created\nconfigmap\/drop created$/m },
    // kubectl lists every kind of its default allowlist (PVCs, Jobs, StatefulSets, PVs…) to find what to prune.
    { args: ['apply', '--prune', '-l', 'set=prune', '-f', one], says: /^configmap\/keep unchanged\nconfigmap\/drop pruned$/m },
  ])
})

t.test('discovery and schema: api-resources, api-versions, explain, version, auth', async (t) => {
  await matrix(t, [
    { args: ['api-resources'], says: /^horizontalpodautoscalers\s+hpa\s+autoscaling\/v2\s+true\s+HorizontalPodAutoscaler$/m },
    { args: ['api-resources', '--api-group=networking.k8s.io'], says: /^networkpolicies\s+netpol\s+networking\.k8s\.io\/v1\s+true\s+NetworkPolicy$/m },
    { args: ['api-versions'], says: /^autoscaling\/v1\nautoscaling\/v2$/m },
    { args: ['explain', 'pod.spec.containers.ports'], says: /FIELD:\s+ports/ },
    { args: ['explain', 'hpa.spec.behavior'], says: /KIND:\s+HorizontalPodAutoscaler/ },
    { args: ['explain', 'netpol.spec.egress.ports'], says: /FIELD:\s+ports <\[\]NetworkPolicyPort>/ },
    { args: ['auth', 'can-i', 'list', 'networkpolicies', '--as=system:node:n1', '--as-group=system:nodes'], says: /^yes$/m },
    { args: ['version', '-o', 'json'], says: /"serverVersion"/ },
    { args: ['auth', 'can-i', 'create', 'deployments'], says: /^yes$/m },
    { args: ['auth', 'whoami'], says: /kubernetes-admin/ },
  ])
})

t.test('delete: by name, by label, a whole namespace', async (t) => {
  await matrix(t, [
    { args: ['delete', 'hpa', 'shop'], says: /^horizontalpodautoscaler\.autoscaling "shop" deleted$/m },
    { args: ['delete', 'deploy,svc', '-l', 'app=shop'], says: /^deployment\.apps "shop" deleted\nservice "shop" deleted$/m },
    { args: ['delete', 'namespace', 'matrix', '--wait=false'], says: /^namespace "matrix" deleted$/m },
  ])
})
