// The `weft` command's entry (bin/weft): the compile cache first, then the command.
import { startCompileCache } from '../util/compile-cache.mjs'

startCompileCache()
await import('./main.ts')
