// The evaluators for the kinds served: pods, Services and PersistentVolumeClaims have their
// own; every other namespaced kind is counted as `count/<resource>[.<group>]`. Events are
// not quota'd, as upstream ignores them.
import type { ResourceInfo } from '../api/registry.ts'
import { claimEvaluator } from './claim-evaluator.ts'
import { objectCountEvaluator, type Evaluator } from './evaluator.ts'
import { podEvaluator } from './pod-evaluator.ts'
import { serviceEvaluator } from './service-evaluator.ts'

const own: Record<string, (info: ResourceInfo) => Evaluator> = {
  '/pods': podEvaluator,
  '/services': serviceEvaluator,
  '/persistentvolumeclaims': claimEvaluator,
}

const keyOf = (info: { group: string; plural: string }) => `${info.group}/${info.plural}`

export class QuotaRegistry {
  readonly evaluators: readonly Evaluator[]
  readonly #byResource: Map<string, Evaluator>

  /** `served`: the stored kinds; the namespaced ones but Events get an evaluator. */
  constructor(served: readonly ResourceInfo[]) {
    this.evaluators = served.filter((r) => r.namespaced && !r.createOnly && !(r.group === '' && r.kind === 'Event')).map((r) => (own[keyOf(r)] ?? objectCountEvaluator)(r))
    this.#byResource = new Map(this.evaluators.map((e) => [keyOf(e.info), e]))
  }

  get(info: { group: string; plural: string }): Evaluator | undefined {
    return this.#byResource.get(keyOf(info))
  }

  /** The evaluators that account for any of `names`. */
  matching(names: readonly string[]): Evaluator[] {
    return this.evaluators.filter((e) => e.matchingResources(names).length > 0)
  }
}
