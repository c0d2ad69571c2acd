import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { kubeletStreamPath, streamContainer } from '../../src/apiserver/pod-stream.ts'
import { ApiError } from '../../src/util/errors.ts'

const pod = (containers: string[], extra: { annotations?: Record<string, string>; inits?: string[]; phase?: string; nodeName?: string } = {}): V1Pod =>
  ({
    metadata: { name: 'web', namespace: 'default', annotations: extra.annotations },
    spec: { nodeName: 'nodeName' in extra ? extra.nodeName : 'n1', containers: containers.map((name) => ({ name })), initContainers: (extra.inits ?? []).map((name) => ({ name })) },
    status: { phase: extra.phase ?? 'Running' },
  }) as V1Pod

function badRequest(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof ApiError && err.code === 400) return err.message
    throw err
  }
  return 'no error'
}

t.test('the container: as asked, the only one, or the default-container annotation', async (t) => {
  t.equal(streamContainer(pod(['app']), ''), 'app')
  t.equal(streamContainer(pod(['app', 'side']), 'side'), 'side')
  t.equal(streamContainer(pod(['app', 'side'], { inits: ['init'] }), 'init'), 'init')
  t.equal(streamContainer(pod(['app', 'side'], { annotations: { 'kubectl.kubernetes.io/default-container': 'side' } }), ''), 'side')
  t.equal(badRequest(() => streamContainer(pod(['app']), 'nope')), 'container nope is not valid for pod web')
  t.equal(badRequest(() => streamContainer(pod(['app', 'side'], { inits: ['init'] }), '')), 'a container name must be specified for pod web, choose one of: [app side] or one of the init containers: [init]')
})

t.test('the kubelet path: flags as "1", the command repeated, names escaped', async (t) => {
  const q = new URLSearchParams('command=sh&command=-c&command=echo a%26b&stdin=true&stdout=true&stderr=false&tty=1&container=app')
  t.equal(kubeletStreamPath(pod(['app']), 'exec', q), '/exec/default/web/app?stdin=1&stdout=1&tty=1&command=sh&command=-c&command=echo+a%26b')
  t.equal(kubeletStreamPath(pod(['app']), 'attach', new URLSearchParams('stdout=1&command=ignored')), '/attach/default/web/app?stdout=1')
  t.equal(kubeletStreamPath(pod(['app']), 'portforward', new URLSearchParams('ports=8080&ports=53')), '/portForward/default/web?port=8080&port=53')
  t.equal(badRequest(() => kubeletStreamPath(pod(['app']), 'exec', new URLSearchParams('stdout=1'))), 'you must specify at least one command for the container')
  t.match(badRequest(() => kubeletStreamPath(pod(['app']), 'exec', new URLSearchParams('command=id&stdout=maybe'))), /stdout: Invalid value: "maybe"/)
  t.match(badRequest(() => kubeletStreamPath(pod(['app']), 'portforward', new URLSearchParams('ports=70000'))), /ports: Invalid value: "70000"/)
  t.equal(badRequest(() => kubeletStreamPath(pod(['app'], { nodeName: undefined }), 'exec', new URLSearchParams('command=id'))), 'pod web does not have a host assigned')
  t.equal(badRequest(() => kubeletStreamPath(pod(['app'], { phase: 'Succeeded' }), 'exec', new URLSearchParams('command=id'))), 'cannot exec into a container in a completed pod; current phase is Succeeded')
})
