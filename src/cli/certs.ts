// `weft certs check` and `weft certs renew`: kubeadm's `certs check-expiration` and `certs renew`.
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { checkExpiration, renewCertificates, RENEWABLE, type ExpirationRow } from '../pki/expiration.ts'
import type { UserPkiFiles } from '../pki/layout.ts'
import { defaultDataDir } from './data-dir.ts'

export const certsUsage = `Usage: weft certs check [flags]
       weft certs renew all|NAME... [flags]

Checks when the cluster's certificates (DATA_DIR/pki) expire, or renews them: a renewed
certificate keeps its key, subject, names and usages and is valid for a year from now.
Restart weft server afterwards so that it uses them.

Certificates: ${RENEWABLE.join(', ')}. The CA (ca) is not renewed.

Flags:
  --data-dir DIR                the server's data dir (default: $XDG_STATE_HOME/weft, else ~/.local/state/weft)
  --tls-cert-file FILE          the serving certificate the server was given, if any (externally managed)
  --tls-private-key-file FILE   its key
  --client-ca-file FILE         the extra client CAs the server was given, if any
  -h, --help                    show this help
`

export interface Output {
  write(text: string): unknown
}

/** Go's text/tabwriter as kubeadm sets it up (minwidth 10, padding 3); the last column is not padded. */
export function table(lines: string[][]): string {
  const columns = Math.max(...lines.map((l) => l.length))
  const widths: number[] = []
  for (let c = 0; c < columns - 1; c++) widths[c] = Math.max(10, ...lines.map((l) => (c < l.length - 1 ? l[c]!.length + 3 : 0)))
  return lines.map((l) => l.map((cell, c) => (c < l.length - 1 ? cell.padEnd(widths[c]!) : cell)).join('') + '\n').join('')
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** Go's "Jan 02, 2006 15:04 MST" in UTC. */
export function formatExpiry(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return `${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())}, ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`
}

/** k8s.io/apimachinery's duration.ShortHumanDuration, as kubeadm prints residual time. */
export function shortHumanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.trunc(seconds / 60)
  if (minutes < 60) return `${minutes}m`
  const hours = Math.trunc(minutes / 60)
  if (hours < 24) return `${hours}h`
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`
  return `${Math.trunc(hours / 24 / 365)}y`
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no')

export function expirationTables(rows: ExpirationRow[], now: Date): string {
  const cells = (r: ExpirationRow, withAuthority: boolean): string[] => {
    if (r.missing || !r.expires) return [`!MISSING! ${r.name}`, '', '', ...(withAuthority ? [''] : []), '']
    const residual = shortHumanDuration(r.expires.getTime() - now.getTime())
    return [r.name, formatExpiry(r.expires), residual, ...(withAuthority ? [r.authority] : []), yesNo(r.externallyManaged).padEnd(8)]
  }
  const leaves = rows.filter((r) => !r.isAuthority).map((r) => cells(r, true))
  const cas = rows.filter((r) => r.isAuthority).map((r) => cells(r, false))
  return (
    table([['CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED'], ...leaves]) +
    '\n' +
    table([['CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED'], ...cas])
  )
}

export async function runCerts(argv: string[], out: Output = process.stdout): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'client-ca-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  })
  const [verb, ...names] = positionals
  if (values.help || verb === undefined || verb === 'help') {
    out.write(certsUsage)
    return
  }
  const dataDir = resolve(values['data-dir'] ?? defaultDataDir())
  const userFiles: UserPkiFiles = {}
  if (values['tls-cert-file']) userFiles.tlsCertFile = resolve(values['tls-cert-file'])
  if (values['tls-private-key-file']) userFiles.tlsPrivateKeyFile = resolve(values['tls-private-key-file'])
  if (values['client-ca-file']) userFiles.clientCaFile = resolve(values['client-ca-file'])
  const now = new Date()
  if (verb === 'check') {
    if (names.length > 0) throw new Error(`certs check takes no arguments, got "${names.join(' ')}"`)
    out.write(expirationTables(await checkExpiration(dataDir, now, userFiles), now))
    return
  }
  if (verb === 'renew') {
    if (names.length === 0) throw new Error(`certs renew needs all, or the names of certificates: ${RENEWABLE.join(', ')}`)
    if (names.includes('all') && names.length > 1) throw new Error('certs renew: give all, or names, not both')
    const lines = await renewCertificates(dataDir, names[0] === 'all' ? 'all' : names, now, userFiles)
    out.write(lines.join('\n') + '\n\nDone renewing certificates. Restart weft server so that it uses the new certificates.\n')
    return
  }
  throw new Error(`unknown certs command "${verb}": use check or renew`)
}
