// The rate one weft load process reaches per protocol client, closed loop against a loopback
// server in another process (so the numbers are the client's):
//   node test/load/programs/proto-rate.ts PROTOCOL [SECONDS=5] [IN_FLIGHT=64] [CONNECTIONS=1]
// PROTOCOL: http2 | grpc | udp | dns. Prints requests/s, the client's CPU seconds, requests
// per CPU-second, and the outcome classes. `serve PROTOCOL` is the server side (it prints its port).
import { fork } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:http2'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import { QueryHandler } from '../../../dns/handler.ts'
import { DnsMetrics } from '../../../dns/metrics.ts'
import { DnsServer } from '../../../dns/server.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../../dns/zone-index.ts'
import { createDnsClient } from '../../../load/protocols/dns.ts'
import { createGrpcClient, HEALTH_CHECK_PATH } from '../../../load/protocols/grpc.ts'
import { createHttp2Client } from '../../../load/protocols/http2.ts'
import { createUdpClient } from '../../../load/protocols/udp.ts'
import type { ClientFactory, Protocol, ResolvedTarget } from '../../../load/types.ts'

const protocols = ['http2', 'grpc', 'udp', 'dns'] as const
type Measured = (typeof protocols)[number]

function usage(): never {
  process.stderr.write('usage: proto-rate.ts http2|grpc|udp|dns [SECONDS] [IN_FLIGHT] [CONNECTIONS]\n')
  process.exit(2)
}

async function serve(protocol: Measured): Promise<number> {
  switch (protocol) {
    case 'http2': {
      const server = createServer()
      server.on('stream', (stream) => {
        stream.on('error', () => {})
        stream.respond({ ':status': 200, 'content-type': 'text/plain' })
        stream.end('ok')
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return (server.address() as { port: number }).port
    }
    case 'grpc': {
      const raw = (b: Buffer) => b
      const server = new grpc.Server()
      const check = { path: HEALTH_CHECK_PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw }
      server.addService({ Check: check }, { Check: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from([0x08, 0x01])) })
      return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))))
    }
    case 'udp': {
      const socket = createSocket('udp4')
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
      socket.setRecvBufferSize(4 * 1024 * 1024)
      socket.on('message', (message, from) => socket.send(message, from.port, from.address))
      return socket.address().port
    }
    case 'dns': {
      const service = { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } }
      const zone = buildZoneIndex({ services: [service as never], slices: [], pods: [] }, defaultZoneConfig)
      const server = new DnsServer(new QueryHandler(zone, { metrics: new DnsMetrics('dns://:0'), autopath: false, hostSearch: [] }), { listen: ['127.0.0.1:0'], tcp: false })
      const [{ port }] = await server.start()
      return port
    }
  }
}

const factories: Record<Measured, ClientFactory> = { http2: createHttp2Client, grpc: createGrpcClient, udp: createUdpClient, dns: createDnsClient }

function targetFor(protocol: Measured, port: number): ResolvedTarget {
  return {
    protocol: protocol as Protocol,
    tls: false,
    endpoints: [{ host: '127.0.0.1', port }],
    authority: `127.0.0.1:${port}`,
    insecure: false,
    path: protocol === 'grpc' ? HEALTH_CHECK_PATH : '/',
    method: protocol === 'grpc' ? 'POST' : 'GET',
    headers: [],
    dns: protocol === 'dns' ? { name: 'web.default.svc.cluster.local', type: 'A' } : undefined,
    description: 'proto-rate',
    spec: 'proto-rate',
  }
}

async function measure(protocol: Measured, seconds: number, inFlight: number, connections: number): Promise<void> {
  const server = fork(fileURLToPath(import.meta.url), ['serve', protocol], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    server.once('exit', (code) => reject(new Error(`the server exited (${code})`)))
  })
  const outcomes: Record<string, number> = {}
  let done = 0
  let next = 0
  let stopping = false
  const client = factories[protocol]({
    target: targetFor(protocol, port),
    connections,
    keepAlive: true,
    timeoutMs: 5000,
    identifyEndpoints: false,
    sink: {
      done(_token, error) {
        done++
        outcomes[error ?? 'ok'] = (outcomes[error ?? 'ok'] ?? 0) + 1
        if (!stopping) client.send(next++)
      },
    },
  })
  // Warm up a second, then measure.
  for (let i = 0; i < inFlight; i++) client.send(next++)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const startDone = done
  const startCpu = process.cpuUsage()
  const startMs = performance.now()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const cpu = process.cpuUsage(startCpu)
  const elapsed = (performance.now() - startMs) / 1000
  const count = done - startDone
  stopping = true
  await client.close()
  server.kill()
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  process.stdout.write(
    `${protocol}: ${Math.round(count / elapsed)} req/s, client CPU ${cpuSeconds.toFixed(2)} s of ${elapsed.toFixed(2)} s, ` +
      `${Math.round(count / cpuSeconds)} req per CPU-second (in flight ${inFlight}, connections ${connections}); outcomes ${JSON.stringify(outcomes)}\n`,
  )
}

const [command, ...rest] = process.argv.slice(2)
if (command === 'serve') {
  if (!(protocols as readonly string[]).includes(rest[0])) usage()
  process.stdout.write(`${await serve(rest[0] as Measured)}\n`)
} else {
  if (!(protocols as readonly string[]).includes(command)) usage()
  const [seconds = 5, inFlight = 64, connections = 1] = rest.map(Number)
  if (![seconds, inFlight, connections].every((n) => Number.isInteger(n) && n > 0)) usage()
  await measure(command as Measured, seconds, inFlight, connections)
}
