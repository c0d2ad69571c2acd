// kube-apiserver's --encryption-provider-config: an `EncryptionConfiguration`
// (apiserver.config.k8s.io/v1) in YAML or JSON, validated as upstream validates it
// (k8s.io/apiserver validation_encryption.go and encryptionconfig/config.go, whose messages
// are kept), and stricter where upstream silently ignores part of a config: unknown
// fields, duplicate key names, a resource listed in two entries. `kms` is refused: weft has
// no KMS plugin client.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { parse } from 'yaml'
import { EncryptionError, type ConfigCause } from './errors.ts'

export const ENCRYPTION_CONFIG_API_VERSION = 'apiserver.config.k8s.io/v1'
export const ENCRYPTION_CONFIG_KIND = 'EncryptionConfiguration'

/** Config files are small; anything larger is not one. */
const MAX_CONFIG_BYTES = 1 << 20

export type KeyedProviderType = 'aescbc' | 'aesgcm' | 'secretbox'
export type ProviderType = 'identity' | KeyedProviderType

/** A named key. Its secret never shows in logs, JSON or `inspect`. */
export class NamedKey {
  readonly name: string
  readonly #secret: Uint8Array

  constructor(name: string, secret: Uint8Array) {
    this.name = name
    this.#secret = Uint8Array.from(secret)
  }

  /** The raw key bytes. */
  get secret(): Uint8Array {
    return this.#secret
  }

  toString(): string {
    return `Name: ${this.name}, Secret: [REDACTED]`
  }

  toJSON(): { name: string; secret: string } {
    return { name: this.name, secret: '[REDACTED]' }
  }

  [inspect.custom](): string {
    return `NamedKey { ${this.toString()} }`
  }
}

export type ProviderConfig = { type: 'identity' } | { type: KeyedProviderType; keys: NamedKey[] }

/** `secrets` → { group: '', resource: 'secrets' }; `*.apps` → { group: 'apps', resource: '*' }. */
export interface GroupResource {
  group: string
  resource: string
}

export interface ResourceConfig {
  resources: GroupResource[]
  providers: ProviderConfig[]
}

export interface EncryptionConfig {
  resources: ResourceConfig[]
}

/** Upstream's schema.ParseGroupResource: the resource is everything before the first dot. */
export function parseGroupResource(name: string): GroupResource {
  const dot = name.indexOf('.')
  return dot < 0 ? { group: '', resource: name } : { group: name.slice(dot + 1), resource: name.slice(0, dot) }
}

/** The name as written in a config: `secrets`, `*.`, `deployments.apps`, `*.*`. */
export function groupResourceString(gr: GroupResource): string {
  if (gr.group === '') return gr.resource === '*' ? '*.' : gr.resource
  return `${gr.resource}.${gr.group}`
}

/**
 * Reads and validates the config file. The file holds the keys in the clear, so it must
 * be a regular file only its owner may read or change (mode 0600 or stricter): weft
 * refuses it otherwise instead of warning, since a key others can read makes the
 * encryption pointless and a warning in a log is easily missed; the fix is one chmod.
 */
export function loadEncryptionConfig(path: string): EncryptionConfig {
  let fd: number
  try {
    // Non-blocking, so a FIFO put in its place is refused below instead of hanging the server.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    throw new EncryptionError('ConfigFile', `error opening encryption provider configuration file ${JSON.stringify(path)}: ${(err as Error).message}`)
  }
  let text: string
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new EncryptionError('ConfigFile', `encryption provider configuration file ${JSON.stringify(path)} is not a regular file`)
    if ((st.mode & 0o077) !== 0) {
      throw new EncryptionError(
        'ConfigFile',
        `encryption provider configuration file ${JSON.stringify(path)} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: ` +
          `it holds encryption keys, so only its owner may read or change it; run chmod 600 ${path}`,
      )
    }
    if (st.size > MAX_CONFIG_BYTES) {
      throw new EncryptionError('ConfigFile', `encryption provider configuration file ${JSON.stringify(path)} is larger than ${MAX_CONFIG_BYTES} bytes`)
    }
    text = readFileSync(fd, 'utf8')
    if (text.length > MAX_CONFIG_BYTES) {
      throw new EncryptionError('ConfigFile', `encryption provider configuration file ${JSON.stringify(path)} is larger than ${MAX_CONFIG_BYTES} bytes`)
    }
  } finally {
    closeSync(fd)
  }
  return parseEncryptionConfig(text, path)
}

