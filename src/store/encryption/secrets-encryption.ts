// k3s's shortcut (--secrets-encryption): weft keeps its own EncryptionConfiguration in the
// data dir, one random AES-CBC key for Secrets followed by identity (so Secrets written
// before encryption was turned on still read), and rotates it by prepending a new key.
// Also what `weft server` wires: openEncryption() for either flag.
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { isSeq, parseDocument, stringify } from 'yaml'
import { makePrivateDir } from '../../util/private-files.ts'
import type { Store } from '../store.ts'
import { ENCRYPTION_CONFIG_API_VERSION, ENCRYPTION_CONFIG_KIND, loadEncryptionConfig, parseEncryptionConfig, type EncryptionConfig } from './config.ts'
import { EncryptedStore, type RewriteResult } from './encrypted-store.ts'
import { EncryptionError } from './errors.ts'
import { EncryptionPlan } from './plan.ts'

export const SECRETS_ENCRYPTION_CONFIG_FILE = 'encryption-config.yaml'

const HEADER = `# Written by weft --secrets-encryption: the keys that encrypt Secrets at rest.
# Keep it private (0600) and back it up with the data: without it stored Secrets cannot be read.
`

/** Writes DIR/encryption-config.yaml (0600, DIR 0700) with a new random key unless it exists; returns its path. */
export function ensureSecretsEncryptionConfig(dataDir: string): string {
  makePrivateDir(dataDir)
  const path = join(dataDir, SECRETS_ENCRYPTION_CONFIG_FILE)
  if (existsSync(path)) return path
  const config = {
    apiVersion: ENCRYPTION_CONFIG_API_VERSION,
    kind: ENCRYPTION_CONFIG_KIND,
    resources: [{ resources: ['secrets'], providers: [{ aescbc: { keys: [newKey([])] } }, { identity: {} }] }],
  }
  writePrivate(path, HEADER + stringify(config), false)
  return path
}

/**
 * Puts a new random AES-CBC key first for Secrets in the config at `path`: into the first
 * provider when that is aescbc, else as a new first aescbc provider. Every other key and
 * provider stays, so what they wrote still reads; run rewriteStale (after the server
 * reloads the config) to move everything to the new key. Returns the new key's name.
 */
export function rotateKey(path: string): { keyName: string } {
  const config = loadEncryptionConfig(path)
  const entry = config.resources.findIndex((r) => r.resources.some((gr) => gr.group === '' && gr.resource === 'secrets'))
  if (entry < 0) throw new EncryptionError('InvalidConfig', `encryption provider configuration file ${JSON.stringify(path)} has no resources entry for secrets; rotateKey rotates the Secrets key only`)
  const names = config.resources[entry].providers.flatMap((p) => (p.type === 'identity' ? [] : p.keys.map((k) => k.name)))
  const key = newKey(names)
  const firstIsAescbc = config.resources[entry].providers[0].type === 'aescbc'
  const text = readFileSync(path, 'utf8')
  const updated = text.trimStart().startsWith('{') ? rotateJson(text, entry, key, firstIsAescbc) : rotateYaml(text, entry, key, firstIsAescbc)
  // Never write a config the server would refuse.
  parseEncryptionConfig(updated, path)
  writePrivate(path, updated, true)
  return { keyName: key.name }
}

export interface OpenEncryptionOptions {
  /** --encryption-provider-config PATH */
  configPath?: string
  /** --secrets-encryption: weft keeps DATA_DIR/encryption-config.yaml */
  secretsEncryption?: boolean
  dataDir: string
}

export interface EncryptionAtRest {
  configPath: string
  config: EncryptionConfig
  /** The store the API server should use. */
  wrap(store: Store): EncryptedStore
  /** Rewrites values the current write key did not write; `store` may be the raw store or the wrapped one. */
  rewriteStale(store: Store, prefixes?: string[]): Promise<RewriteResult>
}

/** Encryption at rest for `weft server`, or undefined when neither flag asks for it. */
export function openEncryption(options: OpenEncryptionOptions): EncryptionAtRest | undefined {
  if (options.configPath !== undefined && options.secretsEncryption === true) {
    throw new EncryptionError(
      'InvalidConfig',
      '--encryption-provider-config and --secrets-encryption cannot be used together: the first names your own config, the second has weft keep one in the data dir',
    )
  }
  let configPath: string
  if (options.configPath !== undefined) configPath = options.configPath
  else if (options.secretsEncryption === true) configPath = ensureSecretsEncryptionConfig(options.dataDir)
  else return undefined
  const config = loadEncryptionConfig(configPath)
  const plan = new EncryptionPlan(config)
  return {
    configPath,
    config,
    wrap: (store) => new EncryptedStore(store, plan),
    rewriteStale: (store, prefixes) => (store instanceof EncryptedStore ? store : new EncryptedStore(store, plan)).rewriteStale(prefixes),
  }
}

function newKey(taken: string[]): { name: string; secret: string } {
  const base = `aescbckey-${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}`
  let name = base
  for (let n = 2; taken.includes(name); n++) name = `${base}-${n}`
  const bytes = randomBytes(32)
  const secret = bytes.toString('base64')
  bytes.fill(0)
  return { name, secret }
}

function rotateYaml(text: string, entry: number, key: { name: string; secret: string }, intoFirst: boolean): string {
  const doc = parseDocument(text, { uniqueKeys: true })
  const target = intoFirst ? doc.getIn(['resources', entry, 'providers', 0, 'aescbc', 'keys']) : doc.getIn(['resources', entry, 'providers'])
  if (!isSeq(target)) throw new EncryptionError('InvalidConfig', 'rotateKey: the config changed while it was read; try again')
  target.items.unshift(doc.createNode(intoFirst ? key : { aescbc: { keys: [key] } }))
  return doc.toString()
}

function rotateJson(text: string, entry: number, key: { name: string; secret: string }, intoFirst: boolean): string {
  const obj = JSON.parse(text) as { resources: { providers: { aescbc?: { keys: unknown[] } }[] }[] }
  const providers = obj.resources[entry].providers
  if (intoFirst) providers[0].aescbc?.keys.unshift(key)
  else providers.unshift({ aescbc: { keys: [key] } })
  return `${JSON.stringify(obj, null, 2)}\n`
}

/** Writes `text` to `path` with mode 0600 through a temporary file: replacing `path`, or only if it is absent. */
function writePrivate(path: string, text: string, replace: boolean): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    if (replace) {
      renameSync(tmp, path)
      return
    }
    try {
      linkSync(tmp, path)
    } catch (err) {
      // Another writer made it first: theirs is the config.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  } finally {
    rmSync(tmp, { force: true })
  }
}

