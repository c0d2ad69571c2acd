/** Where weft's entries keep Node's compile cache unless NODE_COMPILE_CACHE says otherwise. */
export declare const compileCacheDir: string
/** Turns on Node's compile cache (compile-cache.mjs). */
export declare function startCompileCache(dir?: string): void
