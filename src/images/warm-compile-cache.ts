// The node agent loads every built-in program once, in a child process at low priority, when
// it starts: their pods (cluster DNS, the Ingress controller, echo…) then start from a warm
// compile cache, without stripping TypeScript or holding the stripper in memory.
import { spawn } from 'node:child_process'
import { setPriority } from 'node:os'
import type { Logger } from '../util/log.ts'
import { imagesMain, nodeBinary } from './resolve-image.ts'
import { warmCompileCacheFlag } from './programs.ts'

export function warmImagesCompileCache(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(nodeBinary, ['--disable-warning=ExperimentalWarning', imagesMain, warmCompileCacheFlag], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)))
    child.once('spawn', () => {
      try {
        setPriority(child.pid!, 19)
      } catch {
        // Best effort: it runs at the agent's priority then.
      }
    })
    child.once('error', (err) => {
      log.warn({ err }, 'could not warm the compile cache of the built-in images')
      resolve()
    })
    child.once('close', (code, signal) => {
      if (code !== 0) log.warn({ code, signal, stderr }, 'could not warm the compile cache of the built-in images')
      resolve()
    })
  })
}
