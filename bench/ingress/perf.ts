// Native stacks of a process under load: `perf record -g` (Debian linux-perf) on a Node
// process started with --perf-basic-prof (which names its JIT-compiled functions in
// /tmp/perf-PID.map), summarised as the share of samples per binary (node, kernel, JIT code,
// libc) and the frames with the most inclusive time. V8's own CPU profile puts every native
// cost under the JS function that called into it (a socket write's syscall, the kernel's
// loopback delivery and the wake-up of the peer all show as `writeBuffer`); perf shows them.
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (err += d))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err.slice(-500)}`))))
  })
}

/** Report lines `  12.34%  …`, their text cut to `width`. */
function rows(report: string, width: number): string[] {
  return report
    .split('\n')
    .filter((l) => /^\s+\d+\.\d+%/.test(l))
    .map((l) => l.replace(/\s+$/, '').slice(0, width))
}

/** Records `pid` for `seconds` into `dataFile` and summarises it. */
export async function perfProfile(pid: number, seconds: number, dataFile: string): Promise<string> {
  await run('perf', ['record', '-F', '999', '-g', '-p', String(pid), '-o', dataFile, '--', 'sleep', String(seconds)])
  const byBinary = rows(await run('perf', ['report', '-i', dataFile, '--no-children', '--sort', 'dso', '--stdio']), 60).slice(0, 6)
  // Inclusive time of the frames that say where a request's time goes (kernel frames and the
  // event loop's outer frames left out: they include everything).
  const inclusive = rows(await run('perf', ['report', '-i', dataFile, '--children', '-g', 'none', '--sort', 'sym', '--stdio']), 150)
    .filter((l) => !/\[k\]|uv_run|uv__|node::Start|NodeMainInstance|SpinEventLoop|__libc_start|JSEntry|Execution::Call|Invoke|Function::Call|MakeCallback|InternalCallbackScope|CallJSOnread|OnUvRead|ReadStart|_start$|start_thread/.test(l))
    .slice(0, 30)
  return `Samples by binary:\n${byBinary.join('\n')}\nInclusive time (children), top frames:\n${inclusive.join('\n')}\n`
}

/** The map file --perf-basic-prof leaves in /tmp for `pid`. */
export function removePerfMap(pid: number): void {
  rmSync(`/tmp/perf-${pid}.map`, { force: true })
}
