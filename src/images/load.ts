// weft/load: one load generator of `weft load --from-pods` (load/worker.ts). Its job comes in
// the environment variable WEFT_LOAD_JOB; it takes no flags. SIGTERM or SIGINT ends the run
// early and still prints what was recorded. Exits 0 after its result, 1 after an error.
import { parseFlags } from './flags.ts'
import { jobEnvName, parseJob } from '../../load/job.ts'
import { formatLine } from '../../load/worker-protocol.ts'
import { runWorker } from '../../load/worker.ts'
import type { ClientFactory, Protocol } from '../../load/types.ts'

/** The protocol clients built so far; load/protocols/index.ts's clientFor takes this over once it has them all. */
async function clientFactory(protocol: Protocol): Promise<ClientFactory> {
  if (protocol === 'http1') return (await import('../../load/protocols/http1.ts')).createHttp1Client
  if (protocol === 'tcp') return (await import('../../load/protocols/tcp.ts')).createTcpClient
  throw new Error(`weft/load cannot speak ${protocol} yet (http1 and tcp only)`)
}

function flushed(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()))
}

export async function load(args: readonly string[]): Promise<void> {
  parseFlags('load', args, {})
  let outcome: 'done' | 'error' = 'error'
  try {
    const job = parseJob(process.env[jobEnvName])
    const [{ runLoad }, createClient] = await Promise.all([import('../../load/engine.ts'), clientFactory(job.target.protocol)])
    const stop = new AbortController()
    const abort = (): void => stop.abort()
    process.once('SIGTERM', abort)
    process.once('SIGINT', abort)
    outcome = await runWorker(job, { input: process.stdin, write: (line) => process.stdout.write(line), signal: stop.signal }, { runLoad, createClient })
  } catch (err) {
    // A bad job (or no engine): said on stdout, where the controller reads, and on stderr for people.
    process.stdout.write(formatLine({ type: 'error', message: (err as Error).message }))
    process.stderr.write(`load: ${(err as Error).message}\n`)
  }
  await flushed()
  process.exit(outcome === 'done' ? 0 : 1)
}
