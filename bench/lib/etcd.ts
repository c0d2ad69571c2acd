// A throwaway single-member etcd on loopback for a benchmark, stopped by pid and its
// data dir removed by the benchmark's Cleanup.
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { Cleanup } from './cleanup.ts'
import { freePort, startProcess, waitForHttp, type ChildProcess } from './process.ts'

export interface Etcd {
  endpoint: string
  process: ChildProcess
}

export function findEtcd(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat('/usr/bin', '/usr/local/bin')) {
    if (dir === '') continue
    try {
      accessSync(join(dir, 'etcd'), constants.X_OK)
      return join(dir, 'etcd')
    } catch {}
  }
  return undefined
}

/** Starts etcd with its data under a new temp dir in `baseDir`. */
export async function startEtcd(cleanup: Cleanup, baseDir: string): Promise<Etcd> {
  const bin = findEtcd()
  if (bin === undefined) throw new Error('etcd is not installed: `apt-get install etcd-server` (Debian) provides /usr/bin/etcd')
  const dir = cleanup.tempDir('weft-bench-etcd-', baseDir)
  const clientPort = await freePort()
  const peerPort = await freePort()
  const endpoint = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const proc = startProcess(
    cleanup,
    bin,
    [
      '--name', 'weft-bench',
      '--data-dir', join(dir, 'data'),
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `weft-bench=${peer}`,
      '--log-level', 'error',
    ],
    { logFile: join(dir, 'etcd.log') },
  )
  await waitForHttp(`${endpoint}/health`, proc, (status, body) => status === 200 && /"health":\s*"true"/.test(body), 15_000)
  return { endpoint, process: proc }
}
