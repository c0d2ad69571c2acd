import t from 'tap'
import type { V1Pod, V1Volume } from '@kubernetes/client-node'
import { validateVolumePath } from '../../src/kubelet/runtime/atomic-writer.ts'
import { volumeFiles, type VolumeLookups } from '../../src/kubelet/volume-files.ts'

const b64 = (s: string): string => Buffer.from(s).toString('base64')

const lookups: VolumeLookups = {
  configMap: (ns, name) =>
    ns === 'shop' && name === 'conf' ? { metadata: { name }, data: { 'app.yaml': 'a: 1\n', 'log.level': 'debug' }, binaryData: { 'blob.bin': b64('\x00\x01') } } : undefined,
  secret: (ns, name) => (ns === 'shop' && name === 'tls' ? { metadata: { name }, data: { 'tls.crt': b64('CERT'), 'tls.key': b64('KEY') } } : undefined),
}

const pod: V1Pod = {
  metadata: { name: 'web-0', namespace: 'shop', uid: 'u1', labels: { app: 'web' }, annotations: { team: 'a' } },
  spec: { containers: [{ name: 'main', resources: { limits: { memory: '64Mi' } } }] },
}

type Files = { path: string; data: string; mode: string }[]
function files(volume: Omit<V1Volume, 'name'>, more: VolumeLookups = lookups): Files | { error: string } | { hostPath: string } {
  const r = volumeFiles(pod, { name: 'vol', ...volume }, more)
  if (!('files' in r)) return r
  return r.files.map((f) => ({ path: f.path, data: f.data.toString('latin1'), mode: f.mode.toString(8) })).sort((a, b) => a.path.localeCompare(b.path))
}

t.test('validateVolumePath', async (t) => {
  const cases: [string, RegExp | undefined][] = [
    ['a', undefined],
    ['a/b/c.txt', undefined],
    ['..data', /must not start with '\.\.'/],
    ['..', /must not contain '\.\.'/],
    ['a/../b', /must not contain '\.\.'/],
    ['/etc/passwd', /must be relative/],
    ['', /must not be empty/],
    ['x'.repeat(256), /filenames must be less/],
  ]
  for (const [path, want] of cases) {
    const got = validateVolumePath(path)
    if (want) t.match(got, want, path)
    else t.equal(got, undefined, path)
  }
})

