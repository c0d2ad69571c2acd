// Fetches a node's summary from its kubelet, as metrics-server scrapes it
// (`GET /stats/summary?only_cpu_and_memory=true`), over the API server's kubelet connection.
import type { V1Node } from '@kubernetes/client-node'
import { request } from 'undici'
import type { Summary } from '../kubelet/stats/summary.ts'
import { kubeletAddress, kubeletDispatcher, kubeletOrigin, type KubeletClientTls } from './kubelet-client.ts'
import { parseSummary } from './metrics-api-summary.ts'

/** One node's summary; rejects when the kubelet cannot be reached, refuses, or answers nonsense. */
export type SummaryFetcher = (node: V1Node, signal: AbortSignal) => Promise<Summary>

/** A summary of a few hundred pods is a few hundred KiB; anything far larger is not one. */
export const maxSummaryBytes = 16 * 1024 * 1024

export function kubeletSummaryFetcher(socketDir: string | undefined, tls: KubeletClientTls): SummaryFetcher {
  return async (node, signal) => {
    const name = node.metadata?.name ?? ''
    const address = kubeletAddress(node, socketDir)
    const url = `${kubeletOrigin(address, name)}/stats/summary?only_cpu_and_memory=true`
    const res = await request(url, { dispatcher: kubeletDispatcher(tls, address, name), signal })
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > maxSummaryBytes) {
        res.body.destroy()
        throw new Error(`GET ${url}: the answer is larger than ${maxSummaryBytes} bytes`)
      }
      chunks.push(chunk)
    }
    const text = Buffer.concat(chunks).toString('utf8')
    if (res.statusCode !== 200) throw new Error(`GET ${url}: the kubelet answered ${res.statusCode}: ${text.trim().slice(0, 200)}`)
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new Error(`GET ${url}: the answer is not JSON`)
    }
    const summary = parseSummary(parsed)
    if (summary.node.nodeName !== name) throw new Error(`GET ${url}: the summary is of node "${summary.node.nodeName.slice(0, 64)}", not "${name}"`)
    return summary
  }
}
