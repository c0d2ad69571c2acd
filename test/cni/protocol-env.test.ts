import t from 'tap'
import { readEnvironment, validateInterfaceName } from '../../cni/protocol/env.ts'
import { CniError } from '../../cni/protocol/errors.ts'

const full = {
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
}

function codeOf(fn: () => unknown): { code: number; msg: string; details: string } | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    if (!(err instanceof CniError)) throw err
    return { code: err.code, msg: err.msg, details: err.details }
  }
}

t.test('required variables per command', async (t) => {
  const cases: { env: Record<string, string>; missing?: string }[] = [
    { env: { CNI_COMMAND: 'ADD', ...full } },
    { env: { CNI_COMMAND: 'ADD', ...full, CNI_NETNS: '' }, missing: 'CNI_NETNS' },
    { env: { CNI_COMMAND: 'ADD', ...full, CNI_CONTAINERID: '' }, missing: 'CNI_CONTAINERID' },
    { env: { CNI_COMMAND: 'ADD', ...full, CNI_IFNAME: '' }, missing: 'CNI_IFNAME' },
    { env: { CNI_COMMAND: 'ADD', ...full, CNI_PATH: '' }, missing: 'CNI_PATH' },
    { env: { CNI_COMMAND: 'CHECK', ...full, CNI_NETNS: '' }, missing: 'CNI_NETNS' },
    { env: { CNI_COMMAND: 'DEL', ...full, CNI_NETNS: '' } },
    { env: { CNI_COMMAND: 'DEL', ...full, CNI_IFNAME: '' }, missing: 'CNI_IFNAME' },
    { env: { CNI_COMMAND: 'VERSION' } },
    { env: { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' } },
    { env: { CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin' } },
    { env: { CNI_COMMAND: 'STATUS' }, missing: 'CNI_PATH' },
    { env: {}, missing: 'CNI_COMMAND' },
  ]
  for (const c of cases) {
    const name = JSON.stringify(c.env)
    const err = codeOf(() => readEnvironment(c.env))
    if (c.missing) {
      t.equal(err?.code, 4, name)
      t.match(err?.msg, c.missing, name)
    } else {
      t.equal(err, undefined, name)
    }
  }
})

t.test('reports every missing variable at once', async (t) => {
  const err = codeOf(() => readEnvironment({ CNI_COMMAND: 'ADD' }))
  t.equal(err?.msg, 'required env variables [CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH] missing')
})

t.test('parses values', async (t) => {
  const env = readEnvironment({ CNI_COMMAND: 'ADD', ...full, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-0;' })
  t.same(env, {
    command: 'ADD',
    containerID: 'abc123',
    netns: '/var/run/netns/x',
    ifname: 'eth0',
    args: { IgnoreUnknown: '1', K8S_POD_NAME: 'web-0' },
    path: ['/opt/cni/bin', '/usr/lib/cni'],
  })
  const gc = readEnvironment({ CNI_COMMAND: 'GC', ...full })
  t.equal(gc.containerID, '', 'GC ignores container variables')
  t.equal(gc.ifname, '')
})

t.test('unknown command and bad CNI_ARGS are code 4', async (t) => {
  t.match(codeOf(() => readEnvironment({ CNI_COMMAND: 'FOO', ...full })), { code: 4, msg: 'unknown CNI_COMMAND: FOO' })
  t.match(codeOf(() => readEnvironment({ CNI_COMMAND: 'ADD', ...full, CNI_ARGS: 'A=1;B' })), { code: 4, details: 'B' })
  t.match(codeOf(() => readEnvironment({ CNI_COMMAND: 'ADD', ...full, CNI_ARGS: 'A=1=2' })), { code: 4 })
})

t.test('container ID syntax', async (t) => {
  for (const id of ['abc', 'A1_b.c-d', '0']) {
    t.equal(codeOf(() => readEnvironment({ CNI_COMMAND: 'ADD', ...full, CNI_CONTAINERID: id })), undefined, id)
  }
  for (const id of ['-abc', '.abc', 'a/b', 'a b', 'a:b']) {
    t.match(codeOf(() => readEnvironment({ CNI_COMMAND: 'ADD', ...full, CNI_CONTAINERID: id })), { code: 4, details: id }, id)
  }
})

t.test('interface name syntax', async (t) => {
  for (const name of ['eth0', 'a', 'x'.repeat(15), 'veth-1.2', 'net@1']) {
    t.doesNotThrow(() => validateInterfaceName(name), name)
  }
  for (const name of ['', 'x'.repeat(16), '.', '..', 'a/b', 'a:b', 'a b', 'a\tb']) {
    t.match(codeOf(() => validateInterfaceName(name)), { code: 4 }, JSON.stringify(name))
  }
  t.match(codeOf(() => readEnvironment({ CNI_COMMAND: 'DEL', ...full, CNI_IFNAME: 'bad/name' })), { code: 4 })
})
