// The pure parts: which sockets and addresses a Service port needs, and endpoint picking.
import t from 'tap'
import { EndpointPicker, listenSpecs, serviceAddresses } from '../../../proxy/userspace/index.ts'
import { endpoint, proxyState, servicePort } from './helpers.ts'

t.test('listen specs: ClusterIP internal, the rest external, other families skipped', async (t) => {
  const sp = servicePort({ clusterIP: '10.96.0.10', port: 80, nodePort: 30080, externalIPs: ['192.0.2.1', '2001:db8::1'], loadBalancerIPs: ['198.51.100.7', '192.0.2.1'] })
  t.same(
    listenSpecs(sp, 4).map((s) => [s.key, s.kind, s.wildcard]),
    [
      ['10.96.0.10:80', 'internal', false],
      ['192.0.2.1:80', 'external', false],
      ['198.51.100.7:80', 'external', false],
      ['0.0.0.0:30080', 'external', true],
    ],
  )
  const v6 = servicePort({ clusterIP: 'fd00:0:0::a', port: 53, nodePort: 30053, externalIPs: ['2001:db8::1'] })
  t.same(listenSpecs(v6, 6).map((s) => s.key), ['[fd00::a]:53', '[2001:db8::1]:53', '[::]:30053'])
  t.same(listenSpecs(servicePort({ clusterIP: 'None', port: 80 }), 4), [], 'headless: nothing')
  t.same(listenSpecs(servicePort({ clusterIP: 'fd00:0000::0001', port: 80 }), 6).map((s) => s.host), ['fd00::1'], 'hosts in canonical form')
  t.same(listenSpecs(servicePort({ clusterIP: '10.0.0.1', port: 80 }), 6), [], 'an address of the other family: nothing')
})

t.test('service addresses: every Service IP but the node own and SCTP-only ones', async (t) => {
  const state = proxyState([
    { port: servicePort({ name: 'a', clusterIP: '10.96.0.10', port: 80, externalIPs: ['192.0.2.1', '10.0.0.5'] }), endpoints: [] },
    { port: servicePort({ name: 'b', clusterIP: '10.96.0.11', port: 80, nodePort: 30000 }), endpoints: [] },
    { port: servicePort({ name: 'c', clusterIP: '10.96.0.12', port: 9, protocol: 'SCTP' }), endpoints: [] },
  ])
  t.same([...serviceAddresses({ ...state, nodeIPs: ['10.0.0.5'] })].sort(), ['10.96.0.10', '10.96.0.11', '192.0.2.1'])
})

t.test('picker: round robin, retries, affinity with expiry, updates in place', async (t) => {
  const eps = [endpoint('10.0.0.1', 80), endpoint('10.0.0.2', 80), endpoint('10.0.0.3', 80)]
  const rr = new EndpointPicker(eps)
  t.same([1, 2, 3, 4].map(() => rr.pick('c')!.ip), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1'])
  const tried = new Set(['10.0.0.2:80'])
  t.equal(rr.retry('c', tried)!.ip, '10.0.0.3', 'the next one not yet tried')
  tried.add('10.0.0.3:80')
  t.equal(rr.retry('c', tried)!.ip, '10.0.0.1')
  tried.add('10.0.0.1:80')
  t.equal(rr.retry('c', tried), undefined, 'each at most once')

  const sticky = new EndpointPicker(eps, 10)
  t.equal(sticky.pick('x', 0)!.ip, '10.0.0.1')
  t.equal(sticky.pick('y', 1)!.ip, '10.0.0.2')
  t.equal(sticky.pick('x', 9_000)!.ip, '10.0.0.1', 'sticks')
  t.equal(sticky.pick('x', 18_000)!.ip, '10.0.0.1', 'each use restarts the timeout')
  t.equal(sticky.pick('x', 28_001)!.ip, '10.0.0.3', 'idle longer than the timeout: balanced afresh')
  t.equal(sticky.retry('x', new Set(['10.0.0.3:80']), 28_002)!.ip, '10.0.0.1', 'a failed sticky endpoint moves the client')
  t.equal(sticky.pick('x', 28_003)!.ip, '10.0.0.1')
  sticky.update([eps[1]!, eps[2]!], 10)
  t.equal(sticky.pick('x', 28_004)!.ip !== '10.0.0.1', true, 'a removed endpoint releases its clients')
  t.equal(sticky.size, 2)
  sticky.update([endpoint('not-an-ip', 80), endpoint('10.0.0.4', 0), endpoint('10.0.0.5', 70000)], 10)
  t.equal(sticky.size, 0, 'malformed endpoints are ignored')
  sticky.update([], 10)
  t.equal(sticky.pick('x'), undefined)
})
