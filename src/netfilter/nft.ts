// A minimal nftables runner: whole transactions through `nft -f -` (all or nothing), and
// JSON reads, in any network namespace.
import { run } from '../netlink/exec.ts'
import { inNetns, type NetnsRef } from '../netlink/netns.ts'
import { checkNftCommand } from './tokens.ts'

/** The kernel's answer to a failed operation, as nft reports it. */
export type NftErrorCode = 'ENOENT' | 'EEXIST' | 'EBUSY' | 'EINVAL' | 'EOPNOTSUPP' | 'EPERM' | 'ELOOP' | 'UNKNOWN'

/** A failed nft transaction; `message` names the failing operation and the reason. */
export class NftError extends Error {
  readonly code: NftErrorCode
  constructor(code: NftErrorCode, message: string) {
    super(message)
    this.name = 'NftError'
    this.code = code
  }
}

const reasons: [RegExp, NftErrorCode][] = [
  [/No such file or directory/, 'ENOENT'],
  [/File exists/, 'EEXIST'],
  [/Device or resource busy/, 'EBUSY'],
  [/Operation not permitted/, 'EPERM'],
  [/Operation not supported/, 'EOPNOTSUPP'],
  [/Too many levels of symbolic links/, 'ELOOP'],
  [/Invalid argument|syntax error|is not a map/, 'EINVAL'],
]

/** The error code a message from nft (or the fake) stands for: the first reason it gives. */
export function nftErrorCode(message: string): NftErrorCode {
  let best: NftErrorCode = 'UNKNOWN'
  let at = Infinity
  for (const [re, code] of reasons) {
    const i = message.search(re)
    if (i >= 0 && i < at) [best, at] = [code, i]
  }
  return best
}

/** Applies `lines` as one atomic nft transaction; each must be one whole command in weft's nft grammar (tokens.ts). */
export async function nftApply(lines: readonly string[], netns?: NetnsRef): Promise<void> {
  if (lines.length === 0) return
  for (const line of lines) checkNftCommand(line)
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
