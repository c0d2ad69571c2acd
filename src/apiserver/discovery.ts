// API discovery documents: legacy (/api, /apis, /api/v1, /apis/<g>/<v>) and the
// aggregated v2 form (`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`).
import { apiVersionOf, groups, resources, subresourceVerbs, verbsOf, versionsOf, type ResourceInfo, type Subresource } from '../api/registry.ts'
import { METRICS_API_VERSION, METRICS_GROUP, METRICS_VERSION, metricsApiResources, metricsGroupDiscovery } from './metrics-api-resources.ts'

type Obj = Record<string, unknown>

export const serverVersion = {
  major: '1',
  minor: '34',
  gitVersion: 'v1.34.0+weft',
  gitCommit: 'weft',
  gitTreeState: 'clean',
  buildDate: '2026-11-26T00:00:00Z',
  goVersion: 'n/a',
  compiler: 'weft',
  platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
}

function subresourceKind(info: ResourceInfo, sub: Subresource): { group: string; version: string; kind: string } {
  if (sub === 'scale') return { group: 'autoscaling', version: 'v1', kind: 'Scale' }
  if (sub === 'token') return { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }
  if (sub === 'binding') return { group: '', version: 'v1', kind: 'Binding' }
  if (sub === 'eviction') return { group: 'policy', version: 'v1', kind: 'Eviction' }
  if (sub === 'log') return { group: '', version: 'v1', kind: 'Pod' }
  if (sub === 'exec') return { group: '', version: 'v1', kind: 'PodExecOptions' }
  if (sub === 'attach') return { group: '', version: 'v1', kind: 'PodAttachOptions' }
  if (sub === 'portforward') return { group: '', version: 'v1', kind: 'PodPortForwardOptions' }
  return { group: info.group, version: info.version, kind: info.kind }
}

export function apiVersions(address: string): Obj {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
  }
}

/** A group with its versions, the preferred first, as upstream lists them. */
function groupEntry(group: string, versions: string[]): Obj {
  const list = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }))
  return { name: group, versions: list, preferredVersion: list[0] }
}

/** `custom`: the custom resources served (each CRD's preferred version first), listed after the built-ins as upstream's aggregator lists them. */
export function apiGroupList(custom: readonly ResourceInfo[] = []): Obj {
  const customGroups = groups(custom).filter((g) => !groups().includes(g))
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    // Served groups, then the metrics API (an APIService upstream, listed after the built-ins), then CRDs' groups.
    groups: [
      ...groups().filter((g) => g !== '').map((g) => groupEntry(g, versionsOf(g))),
      groupEntry(METRICS_GROUP, [METRICS_VERSION]),
      ...customGroups.map((g) => groupEntry(g, versionsOf(g, custom))),
    ],
  }
}

export function apiGroup(group: string, custom: readonly ResourceInfo[] = []): Obj | undefined {
  if (group === METRICS_GROUP) return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(METRICS_GROUP, [METRICS_VERSION]) }
  const versions = group === '' ? [] : versionsOf(group).length ? versionsOf(group) : versionsOf(group, custom)
  return versions.length ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group, versions) } : undefined
}

export function apiResourceList(group: string, version: string, custom: readonly ResourceInfo[] = []): Obj | undefined {
  if (group === METRICS_GROUP && version === METRICS_VERSION) return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: METRICS_API_VERSION, resources: metricsApiResources() }
  const served = [...resources, ...custom].filter((r) => r.group === group && r.version === version)
  if (served.length === 0) return undefined
  const list: Obj[] = []
  for (const info of served) {
    list.push({
      name: info.plural,
      singularName: info.singular,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: verbsOf(info),
      ...(info.shortNames.length ? { shortNames: info.shortNames } : {}),
      ...(info.categories.length ? { categories: info.categories } : {}),
    })
    for (const sub of info.subresources) {
      const k = subresourceKind(info, sub)
      list.push({
        name: `${info.plural}/${sub}`,
        singularName: '',
        namespaced: info.namespaced,
        ...(k.group !== info.group ? { group: k.group, version: k.version } : {}),
        kind: k.kind,
        verbs: subresourceVerbs(sub),
      })
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(served[0]), resources: list }
}

/** `/api` (core) or `/apis` (the rest) as an aggregated APIGroupDiscoveryList. */
export function aggregatedDiscovery(legacy: boolean, apiVersion: 'v2' | 'v2beta1', custom: readonly ResourceInfo[] = []): Obj {
  const groupEntries = (from: readonly ResourceInfo[]) => groups(from)
    .filter((g) => (g === '') === legacy)
    .map(
      (group): Obj => ({
        metadata: { name: group, creationTimestamp: null },
        versions: versionsOf(group, from).map((version) => ({
          version,
          freshness: 'Current',
          resources: from
            .filter((r) => r.group === group && r.version === version)
            .map((info) => ({
              resource: info.plural,
              responseKind: { group: info.group, version: info.version, kind: info.kind },
              scope: info.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: info.singular,
              verbs: verbsOf(info),
              ...(info.shortNames.length ? { shortNames: info.shortNames } : {}),
              ...(info.categories.length ? { categories: info.categories } : {}),
              subresources: info.subresources.map((sub) => ({
                subresource: sub,
                responseKind: subresourceKind(info, sub),
                verbs: subresourceVerbs(sub),
              })),
            })),
        })),
      }),
    )
  const served = groupEntries(resources)
  const customGroups = legacy ? [] : groupEntries(custom.filter((r) => !groups().includes(r.group)))
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${apiVersion}`,
    metadata: {},
    items: legacy ? served : [...served, metricsGroupDiscovery(), ...customGroups],
  }
}
