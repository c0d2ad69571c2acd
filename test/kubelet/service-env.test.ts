import t from 'tap'
import type { V1Service } from '@kubernetes/client-node'
import { serviceLinkEnv, serviceVariables, slimLinkService } from '../../src/kubelet/service-env.ts'

const svc = (name: string, clusterIP: string, ports: { port: number; name?: string; protocol?: string }[]): V1Service => ({ metadata: { name }, spec: { clusterIP, ports } })

t.test('a Service\'s variables are upstream\'s', async (t) => {
  t.same(serviceVariables(svc('kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }])), {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443',
    KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
  })
  const dns = serviceVariables(svc('kube-dns', 'fd00::a', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }]))
  t.equal(dns.KUBE_DNS_PORT, 'udp://[fd00::a]:53', 'IPv6 in brackets; the first port')
  t.equal(dns.KUBE_DNS_SERVICE_PORT_DNS_TCP, '53')
  t.equal(dns.KUBE_DNS_PORT_53_TCP_ADDR, 'fd00::a')
  t.same(serviceVariables(svc('headless', 'None', [{ port: 80 }])), {}, 'headless: none')
  t.same(serviceVariables(svc('new', '', [{ port: 80 }])), {}, 'no address yet: none')
})

t.test('the kubernetes Service always; the namespace\'s only with enableServiceLinks', async (t) => {
  const k = svc('kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }])
  const web = svc('web', '10.96.0.20', [{ port: 80 }])
  t.ok(serviceLinkEnv(k, [web], true).WEB_SERVICE_HOST)
  t.notOk(serviceLinkEnv(k, [web], false).WEB_SERVICE_HOST)
  t.equal(serviceLinkEnv(k, [web], false).KUBERNETES_SERVICE_HOST, '10.96.0.1')
  t.equal(serviceLinkEnv(k, [svc('kubernetes', '10.0.0.9', [{ port: 1 }])], true).KUBERNETES_SERVICE_HOST, '10.96.0.1', 'the real one wins')
})

t.test('the cached (slimmed) Service gives the same variables, and keeps nothing else', async (t) => {
  const full: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web-api', namespace: 'shop', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' }, managedFields: [{ manager: 'kubectl' }] },
    spec: { type: 'NodePort', clusterIP: '10.96.0.9', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }, { port: 53, protocol: 'UDP' }] },
    status: { loadBalancer: {} },
  }
  const slim = slimLinkService(full)
  t.same(serviceVariables(slim), serviceVariables(full))
  t.same(slim, { metadata: { name: 'web-api', namespace: 'shop', uid: 'u', resourceVersion: '7' }, spec: { clusterIP: '10.96.0.9', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: undefined, port: 53, protocol: 'UDP' }] } })
})
