// The real kubectl with quotas and limit ranges: `create quota` (a protobuf body), `get` and
// `describe` for both kinds, and the admission refusals as kubectl prints them.
import t from 'tap'
import { startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'

const c = await startCluster(t)
const k = (...args: string[]) => kubectl(c.kubeconfig, args)
const kIn = (input: string, ...args: string[]) => kubectl(c.kubeconfig, args, input)

t.test('kubectl create quota, get quota, describe quota', async (t) => {
  t.equal((await k('create', 'namespace', 'team')).code, 0)
  const created = await k('create', 'quota', 'compute', '-n', 'team', '--hard=pods=2,requests.cpu=1,limits.memory=1Gi')
  t.equal(created.code, 0, created.stderr)
  t.equal(created.stdout.trim(), 'resourcequota/compute created')
  const scoped = await k('create', 'quota', 'best-effort', '-n', 'team', '--hard=pods=5', '--scopes=BestEffort')
  t.equal(scoped.code, 0, scoped.stderr)
  await until('the quotas to be counted', async () => {
    const got = await k('get', 'quota', '-n', 'team', '-o', 'jsonpath={.items[*].status.used.pods}')
    return got.stdout.trim() === '0 0'
  })
  const pod = (name: string) => `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"${name}"},"spec":{"containers":[{"name":"c","image":"weft/echo","resources":{"requests":{"cpu":"250m"},"limits":{"memory":"256Mi"}}}]}}`
  const applied = await kIn(pod('web'), 'create', '-n', 'team', '-f', '-')
  t.equal(applied.code, 0, applied.stderr)

  const get = await k('get', 'quota', '-n', 'team')
  t.equal(get.code, 0, get.stderr)
  const [header, ...rows] = get.stdout.trim().split('\n')
  t.match(header, /^NAME\s+AGE\s+REQUEST\s+LIMIT$/)
  t.match(rows.find((r) => r.startsWith('compute ')), /^compute\s+\d+s\s+pods: 1\/2, requests\.cpu: 250m\/1\s+limits\.memory: 256Mi\/1Gi$/)
  t.match(rows.find((r) => r.startsWith('best-effort ')), /^best-effort\s+\d+s\s+pods: 0\/5\s*$/, 'a pod with requests is not BestEffort')

  const describe = await k('describe', 'quota', 'compute', '-n', 'team')
  t.equal(describe.code, 0, describe.stderr)
  t.match(describe.stdout, /Name:\s+compute\n/)
  t.match(describe.stdout, /Namespace:\s+team\n/)
  t.match(describe.stdout, /Resource\s+Used\s+Hard\n/)
  t.match(describe.stdout, /limits\.memory\s+256Mi\s+1Gi\n/)
  t.match(describe.stdout, /pods\s+1\s+2\n/)
  t.match(describe.stdout, /requests\.cpu\s+250m\s+1\n/)
  const scopes = await k('describe', 'quota', 'best-effort', '-n', 'team')
  t.match(scopes.stdout, /Scopes:\s+BestEffort\n/)

  t.equal((await kIn(pod('second'), 'create', '-n', 'team', '-f', '-')).code, 0)
  const third = await kIn(pod('third'), 'create', '-n', 'team', '-f', '-')
  t.equal(third.code, 1)
  t.equal(third.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "third" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2')
  const bare = await k('run', 'bare', '-n', 'team', '--image=weft/echo')
  t.equal(bare.code, 1)
  t.equal(bare.stderr.trim(), 'Error from server (Forbidden): pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: bare; requests.cpu for: bare')
  const after = await k('describe', 'quota', 'compute', '-n', 'team')
  t.match(after.stdout, /pods\s+2\s+2\n/, 'the refused creates were charged nothing')
})

t.test('kubectl get limits, describe limits, and a pod over the max', async (t) => {
  t.equal((await k('create', 'namespace', 'limited')).code, 0)
  const lr = `{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"defaults","namespace":"limited"},"spec":{"limits":[{"type":"Container","max":{"cpu":"1"},"default":{"cpu":"500m"},"defaultRequest":{"cpu":"100m"}}]}}`
  const created = await kIn(lr, 'apply', '-f', '-')
  t.equal(created.code, 0, created.stderr)
  const get = await k('get', 'limits', '-n', 'limited')
  t.equal(get.code, 0, get.stderr)
  t.match(get.stdout, /^NAME\s+CREATED AT\ndefaults\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/)
  const describe = await k('describe', 'limits', 'defaults', '-n', 'limited')
  t.equal(describe.code, 0, describe.stderr)
  t.match(describe.stdout, /Type\s+Resource\s+Min\s+Max\s+Default Request\s+Default Limit\s+Max Limit\/Request Ratio\n/)
  t.match(describe.stdout, /Container\s+cpu\s+-\s+1\s+100m\s+500m\s+-\n/)

  const plain = await kIn('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain"},"spec":{"containers":[{"name":"c","image":"weft/echo"}]}}', 'create', '-n', 'limited', '-f', '-')
  t.equal(plain.code, 0, plain.stderr)
  const resources = await k('get', 'pod', 'plain', '-n', 'limited', '-o', 'jsonpath={.spec.containers[0].resources}')
  t.same(JSON.parse(resources.stdout), { limits: { cpu: '500m' }, requests: { cpu: '100m' } })
  const over = await kIn('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"over"},"spec":{"containers":[{"name":"c","image":"weft/echo","resources":{"limits":{"cpu":"2"}}}]}}', 'create', '-n', 'limited', '-f', '-')
  t.not(over.code, 0)
  t.match(over.stderr, /Error from server \(Forbidden\): error when creating "STDIN": pods "over" is forbidden: maximum cpu usage per Container is 1, but limit is 2/)
})
