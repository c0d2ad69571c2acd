import t from 'tap'
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node'
import { hostNetworkHostsFile, podHostname, podHostsFile } from '../../src/kubelet/hosts-file.ts'

const base = `# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
`

function pod(spec: Partial<V1PodSpec> = {}, name = 'web-0'): V1Pod {
  return { metadata: { name, namespace: 'shop' }, spec: { containers: [], ...spec } }
}

t.test('podHostsFile', async (t) => {
  const cases: { name: string; p: V1Pod; ips: string[]; domain?: string; want: string }[] = [
    { name: 'pod name as hostname', p: pod(), ips: ['10.1.0.5'], want: `${base}10.1.0.5\tweb-0\n` },
    { name: 'dual stack', p: pod(), ips: ['10.1.0.5', 'fd00::5'], want: `${base}10.1.0.5\tweb-0\nfd00::5\tweb-0\n` },
    { name: 'no IPs yet', p: pod(), ips: [], want: base },
    { name: 'spec.hostname', p: pod({ hostname: 'db' }), ips: ['10.1.0.5'], want: `${base}10.1.0.5\tdb\n` },
    {
      name: 'subdomain gives the FQDN',
      p: pod({ subdomain: 'headless' }),
      ips: ['10.1.0.5'],
      domain: 'example.internal',
      want: `${base}10.1.0.5\tweb-0.headless.shop.svc.example.internal\tweb-0\n`,
    },
    {
      name: 'hostAliases',
      p: pod({ hostAliases: [{ ip: '1.2.3.4', hostnames: ['foo.local', 'bar.local'] }, { ip: '::2', hostnames: ['v6.local'] }] }),
      ips: ['10.1.0.5'],
      want: `${base}10.1.0.5\tweb-0\n\n# Entries added by HostAliases.\n1.2.3.4\tfoo.local\tbar.local\n::2\tv6.local\n`,
    },
  ]
  for (const { name, p, ips, domain, want } of cases) t.equal(podHostsFile(p, ips, domain ? { clusterDomain: domain } : {}), want, name)
})

t.test('podHostname', async (t) => {
  t.same(podHostname(pod({ subdomain: 's' })), { hostname: 'web-0', domain: 's.shop.svc.cluster.local' })
  const long = `${'a'.repeat(61)}-.-bcd`
  t.same(podHostname(pod({}, long)), { hostname: 'a'.repeat(61), domain: '' }, 'cut to 63 characters without trailing - or .')
})

t.test('hostNetworkHostsFile', async (t) => {
  t.equal(hostNetworkHostsFile(pod(), '127.0.0.1 localhost\n'), '127.0.0.1 localhost\n')
  t.equal(hostNetworkHostsFile(pod({ hostAliases: [{ ip: '1.2.3.4', hostnames: ['a'] }] }), '127.0.0.1 localhost\n'), '127.0.0.1 localhost\n\n# Entries added by HostAliases.\n1.2.3.4\ta\n')
})
