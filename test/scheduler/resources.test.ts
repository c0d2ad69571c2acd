import t from 'tap'
import { podRequests } from '../../src/scheduler/resources.ts'
import { pod } from './fixtures.ts'

const Mi = 1024 * 1024

t.test('pod requests', async (t) => {
  const cases: Array<[string, ReturnType<typeof pod>, number, number]> = [
    ['single container', pod('a', { cpu: '250m', memory: '64Mi' }), 250, 64 * Mi],
    ['no requests', pod('a'), 0, 0],
    [
      'containers are summed',
      pod('a', {
        containers: [
          { name: 'a', resources: { requests: { cpu: '100m', memory: '10Mi' } } },
          { name: 'b', resources: { requests: { cpu: '1', memory: '20Mi' } } },
        ],
      }),
      1100,
      30 * Mi,
    ],
    [
      'init containers: max with the sum',
      pod('a', {
        containers: [{ name: 'a', resources: { requests: { cpu: '100m', memory: '10Mi' } } }],
        initContainers: [
          { name: 'i1', resources: { requests: { cpu: '2', memory: '1Mi' } } },
          { name: 'i2', resources: { requests: { cpu: '50m', memory: '100Mi' } } },
        ],
      }),
      2000,
      100 * Mi,
    ],
    [
      'sidecars add to containers and to later init containers',
      pod('a', {
        containers: [{ name: 'a', resources: { requests: { cpu: '100m' } } }],
        initContainers: [
          { name: 'side', restartPolicy: 'Always', resources: { requests: { cpu: '200m' } } },
          { name: 'i', resources: { requests: { cpu: '500m' } } },
        ],
      }),
      700,
      0,
    ],
    ['overhead is added', pod('a', { cpu: '100m', memory: '1Mi', overhead: { cpu: '10m', memory: '1Mi' } }), 110, 2 * Mi],
  ]
  for (const [name, p, cpu, memory] of cases) {
    const r = podRequests(p)
    t.equal(r.milliCPU, cpu, `${name}: cpu`)
    t.equal(r.memory, memory, `${name}: memory`)
  }
})

t.test('scoring defaults apply only to unset container cpu/memory', async (t) => {
  t.same([podRequests(pod('a'), true).milliCPU, podRequests(pod('a'), true).memory], [100, 200 * Mi])
  const explicitZero = pod('a', { containers: [{ name: 'a', resources: { requests: { cpu: '0', memory: '1Mi' } } }] })
  t.same([podRequests(explicitZero, true).milliCPU, podRequests(explicitZero, true).memory], [0, Mi])
})

t.test('extended resources are tracked by name', async (t) => {
  const p = pod('a', { containers: [{ name: 'a', resources: { requests: { 'example.com/gpu': '2' } } }] })
  t.equal(podRequests(p).scalar.get('example.com/gpu'), 2)
})
