/** The programs main.ts can run. */
export const programNames = ['echo', 'dns', 'ingress', 'load', 'netexec', 'serve-hostname', 'pause'] as const
export type ProgramName = (typeof programNames)[number]
