import t from 'tap'
import { createHash } from 'node:crypto'
import { openApiDocument, openApiDocumentJson, openApiIndex, schemaName } from '../../src/apiserver/openapi.ts'

type Obj = Record<string, any>

function doc(path: string): Obj {
  const d = openApiDocument(path)
  if (!d) throw new Error(`no document ${path}`)
  return d as Obj
}

function refsOf(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsOf(v, out)
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.add(v)
      else refsOf(v, out)
    }
  }
  return out
}

t.test('index lists every document with a content hash', async (t) => {
  const index = openApiIndex()
  t.same(Object.keys(index.paths).sort(), [
    'api',
    'api/v1',
    'apis',
    'apis/apiextensions.k8s.io',
    'apis/apiextensions.k8s.io/v1',
    'apis/apps',
    'apis/apps/v1',
    'apis/authentication.k8s.io',
    'apis/authentication.k8s.io/v1',
    'apis/authorization.k8s.io',
    'apis/authorization.k8s.io/v1',
    'apis/autoscaling',
    'apis/autoscaling/v1',
    'apis/autoscaling/v2',
    'apis/batch',
    'apis/batch/v1',
    'apis/certificates.k8s.io',
    'apis/certificates.k8s.io/v1',
    'apis/coordination.k8s.io',
    'apis/coordination.k8s.io/v1',
    'apis/discovery.k8s.io',
    'apis/discovery.k8s.io/v1',
    'apis/events.k8s.io',
    'apis/events.k8s.io/v1',
    'apis/networking.k8s.io',
    'apis/networking.k8s.io/v1',
    'apis/policy',
    'apis/policy/v1',
    'apis/rbac.authorization.k8s.io',
    'apis/rbac.authorization.k8s.io/v1',
    'apis/scheduling.k8s.io',
    'apis/scheduling.k8s.io/v1',
    'apis/storage.k8s.io',
    'apis/storage.k8s.io/v1',
  ])
  for (const [path, { serverRelativeURL }] of Object.entries(index.paths)) {
    const m = /^\/openapi\/v3\/(.+)\?hash=([0-9A-F]{128})$/.exec(serverRelativeURL)
    t.ok(m, serverRelativeURL)
    t.equal(m?.[1], path)
    const json = openApiDocumentJson(path)
    t.equal(m?.[2], createHash('sha512').update(json?.json ?? '').digest('hex').toUpperCase(), `${path} hash is sha512 of the document`)
    t.same(JSON.parse(json?.json ?? 'null'), openApiDocument(path))
  }
  t.equal(openApiDocument('apis/nope/v1'), undefined)
  t.equal(openApiDocument('apis/apps/v2'), undefined)
  t.equal(openApiDocument('/api/v1'), openApiDocument('api/v1'), 'documents are built once')
})

