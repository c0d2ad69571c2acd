// `weft token create|list|delete`: bootstrap tokens for joining nodes, as `kubeadm token`.
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { V1Secret } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import {
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  bootstrapTokenSecret,
  bootstrapTokenSecretName,
  generateBootstrapToken,
  parseBootstrapToken,
} from '../auth/tokens/bootstrap-token.ts'
import { RestClient } from '../client/index.ts'
import { loadKubeconfig } from '../client/kubeconfig.ts'
import { caCertHash } from '../pki/certificates.ts'
import { defaultDataDir } from './data-dir.ts'
import { parseDuration } from './flag-values.ts'

export const tokenUsage = `Usage: weft token create|list|delete [flags]

Bootstrap tokens let a node join: \`weft agent --token\` authenticates with one once, in the
group system:bootstrappers:kubeadm:default-node-token, to have its client certificate signed.

  create [--ttl 24h] [--description TEXT]   make a token; prints it with the join command
  list                                     the tokens, their expiry and description
  delete TOKEN|ID                          revoke a token

Flags:
  --kubeconfig FILE   an admin kubeconfig (default DATA_DIR/kubeconfig)
  --data-dir DIR      weft server's data dir (default: $XDG_STATE_HOME/weft, else ~/.local/state/weft)
  -h, --help          show this help
`

export const JOIN_GROUP = 'system:bootstrappers:kubeadm:default-node-token'
const secretInfo = resources.find((r) => r.kind === 'Secret')!

export interface JoinToken {
  token: string
  /** The CA pin (`sha256:…`), when the CA is known. */
  caCertHash?: string
}

/** Makes a bootstrap token for joining nodes (kubeadm's default-node-token group) and its Secret. */
export async function createJoinToken(client: RestClient, caPem: string | undefined, opts: { ttlSeconds: number; description?: string }): Promise<JoinToken> {
  const token = generateBootstrapToken()
  const secret = bootstrapTokenSecret({ id: token.id, secret: token.secret, ttlSeconds: opts.ttlSeconds, description: opts.description, groups: [JOIN_GROUP], usages: ['authentication', 'signing'] })
  await client.create(secretInfo, secret as unknown as V1Secret)
  return { token: token.token, caCertHash: caPem ? caCertHash(caPem) : undefined }
}

export async function runToken(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { kubeconfig: { type: 'string' }, 'data-dir': { type: 'string' }, ttl: { type: 'string', default: '24h' }, description: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help || positionals.length === 0) {
    out.write(tokenUsage)
    return
  }
  const kubeconfigPath = values.kubeconfig ?? join(resolve(values['data-dir'] ?? defaultDataDir()), 'kubeconfig')
  const config = loadKubeconfig(kubeconfigPath)
  const client = new RestClient({ server: config.server, credentials: config.credentials }, { userAgent: 'weft-token' })
  try {
    const [verb, arg] = positionals
    if (verb === 'create') {
      const ttlSeconds = Math.round(parseDuration('--ttl', values.ttl!) / 1000)
      const join = await createJoinToken(client, config.credentials.caPem, { ttlSeconds, description: values.description })
      out.write(`${join.token}\n`)
      out.write(`Join a node (on that node, as root):\n  weft agent --server ${config.server} --token ${join.token}${join.caCertHash ? ` --ca-cert-hash ${join.caCertHash}` : ''}\n`)
      return
    }
    if (verb === 'list') {
      const list = await client.list<V1Secret>(secretInfo, { namespace: BOOTSTRAP_TOKEN_NAMESPACE, fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}` })
      out.write('TOKEN ID\tEXPIRES\tDESCRIPTION\n')
      for (const s of list.items) {
        const d = (k: string) => (s.data?.[k] ? Buffer.from(s.data[k], 'base64').toString('utf8') : '')
        out.write(`${d('token-id')}\t${d('expiration') || '<forever>'}\t${d('description')}\n`)
      }
      return
    }
    if (verb === 'delete') {
      const id = arg && (parseBootstrapToken(arg)?.id ?? (/^[a-z0-9]{6}$/.test(arg) ? arg : undefined))
      if (!id) throw new Error('weft token delete needs a token (abcdef.0123456789abcdef) or its 6-character id')
      await client.delete(secretInfo, bootstrapTokenSecretName(id), BOOTSTRAP_TOKEN_NAMESPACE)
      out.write(`bootstrap token "${id}" deleted\n`)
      return
    }
    throw new Error(`weft token: unknown verb "${verb}": create, list or delete`)
  } finally {
    await client.close()
  }
}
