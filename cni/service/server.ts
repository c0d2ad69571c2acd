// The warm CNI service: runs plugin invocations for the bin scripts of its own network
// namespace, so an ADD costs a bash start instead of a Node start.
//
// Rendezvous: <runDir>/<netns inode>/ holds `req` (a FIFO), `idle` (a FIFO nobody writes)
// and `ns` (a symlink to /proc/<service pid>/ns/net). A client finds the directory whose
// `ns` is its own namespace (`[[ /proc/self/ns/net -ef ns ]]`, no fork), writes
// "<pid> <plugin> <flags>\n" to `req` and waits on `idle`. The service checks that the pid
// is in its namespace and reads the CNI_* variables from /proc/<pid>/environ. The config
// comes from /proc/<pid>/fd/6 (the client's stdin, dup'd), or with flag `i` from the file
// in.<pid>; the output goes to /proc/<pid>/fd/7 (its stdout, a pipe), or with flag `o` to
// the file out.<pid>, which the client prints. The exit code is a signal: SIGUSR1 for 0,
// SIGUSR2 for 1.
import { execFile } from 'node:child_process'
import { constants, openSync, promises as fs, readlinkSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { IpSession } from '../../src/netlink/bridge.ts'
import { Spawner } from '../../src/netlink/spawner.ts'
import { setHostIp, setPodIp } from '../bridge/links.ts'
import { PLUGINS } from '../plugins.ts'
import { runPlugin, type PluginHandlers } from '../protocol/dispatch.ts'

export const DEFAULT_RUN_DIR = '/run/weft/cni'

export interface CniServiceOptions {
  /** Where the rendezvous directory goes; clients read WEFT_CNI_RUN_DIR (same default). */
  runDir?: string
  /** Plugins by the name clients send; default weft's bridge and ipam. */
  plugins?: Record<string, PluginHandlers>
  /** Called for requests the service refuses or cannot answer. */
  onError?: (err: Error) => void
}

export interface CniService {
  /** The rendezvous directory of this namespace. */
  dir: string
  close(): Promise<void>
}

const execFileP = promisify(execFile)

function netnsInode(pid: number | 'self'): string {
  const link = readlinkSync(`/proc/${pid}/ns/net`)
  return link.replace(/\D/g, '')
}

function cniEnv(environ: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const entry of environ.split('\0')) {
    if (!entry.startsWith('CNI_')) continue
    const eq = entry.indexOf('=')
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return env
}

export async function startCniService(opts: CniServiceOptions = {}): Promise<CniService> {
  const plugins = opts.plugins ?? PLUGINS
  const onError = opts.onError ?? (() => {})
  const ownNs = netnsInode('self')
  const dir = join(opts.runDir ?? DEFAULT_RUN_DIR, ownNs)
  await fs.rm(dir, { recursive: true, force: true })
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  await execFileP('mkfifo', ['-m', '0600', join(dir, 'req'), join(dir, 'idle')])
  // Read-write, so the FIFO never reports end-of-file when a client closes it.
  const fd = openSync(join(dir, 'req'), constants.O_RDWR | constants.O_NONBLOCK)
  const fifo = new Socket({ fd, readable: true, writable: false })
  const inflight = new Set<Promise<void>>()
  // Host-side link changes go to one long-lived `ip -batch` (restarted if it dies).
  let session = new IpSession()
  setHostIp((lines) => {
    if (!session.alive) session = new IpSession()
    return session.run(lines)
  })
  const jobs = join(dir, 'jobs')
  await fs.mkdir(jobs)
  let spawner = new Spawner(jobs)
  setPodIp((lines, netns) => {
    if (!spawner.alive) spawner = new Spawner(jobs)
    return spawner.ipBatch(lines, netns)
  })

  async function serve(pid: number, plugin: string, flags: string): Promise<void> {
    if (netnsInode(pid) !== ownNs) throw new Error(`refused a request from pid ${pid}: it is in another network namespace`)
    const handlers = plugins[plugin]
    const env = cniEnv(await fs.readFile(`/proc/${pid}/environ`, 'latin1'))
    let stdin = ''
    if (flags.includes('i')) {
      const file = join(dir, `in.${pid}`)
      stdin = await fs.readFile(file, 'utf8')
      await fs.rm(file, { force: true })
    } else if (env.CNI_COMMAND !== 'VERSION') {
      stdin = await fs.readFile(`/proc/${pid}/fd/6`, 'utf8')
    }
    let out = ''
    let code: number
    if (handlers === undefined) {
      out = JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: `unknown weft CNI plugin "${plugin}"` }) + '\n'
      code = 1
    } else {
      code = await runPlugin(handlers, { env, stdin, stdout: (s) => (out += s) })
    }
    if (flags.includes('o')) {
      const file = join(dir, `out.${pid}`)
      await fs.writeFile(file, out)
      // The client reads it as soon as it is signalled; the file goes a while later.
      setTimeout(() => void fs.rm(file, { force: true }), 60_000).unref()
    } else if (out !== '') {
      const stdout = await fs.open(`/proc/${pid}/fd/7`, 'a')
      try {
        await stdout.write(out)
      } finally {
        await stdout.close()
      }
    }
    process.kill(pid, code === 0 ? 'SIGUSR1' : 'SIGUSR2')
  }

  let buffered = ''
  fifo.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1')
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const [pidText, plugin = 'bridge', flags = '-'] = buffered.slice(0, nl).trim().split(' ')
      buffered = buffered.slice(nl + 1)
      const pid = Number(pidText)
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) {
        onError(new Error(`ignored a malformed request line "${pidText}"`))
        continue
      }
      const p = serve(pid, plugin, flags).catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))))
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
    }
  })
  fifo.on('error', (err) => onError(err))

  // The symlink goes last: clients treat it as "the service is listening".
  const tmp = join(dir, `ns.${process.pid}`)
  await fs.symlink(`/proc/${process.pid}/ns/net`, tmp)
  await fs.rename(tmp, join(dir, 'ns'))

  let closed: Promise<void> | undefined
  return {
    dir,
    close() {
      closed ??= (async () => {
        await fs.rm(join(dir, 'ns'), { force: true })
        fifo.destroy()
        await Promise.allSettled([...inflight])
        setHostIp(undefined)
        setPodIp(undefined)
        session.close()
        spawner.close()
        await fs.rm(dir, { recursive: true, force: true })
      })()
      return closed
    },
  }
}
