// Container lifecycle hooks (postStart, preStop), as the kubelet's handler runner: exec in
// the container, HTTP GET to the pod (from the agent, as probes), or sleep. tcpSocket is
// accepted by the API for old manifests but is no lifecycle handler: it fails, as upstream.
import type { V1LifecycleHandler } from '@kubernetes/client-node'
import { setTimeout as sleep } from 'node:timers/promises'
import { runProbe, type ProbeTarget } from './probes/index.ts'

export type HookResult = { ok: true } | { ok: false; message: string }

/** Runs one handler within `timeoutMs`; never throws. */
export async function runLifecycleHandler(handler: V1LifecycleHandler, target: ProbeTarget, timeoutMs: number, signal?: AbortSignal): Promise<HookResult> {
  const timeoutSeconds = Math.max(1, Math.ceil(timeoutMs / 1000))
  if (handler.exec) {
    const outcome = await runProbe({ exec: handler.exec, timeoutSeconds }, target)
    if (outcome.result === 'success') return { ok: true }
    return { ok: false, message: `Exec lifecycle hook (${JSON.stringify(handler.exec.command ?? [])}) failed: ${outcome.message}` }
  }
  if (handler.httpGet) {
    const outcome = await runProbe({ httpGet: handler.httpGet, timeoutSeconds }, target)
    if (outcome.result === 'success') return { ok: true }
    return { ok: false, message: `HTTP lifecycle hook (${handler.httpGet.path ?? '/'}) failed: ${outcome.message}` }
  }
  if (handler.sleep) {
    const ms = Math.min(Math.max(0, Number(handler.sleep.seconds) || 0) * 1000, timeoutMs)
    await sleep(ms, undefined, { signal }).catch(() => undefined)
    return { ok: true }
  }
  if (handler.tcpSocket) return { ok: false, message: 'TCPSocket lifecycle handlers are deprecated and not run: use exec, httpGet or sleep' }
  return { ok: false, message: 'the lifecycle handler has none of exec, httpGet, sleep' }
}
