// Node flags for the process that runs the DNS server (bin/weft for `weft dns`, the weft/dns
// image's command). V8's young generation otherwise grows to 64 MiB while the informers list
// the Services (every page survives until the list is whole) and stays that size: with 10,000
// Services that was ~40 MiB of RSS. Queries allocate next to nothing (the batch path), so a
// 1 MiB semi-space costs no throughput (measured in bench/dns). bin/weft repeats them.
export const dnsNodeFlags: readonly string[] = ['--max-semi-space-size=1']
