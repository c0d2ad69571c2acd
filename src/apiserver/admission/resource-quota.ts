// The ResourceQuota admission plugin: a write that adds usage in a namespace with quotas is
// judged against them (checkRequest) and, if it fits, charged to their status.used before
// the object is stored, by a compare-and-swap on each quota. Two writes racing for the last
// unit cannot both win: the second's swap fails, and it is judged again on a fresh read.
// Writes in one namespace are judged one at a time here, as upstream's per-namespace queue;
// the swap is what holds across API servers. A dry run is judged and charged nothing. The
// quotas come from a NamespacedCache (a store feed, with a store lookup while the feed has
// none for the namespace); a quota that cannot be read is passed over alone.
import type { V1ResourceQuota } from '@kubernetes/client-node'
import { resources, storedResources } from '../../api/registry.ts'
import { validateResourceQuota } from '../../api/validation/quota.ts'
import { checkRequest, type QuotaWrite } from '../../quota/check-request.ts'
import type { Evaluator } from '../../quota/evaluator.ts'
import { QuotaRegistry } from '../../quota/registry.ts'
import { writeResourceList, type ResourceList } from '../../quota/resource-list.ts'
import { conflict, forbidden, isConflict, isNotFound } from '../../util/errors.ts'
import type { Logger } from '../../util/log.ts'
import { resourceRef, type KObject, type ObjectStore } from '../objects.ts'
import type { Admission, AdmissionRequest } from '../resource-handler.ts'
import { causeTexts, NamespacedCache } from './namespaced-cache.ts'

const quotaInfo = resources.find((r) => r.kind === 'ResourceQuota')!
/** Rounds of judging again after lost swaps, as upstream's checkQuotas retries. */
const SWAP_RETRIES = 3

export class ResourceQuotaAdmission implements Admission {
  readonly #objects: ObjectStore
  readonly #cache: NamespacedCache
  readonly #registry: QuotaRegistry
  /** The tail of each namespace's chain of judgements. */
  readonly #turns = new Map<string, Promise<void>>()

  constructor(objects: ObjectStore, log: Logger, served = storedResources) {
    this.#objects = objects
    this.#cache = new NamespacedCache(objects, quotaInfo, log, (q) => causeTexts(validateResourceQuota(q, undefined)))
    this.#registry = new QuotaRegistry(served)
  }

  start(): Promise<void> {
    return this.#cache.start()
  }

  stop(): void {
    this.#cache.stop()
  }

  mutate(): void {}

  async validate(r: AdmissionRequest): Promise<void> {
    const namespace = r.obj.metadata.namespace
    if (!r.info.namespaced || !namespace) return
    const ev = this.#registry.get(r.info)
    if (!ev || !ev.handles(r.old ? 'update' : 'create', r.subresource, r.obj, r.old)) return
    if ((await this.#cache.lookup(namespace)).length === 0) return
    await this.#inTurn(namespace, () => this.#admit(r, ev, namespace))
  }

  async #inTurn(namespace: string, work: () => Promise<void>): Promise<void> {
    const before = this.#turns.get(namespace) ?? Promise.resolve()
    const mine = before.then(work)
    const tail = mine.catch(() => undefined)
    this.#turns.set(namespace, tail)
    try {
      await mine
    } finally {
      if (this.#turns.get(namespace) === tail) this.#turns.delete(namespace)
    }
  }

  async #admit(r: AdmissionRequest, ev: Evaluator, namespace: string): Promise<void> {
    const write: QuotaWrite = { operation: r.old ? 'update' : 'create', subresource: r.subresource, obj: r.obj, old: r.old, now: Date.now() }
    // Read again now that it is this write's turn: the one before may have charged.
    let quotas = await this.#cache.lookup(namespace)
    for (let round = 0; ; round++) {
      // A quota that cannot be judged is passed over alone; the others still hold.
      const usable = quotas.filter((q) => this.#cache.guarded(q, () => Boolean(checkRequest([q as V1ResourceQuota], ev, write)), false))
      const decision = checkRequest(usable as V1ResourceQuota[], ev, write)
      if ('refusal' in decision) throw forbidden(resourceRef(r.info), r.obj.metadata.name ?? '', decision.refusal)
      if (r.dryRun || decision.charge.size === 0) return
      const lost = await this.#charge(usable, decision.charge)
      if (lost.length === 0) return
      if (round === SWAP_RETRIES) throw conflict(resourceRef(quotaInfo), lost[0], 'the object has been modified; please apply your changes to the latest version and try again')
      // The charges that went through stand; the quotas that moved meanwhile are judged again.
      quotas = (await Promise.all(lost.map((name) => this.#objects.get(quotaInfo, namespace, name)))).filter((q): q is KObject => q !== undefined && this.#cache.isUsable(q))
      for (const q of quotas) this.#cache.refresh(q)
    }
  }

  /** Writes each quota's new usage; returns the names whose swap lost to another write (or that are gone). */
  async #charge(quotas: KObject[], charge: Map<string, ResourceList>): Promise<string[]> {
    const lost: string[] = []
    await Promise.all(
      quotas.map(async (q) => {
        const used = charge.get(q.metadata.name)
        if (!used) return
        const next = { ...q, status: { ...q.status, used: writeResourceList(used) } }
        try {
          this.#cache.refresh(await this.#objects.update(quotaInfo, next, Number(q.metadata.resourceVersion)))
        } catch (err) {
          if (!isConflict(err) && !isNotFound(err)) throw err
          lost.push(q.metadata.name)
        }
      }),
    )
    return lost.sort()
  }
}
