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

t.test('ipBatch refuses a line that could hide or start a command, before ip runs', async (t) => {
  // In a namespace of the test's own, so that even a check that let a line through could not touch the host.
  const ns = await testNetns(t, 'nlbat')
  await ipBatch(['link add d0 type veth peer name d1'], ns)
  for (const line of ['addr add 10.0.0.1/32 dev d0\nlink delete d0', 'addr add 10.0.0.1/32 dev d0\rlink delete d0', 'addr add 10.0.0.1/32 dev d0 # x', 'addr add "10.0.0.1/32" dev d0', "addr add '10.0.0.1/32' dev d0", 'addr add 10.0.0.1/32 dev d0\\', 'addr add 10.0.0.1/32 dev d0\u0000', 'addr add 10.0.0.1/32 dev dé']) {
    await t.rejects(ipBatch(['link set d0 up', line], ns), /ip -batch line/, JSON.stringify(line).replace(/[^\x20-\x7e]/g, '?'))
  }
  t.ok(await getLink('d0', ns), 'the link is still there')
  t.notOk((await getLink('d0', ns))?.flags.includes('UP'), 'and no line of a refused batch ran')
})
