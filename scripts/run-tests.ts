// Runs tap test files in parallel, longest first, and prints one TAP stream (what `tap
// --reporter=tap` prints: each file's output indented under "# Subtest: <file>", then a
// top-level "ok N - <file>" or "not ok N - <file>").
//
// Why not tap's own runner: it starts every test process with tap's module hooks
// (@tapjs/processinfo, and @tapjs/mock) and puts them in NODE_OPTIONS, so every process a
// test starts (API servers, agents, each CNI plugin call) loads them too: 0.6 s of wall time
// and 0.85 s of CPU per test file, more per child; the whole run went from 19 to 12 minutes
// on a 2-core machine without them. Tests stay plain tap tests: `tap FILE` still runs any.
//
//   node scripts/run-tests.ts [--jobs N] [files or dirs…]   default: every test/**/*.test.ts
//
// Files start longest first (times from the last run, else test/durations.json), so the
// long end-to-end files do not start last. `--write-durations` saves this run's times to
// test/durations.json.
import { spawn } from 'node:child_process'
import { globSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

const root = join(import.meta.dirname, '..')
const tapConfig = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).tap as {
  jobs: number
  timeout: number
  include: string[]
  'node-arg': string[]
}
const committedDurations = join(root, 'test/durations.json')
const lastRunDurations = join(root, 'node_modules/.cache/weft-test-durations.json')
// A file not yet timed is assumed to take this long (a typical integration file).
const unknownFileMs = 10_000
// Past tap's own timeout, the runner ends the file's process group itself.
const killGraceMs = 60_000

interface Options {
  jobs: number
  files: string[]
  wholeSuite: boolean
  writeDurations: boolean
}

/** A test file as given, or the test files under a directory; anything else is refused before a test runs. */
function testFilesAt(arg: string): string[] {
  let info
  try {
    info = statSync(join(root, arg))
  } catch {
    throw new Error(`${arg}: no such test file or directory`)
  }
  if (!info.isDirectory()) return [arg]
  return globSync(join(arg, '**/*.test.ts'), { cwd: root }).sort()
}

function parseArgs(argv: string[]): Options {
  const options: Options = { jobs: tapConfig.jobs, files: [], wholeSuite: false, writeDurations: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--jobs' || arg === '-j') {
      const jobs = Number(argv[++i])
      if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs wants a positive integer, not ${argv[i]}`)
      options.jobs = jobs
    } else if (arg === '--write-durations') {
      options.writeDurations = true
    } else if (arg.startsWith('-')) {
      throw new Error(`unknown flag ${arg}`)
    } else {
      options.files.push(...testFilesAt(arg))
    }
  }
  if (options.files.length === 0) {
    options.wholeSuite = true
    options.files = tapConfig.include.flatMap((pattern) => globSync(pattern, { cwd: root })).sort()
  }
  return options
}

function readDurations(): Record<string, number> {
  for (const file of [lastRunDurations, committedDurations]) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'))
    } catch {
      // the next source, or none
    }
  }
  return {}
}

interface FileResult {
  file: string
  ok: boolean
  ms: number
  output: string
}

const running = new Set<number>()

function runFile(file: string): Promise<FileResult> {
  const source = readFileSync(join(root, file), 'utf8')
  // t.mockImport needs tap's module hooks; only the files that mock get them.
  const hooks = source.includes('mockImport') ? ['--import=@tapjs/mock/import'] : []
  const started = performance.now()
  const child = spawn(process.execPath, [...hooks, ...tapConfig['node-arg'], file], {
    cwd: root,
    // TAP=1 is what tap's runner sets: weft's logger stays silent in tests.
    env: { ...process.env, TAP: '1', TAP_TIMEOUT: process.env.TAP_TIMEOUT ?? String(tapConfig.timeout) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const pid = child.pid!
  running.add(pid)
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
  const timeoutSeconds = Number(process.env.TAP_TIMEOUT ?? tapConfig.timeout)
  let killedForTime = false
  const killTimer =
    timeoutSeconds > 0
      ? setTimeout(() => {
          killedForTime = true
          signalGroup(pid, 'SIGTERM')
          setTimeout(() => signalGroup(pid, 'SIGKILL'), 15_000).unref()
        }, timeoutSeconds * 1000 + killGraceMs)
      : undefined
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killTimer)
      running.delete(pid)
      const ms = performance.now() - started
      const lines = Buffer.concat(stdout).toString('utf8').replace(/\n$/, '').split('\n')
      const errLines = Buffer.concat(stderr).toString('utf8').replace(/\n$/, '')
      let output = lines.filter((line) => !/^TAP version/.test(line)).map((line) => `    ${line}`).join('\n')
      if (errLines) output += '\n' + errLines.split('\n').map((line) => `    # stderr: ${line}`).join('\n')
      if (killedForTime) output += `\n    # killed: still running ${timeoutSeconds + killGraceMs / 1000} s after it started`
      else if (code !== 0) output += `\n    # exited with ${signal ?? `code ${code}`}`
      resolve({ file, ok: code === 0 && !killedForTime, ms, output })
    })
  })
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  const known = readDurations()
  const queue = [...options.files].sort((a, b) => (known[b] ?? unknownFileMs) - (known[a] ?? unknownFileMs))
  let stopping = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // The test processes clean up their namespaces on SIGTERM; wait for them to exit.
      stopping = true
      for (const pid of running) signalGroup(pid, 'SIGTERM')
    })
  }
  process.stdout.write(`TAP version 14\n1..${queue.length}\n`)
  let counter = 0
  let failures = 0
  const durations: Record<string, number> = {}
  const worker = async (): Promise<void> => {
    while (!stopping) {
      const file = queue.shift()
      if (file === undefined) return
      const result = await runFile(file)
      counter++
      if (!result.ok) failures++
      durations[file] = Math.round(result.ms)
      process.stdout.write(
        `# Subtest: ${file}\n${result.output}\n${result.ok ? 'ok' : 'not ok'} ${counter} - ${file} # time=${result.ms.toFixed(3)}ms\n\n`,
      )
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.jobs, queue.length) }, worker))
  if (stopping) {
    process.stdout.write(`Bail out! stopped by a signal with ${queue.length} files not run\n`)
    process.exitCode = 1
    return
  }
  if (options.wholeSuite) {
    // Only a whole run's times are worth keeping for the next run's order.
    const save = options.writeDurations ? committedDurations : lastRunDurations
    mkdirSync(dirname(save), { recursive: true })
    const sorted = Object.fromEntries(Object.keys(durations).sort().map((key) => [key, durations[key]]))
    writeFileSync(save, JSON.stringify(sorted, null, 1) + '\n')
  }
  process.exitCode = failures === 0 ? 0 : 1
}

await main()
