// The probes of every running container: startup first, then liveness and readiness
// (as the kubelet holds them back until the startup probe has succeeded). A change of a
// result asks the pod's worker for a sync.
import type { V1Container, V1Probe } from '@kubernetes/client-node'
import type { ContainerProbes } from './pod-state.ts'
import type { PodWorker } from './pod-worker.ts'
import { ProbeWorker, runProbe, type ProbeKind, type ProbeTarget } from './probes/index.ts'
import { execInContainer, type ContainerProcess, type Sandbox } from './runtime/index.ts'

/** Where probes and lifecycle hooks reach a container: its pod IP, named ports, and exec in it. */
export function containerTarget(sandbox: Sandbox, proc: ContainerProcess, spec: V1Container): ProbeTarget {
  const ports = new Map((spec.ports ?? []).filter((p) => p.name).map((p) => [p.name!, p.containerPort]))
  return {
    podIP: sandbox.ips[0] ?? '127.0.0.1',
    resolvePort: (name: string) => ports.get(name),
    exec: (argv: string[], timeoutMs: number) => execInContainer(sandbox, proc, argv, timeoutMs),
  }
}

interface ContainerEntry {
  workers: Map<ProbeKind, ProbeWorker>
}

export class ProbeManager {
  readonly #onChange: (uid: string) => void
  readonly #entries = new Map<string, ContainerEntry>()

  constructor(onChange: (uid: string) => void) {
    this.#onChange = onChange
  }

  start(worker: PodWorker, spec: V1Container): void {
    const uid = worker.uid
    this.stop(uid, spec.name)
    const proc = worker.instance(spec.name)
    const sandbox = worker.sandbox
    if (!proc || !sandbox) return
    const entry: ContainerEntry = { workers: new Map() }
    this.#entries.set(`${uid}/${spec.name}`, entry)
    const startedAt = Date.parse(proc.startedAt)
    const target = containerTarget(sandbox, proc, spec)
    const launch = (kind: ProbeKind, probe: V1Probe) => {
      const w = new ProbeWorker({
        kind,
        probe,
        startedAt,
        run: () => runProbe(probe, target).catch((err: unknown) => ({ result: 'failure' as const, message: (err as Error).message })),
        onChange: (result) => {
          if (kind === 'startup' && result === 'success') launchRest()
          this.#onChange(uid)
        },
      })
      entry.workers.set(kind, w)
      w.start()
    }
    const launchRest = () => {
      if (spec.livenessProbe) launch('liveness', spec.livenessProbe)
      if (spec.readinessProbe) launch('readiness', spec.readinessProbe)
    }
    if (spec.startupProbe) launch('startup', spec.startupProbe)
    else launchRest()
  }

  results(uid: string, name: string): ContainerProbes {
    const entry = this.#entries.get(`${uid}/${name}`)
    if (!entry) return {}
    const out: ContainerProbes = {}
    for (const [kind, w] of entry.workers) {
      const r = w.result
      if (r) out[kind] = r
    }
    return out
  }

  stop(uid: string, name: string): void {
    const key = `${uid}/${name}`
    const entry = this.#entries.get(key)
    if (!entry) return
    for (const w of entry.workers.values()) w.stop()
    this.#entries.delete(key)
  }

  stopPod(uid: string): void {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(`${uid}/`)) this.stop(uid, key.slice(uid.length + 1))
  }

  stopAll(): void {
    for (const entry of this.#entries.values()) for (const w of entry.workers.values()) w.stop()
    this.#entries.clear()
  }
}
