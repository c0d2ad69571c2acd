// Builds weft-mounts (mounts.c), the container supervisor's mount helper, with the C
// compiler; `npm install` runs it, and so do the test command and `weft up` when it is
// missing. Without a compiler (Debian's build-essential) it says so and exits 0: the
// install goes on, and the node agent refuses to start containers until it is built.
import { spawnSync } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MOUNT_HELPER } from '../mount-helper.ts'

const here = import.meta.dirname
if (spawnSync('cc', ['--version']).status !== 0) {
  process.stderr.write(`weft: the container mount helper was not built (no C compiler: install build-essential)\n`)
  process.exit(0)
}
mkdirSync(join(MOUNT_HELPER, '..'), { recursive: true })
const tmp = `${MOUNT_HELPER}.${process.pid}`
const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, join(here, 'mounts.c')], { encoding: 'utf8' })
if (r.status !== 0) {
  writeFileSync(join(here, 'build.log'), `${r.stdout ?? ''}${r.stderr ?? ''}`)
  process.stderr.write(`weft: the container mount helper was not built: cc failed, see ${join(here, 'build.log')}\n`)
  process.exit(0)
}
renameSync(tmp, MOUNT_HELPER)
process.stderr.write(`weft: built the container mount helper (${MOUNT_HELPER})\n`)