t.test('schema names follow upstream', async (t) => {
  t.equal(schemaName('V1Pod'), 'io.k8s.api.core.v1.Pod')
  t.equal(schemaName('V1PodTemplateSpec'), 'io.k8s.api.core.v1.PodTemplateSpec')
  t.equal(schemaName('V1ObjectMeta'), 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')
  t.equal(schemaName('V1LabelSelector'), 'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector')
  t.equal(schemaName('CoreV1Event'), 'io.k8s.api.core.v1.Event')
  t.equal(schemaName('DiscoveryV1EndpointPort'), 'io.k8s.api.discovery.v1.EndpointPort')
  t.equal(schemaName('V1Deployment'), 'io.k8s.api.apps.v1.Deployment')
  t.equal(schemaName('V1DeploymentList'), 'io.k8s.api.apps.v1.DeploymentList')
  t.equal(schemaName('V1IngressServiceBackend'), 'io.k8s.api.networking.v1.IngressServiceBackend')
  t.equal(schemaName('V1TypedLocalObjectReference'), 'io.k8s.api.core.v1.TypedLocalObjectReference')
  t.equal(schemaName('V1EndpointConditions'), 'io.k8s.api.discovery.v1.EndpointConditions')
  t.equal(schemaName('V1LeaseSpec'), 'io.k8s.api.coordination.v1.LeaseSpec')
  t.equal(schemaName('V1Scale'), 'io.k8s.api.autoscaling.v1.Scale')
})

t.test('group-version documents', async (t) => {
  for (const path of Object.keys(openApiIndex().paths)) {
    const d = doc(path)
    t.equal(d.openapi, '3.0.0')
    const schemas = d.components.schemas
    const missing = [...refsOf(d)].filter((r) => !schemas[r.replace('#/components/schemas/', '')])
    t.same(missing, [], `${path}: every $ref resolves within the document`)
  }
  const core = doc('api/v1')
  const pod = core.components.schemas['io.k8s.api.core.v1.Pod']
  t.same(pod['x-kubernetes-group-version-kind'], [{ group: '', kind: 'Pod', version: 'v1' }])
  t.same(pod.properties.metadata.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }])
  t.same(core.components.schemas['io.k8s.api.core.v1.PodList']['x-kubernetes-group-version-kind'], [{ group: '', kind: 'PodList', version: 'v1' }])
  const container = core.components.schemas['io.k8s.api.core.v1.Container']
  t.same(container.required, ['name'])
  t.equal(container.properties.image.type, 'string')
  t.match(container.properties.image.description, /^Container image name/)
  t.same(container.properties.ports.items, { $ref: '#/components/schemas/io.k8s.api.core.v1.ContainerPort' })
  t.equal(container.properties.ports['x-kubernetes-patch-merge-key'], 'containerPort')
  t.equal(container.properties.ports['x-kubernetes-patch-strategy'], 'merge')
  t.equal(core.components.schemas['io.k8s.api.core.v1.PodSpec'].properties.containers['x-kubernetes-patch-merge-key'], 'name')
  const requirements = core.components.schemas['io.k8s.api.core.v1.ResourceRequirements']
  t.same(requirements.properties.limits.additionalProperties, { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity' })
  t.equal(core.components.schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString']['x-kubernetes-int-or-string'], true)
  t.same(core.components.schemas['io.k8s.api.core.v1.ServicePort'].properties.targetPort.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' }])
  t.same(core.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.creationTimestamp, {
    type: 'string',
    format: 'date-time',
    description: core.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.creationTimestamp.description,
  })
  t.ok(core.components.schemas['io.k8s.api.core.v1.Event'], 'CoreV1Event under its upstream name')
  t.notOk(core.components.schemas['io.k8s.api.apps.v1.Deployment'], 'no other groups\' kinds')

  const apps = doc('apis/apps/v1')
  const deploy = apps.components.schemas['io.k8s.api.apps.v1.Deployment']
  t.same(deploy['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }])
  t.ok(apps.components.schemas['io.k8s.api.core.v1.PodTemplateSpec'], 'the pod template comes along')
  t.ok(apps.components.schemas['io.k8s.api.core.v1.PodSpec'])
  t.ok(apps.components.schemas['io.k8s.api.autoscaling.v1.Scale'])

  const networking = doc('apis/networking.k8s.io/v1')
  t.same(networking.components.schemas['io.k8s.api.networking.v1.NetworkPolicy']['x-kubernetes-group-version-kind'], [{ group: 'networking.k8s.io', kind: 'NetworkPolicy', version: 'v1' }])
  t.same(networking.components.schemas['io.k8s.api.networking.v1.NetworkPolicyPeer'].properties.ipBlock.allOf, [{ $ref: '#/components/schemas/io.k8s.api.networking.v1.IPBlock' }])
  t.same(networking.components.schemas['io.k8s.api.networking.v1.IPBlock'].required, ['cidr'])
  t.ok(networking.paths['/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}'], 'the namespaced item path')
  t.ok(networking.paths['/apis/networking.k8s.io/v1/networkpolicies'], 'the list across namespaces')
  t.notOk(networking.paths['/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}/status'], 'no status subresource')
})

t.test('paths carry the actions, kinds and parameters kubectl looks for', async (t) => {
  const apps = doc('apis/apps/v1')
  const item = apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']
  t.ok(item)
  const patch = item.patch
  t.equal(patch['x-kubernetes-action'], 'patch')
  t.same(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' })
  t.equal(patch.operationId, 'patchAppsV1NamespacedDeployment')
  const names = patch.parameters.map((p: Obj) => p.name)
  t.ok(names.includes('fieldValidation'), 'kubectl learns server-side field validation from this')
  t.ok(names.includes('fieldManager'))
  t.ok(names.includes('dryRun'))
  t.ok(names.includes('force'))
  t.same(Object.keys(patch.requestBody.content).sort(), ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'])
  t.same(item.parameters.map((p: Obj) => p.name), ['name', 'namespace', 'pretty'])
  t.equal(item.get['x-kubernetes-action'], 'get')
  t.equal(item.put['x-kubernetes-action'], 'put')
  t.equal(item.delete['x-kubernetes-action'], 'delete')
  const coll = apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments']
  t.equal(coll.get['x-kubernetes-action'], 'list')
  t.ok(coll.get.parameters.some((p: Obj) => p.name === 'labelSelector'))
  t.equal(coll.post['x-kubernetes-action'], 'post')
  t.ok(coll.post.parameters.some((p: Obj) => p.name === 'fieldValidation'))
  t.equal(coll.delete['x-kubernetes-action'], 'deletecollection')
  t.equal(apps.paths['/apis/apps/v1/deployments'].get.operationId, 'listAppsV1DeploymentForAllNamespaces')
  t.same(apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'].patch['x-kubernetes-group-version-kind'], { group: 'autoscaling', version: 'v1', kind: 'Scale' })
  t.ok(apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status'].patch)

  const core = doc('api/v1')
  t.same(core.paths['/api/v1/nodes/{name}'].parameters.map((p: Obj) => p.name), ['name', 'pretty'], 'cluster-scoped paths have no namespace')
  t.equal(core.paths['/api/v1/nodes/{name}'].patch.operationId, 'patchCoreV1Node')
  t.ok(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/binding'].post)
  const evict = core.paths['/api/v1/namespaces/{namespace}/pods/{name}/eviction'].post
  t.equal(evict.operationId, 'createCoreV1NamespacedPodEviction')
  t.same(evict['x-kubernetes-group-version-kind'], { group: 'policy', version: 'v1', kind: 'Eviction' })
  t.ok(core.components.schemas['io.k8s.api.policy.v1.Eviction'], 'the Eviction schema is under its own package')
  // Every served kind's PATCH has fieldValidation, as QueryParamVerifierV3 checks.
  for (const path of Object.keys(openApiIndex().paths).filter((p) => /\/v1$/.test(p))) {
    const d = doc(path)
    // A document also carries the schemas its kinds refer to (apps/v1 has core's
    // PersistentVolumeClaim, for volumeClaimTemplates): only its own group/version's count.
    const [group, version] = path === 'api/v1' ? ['', 'v1'] : path.split('/').slice(1)
    const kinds = Object.values(d.components.schemas)
      .flatMap((s: any) => s['x-kubernetes-group-version-kind'] ?? [])
      .filter((g: Obj) => !g.kind.endsWith('List') && g.group === group && g.version === version)
    for (const gvk of kinds) {
      // Create-only kinds (reviews) have no PATCH: their POST carries the parameter.
      const item = Object.values(d.paths).find((i: any) => i.post && !i.get && i.post['x-kubernetes-group-version-kind'].kind === gvk.kind) as Obj | undefined
      if (item) {
        t.ok(item.parameters.some((p: Obj) => p.name === 'fieldValidation'), `${path} ${gvk.kind} (create only)`)
        continue
      }
      const op = Object.values(d.paths).map((i: any) => i.patch).find((o: any) => o && o['x-kubernetes-group-version-kind'].kind === gvk.kind)
      t.ok(op?.parameters.some((p: Obj) => p.name === 'fieldValidation'), `${path} ${gvk.kind}`)
    }
  }
})
