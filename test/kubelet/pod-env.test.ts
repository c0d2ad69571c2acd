import t from 'tap'
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node'
import { expand, expandCommand, resolveEnv, type EnvExtra, type ObjectLookups } from '../../src/kubelet/pod-env.ts'

const b64 = (s: string): string => Buffer.from(s).toString('base64')

const configMaps: Record<string, V1ConfigMap> = {
  'ns1/app': { metadata: { name: 'app', namespace: 'ns1' }, data: { MODE: 'fast', LEVEL: '3', 'bad=key': 'x' } },
  'ns1/other': { metadata: { name: 'other', namespace: 'ns1' }, data: { MODE: 'slow' } },
}
const secrets: Record<string, V1Secret> = {
  'ns1/creds': { metadata: { name: 'creds', namespace: 'ns1' }, data: { USER: b64('admin'), PASS: b64('s3cr3t') } },
}
const lookups: ObjectLookups = {
  configMap: (ns, name) => configMaps[`${ns}/${name}`],
  secret: (ns, name) => secrets[`${ns}/${name}`],
}

const pod: V1Pod = {
  metadata: { name: 'web-0', namespace: 'ns1', uid: 'uid-1', labels: { app: 'web', tier: 'front' }, annotations: { 'example.com/note': 'hi "there"' } },
  spec: {
    nodeName: 'node-a',
    serviceAccountName: 'robot',
    containers: [
      { name: 'main', resources: { limits: { cpu: '1500m', memory: '256Mi' }, requests: { cpu: '250m' } } },
      { name: 'side', resources: { requests: { memory: '1Gi' } } },
    ],
  },
}
const extra: EnvExtra = { podIP: '10.1.0.5', podIPs: ['10.1.0.5', 'fd00::5'], hostIP: '192.168.1.2', hostIPs: ['192.168.1.2'], nodeAllocatable: { cpu: '2', memory: '4Gi' } }

function env(container: Omit<V1Container, 'name'>, more: Partial<EnvExtra> = {}) {
  return resolveEnv(pod, { name: 'main', ...pod.spec?.containers[0], ...container }, lookups, { ...extra, ...more })
}

t.test('expand', async (t) => {
  const vars: Record<string, string> = { A: 'a', B: 'b', EMPTY: '' }
  const lookup = (n: string): string | undefined => vars[n]
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['$(A)', 'a'],
    ['x$(A)y$(B)z', 'xaybz'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$a'],
    ['$$', '$'],
    ['$A', '$A'],
    ['a$', 'a$'],
    ['$(A', '$(A'],
    ['$(EMPTY)!', '!'],
    ['$()', '$()'],
    ['$(A)$(B', 'a$(B'],
  ]
  for (const [input, want] of cases) t.equal(expand(input, lookup), want, input)
})

t.test('expandCommand uses the final environment', async (t) => {
  t.same(expandCommand(['echo', '$(GREETING) $(NAME)', '$$(NAME)', '$(NOPE)'], { GREETING: 'hello', NAME: 'world' }), ['echo', 'hello world', '$(NAME)', '$(NOPE)'])
})

