// The real kubectl with NetworkPolicies: apply of the Kubernetes documentation's example and
// of a default-deny policy, get netpol, describe netpol, explain, and a refused policy as
// kubectl prints the API server's 422.
import t from 'tap'
import { startTestServer } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'

const { kubeconfig } = await startTestServer(t)
const k = (...args: string[]) => kubectl(kubeconfig, args)
const kIn = (input: string, ...args: string[]) => kubectl(kubeconfig, args, input)

// https://kubernetes.io/docs/concepts/services-networking/network-policies/, as published.
const documented = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
`

const defaultDeny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {}
  policyTypes:
  - Ingress
`

t.test('kubectl apply, get and describe', async (t) => {
  const applied = await kIn(documented, 'apply', '-f', '-')
  t.equal(applied.code, 0, applied.stderr)
  t.equal(applied.stdout.trim(), 'networkpolicy.networking.k8s.io/test-network-policy created')
  const deny = await kIn(defaultDeny, 'apply', '-f', '-')
  t.equal(deny.code, 0, deny.stderr)
  t.equal(deny.stdout.trim(), 'networkpolicy.networking.k8s.io/default-deny-ingress created')
  const again = await kIn(documented, 'apply', '-f', '-')
  t.equal(again.stdout.trim(), 'networkpolicy.networking.k8s.io/test-network-policy unchanged', 'a second apply changes nothing')

  const get = await k('get', 'netpol')
  t.equal(get.code, 0, get.stderr)
  const [header, ...rows] = get.stdout.trim().split('\n')
  t.match(header, /^NAME\s+POD-SELECTOR\s+AGE$/)
  t.match(rows, [/^default-deny-ingress\s+<none>\s+\d+s$/, /^test-network-policy\s+role=db\s+\d+s$/])
  const byName = await k('get', 'networkpolicies.networking.k8s.io', 'test-network-policy', '-o', 'jsonpath={.spec.ingress[0].from[0].ipBlock.except[0]} {.spec.policyTypes}')
  t.equal(byName.stdout, '172.17.1.0/24 ["Ingress","Egress"]')

  const described = await k('describe', 'netpol', 'test-network-policy')
  t.equal(described.code, 0, described.stderr)
  const text = described.stdout
  t.match(text, /^Name:\s+test-network-policy$/m)
  t.match(text, /^Namespace:\s+default$/m)
  t.match(text, /^Created on:\s+\d{4}-\d\d-\d\d/m)
  t.match(text, /^ {2}PodSelector:\s+role=db$/m)
  t.match(text, /^ {2}Allowing ingress traffic:\n {4}To Port: 6379\/TCP\n {4}From:\n {6}IPBlock:\n {8}CIDR: 172\.17\.0\.0\/16\n {8}Except: 172\.17\.1\.0\/24\n {4}From:\n {6}NamespaceSelector: project=myproject\n {4}From:\n {6}PodSelector: role=frontend$/m)
  t.match(text, /^ {2}Allowing egress traffic:\n {4}To Port: 5978\/TCP\n {4}To:\n {6}IPBlock:\n {8}CIDR: 10\.0\.0\.0\/24\n {8}Except: ?$/m)
  t.match(text, /^ {2}Policy Types: Ingress, Egress$/m)
  const denyText = (await k('describe', 'netpol', 'default-deny-ingress')).stdout
  t.match(denyText, /^ {2}PodSelector:\s+<none> \(Allowing the specific traffic to all pods in this namespace\)$/m)
  t.match(denyText, /^ {2}Allowing ingress traffic:\n {4}<none> \(Selected pods are isolated for ingress connectivity\)$/m)
  t.match(denyText, /^ {2}Not affecting egress traffic$/m)
  t.match(denyText, /^ {2}Policy Types: Ingress$/m)
})

t.test('kubectl apply --server-side replaces the rule lists, which are atomic', async (t) => {
  const first = await kIn(defaultDeny.replace('default-deny-ingress', 'ssa'), 'apply', '--server-side', '-f', '-')
  t.equal(first.code, 0, first.stderr)
  t.equal(first.stdout.trim(), 'networkpolicy.networking.k8s.io/ssa serverside-applied')
  const second = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ssa}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8080}]
`
  const applied = await kIn(second, 'apply', '--server-side', '-f', '-')
  t.equal(applied.code, 0, applied.stderr)
  const got = await k('get', 'netpol', 'ssa', '-o', 'jsonpath={.spec}')
  t.same(JSON.parse(got.stdout), { ingress: [{ ports: [{ port: 8080, protocol: 'TCP' }] }], podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] })
  t.equal((await k('delete', 'netpol', 'ssa')).code, 0)
})

t.test('kubectl explain reads the schema from OpenAPI', async (t) => {
  const spec = await k('explain', 'networkpolicy.spec')
  t.equal(spec.code, 0, spec.stderr)
  t.match(spec.stdout, /^GROUP:\s+networking\.k8s\.io\nKIND:\s+NetworkPolicy\nVERSION:\s+v1\n\nFIELD: spec <NetworkPolicySpec>$/m)
  t.match(spec.stdout, /podSelector\s+<LabelSelector>/)
  const ingress = await k('explain', 'networkpolicy.spec.ingress')
  t.equal(ingress.code, 0, ingress.stderr)
  t.match(ingress.stdout, /^FIELD:\s+ingress <\[\]NetworkPolicyIngressRule>$/m)
  t.match(ingress.stdout, /from\s+<\[\]NetworkPolicyPeer>/)
  t.match(ingress.stdout, /ports\s+<\[\]NetworkPolicyPort>/)
  const v2 = await k('explain', 'networkpolicy.spec.ingress.from.ipBlock', '--output=plaintext-openapiv2')
  t.equal(v2.code, 0, v2.stderr)
  t.match(v2.stdout, /^KIND:\s+NetworkPolicy\nVERSION:\s+networking\.k8s\.io\/v1\n\nRESOURCE: ipBlock <Object>$/m, 'and from OpenAPI v2')
  t.match(v2.stdout, /cidr\s+<string> -required-/)
})

t.test('an invalid policy is refused with the API server\'s causes', async (t) => {
  const bad = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}
    ports:
    - {port: http, endPort: 90}
`
  const refused = await kIn(bad, 'apply', '-f', '-')
  t.not(refused.code, 0)
  t.match(refused.stderr, /The NetworkPolicy "bad" is invalid: \n\* spec\.ingress\[0\]\.ports\[0\]\.endPort: Invalid value: 90: may not be specified when `port` is non-numeric\n\* spec\.ingress\[0\]\.from\[0\]\.ipBlock\.except\[0\]: Invalid value: "192\.168\.0\.0\/16": must be a strict subset of `cidr`/)
  t.equal((await k('get', 'netpol', 'bad')).code, 1, 'nothing was stored')
  const deleted = await k('delete', 'netpol', 'default-deny-ingress')
  t.equal(deleted.stdout.trim(), 'networkpolicy.networking.k8s.io "default-deny-ingress" deleted')
})
