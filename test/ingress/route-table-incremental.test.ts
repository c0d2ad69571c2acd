// RouteTableBuilder: after any sequence of adds, changes and deletes, an incrementally
// updated table answers exactly as a table built from scratch, reports the same conflicts
// and errors, and only the Ingresses that changed are compiled again.
import t from 'tap'
import type { V1HTTPIngressPath, V1Ingress } from '@kubernetes/client-node'
import { buildRouteTable, RouteTableBuilder, type BuildResult, type RouteResult } from '../../ingress/route-table.ts'

// A small deterministic PRNG, so a failure can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const hosts = ['a.io', 'b.io', '*.w.io', 'x.w.io', '']
const paths = ['/', '/api', '/api/', '/api/v1', '/static', '/x']
const types = ['Prefix', 'Exact', 'ImplementationSpecific']

function randomIngress(r: () => number, name: string, created: number): V1Ingress {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!
  const rules = Array.from({ length: 1 + Math.floor(r() * 2) }, () => {
    const host = pick(hosts)
    const list: V1HTTPIngressPath[] = Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({ path: pick(paths), pathType: pick(types), backend: { service: { name: `svc-${Math.floor(r() * 4)}`, port: { number: 80 } } } }))
    return { ...(host ? { host } : {}), http: { paths: list } }
  })
  const spec: V1Ingress['spec'] = { rules }
  if (r() < 0.15) spec.defaultBackend = { service: { name: `def-${name}`, port: { number: 80 } } }
  // Without rules: a catch-all default backend.
  else if (r() < 0.06) return { metadata: { namespace: 'default', name, creationTimestamp: new Date(1_700_000_000_000 + created * 1000) }, spec: { defaultBackend: { service: { name: `catch-${name}`, port: { number: 80 } } } } }
  if (r() < 0.3) spec.tls = [{ hosts: [pick(hosts.filter(Boolean))], secretName: `cert-${Math.floor(r() * 2)}` }]
  return { metadata: { namespace: 'default', name, creationTimestamp: new Date(1_700_000_000_000 + created * 1000) }, spec }
}

const probes: [string, string][] = []
for (const h of ['a.io', 'b.io', 'x.w.io', 'y.w.io', 'other.io', '']) for (const p of ['/', '/api', '/api/', '/api/v1', '/api/v1/z', '/static/q', '/x', '/nothing']) probes.push([h, p])

function answer(r: RouteResult): string {
  if ('route' in r) return `${r.route.ingress} ${r.route.backend.service} ${r.route.path} ${r.route.pathType} tls=${r.tlsHost}`
  if ('defaultBackend' in r) return `default ${r.defaultBackend.ingress} tls=${r.tlsHost}`
  return `404 tls=${r.tlsHost}`
}

function observable(b: BuildResult): unknown {
  return {
    answers: probes.map(([h, p]) => answer(b.table.route(h, p))),
    routes: b.table.routes().map((r) => `${r.ingress} ${r.host} ${r.path} ${r.pathType}`).sort(),
    tls: b.table.tlsHosts(),
    defaultBackends: b.table.defaultBackends().map((d) => d.ingress).sort(),
    conflicts: b.conflicts,
    errors: b.errors,
  }
}

t.test('incremental updates match a full build after every step', async (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed)
    const builder = new RouteTableBuilder()
    const live = new Map<string, V1Ingress>()
    let clock = 0
    let mismatch = ''
    for (let step = 0; step < 60 && !mismatch; step++) {
      const roll = r()
      const names = [...live.keys()]
      if (roll < 0.45 || names.length === 0) {
        const name = `ing-${step}`
        live.set(name, randomIngress(r, name, r() < 0.2 ? clock : ++clock))
      } else if (roll < 0.8) {
        const name = names[Math.floor(r() * names.length)]!
        const created = live.get(name)!.metadata!.creationTimestamp as unknown as Date
        live.set(name, { ...randomIngress(r, name, 0), metadata: { namespace: 'default', name, creationTimestamp: created } })
      } else {
        live.delete(names[Math.floor(r() * names.length)]!)
      }
      const incremental = observable(builder.update(live.values()))
      const full = observable(buildRouteTable(live.values()))
      if (JSON.stringify(incremental) !== JSON.stringify(full)) {
        mismatch = `seed ${seed} step ${step}`
        t.same(incremental, full, mismatch)
      }
    }
    t.equal(mismatch, '', `seed ${seed}`)
  }
})

t.test('an unchanged Ingress object is not compiled again; tables are new objects each time', async (t) => {
  const r = rng(99)
  const all = Array.from({ length: 200 }, (_, i) => randomIngress(r, `i${i}`, i))
  const builder = new RouteTableBuilder()
  const first = builder.update(all)
  const second = builder.update(all)
  t.not(second.table, first.table, 'every update swaps in a new table')
  t.same(observable(second), observable(first))
  // A changed object replaces its compiled form; the old table keeps answering as before.
  const before = first.table.route('a.io', '/api').toString()
  const changed = [...all.slice(1), { ...all[0]!, spec: { rules: [{ host: 'new.io', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'fresh', port: { number: 80 } } } }] } }] } }]
  const third = builder.update(changed)
  t.equal(answer(third.table.route('new.io', '/')).split(' ')[1], 'fresh')
  t.equal(answer(second.table.route('new.io', '/')).startsWith('404') || answer(second.table.route('new.io', '/')).startsWith('default'), true, 'the previous table is untouched')
  t.equal(first.table.route('a.io', '/api').toString(), before)
})
