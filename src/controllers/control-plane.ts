// The scheduler and the controllers as one unit, as `weft server` runs them next to the
// API server (and `weft controller-manager` / `weft scheduler` run them alone).
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { RestClient, type ServerAddress } from '../client/index.ts'
import { LeaderElector, type LeaderElectionTimings } from '../client/leader-election.ts'
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
  /**
   * Run the scheduler and the controllers only while this process holds their Leases
   * (kube-system/kube-scheduler, kube-system/kube-controller-manager), as upstream's
   * --leader-elect; false: run them at once. Default: on, with upstream's timings.
   */
  leaderElection?: false | Partial<LeaderElectionTimings>
}

export class ControlPlane {
  readonly client: RestClient
  readonly schedulerClient: RestClient
  readonly informers: InformerFactory
  readonly scheduler: Scheduler | undefined
  readonly manager: ControllerManager | undefined
  /** This process's candidate name in leader election: hostname_uuid, as upstream. */
  readonly identity = `${hostname()}_${randomUUID()}`
  readonly electors: LeaderElector[] = []
  readonly #leaderElection: false | Partial<LeaderElectionTimings>

  constructor(options: ControlPlaneOptions) {
    this.#leaderElection = options.leaderElection ?? {}
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
    const controllers = this.manager?.controllers ?? []
    const election = this.#leaderElection
    if (election === false) {
      this.scheduler?.start()
      for (const c of controllers) c.start()
      return
    }
    // While standing by, the informers keep the caches and the queues current, so a new
    // leader starts from what it has seen, not from a relist.
    const elect = (name: string, client: RestClient, start: () => void, pause: () => Promise<void>) => {
      const elector = new LeaderElector({ ...election, client, name, identity: this.identity, log: logger('leader-election') })
      this.electors.push(elector)
      elector.run({ onStartedLeading: start, onStoppedLeading: pause })
    }
    const scheduler = this.scheduler
    if (scheduler) elect('kube-scheduler', this.schedulerClient, () => scheduler.start(), () => scheduler.pause())
    if (this.manager) {
      elect(
        'kube-controller-manager',
        this.client,
        () => controllers.forEach((c) => c.start()),
        async () => void (await Promise.all(controllers.map((c) => c.pause()))),
      )
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.electors.map((e) => e.stop()))
    await this.scheduler?.stop()
    await Promise.all((this.manager?.controllers ?? []).map((c) => c.stop()))
    await this.informers.stop()
    await this.client.close()
    if (this.schedulerClient !== this.client) await this.schedulerClient.close()
  }
}
