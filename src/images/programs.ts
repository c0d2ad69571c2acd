/** The programs main.ts can run. */
export const programNames = ['echo', 'dns', 'ingress', 'load', 'netexec', 'serve-hostname', 'pause'] as const
export type ProgramName = (typeof programNames)[number]

/** images.mjs with this flag loads every program and runs none (warm-compile-cache.ts). */
export const warmCompileCacheFlag = '--warm-compile-cache'
