// The real kubectl's `debug` against a test API server: it only patches
// pods/NAME/ephemeralcontainers (no node needed without -it).
import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'

type Obj = Record<string, any>

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'weft/echo' }] } })

async function ephemeralContainers(url: string, name: string): Promise<Obj[]> {
  const got = await call(url, 'GET', `/api/v1/namespaces/default/pods/${name}`)
  return got.body.spec.ephemeralContainers ?? []
}

t.test('kubectl debug adds an ephemeral container', async (t) => {
  const { url, kubeconfig } = await startTestServer(t)
  t.equal((await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('web'))).status, 201)

  const res = await kubectl(kubeconfig, ['debug', 'pod/web', '--image=busybox', '-c', 'dbg', '--target=c', '--', 'true'])
  t.equal(res.code, 0, res.stderr)
  const list = await ephemeralContainers(url, 'web')
  t.equal(list.length, 1)
  t.equal(list[0].name, 'dbg')
  t.equal(list[0].image, 'busybox')
  t.equal(list[0].targetContainerName, 'c')
  t.same(list[0].command, ['true'])

  // kubectl's patch for a name already there merges into the existing container: nothing changes.
  const again = await kubectl(kubeconfig, ['debug', 'pod/web', '--image=busybox', '-c', 'dbg', '--target=c', '--', 'true'])
  t.equal(again.code, 0, again.stderr)
  t.same((await ephemeralContainers(url, 'web')).map((c) => c.name), ['dbg'])

  const second = await kubectl(kubeconfig, ['debug', 'pod/web', '--image=busybox', '-c', 'dbg2', '--', 'sleep', '1'])
  t.equal(second.code, 0, second.stderr)
  const both = await ephemeralContainers(url, 'web')
  t.same(both.map((c) => c.name), ['dbg', 'dbg2'])
  t.same(both[0], list[0], 'the first one is untouched')

  const sameImage = await kubectl(kubeconfig, ['debug', 'pod/web', '--image=busybox', '-c', 'c', '--', 'true'])
  t.not(sameImage.code, 0, 'the name of a container is refused')
  t.match(sameImage.stderr, /spec\.ephemeralContainers\[2\]\.name: Duplicate value: "c"/)

  const badTarget = await kubectl(kubeconfig, ['debug', 'pod/web', '--image=busybox', '-c', 'dbg3', '--target=nope', '--', 'true'])
  t.not(badTarget.code, 0)
  t.match(badTarget.stderr, /targetContainerName: Not found: "nope"/)

  const missing = await kubectl(kubeconfig, ['debug', 'pod/nope', '--image=busybox', '-c', 'dbg', '--', 'true'])
  t.not(missing.code, 0)
  t.match(missing.stderr, /pods "nope" not found/)

  const get = await kubectl(kubeconfig, ['get', '--raw', '/api/v1/namespaces/default/pods/web/ephemeralcontainers'])
  t.equal(get.code, 0, get.stderr)
  t.equal(JSON.parse(get.stdout).spec.ephemeralContainers[0].name, 'dbg')
})

t.test('kubectl debug with every profile passes validation', async (t) => {
  const { url, kubeconfig } = await startTestServer(t)
  t.equal((await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('web'))).status, 201)
  const profiles = ['legacy', 'general', 'baseline', 'restricted', 'netadmin', 'sysadmin']
  for (const profile of profiles) {
    const res = await kubectl(kubeconfig, ['debug', 'pod/web', '--image=busybox', '-c', `dbg-${profile}`, '--target=c', `--profile=${profile}`, '--', 'true'])
    t.equal(res.code, 0, `${profile}: ${res.stderr}`)
  }
  const list = await ephemeralContainers(url, 'web')
  t.same(list.map((c) => c.name), profiles.map((p) => `dbg-${p}`))
  const byName = new Map(list.map((c) => [c.name, c]))
  t.same(byName.get('dbg-netadmin')?.securityContext?.capabilities?.add, ['NET_ADMIN', 'NET_RAW'], 'netadmin asks for NET_ADMIN and NET_RAW')
  t.equal(byName.get('dbg-sysadmin')?.securityContext?.privileged, true, 'sysadmin asks for privileged')
  t.same(byName.get('dbg-restricted')?.securityContext?.capabilities?.drop, ['ALL'], 'restricted drops every capability')
  t.same(byName.get('dbg-general')?.securityContext?.capabilities?.add, ['SYS_PTRACE'])
})
