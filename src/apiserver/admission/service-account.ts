// The ServiceAccount admission plugin: a new pod runs as a service account (`default`
// unless it names one) that must exist, and unless automounting is turned off it gets
// upstream's `kube-api-access-<suffix>` projected volume — a bound token, the cluster CA
// and its namespace — mounted at the well-known path in every container.
import { randomInt } from 'node:crypto'
import type { V1Container, V1Pod, V1ServiceAccount, V1Volume } from '@kubernetes/client-node'

export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount'
/** Upstream's default lifetime of a projected token; the kubelet refreshes it at 80 %. */
export const PROJECTED_TOKEN_SECONDS = 3607
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt'

const alphabet = 'bcdfghjklmnpqrstvwxz2456789'

function suffix(): string {
  let s = ''
  for (let i = 0; i < 5; i++) s += alphabet[randomInt(alphabet.length)]
  return s
}

export function apiAccessVolume(name: string): V1Volume {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: PROJECTED_TOKEN_SECONDS, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  }
}

/** The service account a pod runs as, after the plugin has defaulted it. */
export function serviceAccountNameOf(pod: V1Pod): string {
  return pod.spec?.serviceAccountName || 'default'
}

/**
 * Mutates a pod being created: names its service account, and mounts API access into
 * each container unless the pod (first) or its service account says not to.
 */
export function admitPodServiceAccount(pod: V1Pod, account: V1ServiceAccount): void {
  const spec = pod.spec!
  spec.serviceAccountName = serviceAccountNameOf(pod)
  // serviceAccount is the deprecated alias; kept equal as upstream's defaulting does.
  spec.serviceAccount = spec.serviceAccountName
  const automount = spec.automountServiceAccountToken ?? account.automountServiceAccountToken ?? true
  if (!automount) return
  const containers: V1Container[] = [...(spec.initContainers ?? []), ...spec.containers]
  if (containers.every((c) => c.volumeMounts?.some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH))) return
  const existing = spec.volumes?.find((v) => v.name.startsWith('kube-api-access-') && v.projected?.sources?.some((s) => s.serviceAccountToken))
  const volume = existing ?? apiAccessVolume(`kube-api-access-${suffix()}`)
  if (!existing) spec.volumes = [...(spec.volumes ?? []), volume]
  for (const c of containers) {
    if (c.volumeMounts?.some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH)) continue
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: volume.name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }]
  }
}
