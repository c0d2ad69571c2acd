// A UDP socket bound to a port on every address: dual-stack `::` when the namespace has IPv6,
// else `0.0.0.0`.
import { createSocket, type Socket } from 'node:dgram'

function bind(type: 'udp4' | 'udp6', port: number, address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(type === 'udp6' ? { type, ipv6Only: false } : { type })
    sock.once('error', (err) => {
      sock.close()
      reject(err)
    })
    sock.bind(port, address, () => {
      sock.removeAllListeners('error')
      resolve(sock)
    })
  })
}

export async function bindUdp(port: number, address?: string): Promise<Socket> {
  if (address) return bind(address.includes(':') ? 'udp6' : 'udp4', port, address)
  try {
    return await bind('udp6', port, '::')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw err
    return bind('udp4', port, '0.0.0.0')
  }
}
