// The on-disk cache of attachments, in libcni's format and place
// (`<cacheDir>/results/<network>-<containerID>-<ifName>`), so DEL gets the ADD result as
// prevResult, CHECK can verify it, and GC knows which attachments exist.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const KIND = 'cniCacheV1'

export interface CachedAttachment {
  networkName: string
  containerID: string
  ifName: string
  netns: string
  /** CNI_ARGS as ordered pairs. */
  cniArgs: [string, string][]
  capabilityArgs: Record<string, unknown>
  /** The network configuration list text the attachment was made with. */
  config: string
  /** The final ADD result, as JSON. */
  result?: Record<string, unknown>
}

interface CacheFile {
  kind: string
  containerId: string
  config: string
  ifName: string
  networkName: string
  netns?: string
  cniArgs?: [string, string][]
  capabilityArgs?: Record<string, unknown>
  result?: Record<string, unknown>
}

export function cacheFilePath(cacheDir: string, networkName: string, containerID: string, ifName: string): string {
  return join(cacheDir, 'results', `${networkName}-${containerID}-${ifName}`)
}

export async function writeCachedAttachment(cacheDir: string, a: CachedAttachment): Promise<void> {
  const file = cacheFilePath(cacheDir, a.networkName, a.containerID, a.ifName)
  const body: CacheFile = {
    kind: KIND,
    containerId: a.containerID,
    config: Buffer.from(a.config).toString('base64'),
    ifName: a.ifName,
    networkName: a.networkName,
  }
  if (a.netns !== '') body.netns = a.netns
  if (a.cniArgs.length > 0) body.cniArgs = a.cniArgs
  if (Object.keys(a.capabilityArgs).length > 0) body.capabilityArgs = a.capabilityArgs
  if (a.result !== undefined) body.result = a.result
  await mkdir(join(cacheDir, 'results'), { recursive: true, mode: 0o700 })
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(body), { mode: 0o600 })
  await rename(tmp, file)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function decode(text: string): CachedAttachment | undefined {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(v) || v.kind !== KIND) return undefined
  if (typeof v.containerId !== 'string' || typeof v.ifName !== 'string' || typeof v.networkName !== 'string') return undefined
  const pairs = Array.isArray(v.cniArgs) ? v.cniArgs : []
  return {
    networkName: v.networkName,
    containerID: v.containerId,
    ifName: v.ifName,
    netns: typeof v.netns === 'string' ? v.netns : '',
    cniArgs: pairs.filter((p): p is [string, string] => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string'),
    capabilityArgs: isObject(v.capabilityArgs) ? v.capabilityArgs : {},
    config: typeof v.config === 'string' ? Buffer.from(v.config, 'base64').toString() : '',
    result: isObject(v.result) ? v.result : undefined,
  }
}

/** The cached attachment, or undefined when there is none (or it cannot be read). */
export async function readCachedAttachment(cacheDir: string, networkName: string, containerID: string, ifName: string): Promise<CachedAttachment | undefined> {
  try {
    return decode(await readFile(cacheFilePath(cacheDir, networkName, containerID, ifName), 'utf8'))
  } catch {
    return undefined
  }
}

export async function deleteCachedAttachment(cacheDir: string, networkName: string, containerID: string, ifName: string): Promise<void> {
  await rm(cacheFilePath(cacheDir, networkName, containerID, ifName), { force: true })
}

/** Every readable cache entry, optionally only those of one network. */
export async function listCachedAttachments(cacheDir: string, networkName?: string): Promise<CachedAttachment[]> {
  const dir = join(cacheDir, 'results')
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const out: CachedAttachment[] = []
  for (const name of names.sort()) {
    if (name.includes('.tmp-')) continue
    let text: string
    try {
      text = await readFile(join(dir, name), 'utf8')
    } catch {
      continue
    }
    const entry = decode(text)
    if (entry && (networkName === undefined || entry.networkName === networkName)) out.push(entry)
  }
  return out
}
