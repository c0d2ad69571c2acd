import t from 'tap'
import { createServer } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { call, startTestServer, testPki } from '../helpers/apiserver.ts'
import { issueCertificate } from '../../src/pki/certificates.ts'
import { logContainer } from '../../src/apiserver/pod-log.ts'

const exec = promisify(execFile)

t.test('the request is checked against the pod', async (t) => {
  const pod = { metadata: { name: 'p' }, spec: { nodeName: 'n1', containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'i' }] } } as never
  t.throws(() => logContainer(pod, new URLSearchParams()), /a container name must be specified for pod p, choose one of: \[a b\]/)
  t.throws(() => logContainer(pod, new URLSearchParams('container=zz')), /container zz is not valid for pod p/)
  t.equal(logContainer(pod, new URLSearchParams('container=i')), 'i')
  t.throws(() => logContainer(pod, new URLSearchParams('container=a&tailLines=x')), /tailLines: Invalid value/)
  t.equal(logContainer({ metadata: { name: 'q' }, spec: { nodeName: 'n', containers: [{ name: 'only' }] } } as never, new URLSearchParams()), 'only')
  t.throws(() => logContainer({ metadata: { name: 'q' }, spec: { containers: [{ name: 'only' }] } } as never, new URLSearchParams()), /does not have a host assigned/)
})

t.test('kubectl logs goes through the API server to the node kubelet', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-podlog-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'node-a'))
  const seen: string[] = []
  const callers: string[] = []
  // The kubelet's side of the TLS: a serving certificate for the node's name, client certificates from the cluster CA.
  const pki = await testPki()
  const serving = await issueCertificate(pki.ca, { commonName: 'system:node:node-a', organizations: ['system:nodes'], dnsNames: ['node-a'], usages: ['server'], validityDays: 1 })
  const kubelet = createServer({ cert: serving.certPem, key: serving.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const socket = req.socket as TLSSocket
    callers.push(String(socket.getPeerCertificate().subject?.CN))
    seen.push(req.url ?? '')
    if (req.url?.includes('/missing')) {
      res.writeHead(404).end('container "missing" not found')
      return
    }
    if (req.url?.includes('/guarded')) {
      res.writeHead(403).end('Forbidden (user=apiserver-kubelet-client, verb=get, resource=nodes, subresource=log)')
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('line one\nline two\n')
  })
  await new Promise<void>((r) => kubelet.listen(join(dir, 'node-a', 'kubelet.sock'), r))
  t.teardown(() => new Promise((r) => kubelet.close(r)))
  const api = await startTestServer(t, { kubeletSocketDir: dir })
  await call(api.url, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } })
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'default' }, spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'weft/echo' }] } }
  t.equal((await call(api.url, 'POST', '/api/v1/namespaces/default/pods', pod)).status, 201)
  const { stdout } = await exec('kubectl', ['--kubeconfig', api.kubeconfig, 'logs', 'p1', '--tail=5', '--timestamps'])
  t.equal(stdout, 'line one\nline two\n')
  t.same(callers, ['apiserver-kubelet-client'], 'the API server shows its kubelet client certificate')
  t.match(seen[0], /^\/containerLogs\/default\/p1\/app\?/)
  t.match(seen[0], /tailLines=5/)
  t.match(seen[0], /timestamps=true/)
  const bad = await call(api.url, 'GET', '/api/v1/namespaces/default/pods/p1/log?container=nope')
  t.equal(bad.status, 400)
  await call(api.url, 'POST', '/api/v1/namespaces/default/pods', { ...pod, metadata: { name: 'guarded', namespace: 'default' } })
  const refused = await call(api.url, 'GET', '/api/v1/namespaces/default/pods/guarded/log')
  t.equal(refused.status, 403, 'the kubelet\'s refusal comes through as a 403, not a 500')
  t.match(refused.body, { reason: 'Forbidden', message: /subresource=log/ })
  const put = await call(api.url, 'PUT', '/api/v1/namespaces/default/pods/p1/log', {})
  t.equal(put.status, 405)
  const discovery = await call(api.url, 'GET', '/api/v1')
  t.ok(discovery.body.resources.some((r: { name: string; verbs: string[] }) => r.name === 'pods/log' && r.verbs.join() === 'get'))
})

t.test('the API server refuses a kubelet whose certificate does not name the node', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-podlog-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'node-b'))
  const pki = await testPki()
  const wrongName = await issueCertificate(pki.ca, { commonName: 'system:node:node-c', organizations: ['system:nodes'], dnsNames: ['node-c'], usages: ['server'], validityDays: 1 })
  let served = 0
  const kubelet = createServer({ cert: wrongName.certPem, key: wrongName.keyPem }, (_req, res) => {
    served++
    res.end('secret')
  })
  await new Promise<void>((r) => kubelet.listen(join(dir, 'node-b', 'kubelet.sock'), r))
  t.teardown(() => new Promise((r) => kubelet.close(r)))
  const api = await startTestServer(t, { kubeletSocketDir: dir })
  await call(api.url, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-b' } })
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2', namespace: 'default' }, spec: { nodeName: 'node-b', containers: [{ name: 'app', image: 'weft/echo' }] } }
  t.equal((await call(api.url, 'POST', '/api/v1/namespaces/default/pods', pod)).status, 201)
  const res = await call(api.url, 'GET', '/api/v1/namespaces/default/pods/p2/log')
  t.equal(res.status, 500)
  t.match(res.body.message, /node-b|altnames|certificate/i)
  t.equal(served, 0, 'nothing was asked of it')
})