t.test('resolveEnv', async (t) => {
  const cases: { name: string; c: Omit<V1Container, 'name'>; more?: Partial<EnvExtra>; want: Record<string, string> }[] = [
    { name: 'plain values', c: { env: [{ name: 'A', value: '1' }, { name: 'B', value: '' }] }, want: { A: '1', B: '' } },
    {
      name: 'expansion against earlier vars only and service vars',
      c: { env: [{ name: 'X', value: '$(Y)-$(A)-$(SVC_HOST)' }, { name: 'A', value: 'a' }, { name: 'Z', value: '$(A)$$(A)' }] },
      more: { serviceEnv: { SVC_HOST: '10.96.0.1' } },
      want: { X: '$(Y)-$(A)-10.96.0.1', A: 'a', Z: 'a$(A)', SVC_HOST: '10.96.0.1' },
    },
    {
      name: 'envFrom configMap and secret with prefix; invalid keys skipped; env overrides envFrom',
      c: {
        envFrom: [{ configMapRef: { name: 'app' } }, { prefix: 'DB_', secretRef: { name: 'creds' } }, { configMapRef: { name: 'other' }, prefix: 'O_' }],
        env: [{ name: 'LEVEL', value: 'L$(LEVEL)' }],
      },
      want: { MODE: 'fast', LEVEL: 'L3', DB_USER: 'admin', DB_PASS: 's3cr3t', O_MODE: 'slow' },
    },
    { name: 'later envFrom wins', c: { envFrom: [{ configMapRef: { name: 'app' } }, { configMapRef: { name: 'other' } }] }, want: { MODE: 'slow', LEVEL: '3' } },
    {
      name: 'optional sources that are missing are skipped',
      c: {
        envFrom: [{ configMapRef: { name: 'nope', optional: true } }, { secretRef: { name: 'nope', optional: true } }],
        env: [
          { name: 'A', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k', optional: true } } },
          { name: 'B', valueFrom: { configMapKeyRef: { name: 'app', key: 'nokey', optional: true } } },
          { name: 'C', valueFrom: { secretKeyRef: { name: 'creds', key: 'nokey', optional: true } } },
          { name: 'D', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } },
        ],
      },
      want: {},
    },
    {
      name: 'key refs',
      c: { env: [{ name: 'M', valueFrom: { configMapKeyRef: { name: 'app', key: 'MODE' } } }, { name: 'P', valueFrom: { secretKeyRef: { name: 'creds', key: 'PASS' } } }] },
      want: { M: 'fast', P: 's3cr3t' },
    },
    {
      name: 'fieldRefs',
      c: {
        env: [
          { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'NOLABEL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['none']" } } },
          { name: 'NOTE', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['example.com/note']" } } },
          { name: 'LABELS', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
          { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
          { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
          { name: 'HOSTS', valueFrom: { fieldRef: { fieldPath: 'status.hostIPs' } } },
          { name: 'URL', value: 'http://$(IP):80/$(NAME)' },
        ],
      },
      want: {
        NAME: 'web-0',
        NS: 'ns1',
        UID: 'uid-1',
        APP: 'web',
        NOLABEL: '',
        NOTE: 'hi "there"',
        LABELS: 'app="web"\ntier="front"',
        NODE: 'node-a',
        SA: 'robot',
        IP: '10.1.0.5',
        IPS: '10.1.0.5,fd00::5',
        HOST: '192.168.1.2',
        HOSTS: '192.168.1.2',
        URL: 'http://10.1.0.5:80/web-0',
      },
    },
    {
      name: 'resourceFieldRefs',
      c: {
        env: [
          { name: 'LCPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
          { name: 'LCPU_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
          { name: 'RCPU', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
          { name: 'LMEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
          { name: 'RMEM', valueFrom: { resourceFieldRef: { resource: 'requests.memory' } } },
          { name: 'SIDE_MEM', valueFrom: { resourceFieldRef: { containerName: 'side', resource: 'requests.memory', divisor: '1Mi' } } },
          { name: 'SIDE_LCPU', valueFrom: { resourceFieldRef: { containerName: 'side', resource: 'limits.cpu' } } },
        ],
      },
      want: { LCPU: '2', LCPU_M: '1500', RCPU: '1', LMEM_MI: '256', RMEM: '268435456', SIDE_MEM: '1024', SIDE_LCPU: '2' },
    },
    {
      name: 'service env has the lowest precedence',
      c: { env: [{ name: 'KUBERNETES_SERVICE_HOST', value: 'mine' }] },
      more: { serviceEnv: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } },
      want: { KUBERNETES_SERVICE_HOST: 'mine', KUBERNETES_SERVICE_PORT: '443' },
    },
  ]
  for (const { name, c, more, want } of cases) t.same(env(c, more), { env: want }, name)
})

t.test('resolveEnv errors', async (t) => {
  const cases: { name: string; c: Omit<V1Container, 'name'>; error: string }[] = [
    { name: 'missing configmap (envFrom)', c: { envFrom: [{ configMapRef: { name: 'x' } }] }, error: 'configmap "x" not found' },
    { name: 'missing secret (envFrom)', c: { envFrom: [{ secretRef: { name: 'y' } }] }, error: 'secret "y" not found' },
    { name: 'missing configmap (key ref)', c: { env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'x', key: 'k' } } }] }, error: 'configmap "x" not found' },
    { name: 'missing configmap key', c: { env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'app', key: 'k' } } }] }, error: "couldn't find key k in ConfigMap ns1/app" },
    { name: 'missing secret', c: { env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'z', key: 'k' } } }] }, error: 'secret "z" not found' },
    { name: 'missing secret key', c: { env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'creds', key: 'k' } } }] }, error: "couldn't find key k in Secret ns1/creds" },
    { name: 'bad fieldPath', c: { env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } }] }, error: 'unsupported fieldPath: spec.hostname' },
    { name: 'bad resource', c: { env: [{ name: 'A', valueFrom: { resourceFieldRef: { resource: 'limits.gpu' } } }] }, error: 'unsupported container resource : limits.gpu' },
  ]
  for (const { name, c, error } of cases) t.same(env(c), { error, reason: 'CreateContainerConfigError' }, name)
})

t.test('limits default to 0 without node allocatable', async (t) => {
  const side: V1Container = { name: 'side', env: [{ name: 'L', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } }] }
  t.same(resolveEnv(pod, side, lookups, {}), { env: { L: '0' } })
})
