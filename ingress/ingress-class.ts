import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node'

export interface IngressClassConfig {
  /** IngressClass spec.controller that weft answers to, e.g. 'weft.dev/ingress'. */
  controller: string
  /** weft's class name, e.g. 'weft' (also the legacy annotation value it answers to). */
  className: string
}

export const defaultIngressClassConfig: IngressClassConfig = Object.freeze({ controller: 'weft.dev/ingress', className: 'weft' })

export const legacyClassAnnotation = 'kubernetes.io/ingress.class'
export const defaultClassAnnotation = 'ingressclass.kubernetes.io/is-default-class'

/** Whether the IngressClass belongs to weft (spec.controller is ours). */
export function isOurClass(cls: V1IngressClass, cfg: IngressClassConfig): boolean {
  return cls.spec?.controller === cfg.controller
}

/**
 * Whether weft serves this Ingress, in this order:
 * 1. The legacy annotation kubernetes.io/ingress.class, when set (non-empty), decides alone:
 *    served iff it equals cfg.className (as ingress-nginx; it overrides spec.ingressClassName).
 * 2. spec.ingressClassName names a class: served iff that IngressClass's spec.controller is ours.
 *    When no IngressClass of that name exists (deleted, or not yet seen by the informer),
 *    served iff the name equals cfg.className — so routes do not flap during startup.
 * 3. Neither: served iff one of OUR IngressClasses is annotated
 *    ingressclass.kubernetes.io/is-default-class: "true".
 */
export function servesIngress(ing: V1Ingress, classes: readonly V1IngressClass[], cfg: IngressClassConfig): boolean {
  const legacy = ing.metadata?.annotations?.[legacyClassAnnotation]
  if (legacy) return legacy === cfg.className

  const name = ing.spec?.ingressClassName
  if (name) {
    const cls = classes.find((c) => c.metadata?.name === name)
    return cls ? isOurClass(cls, cfg) : name === cfg.className
  }

  return classes.some((c) => isOurClass(c, cfg) && c.metadata?.annotations?.[defaultClassAnnotation] === 'true')
}
