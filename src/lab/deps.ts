// The host tools the lab needs; missing ones are installed by scripts/install-deps.sh.
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import { MOUNT_HELPER } from '../kubelet/runtime/mount-helper.ts'
import { meshAddonUnavailable } from '../../mesh/addon.ts'

const commands = ['ip', 'nft', 'conntrack', 'curl', 'ping', 'nsenter', 'findmnt', 'umount', 'cc']
const cniDirs = ['/opt/cni/bin', '/usr/lib/cni']

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => dir && executable(join(dir, command)))
}

/** What is missing: command names, and `CNI plugins` when no bridge plugin is found. */
export function missingDeps(): string[] {
  const missing = commands.filter((c) => !onPath(c))
  if (!cniDirs.some((dir) => executable(join(dir, 'bridge')))) missing.push(`CNI plugins (${cniDirs.join(' or ')})`)
  return missing
}

export function ensureDeps(repoRoot: string, out: (line: string) => void): void {
  const missing = missingDeps()
  if (missing.length > 0) {
    out(`installing what the lab needs (missing: ${missing.join(', ')})`)
    const res = spawnSync('bash', [join(repoRoot, 'scripts', 'install-deps.sh'), 'lab'], { stdio: 'inherit' })
    const still = missingDeps()
    if (res.status !== 0 || still.length > 0) {
      throw new Error(`the lab needs ${still.join(', ') || missing.join(', ')}: install them (scripts/install-deps.sh lab does, as root) and run weft up again`)
    }
  }
  // npm install builds it, unless the compiler came only now.
  if (!executable(MOUNT_HELPER)) {
    out('building the container mount helper')
    spawnSync(process.execPath, [join(repoRoot, 'src', 'kubelet', 'runtime', 'native', 'build.ts')], { stdio: 'inherit' })
    if (!executable(MOUNT_HELPER)) throw new Error(`the lab needs the container mount helper ${MOUNT_HELPER}: node src/kubelet/runtime/native/build.ts builds it (with Debian's build-essential)`)
  }
  // The mesh's data path wants its addon; without it the agents say so and run on.
  if (meshAddonUnavailable()) {
    out('building the mesh addon')
    spawnSync(process.execPath, [join(repoRoot, 'mesh', 'native', 'build.ts')], { stdio: 'inherit' })
  }
}
