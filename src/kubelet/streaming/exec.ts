// Runs an exec stream's command, a plain child with the pipes asked for. With a tty the
// command line already runs util-linux `script` inside the container, which gives its child
// a pseudo-terminal with no native addon (`script -q -e -E always -c "exec CMD" /dev/null`;
// stderr is the terminal too, as upstream). A resize runs `stty -F /proc/<child>/fd/0 rows R cols C` on the
// terminal's slave, so the kernel sends the command SIGWINCH.
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { killGroup, processOnTerminal } from '../../util/proc.ts'
import type { TerminalSize } from './channels.ts'
import type { StreamFlags } from './types.ts'


export interface ExecProcess {
  child: ChildProcess
  /** The exit code (128+N for a signal); rejects when the command cannot be started. */
  exit: Promise<number>
  resize(size: TerminalSize): void
  /** Kills what the stream started (the terminal's session too). */
  kill(): void
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Sets the size of the terminal that `pid` has as its stdin (the kernel sends its group SIGWINCH). */
export function setTerminalSize(pid: number, size: TerminalSize, env: NodeJS.ProcessEnv): Promise<void> {
  // Not detached: stty stays in the agent's session, so opening the terminal never makes it a controlling one.
  return new Promise<void>((resolve) => {
    const stty = spawn('stty', ['-F', `/proc/${pid}/fd/0`, 'rows', String(size.height), 'cols', String(size.width)], { stdio: 'ignore', env })
    stty.once('error', () => resolve())
    stty.once('close', () => resolve())
  })
}

export function startExec(file: string, args: readonly string[], flags: StreamFlags, env: NodeJS.ProcessEnv): ExecProcess {
  const child = spawn(file, args, {
    detached: true,
    stdio: [flags.stdin ? 'pipe' : 'ignore', flags.stdout || flags.tty ? 'pipe' : 'ignore', flags.stderr && !flags.tty ? 'pipe' : 'ignore'],
    env,
  })
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])))
  })
  // With a tty, the command (script's child, a few processes below ours) has the terminal as its stdin.
  let ttyChild: number | undefined
  const findTtyChild = async (): Promise<number | undefined> => {
    for (let i = 0; ttyChild === undefined && i < 100 && child.exitCode === null && child.pid !== undefined; i++) {
      ttyChild = processOnTerminal(child.pid)
      if (ttyChild === undefined) await sleep(20)
    }
    return ttyChild
  }
  let resizing = Promise.resolve()
  let wanted: TerminalSize | undefined
  const applyResize = async (): Promise<void> => {
    const size = wanted
    wanted = undefined
    const pid = await findTtyChild()
    if (size === undefined || pid === undefined) return
    await setTerminalSize(pid, size, env)
  }
  return {
    child,
    exit,
    resize(size) {
      if (!flags.tty) return
      // Only the latest size matters; resizes run one at a time.
      wanted = size
      resizing = resizing.then(applyResize)
    },
    kill() {
      // Once script has ended its child is reaped too, and the ids may be someone else's.
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      ttyChild ??= processOnTerminal(child.pid)
      if (ttyChild !== undefined) killGroup(ttyChild, 'SIGKILL')
      killGroup(child.pid, 'SIGKILL')
    },
  }
}
