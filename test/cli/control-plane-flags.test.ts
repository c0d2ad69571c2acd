import t from 'tap'
import { leaderElectionFlags } from '../../src/cli/control-plane.ts'

t.test('--leader-elect and its timings', async (t) => {
  t.same(leaderElectionFlags({}), { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }, "upstream's defaults")
  t.equal(leaderElectionFlags({ 'leader-elect': 'false' }), false)
  t.same(leaderElectionFlags({ 'leader-elect-lease-duration': '3s', 'leader-elect-renew-deadline': '2s', 'leader-elect-retry-period': '500ms' }), { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 })
  t.throws(() => leaderElectionFlags({ 'leader-elect': 'maybe' }), /--leader-elect must be true or false, not "maybe"/)
  t.throws(() => leaderElectionFlags({ 'leader-elect-lease-duration': '15' }), /--leader-elect-lease-duration "15" must be a positive duration/)
  t.throws(() => leaderElectionFlags({ 'leader-elect-renew-deadline': '20s' }), /must be longer than the renew deadline/)
})

t.test('node eviction flags', async (t) => {
  const { controlPlaneFlags } = await import('../../src/cli/control-plane.ts')
  t.match(controlPlaneFlags({}), { nodeEvictionRate: 0.1, secondaryNodeEvictionRate: 0.01, unhealthyZoneThreshold: 0.55, largeClusterSizeThreshold: 50 })
  t.match(controlPlaneFlags({ 'node-eviction-rate': '0.5' }), { nodeEvictionRate: 0.5 })
  t.throws(() => controlPlaneFlags({ 'node-eviction-rate': 'x' }), /--node-eviction-rate "x" must be a number of at least 0/)
  t.throws(() => controlPlaneFlags({ 'unhealthy-zone-threshold': '2' }), /--unhealthy-zone-threshold "2" must be a number from 0 to 1/)
})
