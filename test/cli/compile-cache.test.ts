// weft's entries (bin/weft, the built-in images, the CNI plugins) turn on Node's compile
// cache before any TypeScript is stripped: a second start reads every module of weft's own
// from the cache, and the node agent's warm-up fills it for the images' pods.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compileCacheDir } from '../../src/util/compile-cache.mjs'
import { warmImagesCompileCache } from '../../src/images/warm-compile-cache.ts'
import { imagesMain, nodeBinary } from '../../src/images/resolve-image.ts'
import { logger } from '../../src/util/log.ts'

const repo = resolve(import.meta.dirname, '../..')
const ownFiles = pathToFileURL(repo).href + '/'

interface CacheUse {
  /** weft's TypeScript modules read from the cache. */
  hits: string[]
  /** weft's TypeScript modules stripped because the cache had none. */
  misses: string[]
}

/** Runs `argv` with the compile cache in `dir` and Node's compile-cache debug output on stderr. */
function run(dir: string, argv: string[], input?: string): CacheUse {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    input,
    timeout: 60_000,
    env: { ...process.env, NODE_COMPILE_CACHE: dir, NODE_DEBUG_NATIVE: 'COMPILE_CACHE', WEFT_CNI_SERVICE: 'off', CNI_COMMAND: 'VERSION' },
  })
  const own = (line: string, re: RegExp) => {
    const m = re.exec(line)
    return m && m[1]!.startsWith(ownFiles) ? m[1]!.slice(ownFiles.length) : undefined
  }
  const hits: string[] = []
  const misses: string[] = []
  for (const line of r.stderr.split('\n')) {
    const hit = own(line, /retrieving transpile cache for StrippedTypeScript (\S+?)\.\.\.success/)
    if (hit) hits.push(hit)
    const miss = own(line, /no transpile cache for StrippedTypeScript (\S+)/)
    if (miss) misses.push(miss)
  }
  return { hits, misses }
}

function tempCache(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-compile-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('bin/weft strips each module once: the next start reads them all from the cache', async (t) => {
  const dir = tempCache(t)
  const cold = run(dir, [join(repo, 'bin/weft'), 'dns', '--help'])
  t.ok(cold.misses.includes('src/cli/dns.ts'), 'the first start strips the command module')
  t.same(cold.hits, [])
  const warm = run(dir, [join(repo, 'bin/weft'), 'dns', '--help'])
  t.same(warm.misses, [], 'nothing is stripped again')
  t.same(warm.hits.sort(), cold.misses.sort(), 'every module stripped before comes from the cache')
})

t.test('the CNI plugin fallback starts from the cache too', async (t) => {
  const dir = tempCache(t)
  const cold = run(dir, [join(repo, 'bin/weft-cni')], '{"cniVersion":"1.0.0"}')
  t.ok(cold.misses.includes('cni/main.ts'))
  const warm = run(dir, [join(repo, 'bin/weft-cni')], '{"cniVersion":"1.0.0"}')
  t.same(warm.misses, [])
  t.ok(warm.hits.includes('cni/main.ts'))
})

t.test("the agent's warm-up fills the cache for the built-in images' programs", async (t) => {
  const dir = tempCache(t)
  const saved = process.env.NODE_COMPILE_CACHE
  process.env.NODE_COMPILE_CACHE = dir
  t.teardown(() => {
    if (saved === undefined) delete process.env.NODE_COMPILE_CACHE
    else process.env.NODE_COMPILE_CACHE = saved
  })
  await warmImagesCompileCache(logger('test'))
  t.ok(readdirSync(dir).length > 0, 'the warm-up wrote the cache')
  for (const program of ['dns', 'ingress']) {
    const use = run(dir, [nodeBinary, '--disable-warning=ExperimentalWarning', imagesMain, program, '--help'])
    t.same(use.misses, [], `${program}: nothing left to strip`)
    t.ok(use.hits.includes(`src/cli/${program}.ts`), `${program}: its command module comes from the cache`)
  }
})

t.test('worker threads use the cache too (they take it from the environment)', async (t) => {
  const dir = tempCache(t)
  const work = mkdtempSync(join(tmpdir(), 'weft-compile-cache-worker-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  writeFileSync(join(work, 'thread.ts'), 'const n: number = 1\nexport default n\n')
  const main = join(work, 'main.mjs')
  const cacheModule = pathToFileURL(join(repo, 'src/util/compile-cache.mjs')).href
  writeFileSync(
    main,
    `import { Worker } from 'node:worker_threads'\nimport { startCompileCache } from ${JSON.stringify(cacheModule)}\n` +
      `startCompileCache(${JSON.stringify(dir)})\nnew Worker(new URL('./thread.ts', import.meta.url))\n`,
  )
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }
  delete env.NODE_COMPILE_CACHE
  const runWorker = () => spawnSync(nodeBinary, [main], { encoding: 'utf8', timeout: 60_000, env }).stderr
  t.match(runWorker(), /no transpile cache for StrippedTypeScript \S*thread\.ts/, 'the first run strips the worker file')
  const second = runWorker()
  t.match(second, /retrieving transpile cache for StrippedTypeScript \S*thread\.ts\.\.\.success/, 'the second run reads it from the cache')
  t.notMatch(second, /no transpile cache for StrippedTypeScript \S*thread\.ts/)
})

t.test('the default cache is in node_modules/.cache', async (t) => {
  t.equal(compileCacheDir, join(repo, 'node_modules/.cache/weft-compile'))
})
