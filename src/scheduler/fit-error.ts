// The "0/N nodes are available: ..." message of kube-scheduler's FitError.Error().

export const noNodesAvailableMessage = 'no nodes available to schedule pods'

/** Counts each reason over the nodes, formats `<count> <reason>` and sorts those strings (as Go's sort.Strings). */
export function fitErrorMessage(numAllNodes: number, reasons: ReadonlyMap<string, readonly string[]>): string {
  const histogram = new Map<string, number>()
  for (const rs of reasons.values()) for (const r of rs) histogram.set(r, (histogram.get(r) ?? 0) + 1)
  const parts = [...histogram].map(([r, n]) => `${n} ${r}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  let msg = `0/${numAllNodes} nodes are available:`
  if (parts.length > 0) msg += ` ${parts.join(', ')}.`
  return msg
}

/** The message when a PreFilter plugin refused the pod before any node was looked at. */
export function preFilterErrorMessage(numAllNodes: number, message: string): string {
  return `0/${numAllNodes} nodes are available: ${message}.`
}
