// Service address management for real, inside test namespaces.
import t from 'tap'
import { ip, listAddrs, type AddrInfo } from '../../../src/netlink/index.ts'
import { LO_LABEL, SERVICE_DEVICE, ServiceAddressManager } from '../../../proxy/userspace/index.ts'
import { testNetns } from '../../helpers/netns.ts'

interface Addr extends AddrInfo {
  label?: string
}

async function addrsOf(ns: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const link of await listAddrs(undefined, ns)) {
    out.set(link.ifname, (link.addr_info as Addr[]).filter((a) => a.scope !== 'link' && a.scope !== 'host').map((a) => `${a.local}/${a.prefixlen}${a.label && a.label !== link.ifname ? ` ${a.label}` : ''}`).sort())
  }
  return out
}

for (const family of [4, 6] as const) {
  t.test(`IPv${family}: exact set on weft-svc0 or lo, foreign addresses untouched, all removed on close`, async (t) => {
    const ns = await testNetns(t, `usa${family}`)
    const [a, b, c, foreign] = family === 4 ? ['10.96.0.10', '10.96.0.11', '192.0.2.9', '10.96.0.99'] : ['fd00:96::a', 'fd00:96::b', '2001:db8::9', 'fd00:96::99']
    const width = family === 4 ? 32 : 128
    await ip(['addr', 'add', `${foreign}/${width}`, 'dev', 'lo', ...(family === 6 ? ['nodad'] : [])], ns)
    const m = new ServiceAddressManager({ family, netns: ns })
    t.same(await m.sync(new Set([a, b])), { added: [a, b], removed: [] })
    const device = m.device
    t.ok(device === SERVICE_DEVICE || device === 'lo', `addresses went on ${device}`)
    t.comment(`this kernel puts Service addresses on ${device}`)
    const label = device === 'lo' && family === 4 ? ` ${LO_LABEL}` : ''
    let now = await addrsOf(ns)
    t.same(now.get(device!)!.filter((x) => !x.startsWith(foreign)), [`${a}/${width}${label}`, `${b}/${width}${label}`].sort())
    t.same([...(await m.list())].sort(), [a, b].sort(), 'it finds exactly its own')

    t.same(await m.sync(new Set([b, c])), { added: [c], removed: [a] }, 'stale ones go, missing ones come')
    now = await addrsOf(ns)
    t.same(now.get(device!)!.filter((x) => !x.startsWith(foreign)), [`${b}/${width}${label}`, `${c}/${width}${label}`].sort())
    t.ok(now.get('lo')!.includes(`${foreign}/${width}`), 'the foreign address stays')

    const fresh = new ServiceAddressManager({ family, netns: ns })
    t.same([...(await fresh.list())].sort(), [b, c].sort(), 'a new process finds what an earlier one left')
    t.same(await fresh.sync(new Set([b, c]), true), { added: [], removed: [] })

    await m.removeAll()
    now = await addrsOf(ns)
    t.same(now.get('lo'), [`${foreign}/${width}`], 'only the foreign address is left')
    t.notOk(now.has(SERVICE_DEVICE), 'no weft-svc0 left')
  })
}

t.test('lo can be forced where dummy links exist', async (t) => {
  const ns = await testNetns(t, 'usalo')
  const m = new ServiceAddressManager({ family: 4, netns: ns, noDummy: true })
  await m.sync(new Set(['10.96.1.1']))
  t.equal(m.device, 'lo')
  t.same((await addrsOf(ns)).get('lo'), [`10.96.1.1/32 ${LO_LABEL}`])
  await m.removeAll()
  t.same((await addrsOf(ns)).get('lo'), [])
})
