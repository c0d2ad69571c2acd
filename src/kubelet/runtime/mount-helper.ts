import { accessSync, constants } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** weft-mounts (native/mounts.c): the supervisor's mount work in one program. */
export const MOUNT_HELPER = fileURLToPath(new URL('./native/build/weft-mounts', import.meta.url))

let checked = false

/** The helper's path; an error that says how to build it when it is not there. */
export function mountHelper(): string {
  if (!checked) {
    try {
      accessSync(MOUNT_HELPER, constants.X_OK)
    } catch {
      throw new Error(`the container mount helper ${MOUNT_HELPER} is not built: run npm install with a C compiler (Debian build-essential), or node src/kubelet/runtime/native/build.ts`)
    }
    checked = true
  }
  return MOUNT_HELPER
}
