// Registers the node and keeps it alive: the Lease renewed every 10 s (the heartbeat the
// node lifecycle controller reads) and the status written when it changes, and at least
// every minute.
import type { V1Lease, V1Node } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import type { RestClient } from '../client/index.ts'
import { ApiError } from '../util/errors.ts'
import { nodeStatus, initialNode, type HostFacts, type NodeHealth, type NodeIdentity } from './node-status.ts'

const nodeInfo = resources.find((r) => r.kind === 'Node')!
const leaseInfo = resources.find((r) => r.kind === 'Lease')!
const leaseNamespace = 'kube-node-lease'

export interface NodeRegistrationOptions {
  client: RestClient
  identity: NodeIdentity
  host: HostFacts
  health: () => NodeHealth
  leaseDurationSeconds?: number
  renewIntervalMs?: number
  statusReportMs?: number
  log: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void }
}

function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

function comparable(status: V1Node['status']): string {
  return JSON.stringify({ ...status, conditions: status?.conditions?.map((c) => ({ ...c, lastHeartbeatTime: undefined })) })
}

export class NodeRegistration {
  readonly #o: NodeRegistrationOptions
  #node: V1Node | undefined
  #timer: NodeJS.Timeout | undefined
  #lastStatusAt = 0
  #stopped = false

  constructor(options: NodeRegistrationOptions) {
    this.#o = options
  }

  get node(): V1Node | undefined {
    return this.#node
  }

  /** Creates the Node (or takes the existing one) and writes its first status and Lease. */
  async register(): Promise<V1Node> {
    const { client, identity, host } = this.#o
    try {
      this.#node = await client.create<V1Node>(nodeInfo, initialNode(identity, host) as never)
      this.#o.log.info({ node: identity.name }, 'registered node')
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err
      this.#node = await client.get<V1Node>(nodeInfo, identity.name)
      // A Node registered before (by this agent with other settings, or an older weft) gets the annotations now.
      const stale = Object.entries(identity.annotations ?? {}).filter(([k, v]) => this.#node!.metadata?.annotations?.[k] !== v)
      if (stale.length > 0) this.#node = await client.patch<V1Node>(nodeInfo, identity.name, undefined, { metadata: { annotations: Object.fromEntries(stale) } }, 'merge')
    }
    await this.#reportStatus(true)
    await this.#renewLease()
    return this.#node!
  }

  start(): void {
    const every = this.#o.renewIntervalMs ?? 10_000
    const tick = async () => {
      if (this.#stopped) return
      await this.#renewLease().catch((err: unknown) => this.#o.log.warn({ err }, 'lease renewal failed'))
      await this.#reportStatus(false).catch((err: unknown) => this.#o.log.warn({ err }, 'node status update failed'))
      if (!this.#stopped) this.#timer = setTimeout(tick, every)
    }
    this.#timer = setTimeout(tick, every)
  }

  /** Reports the status now if it changed (health went from not-ready to ready, say). */
  async refresh(): Promise<void> {
    await this.#reportStatus(false)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  async #reportStatus(force: boolean): Promise<void> {
    const { client, identity, host } = this.#o
    const current = await client.get<V1Node>(nodeInfo, identity.name)
    const status = nodeStatus(identity, host, this.#o.health(), current, new Date())
    const due = Date.now() - this.#lastStatusAt >= (this.#o.statusReportMs ?? 60_000)
    if (!force && !due && comparable(status) === comparable(current.status)) {
      this.#node = current
      return
    }
    this.#node = await client.patch<V1Node>(nodeInfo, identity.name, undefined, { status }, 'merge', { subresource: 'status' })
    this.#lastStatusAt = Date.now()
  }

  async #renewLease(): Promise<void> {
    const { client, identity } = this.#o
    const lease: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: identity.name,
        namespace: leaseNamespace,
        ...(this.#node?.metadata?.uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: identity.name, uid: this.#node.metadata.uid }] } : {}),
      },
      spec: { holderIdentity: identity.name, leaseDurationSeconds: this.#o.leaseDurationSeconds ?? 40, renewTime: microTime(new Date()) as unknown as Date },
    }
    await client.patch(leaseInfo, identity.name, leaseNamespace, lease, 'apply', { fieldManager: 'weft-kubelet', force: true })
  }
}
