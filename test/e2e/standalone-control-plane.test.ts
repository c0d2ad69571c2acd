// `weft scheduler` and `weft controller-manager` as their own processes, against
// `weft server --api-only`, as a user would split them.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kubeconfigText, loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { issueCertificate } from '../../src/pki/certificates.ts'
import { call as callAs } from '../helpers/apiserver.ts'
import { node, until } from '../helpers/control-plane.ts'

const weft = join(import.meta.dirname, '..', '..', 'bin', 'weft')

function start(args: string[], children: ChildProcess[]): ChildProcess {
  const child = spawn(weft, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  children.push(child)
  return child
}

function stderrUntil(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let text = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${text}`)), 20_000)
    child.stderr!.on('data', (d) => {
      text += d
      const m = pattern.exec(text)
      if (m) {
        clearTimeout(timer)
        resolve(m)
      }
    })
  })
}

t.test('scheduler and controller-manager run alone against an API-only server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-split-'))
  const children: ChildProcess[] = []
  t.teardown(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r))
        c.kill('SIGTERM')
        await exited
      }
    }
    await rm(dir, { recursive: true, force: true })
  })
  const server = start(['server', '--api-only', '--data-dir', dir, '--listen', '127.0.0.1:0'], children)
  const url = (await stderrUntil(server, /weft API server at (https:\/\/\S+)[\s\S]*Join a node/))[1]!
  // Each runs under its own identity, with only what the default policy grants it.
  const ca = { certPem: await readFile(join(dir, 'pki', 'ca.crt'), 'utf8'), keyPem: await readFile(join(dir, 'pki', 'ca.key'), 'utf8') }
  const kubeconfigFor = async (user: string) => {
    const cert = await issueCertificate(ca, { commonName: user, usages: ['client'], validityDays: 1 })
    const file = join(dir, `${user.replaceAll(':', '-')}.kubeconfig`)
    await writeFile(file, kubeconfigText({ server: url, caPem: ca.certPem, user, certPem: cert.certPem, keyPem: cert.keyPem }), { mode: 0o600 })
    return file
  }
  start(['scheduler', '--kubeconfig', await kubeconfigFor('system:kube-scheduler')], children)
  start(['controller-manager', '--kubeconfig', await kubeconfigFor('system:kube-controller-manager'), '--node-monitor-grace-period', '600'], children)
  const as = loadKubeconfig(join(dir, 'kubeconfig')).credentials
  const call = (method: string, path: string, body?: unknown) => callAs(url, method, path, body, {}, as)

  t.equal((await call('POST', '/api/v1/nodes', node('solo'))).status, 201)
  await call('POST', '/apis/apps/v1/namespaces/default/deployments', {
    metadata: { name: 'split' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'split' } }, template: { metadata: { labels: { app: 'split' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
  })
  await until('two pods bound to the node', async () => {
    const pods = (await call('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dsplit')).body.items ?? []
    return pods.length === 2 && pods.every((p: any) => p.spec.nodeName === 'solo')
  }, 30_000)
  const n = (await call('GET', '/api/v1/nodes/solo')).body
  t.match(n.spec.podCIDR, /^10\.244\.\d+\.0\/24$/, 'the node got a pod CIDR')
})
