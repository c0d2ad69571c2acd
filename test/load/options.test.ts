import t from 'tap'
import { parseLoadArgs } from '../../load/options.ts'

const noFile = (path: string): Buffer => {
  throw new Error(`unexpected read of ${path}`)
}
const parse = (...argv: string[]) => parseLoadArgs(argv, noFile)

t.test('defaults: closed loop, keep-alive, 10 connections, 10 s', async (t) => {
  const o = parse('http://127.0.0.1:8080/')
  t.equal(o.target, 'http://127.0.0.1:8080/')
  t.equal(o.rate, undefined)
  t.equal(o.connections, undefined, 'the plan picks 10 (closed loop) or 64 (open loop)')
  t.equal(o.durationMs, 10_000)
  t.equal(o.timeoutMs, 10_000)
  t.equal(o.warmupMs, 0)
  t.equal(o.keepAlive, true)
  t.equal(o.method, 'GET')
  t.equal(o.via, 'clusterip')
  t.equal(o.progress, 'auto')
  t.equal(o.identifyEndpoints, true)
})

t.test('a rate and a Go duration', async (t) => {
  const o = parse('svc/web', '--rate', '500', '-d', '1m30s')
  t.equal(o.rate, 500)
  t.equal(o.durationMs, 90_000)
})

t.test('every flag', async (t) => {
  const o = parse(
    'svc/web.shop:http',
    '--rate=250.5', '-c', '8', '--requests', '1000', '--warmup', '2s', '--timeout', '1500ms', '--http2', '--new-connections',
    '-X', 'POST', '-H', 'X-A: 1', '-H', 'x-b:two words', '--body', 'hi', '--host', 'shop.example', '--insecure',
    '--grpc-service', 'svc', '--dns-type', 'aaaa', '--udp-payload', '32', '--no-endpoints', '--via', 'endpoints', '-n', 'shop',
    '--from-pods', '2', '--nodes', 'node-1, node-2', '--out', '/tmp/x', '--progress', 'plain', '--json',
  )
  t.match(o, {
    rate: 250.5, connections: 8, requests: 1000, warmupMs: 2000, timeoutMs: 1500, http2: true, keepAlive: false, method: 'POST',
    headers: [['X-A', '1'], ['x-b', 'two words']], host: 'shop.example', insecure: true, grpcService: 'svc', dnsType: 'AAAA',
    udpPayloadBytes: 32, identifyEndpoints: false, via: 'endpoints', namespace: 'shop', fromPods: 2, nodes: ['node-1', 'node-2'],
    outDir: '/tmp/x', progress: 'plain', json: true,
  })
  t.same(o.body, Buffer.from('hi'))
})

t.test('a scenario file may name the target', async (t) => {
  t.equal(parse('-f', 's.yaml').scenarioFile, 's.yaml')
  t.equal(parse('-f', 's.yaml').target, undefined)
})

t.test('bad input is refused with what was wrong', async (t) => {
  t.throws(() => parse(), /no target/)
  t.throws(() => parse('a', 'b'), /one target only/)
  t.throws(() => parse('x', '--rate', '0'), /--rate "0" must be a number above 0/)
  t.throws(() => parse('x', '--rate', 'fast'), /--rate "fast"/)
  t.throws(() => parse('x', '-c', '0'), /--connections "0"/)
  t.throws(() => parse('x', '-d', '10'), /--duration "10" must be a positive duration/)
  t.throws(() => parse('x', '-d', '25h'), /longer than 24h/)
  t.throws(() => parse('x', '-d', '0s'), /positive duration/)
  t.equal(parse('x', '--warmup', '0').warmupMs, 0)
  t.throws(() => parse('x', '--timeout', '2m'), /at most 60s/)
  t.throws(() => parse('x', '-H', 'no colon'), /--header "no colon"/)
  t.throws(() => parse('x', '-H', 'bad name: v'), /valid header name/)
  t.throws(() => parse('x', '-X', 'GE T'), /--method/)
  t.throws(() => parse('x', '--host', 'a b'), /--host/)
  t.throws(() => parse('x', '--body', 'a', '--body-file', 'f'), /give one of them/)
  t.throws(() => parse('x', '--via', 'magic'), /--via "magic" must be one of clusterip, nodeport, endpoints, loadbalancer/)
  t.throws(() => parse('x', '--protocol', 'ftp'), /--protocol "ftp"/)
  t.throws(() => parse('x', '--nodes', 'a'), /give --from-pods N too/)
  t.throws(() => parse('x', '--from-pods', '0'), /--from-pods "0"/)
  t.throws(() => parse('x', '--udp-payload', '4'), /--udp-payload/)
  t.throws(() => parse('x', '--bogus'), /Unknown option '--bogus'/)
})

t.test('--body-file is read once, and capped', async (t) => {
  const o = parseLoadArgs(['x', '--body-file', 'b.json'], (p) => (t.equal(p, 'b.json'), Buffer.from('{}')))
  t.same(o.body, Buffer.from('{}'))
  t.throws(() => parseLoadArgs(['x', '--body-file', 'big'], () => Buffer.alloc((16 << 20) + 1)), /larger than 16 MiB/)
})
