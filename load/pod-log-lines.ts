// A container's output, line by line, as it is written: GET pods/NAME/log?follow=true through
// the API. Lines already seen (a stream that broke and was opened again) are skipped by count.
import { StringDecoder } from 'node:string_decoder'
import type { RestClient } from '../src/client/rest-client.ts'
import { maxLineBytes } from './worker-protocol.ts'

export interface FollowOptions {
  /** Lines to skip from the start of the log (seen before). */
  skip?: number
  signal?: AbortSignal
}

/**
 * Calls `onLine` for each complete line until the log ends (the container exited) or the
 * stream breaks (`error`); answers how many complete lines the log has had so far, skipped
 * ones included. A line longer than maxLineBytes is passed on cut short.
 */
export async function followPodLines(client: RestClient, namespace: string, name: string, container: string, onLine: (line: string) => void, o: FollowOptions = {}): Promise<{ lines: number; error?: Error }> {
  const query = new URLSearchParams({ container, follow: 'true' })
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log?${query}`
  const decoder = new StringDecoder('utf8')
  let seen = 0
  const skip = o.skip ?? 0
  let pending = ''
  let overlong = false
  const take = (line: string): void => {
    if (seen++ >= skip) onLine(line)
  }
  try {
    const stream = await client.stream(path, { signal: o.signal })
    for await (const chunk of stream) {
      pending += decoder.write(chunk)
      let nl: number
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        if (overlong) overlong = false
        else take(line)
      }
      if (pending.length > maxLineBytes) {
        if (!overlong) take(pending.slice(0, maxLineBytes))
        overlong = true
        pending = ''
      }
    }
    pending += decoder.end()
    if (pending !== '' && !overlong) take(pending)
  } catch (err) {
    return o.signal?.aborted ? { lines: seen } : { lines: seen, error: err as Error }
  }
  return { lines: seen }
}
