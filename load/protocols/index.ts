// The protocol clients by name: each module is loaded only when its protocol is used.
import type { ClientFactory, Protocol } from '../types.ts'

export async function clientFor(protocol: Protocol): Promise<ClientFactory> {
  switch (protocol) {
    case 'http1':
      return (await import('./http1.ts')).createHttp1Client
    case 'http2':
      return (await import('./http2.ts')).createHttp2Client
    case 'grpc':
      return (await import('./grpc.ts')).createGrpcClient
    case 'tcp':
      return (await import('./tcp.ts')).createTcpClient
    case 'udp':
      return (await import('./udp.ts')).createUdpClient
    case 'dns':
      return (await import('./dns.ts')).createDnsClient
  }
}
