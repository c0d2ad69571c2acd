// One place that undoes what a benchmark started (processes by pid, temp dirs), in
// reverse order, on normal completion, on an error and on Ctrl-C / SIGTERM.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type Step = () => void | Promise<void>

export class Cleanup {
  readonly #steps: Step[] = []
  #running: Promise<void> | undefined

  /** Registers `step`; returns a function that runs it now (once) and forgets it. */
  add(step: Step): () => Promise<void> {
    let done = false
    const once: Step = async () => {
      if (done) return
      done = true
      await step()
    }
    this.#steps.push(once)
    return async () => {
      const i = this.#steps.indexOf(once)
      if (i >= 0) this.#steps.splice(i, 1)
      await once()
    }
  }

  /** A fresh temp dir under `base` (default the OS temp dir), removed at cleanup. */
  tempDir(prefix: string, base = tmpdir()): string {
    const dir = mkdtempSync(join(base, prefix))
    this.add(() => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  async run(): Promise<void> {
    this.#running ??= (async () => {
      while (this.#steps.length) {
        const step = this.#steps.pop()!
        try {
          await step()
        } catch (err) {
          process.stderr.write(`cleanup step failed: ${(err as Error).message}\n`)
        }
      }
    })()
    await this.#running
  }

  /** Runs cleanup and exits on SIGINT/SIGTERM. */
  onSignals(): void {
    const handler = (signal: NodeJS.Signals) => {
      process.stderr.write(`\n${signal}: stopping processes and removing temp dirs...\n`)
      void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
    }
    process.once('SIGINT', handler)
    process.once('SIGTERM', handler)
  }
}
