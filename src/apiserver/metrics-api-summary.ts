// Reads a kubelet's `/stats/summary` answer without trusting it: every field the metrics
// API uses is checked for its type and range, and anything else in the document is dropped.
import type { ContainerStats, CpuStats, MemoryStats, PodStats, Summary } from '../kubelet/stats/summary.ts'

export class SummaryFormatError extends Error {}

type Obj = Record<string, unknown>

function object(v: unknown, where: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new SummaryFormatError(`${where} is not an object`)
  return v as Obj
}

function string(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length > 1024) throw new SummaryFormatError(`${where} is not a string`)
  return v
}

function count(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new SummaryFormatError(`${where} is not a non-negative number`)
  return v
}

function array(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new SummaryFormatError(`${where} is not a list`)
  return v
}

function cpu(v: unknown, where: string): CpuStats | undefined {
  if (v === undefined || v === null) return undefined
  const o = object(v, where)
  return { time: string(o.time, `${where}.time`), usageNanoCores: count(o.usageNanoCores, `${where}.usageNanoCores`), usageCoreNanoSeconds: count(o.usageCoreNanoSeconds, `${where}.usageCoreNanoSeconds`) }
}

function memory(v: unknown, where: string): MemoryStats | undefined {
  if (v === undefined || v === null) return undefined
  const o = object(v, where)
  return { time: string(o.time, `${where}.time`), workingSetBytes: count(o.workingSetBytes, `${where}.workingSetBytes`) }
}

function container(v: unknown, where: string): ContainerStats {
  const o = object(v, where)
  return { name: string(o.name, `${where}.name`), startTime: string(o.startTime ?? '', `${where}.startTime`), cpu: cpu(o.cpu, `${where}.cpu`), memory: memory(o.memory, `${where}.memory`) }
}

function pod(v: unknown, where: string): PodStats {
  const o = object(v, where)
  const ref = object(o.podRef, `${where}.podRef`)
  return {
    podRef: { name: string(ref.name, `${where}.podRef.name`), namespace: string(ref.namespace, `${where}.podRef.namespace`), uid: string(ref.uid ?? '', `${where}.podRef.uid`) },
    startTime: string(o.startTime ?? '', `${where}.startTime`),
    containers: array(o.containers, `${where}.containers`).map((c, i) => container(c, `${where}.containers[${i}]`)),
  }
}

/** The checked summary, or a SummaryFormatError that says which field was wrong. */
export function parseSummary(value: unknown): Summary {
  const o = object(value, 'the summary')
  const node = object(o.node, 'node')
  return {
    node: { nodeName: string(node.nodeName, 'node.nodeName'), startTime: string(node.startTime ?? '', 'node.startTime'), cpu: cpu(node.cpu, 'node.cpu'), memory: memory(node.memory, 'node.memory') },
    pods: array(o.pods, 'pods').map((p, i) => pod(p, `pods[${i}]`)),
  }
}
