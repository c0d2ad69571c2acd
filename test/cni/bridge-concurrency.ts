// N concurrent ADDs then DELs on one bridge, each pod in its own namespace.
import type { Test } from 'tap'
import { testNetns } from '../helpers/netns.ts'
import { bridgeConf, invoke, startServiceIn, tempDir, WEFT_CNI } from './bridge-helpers.ts'

export async function concurrentAdds(t: Test, mode: 'service' | 'standalone', n: number): Promise<void> {
  const host = await testNetns(t, 'cch')
  const runDir = tempDir(t, 'weft-cni-run-')
  if (mode === 'service') await startServiceIn(t, host, runDir)
  const env: Record<string, string> = mode === 'service' ? { WEFT_CNI_RUN_DIR: runDir } : { WEFT_CNI_RUN_DIR: runDir, WEFT_CNI_SERVICE: 'off' }
  const nss: string[] = []
  for (let i = 0; i < n; i += 10) nss.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => testNetns(t, 'cc')))))
  const conf = bridgeConf(tempDir(t, 'weft-ipam-'), {}, { ranges: [[{ subnet: '10.96.0.0/16' }]] })
  const inv = (command: string, i: number) => ({ command, containerID: `c${i}`, netns: `/run/netns/${nss[i]}`, ifname: 'eth0', env })
  const added = await Promise.all(nss.map((_, i) => invoke(WEFT_CNI, host, inv('ADD', i), conf)))
  t.same(added.filter((r) => r.code !== 0).map((r) => r.text), [], 'every ADD succeeded')
  const ips = added.map((r) => (r.out?.ips as { address: string }[] | undefined)?.[0]?.address)
  t.equal(new Set(ips).size, n, 'distinct addresses')
  const deleted = await Promise.all(nss.map((_, i) => invoke(WEFT_CNI, host, inv('DEL', i), conf)))
  t.same(deleted.filter((r) => r.code !== 0).map((r) => r.text), [], 'every DEL succeeded')
}
