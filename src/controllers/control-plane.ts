// The scheduler and the controllers as one unit, as `weft server` runs them next to the
// API server (and `weft controller-manager` / `weft scheduler` run them alone).
import { RestClient, type ServerAddress } from '../client/index.ts'
import { Scheduler } from '../scheduler/scheduler.ts'
import { logger } from '../util/log.ts'
import { InformerFactory } from './controller.ts'
import { ControllerManager, type ControllerManagerOptions } from './manager.ts'

export interface ControlPlaneOptions extends Omit<ControllerManagerOptions, 'client' | 'log' | 'informers'> {
  /** The controllers' identity (system:kube-controller-manager); the shared informers read with it too. */
  server: ServerAddress
  /** The scheduler's identity for its writes (bindings, events); default `server`. */
  schedulerServer?: ServerAddress
  scheduler?: boolean
  controllers?: boolean
}

export class ControlPlane {
  readonly client: RestClient
  readonly schedulerClient: RestClient
  readonly informers: InformerFactory
  readonly scheduler: Scheduler | undefined
  readonly manager: ControllerManager | undefined

  constructor(options: ControlPlaneOptions) {
    this.client = new RestClient(options.server, { userAgent: 'weft-control-plane' })
    this.schedulerClient = options.schedulerServer ? new RestClient(options.schedulerServer, { userAgent: 'weft-scheduler' }) : this.client
    this.informers = new InformerFactory(this.client, logger('informers'))
    if (options.scheduler !== false) this.scheduler = new Scheduler({ client: this.schedulerClient, informers: this.informers, log: logger('scheduler') })
    if (options.controllers !== false) {
      this.manager = new ControllerManager({ ...options, client: this.client, log: logger('controller-manager'), informers: this.informers })
    }
  }

  async start(signal?: AbortSignal): Promise<void> {
    this.informers.start()
    await this.informers.waitForSync(signal)
    this.scheduler?.start()
    for (const c of this.manager?.controllers ?? []) c.start()
  }

  async stop(): Promise<void> {
    await this.scheduler?.stop()
    await Promise.all((this.manager?.controllers ?? []).map((c) => c.stop()))
    await this.informers.stop()
    await this.client.close()
    if (this.schedulerClient !== this.client) await this.schedulerClient.close()
  }
}
