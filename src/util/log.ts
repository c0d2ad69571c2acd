import { pino, type Logger } from 'pino'

export type { Logger }

const root = pino({
  level: process.env.WEFT_LOG_LEVEL ?? (process.env.TAP === '1' ? 'silent' : 'info'),
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
})

/** One logger per component, tagged with a `component` field. */
export function logger(component: string): Logger {
  return root.child({ component })
}
