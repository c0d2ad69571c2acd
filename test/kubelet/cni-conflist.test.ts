import t from 'tap'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { highestCommonVersion, nodeConflist, optionalChainPlugins, writeConflist } from '../../src/kubelet/cni/index.ts'
import { parseConfList } from '../../cni/protocol/config.ts'

t.test('dual-stack node with every plugin', async (t) => {
  const text = nodeConflist({ podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], mtu: 1450, ipamDataDir: '/var/lib/weft/ipam' })
  t.ok(text.endsWith('\n'))
  t.same(JSON.parse(text), {
    cniVersion: '1.1.0',
    name: 'weft',
    plugins: [
      {
        type: 'weft-cni',
        bridge: 'cni0',
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: true,
        hairpinMode: true,
        antiSpoof: true,
        mtu: 1450,
        ipam: {
          type: 'weft-ipam',
          ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:10:244:1::/64' }]],
          routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
          dataDir: '/var/lib/weft/ipam',
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
    ],
  })
  const list = parseConfList(text)
  t.equal(list.name, 'weft')
  t.equal(list.plugins.length, 3)
})

t.test('single stack, options off', async (t) => {
  const conf = JSON.parse(nodeConflist({ podCIDRs: ['fd00:1::/64'], name: 'pods', bridge: 'br-pods', hairpin: false, ipMasq: false, antiSpoof: false, portMap: false, bandwidth: false }))
  t.same(conf, {
    cniVersion: '1.1.0',
    name: 'pods',
    plugins: [
      {
        type: 'weft-cni',
        bridge: 'br-pods',
        isGateway: true,
        isDefaultGateway: true,
        ipMasq: false,
        hairpinMode: false,
        antiSpoof: false,
        ipam: { type: 'weft-ipam', ranges: [[{ subnet: 'fd00:1::/64' }]], routes: [{ dst: '::/0' }] },
      },
    ],
  })
  t.same(JSON.parse(nodeConflist({ podCIDRs: ['10.1.0.0/16'], portMap: false })).plugins.map((p: { type: string }) => p.type), ['weft-cni', 'bandwidth'])
})

t.test('bad podCIDRs', async (t) => {
  t.throws(() => nodeConflist({ podCIDRs: [] }), /no podCIDRs yet/)
  t.throws(() => nodeConflist({ podCIDRs: ['10.0.0.0'] }), /"10\.0\.0\.0" is not a CIDR/)
  t.throws(() => nodeConflist({ podCIDRs: ['10.0.0.0/24', '10.1.0.0/24'] }), /at most one CIDR per address family/)
})

t.test('writeConflist writes atomically and only on change', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-conflist-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const confDir = join(dir, 'net.d')
  const text = nodeConflist({ podCIDRs: ['10.244.0.0/24'] })
  t.equal(await writeConflist(confDir, text), true, 'creates the directory and the file')
  const file = join(confDir, '10-weft.conflist')
  t.equal(await readFile(file, 'utf8'), text)
  const before = (await stat(file)).ino
  t.equal(await writeConflist(confDir, text), false, 'identical content is left alone')
  t.equal((await stat(file)).ino, before)
  const next = nodeConflist({ podCIDRs: ['10.244.0.0/24'], mtu: 1400 })
  t.equal(await writeConflist(confDir, next), true)
  t.equal(await readFile(file, 'utf8'), next)
  t.not((await stat(file)).ino, before, 'replaced by rename, not rewritten in place')
  t.same(await readdir(confDir), ['10-weft.conflist'], 'no temp files left')
  await writeFile(join(confDir, '99-other.conflist'), '{}')
  t.equal(await writeConflist(confDir, text, '05-first.conflist'), true)
  t.same((await readdir(confDir)).sort(), ['05-first.conflist', '10-weft.conflist', '99-other.conflist'])
})

t.test('cniVersion: an option, and the highest one every plugin supports', async (t) => {
  t.equal(JSON.parse(nodeConflist({ podCIDRs: ['10.1.0.0/24'], cniVersion: '1.0.0' })).cniVersion, '1.0.0')
  t.equal(highestCommonVersion({ 'weft-cni': ['0.4.0', '1.0.0', '1.1.0'], 'weft-ipam': ['1.0.0', '1.1.0'] }), '1.1.0')
  t.equal(highestCommonVersion({ 'weft-cni': ['0.4.0', '1.0.0', '1.1.0'], portmap: ['0.1.0', '0.3.1', '0.4.0', '1.0.0'] }), '1.0.0')
  t.throws(() => highestCommonVersion({ a: ['1.1.0'], b: ['0.3.1'] }), { code: 1, message: /no CNI version supported by every plugin: .*a \[1\.1\.0\], b \[0\.3\.1\]/ })
})

t.test('optional plugins the bin dirs lack are left out of the chain', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cnibin-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const [weftOnly, withPortmap, withBoth] = ['weft-only', 'with-portmap', 'with-both'].map((d) => join(dir, d))
  for (const [d, files] of [[weftOnly, ['weft-cni', 'weft-ipam']], [withPortmap, ['portmap']], [withBoth, ['portmap', 'bandwidth']]] as const) {
    await mkdir(d, { recursive: true })
    for (const f of files) await writeFile(join(d, f), '#!/bin/sh\n', { mode: 0o755 })
  }
  await mkdir(join(weftOnly, 'bandwidth'))
  t.same(await optionalChainPlugins([weftOnly]), { portMap: false, bandwidth: false, missing: ['portmap', 'bandwidth'] }, 'a directory named like a plugin is no plugin')
  t.same(await optionalChainPlugins([weftOnly, withPortmap]), { portMap: true, bandwidth: false, missing: ['bandwidth'] })
  t.same(await optionalChainPlugins([join(dir, 'nope'), withBoth]), { portMap: true, bandwidth: true, missing: [] }, 'every bin dir is searched')
  const chain = JSON.parse(nodeConflist({ podCIDRs: ['10.244.0.0/24'], ...(await optionalChainPlugins([weftOnly, withPortmap])) }))
  t.same(chain.plugins.map((p: { type: string }) => p.type), ['weft-cni', 'portmap'])
})
