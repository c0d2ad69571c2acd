import t from 'tap'
import { runPlugin, type PluginHandlers, type PluginRequest } from '../../cni/protocol/dispatch.ts'
import { CniError } from '../../cni/protocol/errors.ts'

const env = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/c1', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' }
const conf = (v = '1.1.0') => JSON.stringify({ cniVersion: v, name: 'pods', type: 'weft' })

function handlers(calls: string[], overrides: Partial<PluginHandlers> = {}): PluginHandlers {
  return {
    add: (req: PluginRequest) => {
      calls.push(`add ${req.env.containerID} ${req.conf.name}`)
      return { cniVersion: '1.1.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.0.5/24', interface: 0 }] }
    },
    del: (req) => void calls.push(`del ${req.env.netns}`),
    check: () => void calls.push('check'),
    gc: (req) => void calls.push(`gc ${req.conf.validAttachments?.length ?? 0}`),
    status: () => void calls.push('status'),
    ...overrides,
  }
}

async function run(h: PluginHandlers, e: Record<string, string>, stdin: string) {
  let out = ''
  const code = await runPlugin(h, { env: e, stdin, stdout: (s) => (out += s) })
  return { code, out: out === '' ? undefined : (JSON.parse(out) as Record<string, unknown>) }
}

t.test('each command', async (t) => {
  const cases: { cmd: string; stdin?: string; env?: Record<string, string>; code: number; calls: string[]; out?: unknown }[] = [
    { cmd: 'ADD', code: 0, calls: ['add c1 pods'], out: { cniVersion: '1.1.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.0.5/24', interface: 0 }] } },
    { cmd: 'ADD', stdin: conf('0.4.0'), code: 0, calls: ['add c1 pods'], out: { cniVersion: '0.4.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.0.5/24', interface: 0, version: '4' }] } },
    { cmd: 'DEL', env: { ...env, CNI_NETNS: '' }, code: 0, calls: ['del '] },
    { cmd: 'CHECK', code: 0, calls: ['check'] },
    { cmd: 'VERSION', stdin: '', env: {}, code: 0, calls: [], out: { cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] } },
    { cmd: 'GC', env: { CNI_PATH: '/opt/cni/bin' }, stdin: JSON.stringify({ cniVersion: '1.1.0', name: 'pods', type: 'weft', 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }), code: 0, calls: ['gc 1'] },
    { cmd: 'STATUS', env: { CNI_PATH: '/opt/cni/bin' }, code: 0, calls: ['status'] },
    { cmd: 'GC', stdin: conf('1.0.0'), code: 1, calls: [], out: { cniVersion: '1.0.0', code: 1, msg: 'config version does not allow GC', details: '1.0.0' } },
    { cmd: 'STATUS', stdin: conf('0.4.0'), code: 1, calls: [], out: { cniVersion: '0.4.0', code: 1, msg: 'config version does not allow STATUS', details: '0.4.0' } },
    { cmd: 'BOGUS', code: 1, calls: [], out: { cniVersion: '1.1.0', code: 4, msg: 'unknown CNI_COMMAND: BOGUS', details: 'CNI_COMMAND' } },
    { cmd: 'ADD', env: { ...env, CNI_IFNAME: '' }, stdin: conf('1.0.0'), code: 1, calls: [], out: { cniVersion: '1.0.0', code: 4, msg: 'required env variables [CNI_IFNAME] missing', details: 'CNI_IFNAME' } },
    { cmd: 'ADD', stdin: '{', code: 1, calls: [], out: { cniVersion: '1.1.0', code: 6 } },
    { cmd: 'DEL', stdin: conf('0.3.0'), code: 1, calls: [], out: { cniVersion: '1.1.0', code: 1, msg: 'incompatible CNI versions' } },
  ]
  for (const c of cases) {
    const calls: string[] = []
    const name = `${c.cmd} ${c.stdin ?? ''}`
    const res = await run(handlers(calls), { CNI_COMMAND: c.cmd, ...(c.env ?? env) }, c.stdin ?? conf())
    t.equal(res.code, c.code, name)
    t.same(calls, c.calls, name)
    if (c.out === undefined) t.equal(res.out, undefined, `${name}: no output`)
    else t.match(res.out, c.out as object, name)
  }
})

t.test('handler errors become error objects on stdout', async (t) => {
  const calls: string[] = []
  const cniErr = await run(
    handlers(calls, { add: () => { throw new CniError(11, 'bridge busy', 'weft0') } }),
    { CNI_COMMAND: 'ADD', ...env },
    conf('1.0.0'),
  )
  t.same(cniErr, { code: 1, out: { cniVersion: '1.0.0', code: 11, msg: 'bridge busy', details: 'weft0' } })
  const plain = await run(handlers(calls, { del: async () => { throw new Error('boom') } }), { CNI_COMMAND: 'DEL', ...env }, conf())
  t.same(plain, { code: 1, out: { cniVersion: '1.1.0', code: 999, msg: 'boom' } })
  const badResult = await run(
    handlers(calls, { add: () => ({ cniVersion: '1.1.0', ips: [{ address: '10.1.0.5' }] }) }),
    { CNI_COMMAND: 'ADD', ...env },
    conf(),
  )
  t.match(badResult, { code: 1, out: { code: 6 } }, 'an invalid result is not printed as success')
})

t.test('GC and STATUS without handlers succeed silently', async (t) => {
  const h = handlers([])
  delete h.gc
  delete h.status
  t.same(await run(h, { CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf()), { code: 0, out: undefined })
  t.same(await run(h, { CNI_COMMAND: 'STATUS', CNI_PATH: '/x' }, conf()), { code: 0, out: undefined })
})
