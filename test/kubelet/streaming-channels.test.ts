import t from 'tap'
import { ChannelProtocolError, decodeClientMessage, encodeFrame, exitStatusFrame, negotiateProtocol, parseResize, V4, V5 } from '../../src/kubelet/streaming/channels.ts'
import { parseStreamRequest } from '../../src/kubelet/streaming/request.ts'
import { shellQuote } from '../../src/kubelet/runtime/launcher.ts'
import { StreamRequestError } from '../../src/kubelet/streaming/types.ts'
import { execFileSync } from 'node:child_process'

t.test('protocol negotiation: the client’s first offer weft serves', async (t) => {
  t.equal(negotiateProtocol('v5.channel.k8s.io'), V5)
  t.equal(negotiateProtocol('v4.channel.k8s.io, v5.channel.k8s.io'), V4)
  t.equal(negotiateProtocol(['channel.k8s.io', 'v5.channel.k8s.io']), V5)
  t.equal(negotiateProtocol('base64.channel.k8s.io,v3.channel.k8s.io'), undefined)
  t.equal(negotiateProtocol(undefined), undefined)
  t.equal(negotiateProtocol('V5.CHANNEL.K8S.IO'), undefined, 'protocol names are case-sensitive')
})

t.test('frames: channel byte then data; the error channel carries upstream’s Status', async (t) => {
  t.same([...encodeFrame(1, Buffer.from('hi'))], [1, 104, 105])
  t.same([...encodeFrame(3)], [3])
  t.same(JSON.parse(exitStatusFrame(0).subarray(1).toString()), { metadata: {}, status: 'Success' })
  const failure = JSON.parse(exitStatusFrame(42).subarray(1).toString())
  t.equal(failure.reason, 'NonZeroExitCode')
  t.same(failure.details, { causes: [{ reason: 'ExitCode', message: '42' }] })
  t.equal(exitStatusFrame(42)[0], 3)
})

function protocolError(fn: () => unknown): boolean {
  try {
    fn()
  } catch (err) {
    return err instanceof ChannelProtocolError
  }
  return false
}

t.test('client messages', async (t) => {
  t.same(decodeClientMessage(V5, Buffer.from([0, 97])), { kind: 'stdin', data: Buffer.from('a') })
  t.same(decodeClientMessage(V5, Buffer.from([255, 0])), { kind: 'close', channel: 0 })
  t.same(decodeClientMessage(V5, Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}')])), { kind: 'resize', size: { width: 80, height: 24 } })
  t.same(decodeClientMessage(V5, Buffer.alloc(0)), { kind: 'ignored' })
  t.same(decodeClientMessage(V5, Buffer.from([1, 1])), { kind: 'ignored' })
  t.ok(protocolError(() => decodeClientMessage(V4, Buffer.from([255, 0]))), 'v4 has no close signal')
  t.ok(protocolError(() => decodeClientMessage(V5, Buffer.from([255, 0, 1]))))
  t.ok(protocolError(() => decodeClientMessage(V5, Buffer.from([9]))))
  for (const bad of ['', 'x', '[]', 'null', '{"Width":-1,"Height":2}', '{"Width":1.5,"Height":2}', '{"Width":70000,"Height":2}', '{"Width":"80","Height":24}', '{"Width":80}', ' '.repeat(300)]) {
    t.ok(protocolError(() => parseResize(Buffer.from(bad))), bad)
  }
})

t.test('stream requests', async (t) => {
  const parse = (path: string, q: string) => parseStreamRequest(path, new URLSearchParams(q))
  t.same(parse('/exec/default/web/app', 'command=sh&command=-c&command=echo%20hi&stdin=1&stdout=true&stderr=1&tty=1'), {
    kind: 'exec',
    target: { namespace: 'default', pod: 'web', container: 'app' },
    flags: { stdin: true, stdout: true, stderr: false, tty: true },
    command: ['sh', '-c', 'echo hi'],
  })
  t.same(parse('/attach/kube%2Dsystem/p/c', 'stdout=1')?.target, { namespace: 'kube-system', pod: 'p', container: 'c' })
  t.equal(parse('/exec/default/web', 'command=id&stdout=1'), undefined)
  t.equal(parse('/containerLogs/a/b/c', ''), undefined)
  const bad: Array<[string, string, RegExp]> = [
    ['/exec/default/web/app', 'stdout=1', /at least one command/],
    ['/exec/default/web/app', 'command=id', /at least 1 of stdin, stdout, stderr/],
    ['/exec/default/web/app', 'command=id&stdout=1&stdout=0', /stdout is given 2 times/],
    ['/exec/default/web/app', 'command=a%00b&stdout=1', /NUL/],
    ['/exec/default/web/app', `${'command=x&'.repeat(1025)}stdout=1`, /1025 arguments/],
    ['/attach/default/web/app', 'command=id&stdout=1', /attach takes no command/],
    ['/exec/a%2Fb/web/app', 'command=id&stdout=1', /not a valid name/],
    ['/exec/%E0%A4%A/web/app', 'command=id&stdout=1', /percent-encoding/],
  ]
  for (const [path, q, re] of bad) t.throws(() => parse(path, q), { constructor: StreamRequestError, status: 400, message: re } as never, `${path}?${q.slice(0, 40)}`)
})

t.test('shell quoting round-trips through sh', async (t) => {
  const argv = ['printf', '%s|', "it's", '$HOME', '`id`', '"q"', 'a b', '', '\\n', '*']
  const out = execFileSync('sh', ['-c', shellQuote(argv)], { encoding: 'utf8' })
  t.equal(out, "it's|$HOME|`id`|\"q\"|a b||\\n|*|")
})
