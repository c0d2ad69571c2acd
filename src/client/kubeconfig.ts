// kubeconfig files and in-cluster configuration, read as client-go's clientcmd and
// rest.InClusterConfig read them: the current (or a named) context's cluster and user.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse } from 'yaml'
import type { Credentials } from './credentials.ts'

export interface ClientConfig {
  server: string
  credentials: Credentials
  /** The context's namespace (kubeconfig), or the pod's own (in-cluster). */
  namespace?: string
}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function named(list: unknown, name: string, what: string, file: string): Obj {
  if (!Array.isArray(list)) throw new Error(`${file}: no ${what}s list`)
  const entry = list.find((e) => isObj(e) && e.name === name)
  if (!isObj(entry)) throw new Error(`${file}: no ${what} named "${name}"`)
  const body = entry[what]
  if (!isObj(body)) throw new Error(`${file}: ${what} "${name}" has no ${what} section`)
  return body
}

function str(o: Obj, key: string, where: string): string | undefined {
  const v = o[key]
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string') throw new Error(`${where}.${key} must be a string`)
  return v
}

function dataOrFile(o: Obj, dataKey: string, fileKey: string, base: string, where: string): string | undefined {
  const data = str(o, dataKey, where)
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8')
  const file = str(o, fileKey, where)
  return file === undefined ? undefined : readFileSync(isAbsolute(file) ? file : resolve(base, file), 'utf8')
}

/** The client configuration of a kubeconfig file's current context, or of `context`. */
export function loadKubeconfig(file: string, context?: string): ClientConfig {
  const doc: unknown = parse(readFileSync(file, 'utf8'))
  if (!isObj(doc)) throw new Error(`${file}: not a kubeconfig (expected a YAML mapping)`)
  const contextName = context ?? str(doc, 'current-context', file)
  if (!contextName) throw new Error(`${file}: no current-context; name one with --context`)
  const ctx = named(doc.contexts, contextName, 'context', file)
  const clusterName = str(ctx, 'cluster', `context ${contextName}`)
  if (!clusterName) throw new Error(`${file}: context "${contextName}" names no cluster`)
  const cluster = named(doc.clusters, clusterName, 'cluster', file)
  const userName = str(ctx, 'user', `context ${contextName}`)
  const user = userName ? named(doc.users, userName, 'user', file) : {}
  const base = dirname(resolve(file))
  const where = `user ${userName}`
  for (const unsupported of ['exec', 'auth-provider', 'username', 'password', 'as', 'as-groups']) {
    if (user[unsupported] !== undefined) throw new Error(`${file}: ${where} uses "${unsupported}", which weft's client does not support; use a client certificate or a token`)
  }
  const server = str(cluster, 'server', `cluster ${clusterName}`)
  if (!server) throw new Error(`${file}: cluster "${clusterName}" has no server`)
  const credentials: Credentials = {
    caPem: dataOrFile(cluster, 'certificate-authority-data', 'certificate-authority', base, `cluster ${clusterName}`),
    certPem: dataOrFile(user, 'client-certificate-data', 'client-certificate', base, where),
    keyPem: dataOrFile(user, 'client-key-data', 'client-key', base, where),
    token: str(user, 'token', where),
    tokenFile: ((f) => (f === undefined || isAbsolute(f) ? f : resolve(base, f)))(str(user, 'tokenFile', where)),
    serverName: str(cluster, 'tls-server-name', `cluster ${clusterName}`),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
  }
  if ((credentials.certPem === undefined) !== (credentials.keyPem === undefined)) {
    throw new Error(`${file}: ${where} has a client certificate without its key, or a key without its certificate`)
  }
  return { server, credentials, namespace: str(ctx, 'namespace', `context ${contextName}`) }
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/**
 * The configuration of a client inside a pod: the `kubernetes` Service's address from the
 * environment, the projected service-account token (re-read as it rotates), its CA and
 * namespace. Undefined outside a pod.
 */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): ClientConfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT
  if (!host || !port) return undefined
  let namespace: string | undefined
  try {
    namespace = readFileSync(`${dir}/namespace`, 'utf8').trim() || undefined
  } catch {}
  return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, credentials: serviceAccountCredentials(dir) ?? {}, namespace }
}

/** The projected service-account token and CA of this pod, when it has them. */
export function serviceAccountCredentials(dir = SERVICE_ACCOUNT_DIR): Credentials | undefined {
  let caPem: string
  try {
    caPem = readFileSync(`${dir}/ca.crt`, 'utf8')
  } catch {
    return undefined
  }
  return existsSync(`${dir}/token`) ? { caPem, tokenFile: `${dir}/token` } : undefined
}

/** A kubeconfig that names one cluster and one user, its certificates embedded. */
export function kubeconfigText(opts: { server: string; caPem: string; user: string; certPem?: string; keyPem?: string; token?: string; namespace?: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const user = [
    opts.certPem ? `    client-certificate-data: ${b64(opts.certPem)}` : '',
    opts.keyPem ? `    client-key-data: ${b64(opts.keyPem)}` : '',
    opts.token ? `    token: ${opts.token}` : '',
  ].filter(Boolean)
  return `apiVersion: v1
kind: Config
clusters:
- name: weft
  cluster:
    server: ${opts.server}
    certificate-authority-data: ${b64(opts.caPem)}
users:
- name: ${JSON.stringify(opts.user)}
  user:
${user.length ? user.join('\n') : '    {}'}
contexts:
- name: ${JSON.stringify(`${opts.user}@weft`)}
  context:
    cluster: weft
    user: ${JSON.stringify(opts.user)}
    namespace: ${opts.namespace ?? 'default'}
current-context: ${JSON.stringify(`${opts.user}@weft`)}
`
}
