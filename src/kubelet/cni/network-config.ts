// Finds the network the runtime uses: the first valid config file in the conf dir in
// lexical order, as kubelet and containerd pick it through libcni's ConfFiles.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseConfList, type NetConfList } from '../../../cni/protocol/config.ts'
import { CniError, ERR_PLUGIN_NOT_AVAILABLE } from '../../../cni/protocol/errors.ts'

const EXTENSIONS = ['.conf', '.conflist', '.json']

export interface LoadedNetwork {
  /** The file the network came from. */
  file: string
  list: NetConfList
  /** The list as JSON text (a single-plugin `.conf` wrapped into a list). */
  text: string
}

/** No usable network config yet: the node's network is not ready. */
export class NoNetworkConfigError extends CniError {
  readonly confDir: string
  constructor(confDir: string, details: string) {
    super(ERR_PLUGIN_NOT_AVAILABLE, `no valid CNI network config found in ${confDir}`, details)
    this.name = 'NoNetworkConfigError'
    this.confDir = confDir
  }
}

/** A single-plugin config as a one-element list, as libcni's ConfListFromConf. */
export function wrapConf(text: string): string {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object')
  const conf = raw as Record<string, unknown>
  return JSON.stringify({ cniVersion: conf.cniVersion, name: conf.name, plugins: [conf] })
}

export function parseNetworkFile(file: string, content: string): LoadedNetwork {
  const text = file.endsWith('.conflist') ? content : wrapConf(content)
  return { file, list: parseConfList(text), text }
}

export async function loadNetworkFromDir(confDir: string): Promise<LoadedNetwork> {
  let names: string[]
  try {
    names = await readdir(confDir)
  } catch (err) {
    throw new NoNetworkConfigError(confDir, (err as Error).message)
  }
  const files = names.filter((n) => EXTENSIONS.some((e) => n.endsWith(e))).sort()
  if (files.length === 0) throw new NoNetworkConfigError(confDir, `no ${EXTENSIONS.map((e) => `*${e}`).join(', ')} files; the node agent writes one once the node has a podCIDR`)
  const skipped: string[] = []
  for (const name of files) {
    const file = join(confDir, name)
    try {
      return parseNetworkFile(file, await readFile(file, 'utf8'))
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message}`)
    }
  }
  throw new NoNetworkConfigError(confDir, skipped.join('; '))
}
