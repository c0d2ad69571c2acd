import t from 'tap'
import { pluginIsIdle } from '../../src/kubelet/cni/runtime.ts'

t.test('portmap and bandwidth are skipped only when their capability has no value', async (t) => {
  const portmap = { type: 'portmap', capabilities: { portMappings: true } }
  const bandwidth = { type: 'bandwidth', capabilities: { bandwidth: true } }
  t.equal(pluginIsIdle(portmap, {}), true)
  t.equal(pluginIsIdle(portmap, { portMappings: [] }), true)
  t.equal(pluginIsIdle(portmap, { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] }), false)
  t.equal(pluginIsIdle(bandwidth, { bandwidth: {} }), true)
  t.equal(pluginIsIdle(bandwidth, { bandwidth: { ingressRate: 1e6 } }), false)
  t.equal(pluginIsIdle({ type: 'calico', capabilities: { portMappings: true } }, {}), false, 'other plugins always run')
  t.equal(pluginIsIdle({ type: 'portmap' }, {}), false, 'a portmap without declared capabilities runs')
})
