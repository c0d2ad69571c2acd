// How the API server reaches a node's kubelet, as kube-apiserver does: over HTTPS as
// apiserver-kubelet-client (--kubelet-client-certificate), trusting only a kubelet
// certificate from the cluster CA (--kubelet-certificate-authority) that names the node's
// IP, or its name on a unix socket (lab nodes). Used for pods/log, the streams (exec,
// attach, port-forward) and the metrics API's summaries.
import type { V1Node } from '@kubernetes/client-node'
import type { ConnectionOptions } from 'node:tls'
import { Agent } from 'undici'
import { ApiError } from '../util/errors.ts'

/** Where a node's kubelet answers: a unix socket (lab nodes), else its InternalIP and port. */
export type KubeletAddress = { socketPath: string } | { url: string }

export function kubeletAddress(node: V1Node | undefined, socketDir: string | undefined): KubeletAddress {
  const name = node?.metadata?.name ?? ''
  if (socketDir) return { socketPath: `${socketDir}/${name}/kubelet.sock` }
  const ip = node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address
  const port = node?.status?.daemonEndpoints?.kubeletEndpoint?.Port
  if (!ip || !port) throw new ApiError(500, 'InternalError', `node "${name}" does not report an InternalIP and kubelet port`)
  return { url: `https://${ip.includes(':') ? `[${ip}]` : ip}:${port}` }
}

/** How the API server calls kubelets: the CA their serving certificates chain to, and its client certificate. */
export interface KubeletClientTls {
  caPem: string
  kubeletClient?: { certPem: string; keyPem: string }
}

/** The TLS options of a connection to a kubelet: verified against the CA, presenting the client certificate. */
export function kubeletConnectOptions(tls: KubeletClientTls): ConnectionOptions {
  return { ca: tls.caPem, cert: tls.kubeletClient?.certPem, key: tls.kubeletClient?.keyPem, rejectUnauthorized: true, minVersion: 'TLSv1.2' }
}

/** The kubelet refusals the API server passes on as they are; any other status becomes a 500. */
export const passedKubeletStatuses: Record<number, 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound'> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound' }

/** One connection pool per TLS identity: for TCP, and per socket (each checks its node's name). */
const pools = new WeakMap<KubeletClientTls, { tcp?: Agent; sockets: Map<string, Agent> }>()

export function kubeletDispatcher(tls: KubeletClientTls, address: KubeletAddress, nodeName: string): Agent {
  let pool = pools.get(tls)
  if (!pool) pools.set(tls, (pool = { sockets: new Map() }))
  const connect = kubeletConnectOptions(tls)
  if (!('socketPath' in address)) return (pool.tcp ??= new Agent({ connect }))
  const key = `${address.socketPath}\0${nodeName}`
  let agent = pool.sockets.get(key)
  if (!agent) pool.sockets.set(key, (agent = new Agent({ connect: { ...connect, socketPath: address.socketPath, servername: nodeName } })))
  return agent
}

/** The origin a request URL starts with: on a socket, the node's name (what its certificate must show). */
export function kubeletOrigin(address: KubeletAddress, nodeName: string): string {
  return 'socketPath' in address ? `https://${nodeName}` : address.url
}
