// From a container's image, command and args to the argv weft executes. There is no container
// engine: a built-in image runs one of weft's programs (src/images/main.ts), any other image runs
// its command from the host filesystem. Kubernetes semantics: `command` replaces the image's
// entrypoint (and drops its default args), `args` replace the default args.
import type { V1Container } from '@kubernetes/client-node'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ProgramName } from './programs.ts'
import { dnsNodeFlags } from '../../dns/node-flags.ts'

export const nodeBinary = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url))
export const imagesMain = fileURLToPath(new URL('./images.mjs', import.meta.url))

/** pause costs one `sleep` instead of a node process. */
export const pauseCommand: readonly string[] = ['sleep', 'infinity']

export class ImageError extends Error {
  readonly code: 'NoCommand' | 'UnsupportedSubcommand'
  constructor(code: 'NoCommand' | 'UnsupportedSubcommand', message: string) {
    super(message)
    this.name = 'ImageError'
    this.code = code
  }
}

interface BuiltinImage {
  /** Basenames a `command` may use to mean the image's own entrypoint. */
  entrypoints: readonly string[]
  defaultArgs: readonly string[]
  /** The program and its args, from the entrypoint's args. */
  program(args: readonly string[], image: string): { program: ProgramName; args: readonly string[] }
}

const agnhostSubcommands: readonly ProgramName[] = ['netexec', 'serve-hostname', 'pause']

const agnhost: BuiltinImage = {
  entrypoints: ['agnhost'],
  defaultArgs: ['pause'],
  program(args, image) {
    const [sub = '', ...rest] = args
    const program = agnhostSubcommands.find((p) => p === sub)
    if (!program) {
      throw new ImageError(
        'UnsupportedSubcommand',
        `image ${JSON.stringify(image)}: agnhost subcommand ${JSON.stringify(sub)} is not built into weft (weft has no container engine; supported: ${agnhostSubcommands.join(', ')})`,
      )
    }
    return { program, args: rest }
  },
}

function single(program: ProgramName, entrypoints: readonly string[]): BuiltinImage {
  return { entrypoints, defaultArgs: [], program: (args) => ({ program, args }) }
}

/** The image's repository path without registry host, tag or digest: `registry.k8s.io/pause:3.10` → `pause`. */
export function imageRepository(image: string): string {
  let ref = image.trim().split('@')[0]
  const colon = ref.lastIndexOf(':')
  if (colon > ref.lastIndexOf('/')) ref = ref.slice(0, colon)
  const parts = ref.split('/')
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) parts.shift()
  if (parts.length === 2 && parts[0] === 'library') parts.shift()
  return parts.join('/')
}

function builtinImage(image: string): BuiltinImage | undefined {
  const repo = imageRepository(image)
  if (repo === 'weft/echo') return single('echo', [])
  if (repo === 'weft/dns') return single('dns', [])
  if (repo === 'weft/ingress') return single('ingress', [])
  if (repo === 'weft/load') return single('load', [])
  const last = repo.slice(repo.lastIndexOf('/') + 1)
  if (last === 'agnhost') return agnhost
  if (/^pause(-[a-z0-9]+)?$/.test(last)) return single('pause', ['pause'])
  if (/^serve[-_]hostname(-[a-z0-9]+)?$/.test(last)) return single('serve-hostname', ['serve_hostname', 'serve-hostname'])
  return undefined
}

export function programCommand(program: ProgramName, args: readonly string[]): string[] {
  if (program === 'pause') return [...pauseCommand]
  return [nodeBinary, '--disable-warning=ExperimentalWarning', ...(program === 'dns' ? dnsNodeFlags : []), imagesMain, program, ...args]
}

export function resolveImage(container: V1Container): { command: string[] } {
  const image = container.image ?? ''
  const command = container.command ?? []
  const args = container.args ?? []
  const builtin = builtinImage(image)
  if (builtin) {
    if (command.length === 0) {
      const { program, args: programArgs } = builtin.program(args.length > 0 ? args : builtin.defaultArgs, image)
      return { command: programCommand(program, programArgs) }
    }
    if (builtin.entrypoints.includes(basename(command[0]))) {
      const { program, args: programArgs } = builtin.program([...command.slice(1), ...args], image)
      return { command: programCommand(program, programArgs) }
    }
  }
  if (command.length === 0) {
    throw new ImageError(
      'NoCommand',
      `container ${JSON.stringify(container.name)}: image ${JSON.stringify(image)} is not built into weft and weft has no container engine, so its entrypoint cannot run; set the container's command to a program on the host (built-in images: weft/echo, weft/dns, weft/ingress, weft/load, agnhost, pause, serve-hostname)`,
    )
  }
  return { command: [...command, ...args] }
}
