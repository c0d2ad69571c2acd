// Which transformer a store key gets. Keys are `/registry/<group or 'core'>/<plural>/…`;
// a resource takes its own entry, else its group's `*.<group>` entry, else `*.*` (the
// config validation guarantees that order is also the entries' order). Anything else
// reads through upstream's default identity transformer and is written as it is.
import { groupResourceString, type EncryptionConfig, type GroupResource } from './config.ts'
import { IDENTITY, newProviderChain, type ValueTransformer } from './providers.ts'

const ROOT = '/registry/'

export class EncryptionPlan {
  readonly #byResource = new Map<string, ValueTransformer>()
  /** Store key prefixes holding every configured resource, outermost only. */
  readonly prefixes: string[]

  constructor(config: EncryptionConfig) {
    const prefixes: string[] = []
    for (const entry of config.resources) {
      const chain = newProviderChain(entry.providers)
      for (const gr of entry.resources) {
        this.#byResource.set(groupResourceString(gr), chain)
        prefixes.push(prefixOf(gr))
      }
    }
    this.prefixes = outermostPrefixes(prefixes)
  }

  /** The transformer for `key`, or undefined when no entry covers it. */
  forKey(key: string): ValueTransformer | undefined {
    const gr = resourceOfKey(key)
    if (gr === undefined) return undefined
    return (
      this.#byResource.get(groupResourceString(gr)) ??
      this.#byResource.get(groupResourceString({ group: gr.group, resource: '*' })) ??
      this.#byResource.get('*.*')
    )
  }

  /** Like forKey, with the default identity transformer for keys no entry covers. */
  readerFor(key: string): ValueTransformer {
    return this.forKey(key) ?? IDENTITY
  }
}

/** `/registry/core/secrets/ns/x` → { group: '', resource: 'secrets' }; undefined for keys outside that layout. */
export function resourceOfKey(key: string): GroupResource | undefined {
  if (!key.startsWith(ROOT)) return undefined
  const groupEnd = key.indexOf('/', ROOT.length)
  if (groupEnd <= ROOT.length) return undefined
  const resourceEnd = key.indexOf('/', groupEnd + 1)
  if (resourceEnd <= groupEnd + 1) return undefined
  const group = key.slice(ROOT.length, groupEnd)
  return { group: group === 'core' ? '' : group, resource: key.slice(groupEnd + 1, resourceEnd) }
}

function prefixOf(gr: GroupResource): string {
  if (gr.group === '*') return ROOT
  const group = gr.group === '' ? 'core' : gr.group
  return gr.resource === '*' ? `${ROOT}${group}/` : `${ROOT}${group}/${gr.resource}/`
}

/** The prefixes, deduplicated, without those inside another one. */
export function outermostPrefixes(prefixes: string[]): string[] {
  const sorted = [...new Set(prefixes)].sort()
  const out: string[] = []
  for (const p of sorted) if (!out.some((o) => p.startsWith(o))) out.push(p)
  return out
}
