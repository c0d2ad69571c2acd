// Relay worker threads on loopback (relay-workers.ts): every thread listens on the Service
// port and serves connections; ports with ClientIP affinity and proxiers with a connection
// policy stay on the main thread; sockets count against one set of limits and the workers'
// refusals reach the metrics; a worker's bind failure fails the sync.
import { createServer, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { ProxyMetrics } from '../../../proxy/metrics.ts'
import { ListenError, UserspaceLimits, UserspaceProxier, openFileLimit, type UserspaceProxierOptions } from '../../../proxy/userspace/index.ts'
import { connectOutcome, endpoint, eventually, freePort, loopbackIP, metricValue, open, proxyState, servicePort, sleep, tcpServer, type Conn } from './helpers.ts'

async function setup(t: Test, opts: Partial<UserspaceProxierOptions> & { affinitySeconds?: number } = {}) {
  const up = await tcpServer(t, 'up')
  const clusterIP = loopbackIP()
  const sp = servicePort({ name: 'w', clusterIP, port: await freePort(clusterIP), affinitySeconds: opts.affinitySeconds ?? 0 })
  const limits = opts.limits ?? new UserspaceLimits({ socketLimit: 1000 })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, workers: 2, ...opts, limits })
  t.teardown(() => p.close())
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', up.port)] }]), 'all')
  return { p, sp, limits, metrics }
}

async function openMany(t: Test, host: string, port: number, n: number): Promise<Conn[]> {
  return Promise.all(Array.from({ length: n }, () => open(t, host, port)))
}

t.test('every thread listens on the port and serves', async (t) => {
  const { p, sp, limits } = await setup(t)
  const conns = await openMany(t, sp.clusterIP, sp.port, 40)
  t.ok(conns.every((c) => c.name === 'up'), 'every connection is relayed')
  t.equal(await eventually(() => limits.tcpSockets, (n) => n === 80), 80, 'every thread counts its sockets into the shared limits')
  t.ok(p.connections > 0 && p.connections < 80, `the main thread relays some (${p.connections / 2} of 40), the worker the rest`)
  for (const c of conns) t.equal(await c.echo(`ping ${c.socket.localPort}`), `ping ${c.socket.localPort}`)
  for (const c of conns) c.socket.destroy()
  t.equal(await eventually(() => limits.tcpSockets, (n) => n === 0), 0, 'and gives them back')
})

t.test('ClientIP affinity keeps a port on the main thread', async (t) => {
  const { p, sp } = await setup(t, { affinitySeconds: 60 })
  await openMany(t, sp.clusterIP, sp.port, 20)
  t.equal(await eventually(() => p.connections, (n) => n === 40), 40, 'all 20 on the main thread')
})

t.test('a connection policy keeps TCP on the main thread', async (t) => {
  let asked = 0
  const { p, sp } = await setup(t, {
    connectionPolicy: () => {
      asked++
      return true
    },
  })
  await openMany(t, sp.clusterIP, sp.port, 20)
  t.equal(await eventually(() => p.connections, (n) => n === 40), 40, 'all 20 on the main thread')
  t.equal(asked, 20, 'each judged by the policy')
})

t.test("the workers' refusals count against the one limit and reach the metrics", async (t) => {
  const limits = new UserspaceLimits({ socketLimit: 10 })
  const { sp, metrics } = await setup(t, { limits })
  const outcomes = await Promise.all(Array.from({ length: 20 }, () => connectOutcome(t, sp.clusterIP, sp.port)))
  const refused = outcomes.filter((o) => o !== 'ok').length
  t.ok(refused > 0, `some are refused (${refused} of 20)`)
  let n = 0
  for (let i = 0; i < 100 && n < refused; i++) {
    n = await metricValue(metrics, 'weft_proxy_userspace_tcp_connections_rejected_total', '{reason="fd_limit"}')
    if (n < refused) await sleep(20)
  }
  t.equal(n, refused, 'every refusal, on either thread, is counted')
})

t.test('held connections stay within the one limit across threads', async (t) => {
  const limits = new UserspaceLimits({ socketLimit: 10 })
  const { sp } = await setup(t, { limits })
  const held: Socket[] = []
  let ok = 0
  await Promise.all(
    Array.from({ length: 20 }, () =>
      open(t, sp.clusterIP, sp.port).then(
        (c) => {
          ok++
          held.push(c.socket)
        },
        () => {},
      ),
    ),
  )
  // Two threads admitting at the same moment may each pass the last check: one over at most.
  t.ok(ok >= 5 && ok <= 6, `5 (or 6) of 20 admitted: ${ok}`)
  t.ok(limits.tcpSockets <= 12, `sockets held: ${limits.tcpSockets}`)
})

t.test("a worker's bind failure fails the sync", async (t) => {
  const clusterIP = loopbackIP()
  const port = await freePort(clusterIP)
  const squatter = createServer()
  await new Promise<void>((resolve) => squatter.listen(port, clusterIP, resolve))
  t.teardown(() => squatter.close())
  const up = await tcpServer(t, 'up')
  const sp = servicePort({ name: 'taken', clusterIP, port })
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, workers: 3 })
  t.teardown(() => p.close())
  const err = await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', up.port)] }]), 'all').catch((e: Error) => e)
  t.type(err, ListenError)
  t.same(
    (err as ListenError).failures.map((f) => [f.listen, (f.error as NodeJS.ErrnoException).code]),
    [0, 1, 2].map(() => [`${clusterIP}:${port}`, 'EADDRINUSE']),
    'one failure per thread, with its code',
  )
})

t.test('past the listener budget the main thread serves alone, and shares again below it', async (t) => {
  // Room for 3 listener descriptors beside the relays' share: one port on two threads fits, two do not.
  const limits = new UserspaceLimits({ socketLimit: openFileLimit()! - 3 })
  const up = await tcpServer(t, 'up')
  const ports = await Promise.all(
    ['a', 'b'].map(async (name) => {
      const clusterIP = loopbackIP()
      return servicePort({ name, clusterIP, port: await freePort(clusterIP) })
    }),
  )
  const entry = (sp: (typeof ports)[number]) => ({ port: sp, endpoints: [endpoint('127.0.0.1', up.port)] })
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, workers: 2, limits })
  t.teardown(() => p.close())
  const onMain = async (n: number): Promise<number> => {
    const conns = await openMany(t, ports[0]!.clusterIP, ports[0]!.port, n)
    const main = (await eventually(() => p.connections, (c) => c > 0)) / 2
    for (const c of conns) c.socket.destroy()
    await eventually(() => limits.tcpSockets, (c) => c === 0)
    return main
  }
  await p.sync(proxyState([entry(ports[0]!)]), 'all')
  t.ok((await onMain(30)) < 30, 'one port: the worker serves some')
  await p.sync(proxyState(ports.map(entry)), new Set([ports[1]!.id]))
  t.equal(await onMain(30), 30, 'two ports: all on the main thread')
  t.equal(await connectOutcome(t, ports[1]!.clusterIP, ports[1]!.port), 'ok', 'and the second port is served')
  await p.sync(proxyState([entry(ports[0]!)]), new Set([ports[1]!.id]))
  t.ok((await onMain(30)) < 30, 'one port again: the worker serves again')
})

t.test('the thread count is checked', async (t) => {
  for (const bad of [0, 1.5, 65]) t.throws(() => new UserspaceProxier({ family: 4, manageAddresses: false, workers: bad }), /the relay thread count must be a whole number from 1 to 64/)
})
