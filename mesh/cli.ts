// `weft mesh certs`: the workload identities this node's mesh proxy holds, read from the
// agent's data dir (DATA_DIR/mesh/identities) and verified against the mesh root the agent
// last read (DATA_DIR/mesh/root-cert.pem).
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatExpiry, shortHumanDuration, table, type Output } from '../src/cli/certs.ts'
import { stringify } from 'yaml'
import { meshAuthorizationCrd } from './authorization.ts'
import { readKeptIdentities } from './node-identities.ts'
import { meshIdentitiesDir, meshRootFile } from './run.ts'

export const meshUsage = `Usage: weft mesh certs [flags]
       weft mesh crd

certs: the workload identities (X.509-SVIDs) the node's mesh proxy holds: one per service
account its meshed pods run as, with when each expires and when the proxy renews it.
crd: the MeshAuthorization CustomResourceDefinition as YAML, for an API server other than
weft's (\`weft mesh crd | kubectl apply -f -\`); weft's installs it itself.

Flags:
  --data-dir DIR        the agent's data dir (default /var/lib/weft/agent)
  --cluster-domain D    the cluster domain, the mesh's trust domain (default cluster.local)
  -o, --output FORMAT   table (default) or json
  -h, --help            show this help
`

export async function runMesh(argv: string[], out: Output = process.stdout): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string', default: '/var/lib/weft/agent' },
      'cluster-domain': { type: 'string', default: 'cluster.local' },
      output: { type: 'string', short: 'o', default: 'table' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  })
  const [verb, ...rest] = positionals
  if (values.help || verb === undefined || verb === 'help') {
    out.write(meshUsage)
    return
  }
  if (verb === 'crd') {
    if (rest.length > 0) throw new Error(`mesh crd takes no arguments, got "${rest.join(' ')}"`)
    out.write(stringify(meshAuthorizationCrd()))
    return
  }
  if (verb !== 'certs') throw new Error(`unknown mesh command "${verb}": use certs or crd`)
  if (rest.length > 0) throw new Error(`mesh certs takes no arguments, got "${rest.join(' ')}"`)
  if (values.output !== 'table' && values.output !== 'json') throw new Error(`--output "${values.output}" must be table or json`)
  const dataDir = resolve(values['data-dir']!)
  const rootPem = await readFile(meshRootFile(dataDir), 'utf8').catch(() => undefined)
  const kept = await readKeptIdentities(meshIdentitiesDir(dataDir), values['cluster-domain']!, rootPem)
  const now = new Date()
  if (values.output === 'json') {
    const rows = kept.map((k) =>
      'problem' in k ? { identity: k.key, problem: k.problem } : { identity: k.spiffeId, notBefore: k.notBefore.toISOString(), notAfter: k.notAfter.toISOString(), renewAt: k.renewAt.toISOString() },
    )
    out.write(JSON.stringify({ verified: rootPem !== undefined, identities: rows }, null, 2) + '\n')
    return
  }
  if (kept.length === 0) {
    out.write(`No mesh identities in ${meshIdentitiesDir(dataDir)}: no meshed pod runs on this node, or the agent runs with --mesh=false.\n`)
    return
  }
  const lines = kept.map((k) =>
    'problem' in k
      ? [k.key, '', '', '', `!INVALID! ${k.problem}`]
      : [k.spiffeId, formatExpiry(k.notAfter), shortHumanDuration(k.notAfter.getTime() - now.getTime()), formatExpiry(k.renewAt), k.notAfter <= now ? 'expired' : 'valid'],
  )
  out.write(table([['IDENTITY', 'EXPIRES', 'RESIDUAL TIME', 'RENEWS', 'STATUS'], ...lines]))
  if (!rootPem) out.write(`\n(not verified: the agent has not kept the mesh root in ${meshRootFile(dataDir)} yet)\n`)
}
