// What a container's securityContext makes of its process, as a container runtime applies
// it: the user, groups and capabilities it runs with, and whether it may gain more.
// weft runs the command with util-linux setpriv; this module decides the arguments.
//
// The default for a container that says nothing: root (uid 0, as an image with no USER
// runs), but with only containerd's default capability set, not all of root's; privilege
// escalation stays allowed, as upstream's default. `privileged: true` keeps every
// capability: full host access (there is no image root: the host's filesystem is the
// container's view).
import type { V1Container, V1Pod, V1SecurityContext } from '@kubernetes/client-node'

/** containerd's (and upstream's) default capabilities for a container. */
export const DEFAULT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'] as const

/** Every capability Linux has today (capabilities(7)); `ALL` in `add` means these. */
export const ALL_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
] as const

const MAX_ID = 2 ** 31 - 1

export interface ProcessCredentials {
  /** Full host access: no setpriv at all. */
  privileged: boolean
  uid: number
  gid: number
  groups: number[]
  /** The bounding set (upper-case names without CAP_). */
  capabilities: string[]
  noNewPrivs: boolean
}

/** The pod-level settings, then the container's over them (upstream's DetermineEffectiveSecurityContext). */
function effective(pod: V1Pod, container: V1Container): V1SecurityContext & { supplementalGroups?: number[] } {
  const p = pod.spec?.securityContext ?? {}
  const c = container.securityContext ?? {}
  return {
    runAsUser: c.runAsUser ?? p.runAsUser,
    runAsGroup: c.runAsGroup ?? p.runAsGroup,
    runAsNonRoot: c.runAsNonRoot ?? p.runAsNonRoot,
    supplementalGroups: p.supplementalGroups,
    capabilities: c.capabilities,
    allowPrivilegeEscalation: c.allowPrivilegeEscalation,
    privileged: c.privileged,
  }
}

function id(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > MAX_ID) throw new Error(`${field} ${JSON.stringify(value)} must be a whole number from 0 to ${MAX_ID}`)
  return value as number
}

function capability(name: unknown, field: string): string {
  const n = String(name).toUpperCase().replace(/^CAP_/, '')
  if (n !== 'ALL' && !(ALL_CAPABILITIES as readonly string[]).includes(n)) throw new Error(`${field}: unknown capability ${JSON.stringify(name)}`)
  return n
}

/**
 * The credentials a container's process gets, or an Error whose message the kubelet would
 * report (CreateContainerConfigError) — e.g. a root container under runAsNonRoot.
 */
export function processCredentials(pod: V1Pod, container: V1Container): ProcessCredentials | Error {
  const where = `(pod: "${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid ?? ''})", container: ${container.name})`
  try {
    const sc = effective(pod, container)
    const uid = sc.runAsUser === undefined ? 0 : id(sc.runAsUser, 'runAsUser')
    if (sc.runAsNonRoot) {
      // weft has no image USER to look at: a container that names no user runs as root.
      if (sc.runAsUser === undefined) return new Error(`container has runAsNonRoot and image will run as root ${where}`)
      if (uid === 0) return new Error(`container's runAsUser breaks non-root policy ${where}`)
    }
    const gid = sc.runAsGroup === undefined ? (sc.runAsUser === undefined ? 0 : uid) : id(sc.runAsGroup, 'runAsGroup')
    const fsGroup = pod.spec?.securityContext?.fsGroup
    // The fsGroup joins the supplemental groups, as the volumes it owns are for the containers.
    const groups = [...new Set([...(sc.supplementalGroups ?? []).map((g, i) => id(g, `supplementalGroups[${i}]`)), ...(fsGroup === undefined ? [] : [id(fsGroup, 'fsGroup')])])]
    if (sc.privileged) return { privileged: true, uid, gid, groups, capabilities: [...ALL_CAPABILITIES], noNewPrivs: false }
    let caps = new Set<string>(DEFAULT_CAPABILITIES)
    const add = (sc.capabilities?.add ?? []).map((c, i) => capability(c, `capabilities.add[${i}]`))
    const drop = (sc.capabilities?.drop ?? []).map((c, i) => capability(c, `capabilities.drop[${i}]`))
    if (drop.includes('ALL')) caps = new Set()
    for (const c of drop) caps.delete(c)
    for (const c of add) if (c === 'ALL') ALL_CAPABILITIES.forEach((a) => caps.add(a)); else caps.add(c)
    return { privileged: false, uid, gid, groups, capabilities: ALL_CAPABILITIES.filter((c) => caps.has(c)), noNewPrivs: sc.allowPrivilegeEscalation === false }
  } catch (err) {
    return new Error(`${(err as Error).message} ${where}`)
  }
}

/** setpriv's options for the credentials ([] for a privileged container: it runs as the supervisor does). */
export function setprivArgs(c: ProcessCredentials): string[] {
  if (c.privileged) return []
  return [
    `--reuid=${c.uid}`,
    `--regid=${c.gid}`,
    c.groups.length ? `--groups=${c.groups.join(',')}` : '--clear-groups',
    `--bounding-set=-all${c.capabilities.map((x) => `,+${x.toLowerCase()}`).join('')}`,
    '--inh-caps=-all',
    ...(c.noNewPrivs ? ['--no-new-privs'] : []),
  ]
}
