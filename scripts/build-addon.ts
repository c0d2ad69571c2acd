// Builds a Node addon (a binding.gyp beside its C source) with node-gyp against the headers of
// the Node that runs this script; `npm install` and the test command run it. Without a C
// compiler (Debian's build-essential), node-gyp or Node's headers it says so and exits 0, with
// what weft does without the addon: a missing toolchain never fails the install.
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'

export interface Addon {
  /** The directory of binding.gyp. */
  dir: string
  /** build/Release/<target>.node */
  target: string
  /** What it is, for messages: "the DNS UDP batch addon". */
  what: string
  /** What weft does without it: "weft dns answers UDP through node:dgram". */
  without: string
  /** System headers it needs beyond Node's, with the Debian package that has them. */
  headers?: Array<{ path: string; debian: string }>
}

export function buildAddon(addon: Addon): void {
  const skip = (why: string): never => {
    process.stderr.write(`weft: ${addon.what} was not built (${why}); ${addon.without}\n`)
    process.exit(0)
  }
  // The Node binary's prefix (a system install), or beside it the npm `node` package's platform package.
  const prefix = dirname(dirname(process.execPath))
  const nodedir = [prefix, join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`)].find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')))
  if (!nodedir) skip(`no Node headers (include/node/node_api.h) beside ${process.execPath}`)
  if (spawnSync('cc', ['--version']).status !== 0 || spawnSync('make', ['--version']).status !== 0) skip('no C compiler or make: install build-essential')
  for (const h of addon.headers ?? []) if (!existsSync(h.path)) skip(`no ${h.path}: install ${h.debian}`)
  let gyp = process.env.npm_config_node_gyp
  if (!gyp || !existsSync(gyp)) {
    try {
      gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')
    } catch {
      skip('node-gyp is not installed')
    }
  }
  const r = spawnSync(process.execPath, [gyp!, 'rebuild', `--nodedir=${nodedir}`], { cwd: addon.dir, encoding: 'utf8' })
  writeFileSync(join(addon.dir, 'build.log'), `${r.stdout ?? ''}${r.stderr ?? ''}`)
  if (r.status !== 0) skip(`node-gyp failed, see ${join(addon.dir, 'build.log')}`)
  process.stderr.write(`weft: built ${addon.what} (${relative(process.cwd(), join(addon.dir, 'build', 'Release', `${addon.target}.node`))})\n`)
}
