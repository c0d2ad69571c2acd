import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import type { RestClient } from '../../src/client/index.ts'
import { TokenManager } from '../../src/kubelet/token-manager.ts'

function fakeClient(now: () => number) {
  const calls: { path: string; body: any }[] = []
  const client = {
    request: async (_method: string, path: string, body: any) => {
      calls.push({ path, body })
      return { status: { token: `tok-${calls.length}`, expirationTimestamp: new Date(now() + body.spec.expirationSeconds * 1000).toISOString() } }
    },
  } as unknown as RestClient
  return { client, calls }
}

const pod: V1Pod = { metadata: { name: 'web', namespace: 'team', uid: 'u1' }, spec: { containers: [] } }

t.test('a bound token is requested once and renewed after 80 % of its life', async (t) => {
  let clock = 1_000_000
  const { client, calls } = fakeClient(() => clock)
  const m = new TokenManager(client, () => clock)
  t.equal(await m.token(pod, 'robot', undefined, 3600), 'tok-1')
  t.match(calls[0], { path: '/api/v1/namespaces/team/serviceaccounts/robot/token', body: { kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', name: 'web', uid: 'u1' } } } })
  clock += 2000 * 1000
  t.equal(await m.token(pod, 'robot', undefined, 3600), 'tok-1', 'still fresh at 55 %')
  t.equal(m.renewalDue('u1'), 1_000_000 + 2880 * 1000)
  clock += 900 * 1000
  t.equal(await m.token(pod, 'robot', undefined, 3600), 'tok-2', 'renewed past 80 %')
  t.equal(await m.token(pod, 'robot', 'vault', 3600), 'tok-3', 'each audience its own token')
  t.equal(calls[2].body.spec.audiences[0], 'vault')
  m.forgetPod('u1')
  t.equal(m.renewalDue('u1'), undefined)
  t.equal(await m.token(pod, 'robot', undefined, 3600), 'tok-4', 'forgotten pods start over')
})

t.test('an answer without a token is an error, not an empty file', async (t) => {
  const client = { request: async () => ({ status: {} }) } as unknown as RestClient
  await t.rejects(new TokenManager(client).token(pod, 'robot', undefined, 3600), /without a token/)
})
