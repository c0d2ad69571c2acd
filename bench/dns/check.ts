// Correctness before measuring: a sample of the query set (the first, svc-7, the last and a
// spread in between) must resolve, over UDP and TCP, to exactly the Service's clusterIP on
// every server.
import { digA, digText } from './dig.ts'
import type { BenchService } from './services.ts'

export interface Target {
  label: string
  port: number
}

export function sampleServices(services: readonly BenchService[], spread = 20): BenchService[] {
  const picks = new Set([0, Math.min(7, services.length - 1), services.length - 1])
  for (let k = 1; k <= spread; k++) picks.add(Math.floor((k * services.length) / (spread + 1)))
  return [...picks].sort((a, b) => a - b).map((i) => services[i]!)
}

/** Throws naming the first server, name and transport whose answer is not the expected one. */
export async function checkAnswers(targets: readonly Target[], services: readonly BenchService[]): Promise<number> {
  let checked = 0
  for (const s of sampleServices(services)) {
    for (const t of targets) {
      for (const tcp of [false, true]) {
        const got = await digA(t.port, s.fqdn, tcp)
        if (got.length !== 1 || got[0] !== s.clusterIP) {
          throw new Error(`${t.label} answered ${s.fqdn} A over ${tcp ? 'TCP' : 'UDP'} with [${got.join(', ')}], expected [${s.clusterIP}]:\n${await digText(t.port, s.fqdn)}`)
        }
        checked++
      }
    }
  }
  return checked
}
