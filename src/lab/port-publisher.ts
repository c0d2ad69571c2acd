// Publishes ports of a lab node on the host's loopback without giving the host's network
// namespace any address or route: the host side binds 127.0.0.1:PORT here, and hands the
// listening socket over IPC to a relay process started inside the node's namespace
// (port-relay.ts), which accepts on it and connects to the node's address from there.
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { netnsPath } from '../netlink/index.ts'
import { procStarttime, type Started } from './processes.ts'

const RELAY = fileURLToPath(new URL('./port-relay.ts', import.meta.url))

export interface PublishedPort {
  /** The host's loopback port. */
  port: number
  /** HOST:PORT inside the namespace that connections go to. */
  to: string
}

export interface Publisher extends Started {
  ports: PublishedPort[]
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server))
  })
}

/** Binds each `{ port, to }` on 127.0.0.1 (the port, or any free one when it is taken or 0) and starts the relay in `netns`. */
export async function publishPorts(netns: string, wanted: readonly PublishedPort[], log: string): Promise<Publisher> {
  const servers: Server[] = []
  try {
    for (const w of wanted) servers.push(await listen(w.port).catch(() => listen(0)))
    const fd = openSync(log, 'a')
    const child = spawn('nsenter', [`--net=${netnsPath(netns)}`, '--', process.execPath, RELAY], { detached: true, stdio: ['ignore', fd, fd, 'ipc'] })
    closeSync(fd)
    const exited = new Promise<string>((resolve) => {
      child.on('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`))
      child.on('error', (err) => resolve(err.message))
    })
    const ports = wanted.map((w, i) => ({ port: (servers[i]!.address() as AddressInfo).port, to: w.to }))
    const published = new Promise<void>((resolve, reject) => {
      let left = ports.length
      child.on('message', () => --left === 0 && resolve())
      void exited.then((how) => reject(new Error(`the port relay in ${netns} exited (${how}); see ${log}`)))
    })
    for (const [i, p] of ports.entries()) child.send({ to: p.to }, servers[i]!)
    await published
    child.disconnect()
    child.unref()
    const pid = child.pid!
    const starttime = procStarttime(pid)
    if (starttime === undefined) throw new Error(`the port relay in ${netns} exited at once; see ${log}`)
    return { pid, starttime, exited, ports }
  } finally {
    // The relay holds its own copies of the sockets.
    for (const s of servers) s.close()
  }
}
