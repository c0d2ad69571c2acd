// Reading frames out of the chunks a socket delivers, copying only what a frame spans.

/** The bytes received and not yet taken, as the chunks they came in. */
export class ChunkQueue {
  #chunks: Buffer[] = []
  #buffered = 0

  /** Bytes held. */
  get length(): number {
    return this.#buffered
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  /** The first chunk, joined with as many of the next ones as it takes to hold `n` bytes (only those are copied). */
  peek(n: number): Buffer {
    const first = this.#chunks[0]!
    if (first.length >= n) return first
    let k = 1
    let size = first.length
    while (size < n && k < this.#chunks.length) size += this.#chunks[k++]!.length
    this.#chunks.splice(0, k, Buffer.concat(this.#chunks.slice(0, k), size))
    return this.#chunks[0]!
  }

  /** Removes and answers the first `n` bytes (the caller checked `length`). */
  take(n: number): Buffer {
    const first = this.peek(n)
    this.#buffered -= n
    if (first.length === n) {
      this.#chunks.shift()
      return first
    }
    this.#chunks[0] = first.subarray(n)
    return first.subarray(0, n)
  }
}
