// Reading frames out of the chunks a socket delivers, copying only what a frame spans.

/**
 * The first chunk of `chunks`, joined with as many of the next ones as it takes to hold `n`
 * bytes (`chunks` is changed in place); the rest stay as they are, uncopied.
 */
export function peekJoined(chunks: Buffer[], n: number): Buffer {
  const first = chunks[0]!
  if (first.length >= n) return first
  let k = 1
  let size = first.length
  while (size < n && k < chunks.length) size += chunks[k++]!.length
  chunks.splice(0, k, Buffer.concat(chunks.slice(0, k), size))
  return chunks[0]!
}
