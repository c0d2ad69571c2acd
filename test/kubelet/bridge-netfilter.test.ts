import t from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { checkHairpin, planHairpin, readBridgeNetfilter, type BridgeNetfilterFacts, type ModprobeResult } from '../../src/kubelet/bridge-netfilter.ts'
import { execIn } from '../helpers/nodes.ts'
import { testNetns } from '../helpers/netns.ts'

t.test('the plan, from what /proc/sys/net/bridge says and whether modprobe worked', async (t) => {
  const cases: [string, BridgeNetfilterFacts, ModprobeResult | undefined, string, string, RegExp][] = [
    ['loaded, both on', { loaded: true, callIptables: true, callIp6tables: true }, undefined, 'br_netfilter', 'br_netfilter', /^br_netfilter is loaded and the bridge calls netfilter$/],
    ['loaded by modprobe', { loaded: true, callIptables: true, callIp6tables: true }, { ok: true }, 'br_netfilter', 'br_netfilter', /^loaded br_netfilter \(modprobe\)/],
    ['IPv4 off in this namespace', { loaded: true, callIptables: false, callIp6tables: true }, undefined, 'masquerade', 'br_netfilter', /net\.bridge\.bridge-nf-call-iptables is 0 .*set it to 1 and restart the agent/],
    ['both off', { loaded: true, callIptables: false, callIp6tables: false }, undefined, 'masquerade', 'masquerade', /bridge-nf-call-iptables and net\.bridge\.bridge-nf-call-ip6tables is 0/],
    ['missing, modprobe failed', { loaded: false }, { ok: false, error: 'modprobe is not installed' }, 'masquerade', 'masquerade', /not loaded and modprobe br_netfilter failed \(modprobe is not installed\): same-node Service traffic is masqueraded/],
    ['missing after a modprobe that worked', { loaded: false }, { ok: true }, 'masquerade', 'masquerade', /still missing/],
  ]
  for (const [name, facts, modprobe, ipv4, ipv6, reason] of cases) {
    const plan = planHairpin(facts, modprobe)
    t.same([plan.ipv4, plan.ipv6], [ipv4, ipv6], name)
    t.match(plan.reason, reason, name)
  }
})

t.test('reading the sysctls; modprobe only when the module is missing, then read again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-brnf-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  t.same(await readBridgeNetfilter(join(dir, 'bridge')), { loaded: false })
  await mkdir(join(dir, 'bridge'))
  await writeFile(join(dir, 'bridge', 'bridge-nf-call-iptables'), '1\n')
  await writeFile(join(dir, 'bridge', 'bridge-nf-call-ip6tables'), '0\n')
  t.same(await readBridgeNetfilter(join(dir, 'bridge')), { loaded: true, callIptables: true, callIp6tables: false })

  const lines: object[] = []
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) })
  let probes = 0
  let loaded = false
  const plan = await checkHairpin({
    read: async () => (loaded ? { loaded: true, callIptables: true, callIp6tables: true } : { loaded: false }),
    modprobe: async () => {
      probes++
      loaded = true
      return { ok: true }
    },
    log,
  })
  t.same([plan.ipv4, plan.ipv6, probes], ['br_netfilter', 'br_netfilter', 1])
  await checkHairpin({ read: async () => ({ loaded: true, callIptables: true, callIp6tables: true }), modprobe: async () => (probes++, { ok: true }), log })
  t.equal(probes, 1, 'no modprobe when it is loaded')
  const failed = await checkHairpin({ read: async () => ({ loaded: false }), modprobe: async () => ({ ok: false, error: 'Module br_netfilter not found' }), log })
  t.same([failed.ipv4, failed.ipv6], ['masquerade', 'masquerade'])
  t.equal(lines.length, 3, 'one info line per check')
  t.match(lines[2], { level: 30, ipv4: 'masquerade', ipv6: 'masquerade', reason: /Module br_netfilter not found/ })
})

const hostFacts = await readBridgeNetfilter()
t.test('the sysctl is per network namespace: reading it inside one sees that namespace only', { skip: hostFacts.loaded ? false : 'br_netfilter is not loaded on this host' }, async (t) => {
  const facts = hostFacts
  const ns = await testNetns(t, 'brnf')
  t.equal((await execIn(ns, 'sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables'])).trim(), '1', 'on in a new namespace')
  await execIn(ns, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=0'])
  t.equal((await execIn(ns, 'cat', ['/proc/sys/net/bridge/bridge-nf-call-iptables'])).trim(), '0')
  t.same(await readBridgeNetfilter(), facts, 'this namespace is unchanged')
})