/** Parses and validates config text (YAML or JSON); `source` names it in errors. */
export function parseEncryptionConfig(text: string, source = 'encryption provider configuration'): EncryptionConfig {
  const where = `encryption provider configuration file ${JSON.stringify(source)}`
  if (text.trim() === '') throw new EncryptionError('InvalidConfig', `${where} is empty`)
  let doc: unknown
  try {
    doc = parse(text, { uniqueKeys: true, maxAliasCount: 50 })
  } catch (err) {
    // The parser's own message quotes the source lines, which may hold a key: report only where.
    const e = err as { code?: string; linePos?: { line: number; col: number }[] }
    const pos = e.linePos?.[0]
    throw new EncryptionError('InvalidConfig', `${where} is not valid YAML or JSON: ${e.code ?? 'parse error'}${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}`)
  }
  const v = new Validator()
  const config = v.config(doc)
  if (v.causes.length > 0 || config === undefined) {
    const list = v.causes.map((c) => c.message)
    throw new EncryptionError('InvalidConfig', `${where} is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`, v.causes)
  }
  return config
}

const AES_KEY_SIZES = [16, 24, 32]
const SECRETBOX_KEY_SIZES = [32]
const KEY_SIZES: Record<KeyedProviderType, number[]> = { aescbc: AES_KEY_SIZES, aesgcm: AES_KEY_SIZES, secretbox: SECRETBOX_KEY_SIZES }
const PROVIDER_FIELDS = ['aescbc', 'aesgcm', 'secretbox', 'identity', 'kms']
const NON_REST_RESOURCES = new Set(['apiserveripinfo', 'serviceipallocations', 'servicenodeportallocations'])
const RESOURCE_PART = /^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/
const GROUP_PART = /^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$/
const KEY_NAME = /^[\x21-\x39\x3b-\x7e]+$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

type Obj = Record<string, unknown>

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** What a value is, for errors about structure: the value itself may be a key. */
function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value)
  return s.length > 120 ? `${s.slice(0, 117)}...` : s
}

/** Collects every problem, in upstream's field-error wording, before failing. */
class Validator {
  readonly causes: ConfigCause[] = []

  required(field: string, detail: string): void {
    this.causes.push({ field, message: `${field}: Required value: ${detail}` })
  }

  invalid(field: string, value: unknown, detail: string): void {
    this.causes.push({ field, message: `${field}: Invalid value: ${show(value)}: ${detail}` })
  }

  unsupported(field: string, detail: string): void {
    this.causes.push({ field, message: `${field}: Unsupported value: ${detail}` })
  }

  /** Flags fields outside `allowed`; false when `value` is not an object at all. */
  object(value: unknown, field: string, allowed: string[]): value is Obj {
    if (!isObject(value)) {
      this.causes.push({ field: field || '<root>', message: `${field || '<root>'}: Invalid value: must be an object, not ${typeOf(value)}` })
      return false
    }
    for (const name of Object.keys(value)) {
      if (!allowed.includes(name)) {
        const path = field ? `${field}.${name}` : name
        this.causes.push({ field: path, message: `unknown field ${JSON.stringify(path)}` })
      }
    }
    return true
  }

