// Node's compile cache for weft's processes: the TypeScript Node has stripped and the
// V8 code it has compiled, kept on disk, so a process that starts again neither strips
// its modules again nor loads the stripper (a WebAssembly module, ~20 MiB of resident
// memory for the life of the process). JavaScript, not TypeScript: it must run before
// Node strips the first TypeScript file.
//
// The cache lives in node_modules/.cache/weft-compile (Node adds a directory per Node
// version and user id). NODE_COMPILE_CACHE=DIR puts it elsewhere; NODE_DISABLE_COMPILE_CACHE=1
// turns it off. Only who can write node_modules can write it: a pod's overlay root sees
// it read-only.
import { enableCompileCache, flushCompileCache } from 'node:module'
import { fileURLToPath } from 'node:url'

export const compileCacheDir = fileURLToPath(new URL('../../node_modules/.cache/weft-compile', import.meta.url))

/** @param {string} [dir] */
export function startCompileCache(dir = process.env.NODE_COMPILE_CACHE || compileCacheDir) {
  enableCompileCache(dir)
  // Worker threads (the DNS query threads, weft load's workers…) and child Node.js processes
  // turn it on from their environment.
  if (!process.env.NODE_DISABLE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = dir
  // Node writes the cache when the process exits, which a daemon may never do cleanly:
  // write what start-up compiled once it is done, and what came later after a while.
  for (const ms of [10_000, 120_000]) setTimeout(flushCompileCache, ms).unref()
}
