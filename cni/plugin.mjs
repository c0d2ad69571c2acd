// The CNI plugins' entry when no warm service answers (bin/weft-cni, bin/weft-ipam): the
// compile cache first (a plugin process is started for every invocation), then main.ts.
import { startCompileCache } from '../src/util/compile-cache.mjs'

startCompileCache()
await import('./main.ts')
