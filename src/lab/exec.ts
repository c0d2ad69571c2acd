// `weft lab exec NODE|POD -- CMD…`: runs a command inside a node's or a pod's namespaces.
import { labClient } from './client.ts'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { constants } from 'node:os'
import type { V1Pod } from '@kubernetes/client-node'
import { findByKind } from '../api/registry.ts'
import { RestClient } from '../client/index.ts'
import { listNetns } from '../netlink/index.ts'
import { readState, type LabState } from './state.ts'

export interface ExecTarget {
  netns: string
  /** The pod's UTS namespace file, when the agent keeps one. */
  uts?: string
  /** The pod's /etc files (resolv.conf, hosts) as the kubelet wrote them: bound over the host's. */
  etc?: { resolvConf?: string; hosts?: string }
  description: string
}

/** `NODE`, `POD` (namespace default) or `NAMESPACE/POD`. */
export function parseTarget(target: string): { namespace?: string; name: string } {
  const parts = target.split('/')
  if (parts.length > 2 || parts.some((p) => p === '')) throw new Error(`"${target}" is neither NODE, POD nor NAMESPACE/POD`)
  return parts.length === 2 ? { namespace: parts[0], name: parts[1]! } : { name: parts[0]! }
}

export async function resolveTarget(state: LabState, target: string): Promise<ExecTarget> {
  const { namespace, name } = parseTarget(target)
  if (namespace === undefined) {
    const node = state.nodes.find((n) => n.name === name)
    if (node) return { netns: node.netns, description: `node ${name}` }
  }
  const client = labClient(state.socket, state.kubeconfig)
  let pod: V1Pod
  try {
    pod = await client.get<V1Pod>(findByKind('v1', 'Pod')!, name, namespace ?? 'default')
  } catch (err) {
    const nodes = state.nodes.map((n) => n.name).join(', ')
    throw new Error(`"${target}" is no node of this lab (${nodes}) and no pod: ${err instanceof Error ? err.message : String(err)}`)
  } finally {
    await client.close()
  }
  const uid = pod.metadata?.uid
  const node = state.nodes.find((n) => n.name === pod.spec?.nodeName)
  if (!uid || !node) throw new Error(`pod ${namespace ?? 'default'}/${name} is not on a node of this lab (yet): nodeName is "${pod.spec?.nodeName ?? ''}"`)
  const netns = `${node.podNetnsPrefix}-${uid}`
  if (!listNetns().includes(netns)) throw new Error(`pod ${namespace ?? 'default'}/${name} has no sandbox on ${node.name} yet (no network namespace ${netns})`)
  const podDir = join(node.dataDir, 'pods', uid)
  const uts = join(podDir, 'uts')
  const file = (name: string) => (existsSync(join(podDir, name)) ? join(podDir, name) : undefined)
  return { netns, uts: existsSync(uts) ? uts : undefined, etc: { resolvConf: file('resolv.conf'), hosts: file('hosts') }, description: `pod ${namespace ?? 'default'}/${name} on ${node.name}` }
}

/**
 * The command line that runs `command` in the target: `ip netns exec` (with the pod's hostname
 * when known, and its resolv.conf and hosts bound over /etc's inside the mount namespace that
 * `ip netns exec` makes for the command alone, so names resolve as in the pod).
 */
export function execCommand(target: ExecTarget, command: readonly string[]): [string, string[]] {
  const binds = [
    ...(target.etc?.resolvConf ? [`mount --bind "$1" /etc/resolv.conf`] : []),
    ...(target.etc?.hosts ? [`mount --bind "$2" /etc/hosts`] : []),
  ]
  const inPod = binds.length > 0 ? ['sh', '-c', `${binds.join(' && ')} && shift 2 && exec "$@"`, 'sh', target.etc?.resolvConf ?? '', target.etc?.hosts ?? '', ...command] : command
  const inNet = ['ip', 'netns', 'exec', target.netns, ...inPod]
  return target.uts ? ['nsenter', [`--uts=${target.uts}`, '--', ...inNet]] : [inNet[0]!, inNet.slice(1)]
}

/** Runs `command` in NODE or POD of the lab at `dataDir`, stdio inherited; answers its exit code. */
export async function labExec(dataDir: string, target: string, command: readonly string[]): Promise<number> {
  if (command.length === 0) throw new Error('no command: weft lab exec NODE|POD -- COMMAND [ARG…]')
  const abs = resolve(dataDir)
  const state = await readState(join(abs, 'lab.json'))
  if (!state) throw new Error(`no lab in ${abs} (no lab.json): start one with weft up --data-dir ${abs}`)
  const [file, args] = execCommand(await resolveTarget(state, target), command)
  return new Promise((done, fail) => {
    const child = spawn(file, args, { stdio: 'inherit' })
    // The terminal sends Ctrl-C to the child too; it decides, we report its exit.
    const ignore = () => {}
    process.on('SIGINT', ignore)
    child.on('error', (err) => fail(err))
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore)
      done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0))
    })
  })
}