t.test('volumeFiles', async (t) => {
  const cases: { name: string; v: Omit<V1Volume, 'name'>; want: ReturnType<typeof files> }[] = [
    {
      name: 'configMap: every key, default mode 0644, binaryData too',
      v: { configMap: { name: 'conf' } },
      want: [
        { path: 'app.yaml', data: 'a: 1\n', mode: '644' },
        { path: 'blob.bin', data: '\x00\x01', mode: '644' },
        { path: 'log.level', data: 'debug', mode: '644' },
      ],
    },
    {
      name: 'configMap: items and modes',
      v: { configMap: { name: 'conf', defaultMode: 0o400, items: [{ key: 'app.yaml', path: 'config/app.yaml' }, { key: 'log.level', path: 'level', mode: 0o600 }] } },
      want: [
        { path: 'config/app.yaml', data: 'a: 1\n', mode: '400' },
        { path: 'level', data: 'debug', mode: '600' },
      ],
    },
    { name: 'configMap: missing optional', v: { configMap: { name: 'none', optional: true } }, want: [] },
    { name: 'configMap: missing optional key', v: { configMap: { name: 'conf', optional: true, items: [{ key: 'nokey', path: 'x' }] } }, want: [] },
    { name: 'configMap: missing', v: { configMap: { name: 'none' } }, want: { error: 'configmap "none" not found' } },
    { name: 'configMap: missing key', v: { configMap: { name: 'conf', items: [{ key: 'nokey', path: 'x' }] } }, want: { error: 'configmap references non-existent config key: nokey' } },
    {
      name: 'configMap: bad item path',
      v: { configMap: { name: 'conf', items: [{ key: 'app.yaml', path: '../escape' }] } },
      want: { error: "volume \"vol\": invalid path: must not contain '..': ../escape" },
    },
    {
      name: 'secret: decoded; 0600 when the pod gives no mode',
      v: { secret: { secretName: 'tls' } },
      want: [
        { path: 'tls.crt', data: 'CERT', mode: '600' },
        { path: 'tls.key', data: 'KEY', mode: '600' },
      ],
    },
    { name: 'secret: the defaultMode the API server sets', v: { secret: { secretName: 'tls', defaultMode: 0o644, items: [{ key: 'tls.key', path: 'k' }] } }, want: [{ path: 'k', data: 'KEY', mode: '644' }] },
    {
      name: 'projected without defaultMode: secrets 0600, the rest 0644',
      v: { projected: { sources: [{ configMap: { name: 'conf', items: [{ key: 'log.level', path: 'level' }] } }, { secret: { name: 'tls', items: [{ key: 'tls.key', path: 'key' }, { key: 'tls.crt', path: 'crt', mode: 0o640 }] } }] } },
      want: [
        { path: 'crt', data: 'CERT', mode: '640' },
        { path: 'key', data: 'KEY', mode: '600' },
        { path: 'level', data: 'debug', mode: '644' },
      ],
    },
    { name: 'secret: items', v: { secret: { secretName: 'tls', defaultMode: 0o440, items: [{ key: 'tls.key', path: 'key.pem' }] } }, want: [{ path: 'key.pem', data: 'KEY', mode: '440' }] },
    { name: 'secret: missing', v: { secret: { secretName: 'x' } }, want: { error: 'secret "x" not found' } },
    { name: 'secret: missing optional', v: { secret: { secretName: 'x', optional: true } }, want: [] },
    { name: 'secret: missing key', v: { secret: { secretName: 'tls', items: [{ key: 'ca.crt', path: 'ca' }] } }, want: { error: 'references non-existent secret key: ca.crt' } },
    {
      name: 'downwardAPI',
      v: {
        downwardAPI: {
          items: [
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
            { path: 'name', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o600 },
            { path: 'mem', resourceFieldRef: { containerName: 'main', resource: 'limits.memory', divisor: '1Mi' } },
          ],
        },
      },
      want: [
        { path: 'labels', data: 'app="web"', mode: '644' },
        { path: 'mem', data: '64', mode: '644' },
        { path: 'name', data: 'web-0', mode: '600' },
      ],
    },
    { name: 'downwardAPI: status fields are env-only', v: { downwardAPI: { items: [{ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }] } }, want: { error: 'unsupported fieldPath: status.podIP' } },
    {
      name: 'projected',
      v: {
        projected: {
          defaultMode: 0o444,
          sources: [
            { configMap: { name: 'conf', items: [{ key: 'log.level', path: 'level' }] } },
            { secret: { name: 'tls', items: [{ key: 'tls.crt', path: 'certs/tls.crt' }] } },
            { downwardAPI: { items: [{ path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
      want: [
        { path: 'certs/tls.crt', data: 'CERT', mode: '444' },
        { path: 'level', data: 'debug', mode: '444' },
        { path: 'ns', data: 'shop', mode: '444' },
      ],
    },
    { name: 'projected token without issuer', v: { projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }, want: { error: 'volume "vol": weft cannot issue service account tokens for projected volumes' } },
    { name: 'emptyDir', v: { emptyDir: {} }, want: [] },
    { name: 'hostPath', v: { hostPath: { path: '/var/log' } }, want: { hostPath: '/var/log' } },
  ]
  for (const { name, v, want } of cases) t.same(files(v), want, name)
})

t.test('projected token from the lookup', async (t) => {
  const withTokens: VolumeLookups = { ...lookups, serviceAccountToken: (ns, sa, aud, exp) => `${ns}/${sa}/${aud}/${exp}` }
  t.same(files({ projected: { sources: [{ serviceAccountToken: { path: 'token', audience: 'api' } }] } }, withTokens), [{ path: 'token', data: 'shop/default/api/3600', mode: '600' }])
  t.same(files({ projected: { defaultMode: 0o444, sources: [{ serviceAccountToken: { path: 'token' } }] } }, withTokens), [{ path: 'token', data: 'shop/default/undefined/3600', mode: '444' }])
})

t.test('secret, downwardAPI and projected volumes are kept in memory; configMap volumes on disk', async (t) => {
  const memory = (v: Omit<V1Volume, 'name'>) => {
    const r = volumeFiles(pod, { name: 'vol', ...v }, lookups)
    return 'files' in r ? r.memory === true : undefined
  }
  t.equal(memory({ secret: { secretName: 'tls' } }), true)
  t.equal(memory({ projected: { sources: [] } }), true)
  t.equal(memory({ downwardAPI: { items: [] } }), true)
  t.equal(memory({ configMap: { name: 'conf' } }), false)
})

t.test('unsupported volume types', async (t) => {
  const r = files({ nfs: { server: 'x', path: '/' } })
  t.match(r, { error: /volume "vol": weft does not support nfs volumes .*supported: configMap, secret, downwardAPI, projected, emptyDir, hostPath, persistentVolumeClaim\)/ })
  t.match(files({ persistentVolumeClaim: { claimName: 'data' } }), { error: /volume "vol": a persistentVolumeClaim volume is mounted from the volume it is bound to/ })
})
