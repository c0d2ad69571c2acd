// Entry point of the built-in images: `node main.ts <program> [args...]`.
import { FlagError } from './flags.ts'
import { programNames, type ProgramName } from './programs.ts'

async function run(program: ProgramName, args: string[]): Promise<void> {
  switch (program) {
    case 'echo':
      return (await import('./echo.ts')).echo(args)
    case 'dns':
      return (await import('../cli/dns.ts')).runDns(args)
    case 'ingress':
      return (await import('../cli/ingress.ts')).runIngress(args)
    case 'load':
      return (await import('./load.ts')).load(args)
    case 'netexec':
      return (await import('./netexec.ts')).netexec(args)
    case 'serve-hostname':
      return (await import('./serve-hostname.ts')).serveHostname(args)
    case 'pause':
      return (await import('./pause.ts')).pause(args)
  }
}

const [program, ...args] = process.argv.slice(2)
if (!(programNames as readonly string[]).includes(program)) {
  process.stderr.write(`weft images: unknown program ${JSON.stringify(program ?? '')}; known: ${programNames.join(', ')}\n`)
  process.exit(2)
}
run(program as ProgramName, args).catch((err: Error) => {
  process.stderr.write(`${program}: ${err instanceof FlagError ? err.message : (err.stack ?? err.message)}\n`)
  process.exit(err instanceof FlagError ? 2 : 1)
})
