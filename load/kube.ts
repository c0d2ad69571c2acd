// Which cluster `weft load` talks to, as kubectl finds it: --kubeconfig, else $KUBECONFIG,
// else ~/.kube/config, else the pod's own service account (in a cluster), else a lab that
// `weft up` made in the current directory (over its unix socket, which works from inside a
// node's network namespace too).
import { existsSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { RestClient, type ServerAddress } from '../src/client/rest-client.ts'
import { inClusterConfig, loadKubeconfig, type ClientConfig } from '../src/client/kubeconfig.ts'
import { readState } from '../src/lab/state.ts'

/** `weft up`'s default data dir (src/cli/lab.ts). */
export const labDirName = '.weft-lab'

export interface KubeAccess {
  client: RestClient
  /** Where the API is and the credentials: what WebSocket streams (attach) connect with. */
  address: ServerAddress
  /** The context's namespace, else `default`. */
  namespace: string
  /** Where the configuration came from, for messages. */
  source: string
}

export interface KubeAccessOptions {
  kubeconfig?: string
  context?: string
  env?: NodeJS.ProcessEnv
  /** Default: the user's home directory. */
  home?: string
  /** Where a lab is looked for (`<cwd>/.weft-lab`); default: the current directory. */
  cwd?: string
  /** Per-request limit of the client (default 30 s). */
  timeoutMs?: number
}

export class KubeAccessError extends Error {
  readonly code = 'NoCluster'
  constructor(message: string) {
    super(message)
    this.name = 'KubeAccessError'
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function fromKubeconfig(file: string, context: string | undefined, source: string): { config: ClientConfig; source: string } {
  try {
    return { config: loadKubeconfig(file, context), source }
  } catch (err) {
    throw new KubeAccessError(`${source}: ${(err as Error).message}`)
  }
}

async function findConfig(o: KubeAccessOptions): Promise<{ address: ServerAddress; namespace?: string; source: string }> {
  const env = o.env ?? process.env
  const asAddress = ({ config, source }: { config: ClientConfig; source: string }) => ({ address: { server: config.server, credentials: config.credentials }, namespace: config.namespace, source })
  if (o.kubeconfig !== undefined) {
    if (!isFile(o.kubeconfig)) throw new KubeAccessError(`--kubeconfig ${o.kubeconfig}: no such file`)
    return asAddress(fromKubeconfig(o.kubeconfig, o.context, `--kubeconfig ${o.kubeconfig}`))
  }
  if (env.KUBECONFIG) {
    // kubectl merges the list; weft reads the first file that exists.
    const files = env.KUBECONFIG.split(delimiter).filter(Boolean)
    const file = files.find(isFile)
    if (!file) throw new KubeAccessError(`$KUBECONFIG names ${files.join(delimiter)}, and no such file exists`)
    return asAddress(fromKubeconfig(file, o.context, `$KUBECONFIG (${file})`))
  }
  const userConfig = join(o.home ?? homedir(), '.kube', 'config')
  if (isFile(userConfig)) return asAddress(fromKubeconfig(userConfig, o.context, userConfig))
  const inCluster = inClusterConfig(env)
  if (inCluster) return asAddress({ config: inCluster, source: 'the pod\'s service account (in-cluster)' })
  const labDir = resolve(o.cwd ?? process.cwd(), labDirName)
  const state = await readState(join(labDir, 'lab.json'))
  if (state) {
    if (!existsSync(state.socket)) throw new KubeAccessError(`the lab in ${labDir} is not running (no API socket at ${state.socket}); start it with weft up`)
    const { config } = fromKubeconfig(state.kubeconfig, undefined, `the lab's kubeconfig ${state.kubeconfig}`)
    return { address: { socketPath: state.socket, credentials: config.credentials }, namespace: config.namespace, source: `the lab in ${labDir}` }
  }
  throw new KubeAccessError(`no cluster to talk to: give --kubeconfig FILE, set KUBECONFIG, create ${userConfig}, or start a lab here with weft up`)
}

export async function kubeAccess(o: KubeAccessOptions = {}): Promise<KubeAccess> {
  const { address, namespace, source } = await findConfig(o)
  const client = new RestClient(address, { userAgent: 'weft-load', ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) })
  return { client, address, namespace: namespace ?? 'default', source }
}
