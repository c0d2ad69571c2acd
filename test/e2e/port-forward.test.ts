// kubectl port-forward end to end: the real kubectl (WebSocket tunnelling first, then the
// plain SPDY fallback) against a test API server, which tunnels pods/portforward to a real
// node agent's kubelet; the kubelet connects inside the pod's network namespace.
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { readlinkSync, statSync } from 'node:fs'
import { get } from 'node:http'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { startUnderlay } from '../helpers/nodes.ts'

t.setTimeout(240_000)

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
const node = await underlay.addNode('node-1')
await cluster.client.create(podInfo, {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default' },
  spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 1, containers: [{ name: 'echo', image: 'weft/echo', ports: [{ containerPort: 8080 }] }] },
} as never)
t.teardown(() => cluster.client.delete(podInfo, 'web', 'default', { gracePeriodSeconds: 0 }).catch(() => undefined))
// The kubelet API opens once its serving certificate is signed.
await until('the pod runs and its kubelet answers', async () => (await kubectl(cluster.kubeconfig, ['logs', 'web'])).code === 0, 120_000)

/** One HTTP GET on a new connection; answers the status. */
function fetchOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')))
  })
}

for (const [mode, env] of [
  ['websocket', {}],
  ['spdy', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }],
] as const) {
  await t.test(`kubectl port-forward (${mode}): 1,000 sequential and 50 concurrent connections; a refused port is reported`, async (t) => {
    const pf = spawn('kubectl', ['--kubeconfig', cluster.kubeconfig, 'port-forward', 'pod/web', ':8080', ':8081'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    t.teardown(() => {
      if (pf.exitCode === null) pf.kill()
    })
    let stderr = ''
    pf.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    let out = ''
    const ports = await new Promise<number[]>((resolve, reject) => {
      pf.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s
        const found = [...out.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (8080|8081)/g)]
        if (found.length === 2) resolve(found.sort((a, b) => Number(a[2]) - Number(b[2])).map((m) => Number(m[1])))
      })
      pf.once('exit', (code) => reject(new Error(`kubectl exited (${code}): ${stderr}`)))
    })
    let ok = 0
    for (let i = 0; i < 1000; i++) if ((await fetchOnce(ports[0]!)) === 200) ok++
    t.equal(ok, 1000, '1,000 sequential connections')
    const statuses = await Promise.all(Array.from({ length: 50 }, () => fetchOnce(ports[0]!)))
    t.equal(statuses.filter((s) => s === 200).length, 50, '50 concurrent connections')
    // kubectl 1.32 prints the error stream's text and then gives up the session.
    await fetchOnce(ports[1]!).catch(() => 0)
    await new Promise((resolve) => (pf.exitCode === null ? pf.once('exit', resolve) : resolve(undefined)))
    t.match(stderr, /error forwarding port 8081 to pod default\/web, uid [0-9a-f-]+: .*connection refused/)
  })
}

await t.test('the per-pod dialer ends with the pod, not after its idle time', async (t) => {
  const pod = await cluster.client.get<{ metadata: { uid: string } }>(podInfo, 'web', 'default')
  const inode = statSync(`/run/netns/${node.netns}-pod-${pod.metadata.uid}`).ino
  // The dialers in the pod's network namespace (there is one per pod).
  const dialers = () =>
    execFileSync('sh', ['-c', 'pgrep -f netns-dialer-main || true'], { encoding: 'utf8' }).split('\n').filter(Boolean)
      .filter((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${inode}]`
        } catch {
          return false
        }
      })
  t.equal(dialers().length, 1, 'the port-forwards above left the pod\'s dialer running (idle)')
  await cluster.client.delete(podInfo, 'web', 'default', { gracePeriodSeconds: 0 })
  await until('the dialer is gone', async () => dialers().length === 0, 20_000)
  t.pass('stopped when the sandbox went (its idle timeout is 60 s)')
})
