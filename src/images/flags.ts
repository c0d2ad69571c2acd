// Go/pflag-style command-line flags for the built-in programs: `--name=value`, `--name value`,
// a bare `--name` for booleans, one or two leading dashes. The defaults give each flag its type.

export type FlagDefaults = Record<string, number | string | boolean>

export class FlagError extends Error {
  readonly code = 'InvalidFlag'
  constructor(message: string) {
    super(message)
    this.name = 'FlagError'
  }
}

function convert(program: string, name: string, kind: 'number' | 'string' | 'boolean', raw: string): number | string | boolean {
  if (kind === 'string') return raw
  if (kind === 'boolean') {
    if (/^(1|t|true)$/i.test(raw)) return true
    if (/^(0|f|false)$/i.test(raw)) return false
    throw new FlagError(`${program}: invalid argument ${JSON.stringify(raw)} for "--${name}" flag: expected true or false`)
  }
  if (!/^[+-]?\d+$/.test(raw)) throw new FlagError(`${program}: invalid argument ${JSON.stringify(raw)} for "--${name}" flag: expected an integer`)
  return Number(raw)
}

export function parseFlags<T extends FlagDefaults>(program: string, args: readonly string[], defaults: T): T {
  const values: FlagDefaults = { ...defaults }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(arg)
    if (!m) throw new FlagError(`${program}: unexpected argument ${JSON.stringify(arg)} (only flags are accepted)`)
    const name = m[1]
    if (!Object.hasOwn(defaults, name)) throw new FlagError(`${program}: unknown flag: --${name}`)
    const kind = typeof defaults[name] as 'number' | 'string' | 'boolean'
    let raw = m[2]
    if (raw === undefined) {
      if (kind === 'boolean') raw = 'true'
      else if (i + 1 < args.length) raw = args[++i]
      else throw new FlagError(`${program}: flag needs an argument: --${name}`)
    }
    values[name] = convert(program, name, kind, raw)
  }
  return values as T
}
