// @kubernetes/client-node, the official JavaScript client, against weft server.
import t from 'tap'
import { CoreV1Api, KubeConfig, makeInformer, type V1ConfigMap } from '@kubernetes/client-node'
import { call, startTestServer, adminFetch } from '../helpers/apiserver.ts'

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function listRequests(url: string): Promise<number> {
  const text = await (await adminFetch(`${url}/metrics`)).text()
  let total = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('apiserver_request_total{') && line.includes('verb="LIST"') && line.includes('resource="configmaps"')) {
      total += Number(line.split(' ').pop())
    }
  }
  return total
}

t.test('the client-node informer sees adds, updates and deletes, and recovers after a 410', async (t) => {
  // Watches end every second so the informer reconnects often, as after a network blip.
  const { url, kubeconfig, store } = await startTestServer(t, { watch: { maxTimeoutSeconds: 1 } })
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfig)
  const api = kc.makeApiClient(CoreV1Api)
  const informer = makeInformer<V1ConfigMap>(kc, '/api/v1/namespaces/default/configmaps', () => api.listNamespacedConfigMap({ namespace: 'default' }))
  const events: string[] = []
  informer.on('add', (o) => events.push(`add ${o.metadata?.name}`))
  informer.on('update', (o) => events.push(`update ${o.metadata?.name} ${o.data?.k}`))
  informer.on('delete', (o) => events.push(`delete ${o.metadata?.name}`))
  const errors: unknown[] = []
  informer.on('error', (err) => errors.push(err))
  t.teardown(() => informer.stop())

  await api.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'before' }, data: { k: '0' } } })
  await informer.start()
  await until('initial add', () => events.includes('add before'))

  await api.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'a' }, data: { k: '1' } } })
  await until('add a', () => events.includes('add a'))
  const current = await api.readNamespacedConfigMap({ namespace: 'default', name: 'a' })
  current.data = { k: '2' }
  await api.replaceNamespacedConfigMap({ namespace: 'default', name: 'a', body: current })
  await until('update a', () => events.includes('update a 2'))
  await api.deleteNamespacedConfigMap({ namespace: 'default', name: 'a' })
  await until('delete a', () => events.includes('delete a'))

  // Move the revision on elsewhere and compact past what the informer has seen: its
  // next watch is answered 410 Expired, and it must relist.
  const listsBefore = await listRequests(url)
  for (let i = 0; i < 5; i++) await call(url, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: `s${i}` } })
  await store.compact(await store.currentRevision())
  await until('a relist after 410', async () => (await listRequests(url)) > listsBefore)

  await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/before')
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'after' }, data: { k: '3' } })
  await until('events after recovery', () => events.includes('add after') && events.includes('delete before'))
  t.same(
    informer.list().map((o) => o.metadata?.name).sort(),
    ['after'],
    'the cache matches the server',
  )
  t.same(errors, [], 'no errors surfaced')
})
