// A pod's /etc/hosts, as the kubelet manages it (kubelet_pods.go managedHostsFileContent).
import type { V1HostAlias, V1Pod } from '@kubernetes/client-node'

const header = '# Kubernetes-managed hosts file.\n'
const loopback =
  '127.0.0.1\tlocalhost\n' +
  '::1\tlocalhost ip6-localhost ip6-loopback\n' +
  'fe00::0\tip6-localnet\n' +
  'fe00::0\tip6-mcastprefix\n' +
  'fe00::1\tip6-allnodes\n' +
  'fe00::2\tip6-allrouters\n'

export interface PodHostname {
  /** spec.hostname or the pod name, cut to 63 characters. */
  hostname: string
  /** `<subdomain>.<namespace>.svc.<clusterDomain>` when spec.subdomain is set, else ''. */
  domain: string
}

export function podHostname(pod: V1Pod, clusterDomain = 'cluster.local'): PodHostname {
  let hostname = pod.spec?.hostname || pod.metadata?.name || ''
  if (hostname.length > 63) hostname = hostname.slice(0, 63).replace(/[-.]+$/, '')
  const subdomain = pod.spec?.subdomain
  const domain = subdomain ? `${subdomain}.${pod.metadata?.namespace ?? 'default'}.svc.${clusterDomain}` : ''
  return { hostname, domain }
}

function aliasLines(aliases: readonly V1HostAlias[] | undefined): string {
  if (!aliases || aliases.length === 0) return ''
  return '\n# Entries added by HostAliases.\n' + aliases.map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`).join('')
}

export function podHostsFile(pod: V1Pod, podIPs: readonly string[], opts: { clusterDomain?: string } = {}): string {
  const { hostname, domain } = podHostname(pod, opts.clusterDomain)
  const own = podIPs.map((ip) => (domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`)).join('')
  return header + loopback + own + aliasLines(pod.spec?.hostAliases)
}

/** A hostNetwork pod sees the node's own hosts file, plus its hostAliases. */
export function hostNetworkHostsFile(pod: V1Pod, nodeHostsFile: string): string {
  return nodeHostsFile + aliasLines(pod.spec?.hostAliases)
}
