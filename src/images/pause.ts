// The pause container: do nothing until told to stop. resolveImage maps pause images to
// `sleep infinity` (far cheaper to start); this is the same behaviour inside node.
import { exitOnSignal, logLine } from './runtime.ts'

export function pause(args: readonly string[]): void {
  if (args.length > 0) logLine('pause', `ignoring arguments ${JSON.stringify(args)}`)
  exitOnSignal()
  setInterval(() => {}, 2 ** 31 - 1)
  logLine('pause', 'waiting for SIGTERM')
}
