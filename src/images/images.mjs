// The built-in images' entry: the compile cache first, then the program (main.ts).
import { startCompileCache } from '../util/compile-cache.mjs'

startCompileCache()
await import('./main.ts')
