// Installs iperf3 (bulk TCP), wrk and nginx-light (new-connection rate, as bench/proxy), curl
// (connect times) and nftables (Debian) when they are missing. iperf3's package asks whether
// to start a daemon: the non-interactive install takes the default (no), and the policy-rc.d
// of bench/lib/apt.ts keeps any service from starting anyway.
import { aptInstall, have } from '../lib/apt.ts'

export function ensureTools(): void {
  const need: [string, string][] = [
    ['iperf3', 'iperf3'],
    ['wrk', 'wrk'],
    ['nginx', 'nginx-light'],
    ['curl', 'curl'],
    ['nft', 'nftables'],
  ]
  aptInstall(need.filter(([cmd]) => !have(cmd)).map(([, pkg]) => pkg))
}
