// A minimal nftables runner: whole transactions through `nft -f -` (all or nothing), and
// JSON reads, in any network namespace.
import { run } from '../netlink/exec.ts'
import { inNetns, type NetnsRef } from '../netlink/netns.ts'

/** Applies `lines` as one atomic nft transaction. */
export async function nftApply(lines: readonly string[], netns?: NetnsRef): Promise<void> {
  if (lines.length === 0) return
  const [file, argv] = inNetns(netns, 'nft', ['-f', '-'])
  await run(file, argv, { input: lines.join('\n') + '\n' })
}

/** Runs an nft listing with `-j` and returns its `nftables` array (empty when the object is missing). */
export async function nftList(args: readonly string[], netns?: NetnsRef): Promise<Record<string, unknown>[]> {
  const [file, argv] = inNetns(netns, 'nft', ['-j', ...args])
  let out: string
  try {
    out = await run(file, argv)
  } catch (err) {
    if (/No such file or directory|does not exist/.test((err as Error).message)) return []
    throw err
  }
  const parsed = JSON.parse(out) as { nftables?: Record<string, unknown>[] }
  return parsed.nftables ?? []
}

/** Quotes a name for nft's grammar. */
export function nftQuote(name: string): string {
  return `"${name.replaceAll('"', '')}"`
}
