// The node agent loads every built-in program once, in a child process, when it starts: their
// pods (cluster DNS, the Ingress controller, echo…) then start from a warm compile cache,
// without stripping TypeScript or holding the stripper in memory. At the agent's own priority:
// niced, on a busy node it finished after the first pods had started cold. Once the cache is
// warm it costs ~0.5 s of CPU.
import { spawn } from 'node:child_process'
import type { Logger } from '../util/log.ts'
import { imagesMain, nodeBinary } from './resolve-image.ts'
import { warmCompileCacheFlag } from './programs.ts'

export function warmImagesCompileCache(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(nodeBinary, ['--disable-warning=ExperimentalWarning', imagesMain, warmCompileCacheFlag], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)))
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
