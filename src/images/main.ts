// Entry point of the built-in images: `node images.mjs <program> [args...]`, or
// `node images.mjs --warm-compile-cache`: load every program without running one, so that
// the programs' pods start from a warm compile cache (src/util/compile-cache.mjs).
import { FlagError } from './flags.ts'
import { programNames, warmCompileCacheFlag, type ProgramName } from './programs.ts'

type Program = (args: string[]) => Promise<void> | void

const programs: Record<ProgramName, () => Promise<Program>> = {
  echo: async () => (await import('./echo.ts')).echo,
  dns: async () => (await import('../cli/dns.ts')).runDns,
  ingress: async () => (await import('../cli/ingress.ts')).runIngress,
  load: async () => (await import('./load.ts')).load,
  netexec: async () => (await import('./netexec.ts')).netexec,
  'serve-hostname': async () => (await import('./serve-hostname.ts')).serveHostname,
  pause: async () => (await import('./pause.ts')).pause,
}

const [program, ...args] = process.argv.slice(2)
if (program === warmCompileCacheFlag) {
  await Promise.all(Object.values(programs).map((load) => load()))
} else if (!(programNames as readonly string[]).includes(program)) {
  process.stderr.write(`weft images: unknown program ${JSON.stringify(program ?? '')}; known: ${programNames.join(', ')}\n`)
  process.exit(2)
} else {
  try {
    await (await programs[program as ProgramName]())(args)
  } catch (err) {
    process.stderr.write(`${program}: ${err instanceof FlagError ? err.message : ((err as Error).stack ?? (err as Error).message)}\n`)
    process.exit(err instanceof FlagError ? 2 : 1)
  }
}
