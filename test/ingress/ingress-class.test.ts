import t from 'tap'
import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node'
import { servesIngress, type IngressClassConfig } from '../../ingress/ingress-class.ts'

const cfg: IngressClassConfig = { controller: 'weft.dev/ingress', className: 'weft' }

function cls(name: string, controller: string, isDefault = false): V1IngressClass {
  return {
    metadata: { name, ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    spec: { controller },
  }
}

function ing(className?: string, legacy?: string): V1Ingress {
  return {
    metadata: { namespace: 'default', name: 'x', ...(legacy !== undefined ? { annotations: { 'kubernetes.io/ingress.class': legacy } } : {}) },
    spec: { ...(className !== undefined ? { ingressClassName: className } : {}), defaultBackend: { service: { name: 's', port: { number: 80 } } } },
  }
}

const weft = cls('weft', 'weft.dev/ingress')
const weftDefault = cls('weft', 'weft.dev/ingress', true)
const weftOtherName = cls('edge', 'weft.dev/ingress')
const nginx = cls('nginx', 'k8s.io/ingress-nginx')
const nginxDefault = cls('nginx', 'k8s.io/ingress-nginx', true)
const weftNamedNotOurs = cls('weft', 'example.com/other')
const weftDefaultFalse: V1IngressClass = { metadata: { name: 'weft', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'false' } }, spec: { controller: 'weft.dev/ingress' } }

const cases: { name: string; ing: V1Ingress; classes: V1IngressClass[]; want: boolean }[] = [
  { name: 'ingressClassName of our class', ing: ing('weft'), classes: [weft, nginx], want: true },
  { name: 'ingressClassName of another class name whose controller is ours', ing: ing('edge'), classes: [weftOtherName, nginx], want: true },
  { name: 'ingressClassName of another controller', ing: ing('nginx'), classes: [weft, nginx], want: false },
  { name: 'class named like ours but another controller', ing: ing('weft'), classes: [weftNamedNotOurs], want: false },
  { name: 'missing class object, name equals our className', ing: ing('weft'), classes: [], want: true },
  { name: 'missing class object, other name', ing: ing('traefik'), classes: [weft], want: false },
  { name: 'no class: ours is the default', ing: ing(), classes: [weftDefault, nginx], want: true },
  { name: 'no class: ours is not the default', ing: ing(), classes: [weft, nginx], want: false },
  { name: 'no class: default annotation "false"', ing: ing(), classes: [weftDefaultFalse], want: false },
  { name: 'no class: another controller is the default', ing: ing(), classes: [weft, nginxDefault], want: false },
  { name: 'no class: no classes at all', ing: ing(), classes: [], want: false },
  { name: 'legacy annotation equals className', ing: ing(undefined, 'weft'), classes: [], want: true },
  { name: 'legacy annotation other class, even when ours is default', ing: ing(undefined, 'nginx'), classes: [weftDefault], want: false },
  { name: 'legacy annotation overrides ingressClassName (ours)', ing: ing('weft', 'nginx'), classes: [weft, nginx], want: false },
  { name: 'legacy annotation overrides ingressClassName (theirs)', ing: ing('nginx', 'weft'), classes: [weft, nginx], want: true },
  { name: 'empty legacy annotation is ignored', ing: ing(undefined, ''), classes: [weftDefault], want: true },
]

for (const c of cases) {
  t.equal(servesIngress(c.ing, c.classes, cfg), c.want, c.name)
}
