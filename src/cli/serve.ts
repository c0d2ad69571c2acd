// Runs a long-lived component (`weft proxy`, `weft dns`) until SIGTERM or SIGINT: then it is
// stopped, its API client closed, and the process exits 0.
import { parseArgs } from 'node:util'
import { RestClient, type ServerAddress } from '../client/index.ts'
import { inClusterConfig, loadKubeconfig, serviceAccountCredentials } from '../client/kubeconfig.ts'
import { logger, type Logger } from '../util/log.ts'

export async function serveUntilSignal(client: RestClient, start: (signal: AbortSignal) => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const abort = new AbortController()
  let running: Promise<{ stop(): Promise<void> }> | undefined
  const stop = () => {
    if (abort.signal.aborted) return
    abort.abort()
    void (running ?? Promise.reject(new Error('not started')))
      .then((r) => r.stop(), () => undefined)
      .then(() => client.close())
      .then(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  running = start(abort.signal)
  await running
}

/**
 * Where a cluster component reaches the API and as whom. Credentials: `--kubeconfig`, else
 * inside a pod its projected service-account token and CA. Place: `--socket`, else
 * `--server`, else the kubeconfig's server, else the in-cluster address
 * ($KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT), else https://127.0.0.1:6443.
 */
export function componentAddress(values: Record<string, string | boolean | undefined>): ServerAddress {
  const kubeconfig = typeof values.kubeconfig === 'string' && values.kubeconfig ? loadKubeconfig(values.kubeconfig) : undefined
  const inCluster = inClusterConfig()
  const credentials = kubeconfig?.credentials ?? serviceAccountCredentials()
  const socket = values.socket as string | undefined
  if (socket) return { socketPath: socket, credentials }
  return { server: (values.server as string | undefined) ?? kubeconfig?.server ?? inCluster?.server ?? 'https://127.0.0.1:6443', credentials }
}

export function componentClient(values: Record<string, string | boolean | undefined>, userAgent: string): RestClient {
  return new RestClient(componentAddress(values), { userAgent })
}

export const connectionUsage = `  --server URL                the API server (default: in a pod the kubernetes Service, else https://127.0.0.1:6443)
  --socket PATH               reach the API server through this unix socket instead (same HTTPS)
  --kubeconfig FILE           credentials (and server) from a kubeconfig; default: in a pod, its
                              service-account token and the cluster CA`

export interface ComponentSpec<C> {
  /** String flags besides --server and --socket. */
  flags: readonly string[]
  /** Of `flags`, those that may also be given bare (`--flag` for `--flag=true`). */
  boolFlags?: readonly string[]
  usage: string
  configFrom(values: Record<string, string | boolean | undefined>): C
  /** The API client's user agent and the logger's component name. */
  name: string
  start(config: C, client: RestClient, log: Logger, signal: AbortSignal): Promise<{ stop(): Promise<void> }>
}

/**
 * `argv` with each bare boolean flag (`--flag` not followed by true or false) written
 * `--flag=true`, so one string flag takes `--flag`, `--flag=BOOL` and `--flag BOOL`.
 */
export function withBareBooleans(argv: readonly string[], boolFlags: readonly string[]): string[] {
  const bare = new Set(boolFlags.map((f) => `--${f}`))
  return argv.map((arg, i) => (bare.has(arg) && !/^(true|false)$/i.test(argv[i + 1] ?? '') ? `${arg}=true` : arg))
}

/** `weft dns`, `weft ingress`: parse the flags (or print the usage), connect, run until a signal. */
export async function runComponent<C>(argv: string[], spec: ComponentSpec<C>): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } }
  for (const f of ['server', 'socket', 'kubeconfig', ...spec.flags]) options[f] = { type: 'string' }
  const { values } = parseArgs({ args: withBareBooleans(argv, spec.boolFlags ?? []), options, strict: true }) as { values: Record<string, string | boolean | undefined> }
  if (values.help) {
    process.stdout.write(spec.usage)
    return
  }
  const config = spec.configFrom(values)
  const client = componentClient(values, `weft-${spec.name}`)
  const log = logger(spec.name)
  await serveUntilSignal(client, (signal) => spec.start(config, client, log, signal))
}
