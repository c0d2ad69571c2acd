// `weft token create|list|delete` against a real API server, as the admin kubeconfig.
import t from 'tap'
import { Writable } from 'node:stream'
import { runToken } from '../../src/cli/token.ts'
import { call, startTestServer, testPki } from '../helpers/apiserver.ts'

function output(): { out: Writable; text: () => string } {
  let text = ''
  return { out: new Writable({ write: (c, _e, done) => ((text += c), done()) }), text: () => text }
}

t.test('create prints a token and the join command; list shows it; delete revokes it', async (t) => {
  const { url, kubeconfig } = await startTestServer(t)
  const created = output()
  await runToken(['create', '--kubeconfig', kubeconfig, '--ttl', '2h', '--description', 'for node-7'], created.out)
  const [token, , join] = created.text().trim().split('\n')
  t.match(token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/)
  t.equal(join!.trim(), `weft agent --server ${url} --token ${token} --ca-cert-hash ${(await testPki()).caHash}`)
  const id = token!.split('.')[0]
  const secret = (await call(url, 'GET', `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${id}`)).body
  const data = (k: string) => Buffer.from(secret.data[k], 'base64').toString()
  t.equal(secret.type, 'bootstrap.kubernetes.io/token')
  t.equal(data('auth-extra-groups'), 'system:bootstrappers:kubeadm:default-node-token')
  const expires = Date.parse(data('expiration'))
  t.ok(Math.abs(expires - (Date.now() + 2 * 3600_000)) < 60_000, 'expires after --ttl')
  const listed = output()
  await runToken(['list', '--kubeconfig', kubeconfig], listed.out)
  t.match(listed.text(), new RegExp(`^${id}\\t\\S+\\tfor node-7$`, 'm'))
  const deleted = output()
  await runToken(['delete', '--kubeconfig', kubeconfig, token!], deleted.out)
  t.match(deleted.text(), `bootstrap token "${id}" deleted`)
  t.equal((await call(url, 'GET', `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${id}`)).status, 404)
  await t.rejects(runToken(['delete', '--kubeconfig', kubeconfig, 'nonsense'], output().out), /needs a token .* or its 6-character id/)
  await t.rejects(runToken(['rotate', '--kubeconfig', kubeconfig], output().out), /unknown verb "rotate"/)
})
