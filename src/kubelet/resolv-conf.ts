// A pod's /etc/resolv.conf, as the kubelet composes it (pkg/kubelet/network/dns/dns.go):
// by dnsPolicy from the cluster DNS or the host's resolv.conf, then merged with spec.dnsConfig
// and cut to the resolver's limits.
import type { V1Pod } from '@kubernetes/client-node'

export interface ResolvConfOptions {
  clusterDNS: string[]
  clusterDomain: string
  /** The text of the host's resolv.conf (the kubelet's --resolv-conf file). */
  hostResolvConf: string
}

export interface PodDNSConfig {
  nameservers: string[]
  searches: string[]
  options: string[]
  /** Why the result differs from what the pod asked for (the kubelet's warning events). */
  warnings: string[]
}

const maxNameservers = 3
const maxSearchPaths = 32
const maxSearchListChars = 2048
const maxSearchLength = 253

export function parseResolvConf(text: string): { nameservers: string[]; searches: string[]; options: string[] } {
  const nameservers: string[] = []
  let searches: string[] = []
  let options: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '')
    const fields = line.trim().split(/\s+/).filter(Boolean)
    if (fields.length === 0) continue
    if (fields[0] === 'nameserver' && fields.length >= 2) nameservers.push(fields[1])
    if (fields[0] === 'search') searches = fields.slice(1).filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''))
    if (fields[0] === 'options') options = mergeOptions(options, fields.slice(1))
  }
  return { nameservers, searches, options }
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)]
}

/** Options by name, later ones replacing earlier ones of the same name (`ndots:5` vs `ndots:2`). */
function mergeOptions(existing: readonly string[], added: readonly string[]): string[] {
  const byName = new Map<string, string>()
  for (const op of [...existing, ...added]) {
    const colon = op.indexOf(':')
    byName.set(colon === -1 ? op : op.slice(0, colon), op)
  }
  return [...byName.values()]
}

function fitSearches(searches: string[], warnings: string[]): string[] {
  let out = searches
  if (out.length > maxSearchPaths) {
    out = out.slice(0, maxSearchPaths)
    warnings.push(`search list has more than ${maxSearchPaths} domains; the rest are omitted`)
  }
  const tooLong = out.filter((s) => s.length > maxSearchLength)
  if (tooLong.length > 0) {
    out = out.filter((s) => s.length <= maxSearchLength)
    warnings.push(`search domains longer than ${maxSearchLength} characters are omitted: ${tooLong.join(' ')}`)
  }
  let length = out.join(' ').length
  if (length > maxSearchListChars) {
    while (out.length > 0 && length > maxSearchListChars) {
      length -= out[out.length - 1].length + 1
      out = out.slice(0, -1)
    }
    warnings.push(`search line is longer than ${maxSearchListChars} characters; the last domains are omitted`)
  }
  return out
}

export function podDNSConfig(pod: V1Pod, opts: ResolvConfOptions): PodDNSConfig {
  const warnings: string[] = []
  const spec = pod.spec
  const policy = spec?.dnsPolicy ?? 'ClusterFirst'
  const host = parseResolvConf(opts.hostResolvConf)
  let config: { nameservers: string[]; searches: string[]; options: string[] }

  const cluster = policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !spec?.hostNetwork)
  if (policy === 'None') {
    config = { nameservers: [], searches: [], options: [] }
  } else if (cluster && opts.clusterDNS.length > 0) {
    const domain = opts.clusterDomain
    const ns = pod.metadata?.namespace ?? 'default'
    config = {
      nameservers: [...opts.clusterDNS],
      searches: domain ? dedupe([`${ns}.svc.${domain}`, `svc.${domain}`, domain, ...host.searches]) : host.searches,
      options: ['ndots:5'],
    }
  } else {
    if (cluster) warnings.push(`kubelet does not have ClusterDNS IP configured and cannot create Pod using "${policy}" policy. Falling back to "Default" policy.`)
    config = host
  }

  const extra = spec?.dnsConfig
  if (extra) {
    config = {
      nameservers: dedupe([...config.nameservers, ...(extra.nameservers ?? [])]),
      searches: dedupe([...config.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(config.options, (extra.options ?? []).map((o) => (o.value ? `${o.name}:${o.value}` : (o.name ?? '')))),
    }
  }
  if (config.nameservers.length > maxNameservers) {
    warnings.push(`more than ${maxNameservers} nameservers; applied: ${config.nameservers.slice(0, maxNameservers).join(' ')}`)
    config.nameservers = config.nameservers.slice(0, maxNameservers)
  }
  return { nameservers: config.nameservers, searches: fitSearches(config.searches, warnings), options: config.options, warnings }
}

export function renderResolvConf(config: Pick<PodDNSConfig, 'nameservers' | 'searches' | 'options'>): string {
  const lines: string[] = []
  if (config.searches.length > 0) lines.push(`search ${config.searches.join(' ')}`)
  for (const ns of config.nameservers) lines.push(`nameserver ${ns}`)
  if (config.options.length > 0) lines.push(`options ${config.options.join(' ')}`)
  return lines.map((l) => `${l}\n`).join('')
}

export function podResolvConf(pod: V1Pod, opts: ResolvConfOptions): string {
  return renderResolvConf(podDNSConfig(pod, opts))
}