  config(doc: unknown): EncryptionConfig | undefined {
    if (!this.object(doc, '', ['apiVersion', 'kind', 'resources'])) return undefined
    if (doc.apiVersion !== ENCRYPTION_CONFIG_API_VERSION) {
      if (doc.apiVersion === undefined) this.required('apiVersion', `must be ${ENCRYPTION_CONFIG_API_VERSION}`)
      else this.unsupported('apiVersion', `${show(doc.apiVersion)}: supported values: "${ENCRYPTION_CONFIG_API_VERSION}"`)
    }
    if (doc.kind !== ENCRYPTION_CONFIG_KIND) {
      if (doc.kind === undefined) this.required('kind', `must be ${ENCRYPTION_CONFIG_KIND}`)
      else this.unsupported('kind', `${show(doc.kind)}: supported values: "${ENCRYPTION_CONFIG_KIND}"`)
    }
    const list = doc.resources
    if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) {
      this.required('resources', 'at least one resources is required')
      return undefined
    }
    if (!Array.isArray(list)) {
      this.invalid('resources', list, 'must be a list')
      return undefined
    }
    const entries = list.map((entry, i) => this.entry(entry, `resources[${i}]`))
    this.acrossEntries(entries)
    return { resources: entries.map((e) => ({ resources: e.resources.map((r) => r.gr), providers: e.providers })) }
  }

  entry(value: unknown, path: string): { resources: { gr: GroupResource; field: string }[]; providers: ProviderConfig[] } {
    const out = { resources: [] as { gr: GroupResource; field: string }[], providers: [] as ProviderConfig[] }
    if (!this.object(value, path, ['resources', 'providers'])) return out
    const rPath = `${path}.resources`
    const names = this.stringList(value.resources, rPath)
    if (names.length === 0) this.required(rPath, `at least one ${rPath} is required`)
    this.overlap(names, rPath)
    names.forEach((name, j) => {
      if (this.resourceName(name, `${rPath}[${j}]`)) out.resources.push({ gr: parseGroupResource(name), field: `${rPath}[${j}]` })
    })
    const pPath = `${path}.providers`
    const providers = value.providers
    if (providers === undefined || providers === null || (Array.isArray(providers) && providers.length === 0)) {
      this.required(pPath, `at least one ${pPath} is required`)
    } else if (!Array.isArray(providers)) {
      this.invalid(pPath, providers, 'must be a list')
    } else {
      const keyNames = new Map<string, string>()
      providers.forEach((p, j) => {
        const provider = this.provider(p, `${pPath}[${j}]`, keyNames)
        if (provider) out.providers.push(provider)
      })
    }
    return out
  }

  stringList(value: unknown, path: string): string[] {
    if (value === undefined || value === null) return []
    if (!Array.isArray(value)) {
      this.invalid(path, value, 'must be a list of strings')
      return []
    }
    const out: string[] = []
    value.forEach((v, j) => {
      if (typeof v === 'string') out.push(v)
      else this.invalid(`${path}[${j}]`, v, 'must be a string')
    })
    return out
  }

  /** Upstream's validateResourceOverlap: duplicates and wildcards masking names in one list. */
  overlap(names: string[], path: string): void {
    if (names.length < 2) return
    const grs = names.map(parseGroupResource)
    let duplicate = false
    let overlap = false
    for (let i = 0; i < grs.length; i++) {
      for (let j = 0; j < grs.length; j++) {
        if (i === j) continue
        const a = grs[i]
        const b = grs[j]
        if (a.group === b.group && a.resource === b.resource) {
          duplicate = true
          continue
        }
        if (a.group === '*' && a.resource === '*') overlap = true
        else if (a.group === b.group && (a.resource === '*' || b.resource === '*')) overlap = true
      }
    }
    if (duplicate) this.invalid(path, names, 'the same resource cannot be specified multiple times')
    if (overlap) this.invalid(path, names, "using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked")
  }

  /** Upstream's validateResourceNames, plus a refusal of anything that is not a resource name at all. */
  resourceName(name: string, path: string): boolean {
    const gr = parseGroupResource(name)
    let why: string | undefined
    if (name.toLowerCase() !== name) why = 'resource name should not contain capital letters'
    else if (name === '*') why = "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources"
    else if (NON_REST_RESOURCES.has(name)) why = 'resources which do not have REST API/s cannot be encrypted'
    else if (gr.group === 'events.k8s.io') why = "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file"
    else if (gr.group === 'extensions') why = "'extensions' group has been removed and cannot be used for encryption"
    else if (gr.group === '*' && gr.resource !== '*') why = 'encrypting the same resource across groups is not supported'
    else if (!RESOURCE_PART.test(gr.resource) || !GROUP_PART.test(gr.group)) {
      why = 'not a resource name: use <plural> (core group), <plural>.<group>, *.<group>, *. or *.*'
    }
    if (why === undefined) return true
    this.invalid(path, name, why)
    return false
  }

  /**
   * Upstream lets a specific resource come only before a wildcard that covers it
   * ("is masked by earlier rule"); weft also refuses a resource listed in two entries,
   * where upstream silently merges the provider lists.
   */
  acrossEntries(entries: { resources: { gr: GroupResource; field: string }[] }[]): void {
    const seen = new Map<string, string>()
    for (const entry of entries) {
      for (const { gr, field } of entry.resources) {
        const name = groupResourceString(gr)
        const earlier = seen.get(name)
        if (earlier !== undefined) {
          this.invalid(field, name, `the same resource cannot be specified multiple times (also at ${earlier}): list it in one entry`)
          continue
        }
        const masks = [groupResourceString({ group: gr.group, resource: '*' }), '*.*'].filter((m) => seen.has(m))
        if (masks.length > 0) this.invalid(field, name, `resource ${JSON.stringify(name)} is masked by earlier rule ${JSON.stringify(masks[0])}`)
        seen.set(name, field)
      }
    }
  }

  provider(value: unknown, path: string, keyNames: Map<string, string>): ProviderConfig | undefined {
    if (!this.object(value, path, PROVIDER_FIELDS)) return undefined
    const present = PROVIDER_FIELDS.filter((f) => value[f] !== undefined)
    if (present.length === 0) {
      this.invalid(path, Object.keys(value), 'provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity')
      return undefined
    }
    if (present.length > 1) {
      this.invalid(path, present, 'more than one provider specified in a single element, should split into different list elements')
      return undefined
    }
    const type = present[0]
    const body = value[type]
    if (type === 'kms') {
      this.unsupported(`${path}.kms`, 'kms is not supported by weft: use aescbc, aesgcm or secretbox with a key in this file')
      return undefined
    }
    if (type === 'identity') {
      if (!this.object(body, `${path}.identity`, [])) return undefined
      return { type: 'identity' }
    }
    const keyed = type as KeyedProviderType
    if (!this.object(body, `${path}.${keyed}`, ['keys'])) return undefined
    const kPath = `${path}.${keyed}.keys`
    if (body.keys === undefined || body.keys === null || (Array.isArray(body.keys) && body.keys.length === 0)) {
      this.required(kPath, 'at least one keys is required')
      return undefined
    }
    if (!Array.isArray(body.keys)) {
      this.causes.push({ field: kPath, message: `${kPath}: Invalid value: must be a list, not ${typeOf(body.keys)}` })
      return undefined
    }
    const keys: NamedKey[] = []
    body.keys.forEach((k, j) => {
      const key = this.key(k, `${kPath}[${j}]`, KEY_SIZES[keyed])
      if (key === undefined) return
      // A stored value names its provider and key; a second key of the same name could never be chosen.
      const id = `${keyed}:${key.name}`
      const earlier = keyNames.get(id)
      if (earlier !== undefined) {
        this.invalid(`${kPath}[${j}].name`, key.name, `duplicate key name: names must be unique among the ${keyed} keys of one resources entry (also at ${earlier})`)
        return
      }
      keyNames.set(id, `${kPath}[${j}].name`)
      keys.push(key)
    })
    return keys.length === body.keys.length ? { type: keyed, keys } : undefined
  }

  key(value: unknown, path: string, sizes: number[]): NamedKey | undefined {
    if (!this.object(value, path, ['name', 'secret'])) return undefined
    let ok = true
    const name = value.name
    if (name === undefined || name === null || name === '') {
      this.required(`${path}.name`, 'name is a mandatory field for a key')
      ok = false
    } else if (typeof name !== 'string' || !KEY_NAME.test(name)) {
      this.invalid(`${path}.name`, name, "must be a string of printable characters without spaces or ':' (stored values carry it as `<name>:`)")
      ok = false
    }
    const secret = value.secret
    if (secret === undefined || secret === null || secret === '') {
      this.required(`${path}.secret`, 'secret is a mandatory field for a key')
      return undefined
    }
    // Go's base64.StdEncoding skips CR and LF and nothing else.
    const text = typeof secret === 'string' ? secret.replace(/[\r\n]/g, '') : undefined
    if (text === undefined || !BASE64.test(text)) {
      this.invalid(`${path}.secret`, 'REDACTED', 'secrets must be base64 encoded')
      return undefined
    }
    const bytes = Buffer.from(text, 'base64')
    if (!sizes.includes(bytes.length)) {
      this.invalid(`${path}.secret`, 'REDACTED', `secret is not of the expected length, got ${bytes.length}, expected one of [${sizes.join(' ')}]`)
      return undefined
    }
    const key = ok ? new NamedKey(name as string, bytes) : undefined
    bytes.fill(0)
    return key
  }
}
