import t from 'tap'
import { CommandError, deleteLink, getLink, getSysctl, ip, ipBatch, listAddrs, listRoutes, netnsExists, netnsName, setSysctl, inNetns } from '../../src/netlink/index.ts'
import { testNetns } from '../helpers/netns.ts'

t.test('namespace references', async (t) => {
  t.equal(netnsName('a'), 'a')
  t.equal(netnsName('/run/netns/b'), 'b')
  t.equal(netnsName('/var/run/netns/c'), 'c')
  t.equal(netnsName('/proc/1/ns/net'), undefined)
  t.same(inNetns(undefined, 'ip', ['link']), ['ip', ['link']])
  t.same(inNetns('x', 'ip', ['link']), ['ip', ['-n', 'x', 'link']])
  t.same(inNetns('/proc/9/ns/net', 'ip', ['link']), ['nsenter', ['--net=/proc/9/ns/net', '--', 'ip', 'link']])
  t.same(inNetns('x', 'nft', ['list', 'ruleset']), ['nsenter', ['--net=/run/netns/x', '--', 'nft', 'list', 'ruleset']])
})

t.test('links, addresses, routes and sysctls inside namespaces', async (t) => {
  const a = await testNetns(t, 'nla')
  const b = await testNetns(t, 'nlb')
  t.ok(netnsExists(a))
  await ipBatch(
    [
      `link add va type veth peer name vb netns ${b}`,
      'addr add 10.77.0.1/24 dev va',
      'link set va up',
    ],
    a,
  )
  await ipBatch(['addr add 10.77.0.2/24 dev vb', 'link set vb up', 'route add 10.78.0.0/16 via 10.77.0.1'], `/run/netns/${b}`)
  const va = await getLink('va', a)
  t.equal(va?.linkinfo?.info_kind, 'veth')
  t.equal(await getLink('va', b), undefined, 'a link is only visible in its namespace')
  const addrs = await listAddrs('vb', b)
  t.same(addrs[0]?.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`), ['10.77.0.2/24'])
  const routes = await listRoutes(4, b)
  t.ok(routes.some((r) => r.dst === '10.78.0.0/16' && r.gateway === '10.77.0.1'))
  await ip(['route', 'get', '10.77.0.1'], b)
  await setSysctl('net.ipv4.ip_forward', '1', a)
  t.equal(await getSysctl('net.ipv4.ip_forward', a), '1')
  t.equal(await getSysctl('net.ipv4.ip_forward', b), '0', 'sysctls are per namespace')
  t.equal(await deleteLink('va', a), true)
  t.equal(await deleteLink('va', a), false, 'deleting a missing link is not an error')
  t.equal(await getLink('vb', b), undefined, 'the peer went with it')
})

t.test('errors name the command and what the kernel said', async (t) => {
  const a = await testNetns(t, 'nle')
  const err = await ipBatch(['link add x0 type dummy', 'addr add 300.1.1.1/24 dev x0'], a).catch((e: unknown) => e)
  t.ok(err instanceof CommandError)
  t.match((err as CommandError).message, /ip -n .* -batch -/)
  t.match((err as CommandError).stderr, /300\.1\.1\.1|invalid|Error/i)
})
