// The resources an established CustomResourceDefinition serves: one ResourceInfo per served
// version, carrying that version's schema steps (prune, default, validate) and the
// storage version objects are kept in. Pure: built from the CRD object alone.
import type { CustomResourceHooks, ResourceInfo, Subresource } from '../registry.ts'
import { compareVersions, crdVersions, type CrdVersion } from './definition.ts'
import { validateRules } from './cel.ts'
import { applyDefaults, prune, ratchet, validateValue } from './schema.ts'

type Obj = Record<string, any>

/** The names a CRD asks for, with upstream's defaults (singular: the kind lower-cased, listKind: kind + List). */
export function requestedNames(crd: Obj): { plural: string; singular: string; kind: string; listKind: string; shortNames: string[]; categories: string[] } {
  const n: Obj = crd.spec?.names ?? {}
  const kind = String(n.kind ?? '')
  return {
    plural: String(n.plural ?? ''),
    singular: n.singular ? String(n.singular) : kind.toLowerCase(),
    kind,
    listKind: n.listKind ? String(n.listKind) : `${kind}List`,
    shortNames: Array.isArray(n.shortNames) ? n.shortNames.map(String) : [],
    categories: Array.isArray(n.categories) ? n.categories.map(String) : [],
  }
}

/** `gateway.networking.k8s.io`, `v1`, `HTTPRoute` → `io.k8s.networking.gateway.v1.HTTPRoute`, the OpenAPI name upstream gives it. */
export function customSchemaName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`
}

/** Served versions, the preferred (by Kubernetes' version priority) first. */
export function servedVersions(crd: Obj): CrdVersion[] {
  return crdVersions(crd)
    .filter((v) => v.served)
    .sort((a, b) => compareVersions(a.name, b.name))
}

function hooksFor(crd: Obj, version: CrdVersion, storageVersion: string): CustomResourceHooks {
  const group = String(crd.spec.group)
  const apiVersion = `${group}/${version.name}`
  const storedApiVersion = `${group}/${storageVersion}`
  const schema = version.schema
  return {
    crd: String(crd.metadata?.name ?? ''),
    storageVersion,
    schema,
    columns: version.columns,
    scale: version.scale,
    selectableFields: version.selectableFields,
    prune: (obj) => prune(schema, obj),
    applyDefaults: (obj) => applyDefaults(schema, obj),
    validate: (obj, old) => {
      const causes = [...validateValue(schema, obj), ...validateRules(schema, obj, old)]
      return old ? ratchet(causes, obj, old) : causes
    },
    fromStored<T extends Record<string, unknown>>(obj: T): T {
      const out = structuredClone(obj) as Obj
      out.apiVersion = apiVersion
      prune(schema, out)
      applyDefaults(schema, out)
      return out as T
    },
    toStored<T extends Record<string, unknown>>(obj: T): T {
      return obj.apiVersion === storedApiVersion ? obj : { ...obj, apiVersion: storedApiVersion }
    },
    ...(version.deprecated ? { deprecationWarning: version.deprecationWarning ?? `${apiVersion} ${crd.spec.names?.kind} is deprecated` } : {}),
  }
}

/** One ResourceInfo per served version of `crd`, the preferred version first; the names are the accepted ones. */
export function customResourceInfos(crd: Obj): ResourceInfo[] {
  const accepted = crd.status?.acceptedNames?.kind ? { ...requestedNames(crd), ...crd.status.acceptedNames } : requestedNames(crd)
  const names = { ...requestedNames(crd), ...accepted }
  const storage = crdVersions(crd).find((v) => v.storage)?.name
  if (!storage) return []
  return servedVersions(crd).map((version): ResourceInfo => {
    const subresources: Subresource[] = []
    if (version.status) subresources.push('status')
    if (version.scale) subresources.push('scale')
    return {
      group: String(crd.spec.group),
      version: version.name,
      kind: names.kind,
      listKind: names.listKind || `${names.kind}List`,
      plural: names.plural,
      singular: names.singular || names.kind.toLowerCase(),
      namespaced: crd.spec.scope === 'Namespaced',
      shortNames: names.shortNames ?? [],
      categories: names.categories ?? [],
      subresources,
      model: customSchemaName(String(crd.spec.group), version.name, names.kind),
      createOnly: false,
      custom: hooksFor(crd, version, storage),
    }
  })
}
