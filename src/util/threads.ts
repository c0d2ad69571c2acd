import type { Worker } from 'node:worker_threads'

/**
 * Asks a worker thread to stop (it closes what it holds and exits), and ends it after
 * `graceMs` if it has not. Resolves once the thread is gone.
 */
export function stopThread(worker: Worker, stopMessage: unknown, graceMs: number): Promise<void> {
  // A thread that has exited already has no thread id left.
  if (worker.threadId === -1) return Promise.resolve()
  return new Promise((resolve) => {
    const kill = setTimeout(() => void worker.terminate(), graceMs)
    worker.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    worker.postMessage(stopMessage)
  })
}
