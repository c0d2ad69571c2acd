// Builds the DNS UDP batch addon (udp-batch.c) with node-gyp against the headers of the Node
// that runs this script; `npm install` runs it. Without a C compiler (Debian's build-essential),
// node-gyp or Node's headers it says so and exits 0: weft dns then answers UDP through
// node:dgram (dns/udp-batch.ts), so a missing toolchain never fails the install.
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const here = import.meta.dirname
const skip = (why: string): never => {
  process.stderr.write(`weft: the DNS UDP batch addon was not built (${why}); weft dns answers UDP through node:dgram\n`)
  process.exit(0)
}

// The Node binary's prefix (a system install), or beside it the npm `node` package's platform package.
const prefix = dirname(dirname(process.execPath))
const nodedir = [prefix, join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`)].find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')))
if (!nodedir) skip(`no Node headers (include/node/node_api.h) beside ${process.execPath}`)
if (spawnSync('cc', ['--version']).status !== 0 || spawnSync('make', ['--version']).status !== 0) skip('no C compiler or make: install build-essential')
let gyp = process.env.npm_config_node_gyp
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')
  } catch {
    skip('node-gyp is not installed')
  }
}
const r = spawnSync(process.execPath, [gyp!, 'rebuild', `--nodedir=${nodedir}`], { cwd: here, encoding: 'utf8' })
writeFileSync(join(here, 'build.log'), `${r.stdout ?? ''}${r.stderr ?? ''}`)
if (r.status !== 0) skip(`node-gyp failed, see ${join(here, 'build.log')}`)
process.stderr.write(`weft: built the DNS UDP batch addon (dns/native/build/Release/udp_batch.node)\n`)
