// `weft dns` flags: defaults, values, and bad values named by their flag; the bootstrap objects.
import t from 'tap'
import { clusterDnsObjects } from '../../src/apiserver/bootstrap.ts'
import { dnsConfigFrom } from '../../src/cli/dns.ts'
import { defaultDnsConfig, defaultThreads } from '../../dns/run.ts'

t.test('defaults', async (t) => {
  t.same(dnsConfigFrom({}), defaultDnsConfig)
  t.same(defaultDnsConfig.listen, ['0.0.0.0:53'])
  t.equal(defaultDnsConfig.ttl, 5)
  t.equal(defaultDnsConfig.pods, 'verified')
  t.equal(defaultDnsConfig.autopath, true)
})

t.test('values', async (t) => {
  const c = dnsConfigFrom({
    listen: '127.0.0.1:5353, [::1]:5353',
    zone: 'Corp.Example.',
    ttl: '30',
    pods: 'insecure',
    upstream: '10.0.0.2,10.0.0.3:5353',
    policy: 'sequential',
    'forward-timeout': '500ms',
    'max-concurrent': '10',
    'cache-denial-ttl': '5',
    autopath: 'false',
    threads: '1',
    'metrics-listen': '',
  })
  t.same(c.listen, ['127.0.0.1:5353', '[::1]:5353'])
  t.equal(c.zone, 'corp.example')
  t.equal(c.ttl, 30)
  t.equal(c.pods, 'insecure')
  t.same(c.upstreams, ['10.0.0.2', '10.0.0.3:5353'])
  t.equal(c.policy, 'sequential')
  t.equal(c.forwardTimeoutMs, 500)
  t.equal(c.maxConcurrent, 10)
  t.equal(c.cacheDenialTtl, 5)
  t.equal(c.autopath, false)
  t.equal(c.threads, 1)
  t.equal(c.metricsListen, '')
})

t.test('bad values are named by their flag', async (t) => {
  t.throws(() => dnsConfigFrom({ pods: 'maybe' }), /--pods "maybe" must be one of disabled, insecure, verified/)
  t.throws(() => dnsConfigFrom({ policy: 'fastest' }), /--policy "fastest" must be one of/)
  t.throws(() => dnsConfigFrom({ ttl: '-1' }), /--ttl "-1" must be a whole number/)
  t.throws(() => dnsConfigFrom({ threads: '0' }), /--threads "0" must be a whole number, at least 1/)
  t.throws(() => dnsConfigFrom({ zone: 'bad_zone..x' }), /--zone "bad_zone..x" is not a domain name/)
  t.throws(() => dnsConfigFrom({ listen: '' }), /--listen must name at least one HOST:PORT/)
  t.throws(() => dnsConfigFrom({ autopath: 'yes' }), /--autopath must be true or false/)
  t.throws(() => dnsConfigFrom({ 'forward-timeout': '2' }), /--forward-timeout "2" must be a positive duration/)
  t.throws(() => dnsConfigFrom({ 'cache-servfail-ttl': '6m' }), /--cache-servfail-ttl "6m" must be at most 5m/)
  t.throws(() => dnsConfigFrom({ 'cache-servfail-ttl': '-1s' }), /--cache-servfail-ttl "-1s" must be a duration like .*, or 0 to disable caching server failures/)
  t.throws(() => dnsConfigFrom({ 'cache-servfail-ttl': 'soon' }), /--cache-servfail-ttl "soon"/)
})

t.test('--cache-servfail-ttl: seconds or a duration, 0 disables', async (t) => {
  t.equal(defaultDnsConfig.cacheServfailTtl, 5)
  const ttl = (v: string) => dnsConfigFrom({ 'cache-servfail-ttl': v }).cacheServfailTtl
  t.same(['0', '0s', '10', '500ms', '5s', '1.5s', '5m'].map(ttl), [0, 0, 10, 0.5, 5, 1.5, 300])
})

t.test('the bootstrap objects: kube-dns at the given address in front of coredns pods of weft/dns', async (t) => {
  const { service, deployment } = clusterDnsObjects({ serviceIP: '10.96.0.10', replicas: 2, zone: 'cluster.local', apiSocket: '/var/lib/weft/apiserver.sock' }) as any
  t.equal(service.metadata.name, 'kube-dns')
  t.equal(service.spec.clusterIP, '10.96.0.10')
  t.same(service.spec.ports.map((p: any) => `${p.name}/${p.protocol}/${p.port}`), ['dns/UDP/53', 'dns-tcp/TCP/53', 'metrics/TCP/9153'])
  t.same(service.spec.selector, { 'k8s-app': 'kube-dns' })
  t.equal(deployment.metadata.name, 'coredns')
  t.equal(deployment.spec.replicas, 2)
  const pod = deployment.spec.template.spec
  t.equal(pod.dnsPolicy, 'Default', 'the DNS pods forward to the node\'s resolvers, not to themselves')
  t.equal(pod.containers[0].image, 'weft/dns')
  t.same(pod.containers[0].args, ['--zone', 'cluster.local', '--nameserver-ips', '10.96.0.10', '--socket', '/var/lib/weft/apiserver.sock'])
  t.equal(pod.containers[0].readinessProbe.httpGet.path, '/ready')
})

t.test('query threads by default: one on 2 CPUs or fewer, else one per CPU up to 4', async (t) => {
  t.same([1, 2, 3, 4, 8].map(defaultThreads), [1, 1, 3, 4, 4])
})
