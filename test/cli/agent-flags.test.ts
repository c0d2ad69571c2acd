// The agent's own flags (the proxy's are in proxy-flags.test.ts). Every case here is refused
// while the flags are read, before the agent starts anything.
import t from 'tap'
import { runAgent } from '../../src/cli/agent.ts'

t.test('--container-log-max-files: a whole number, at least 2', async (t) => {
  for (const bad of ['1', '0', '-3', '2.5', 'many', ''])
    await t.rejects(runAgent([`--container-log-max-files=${bad}`]), new RegExp(`--container-log-max-files "${bad.replace('.', '\\.')}" must be a whole number, at least 2`), `rejects "${bad}"`)
})

t.test('--node-ip: addresses, canonical; an IPv4-mapped one is refused with the address to give', async (t) => {
  await t.rejects(runAgent(['--node-ip', '::ffff:10.0.0.1']), /--node-ip: "::ffff:10\.0\.0\.1" is an IPv4-mapped IPv6 address; give the IPv4 address 10\.0\.0\.1 instead/)
  for (const bad of ['10.0.0.1; flush ruleset', '10.0.0.256', 'fe80::1%eth0', 'node-1'])
    await t.rejects(runAgent(['--node-ip', `10.0.0.1,${bad}`]), new RegExp(`--node-ip: ".*" is not an IP address`), `refuses ${JSON.stringify(bad)}`)
})

t.test('--allow-host-path: absolute directories, never the whole host', async (t) => {
  await t.rejects(runAgent(['--allow-host-path', 'data']), /--allow-host-path "data" must be an absolute path/)
  await t.rejects(runAgent(['--allow-host-path', '/srv,/']), /would allow every host path/)
})

t.test('--network-policy*: defaults, and bad values refused', async (t) => {
  const { networkPolicyConfigFrom } = await import('../../src/cli/agent.ts')
  t.same(networkPolicyConfigFrom({}), { enabled: true, deny: 'drop', logRate: 0, resyncMs: 300_000, minSyncMs: 0 })
  t.same(networkPolicyConfigFrom({ 'network-policy': 'false', 'network-policy-deny': 'reject', 'network-policy-log-rate': '10', 'network-policy-resync-period': '90s', 'network-policy-min-sync-period': '1s' }), { enabled: false, deny: 'reject', logRate: 10, resyncMs: 90_000, minSyncMs: 1000 })
  await t.rejects(runAgent(['--network-policy=maybe']), /--network-policy must be true or false, not "maybe"/)
  await t.rejects(runAgent(['--network-policy-deny=accept']), /--network-policy-deny/)
  await t.rejects(runAgent(['--network-policy-log-rate=-1']), /--network-policy-log-rate "-1" must be a whole number of packets a second/)
  await t.rejects(runAgent(['--network-policy-resync-period=0s']), /--network-policy-resync-period "0s" must be a positive duration/)
})

t.test('--mesh*: defaults, off, and bad values refused', async (t) => {
  const { meshConfigFrom } = await import('../../src/cli/agent.ts')
  const defaults = { mesh: 'true', 'mesh-outbound-port': '15001', 'mesh-inbound-port': '15008', 'mesh-drain-period': '30s' }
  t.same(meshConfigFrom(defaults), { outboundPort: 15001, inboundPort: 15008, drainMs: 30_000, dataPath: true })
  t.equal(meshConfigFrom({ ...defaults, mesh: 'false' }), undefined)
  t.throws(() => meshConfigFrom({ ...defaults, 'mesh-outbound-port': '0' }), /--mesh-outbound-port "0" must be a whole number of a port from 1 to 65535/)
  t.throws(() => meshConfigFrom({ ...defaults, 'mesh-inbound-port': '70000' }), /--mesh-inbound-port/)
  t.throws(() => meshConfigFrom({ ...defaults, 'mesh-inbound-port': '15001' }), /must differ/)
  t.throws(() => meshConfigFrom({ ...defaults, 'mesh-drain-period': 'soon' }), /--mesh-drain-period/)
  t.throws(() => meshConfigFrom({ ...defaults, mesh: 'maybe' }), /--mesh/)
})
