// The per-container supervisor: one `sh` that runs inside the pod's namespaces in a mount
// namespace of its own (propagation slave: host unmounts such as `ip netns delete` reach
// it, its own bind mounts never leak out). It outlives the agent, so a container keeps
// running, logging and reporting its exit across agent restarts. In order it:
//   1. creates the log file (mode 0600) and makes two FIFOs for the container's stdout and stderr;
//   2. bind-mounts the pod files and volumes (remounting read-only ones), cd's to the
//      working directory — a failure here ends it with exit code 128 and a message;
//   3. starts one awk per stream that timestamps each line in the CRI log format
//      (`<RFC3339 time> <stream> F <line>`; awk has only whole seconds; a line longer than
//      4 KiB becomes `P` records of 4 KiB and a last `F` one) and appends each record to the
//      log in one write (each stream keeps its order; lines of the two streams may
//      interleave late). The writers reopen the log by name when a new second starts, so
//      rotation (log-rotation.ts) is a rename: the next second's lines start a new file;
//   4. starts the command in a new session (its own process group, which is what stop
//      signals) with exactly the given environment (`env -i`), stdin /dev/null. The
//      environment and argv come from `<base>.args` (mode 0600, shell-quoted, removed
//      once read), not from the supervisor's argv, which every local user can read;
//   5. prints the command's pid on stdout (the agent reads it), forwards TERM/INT/HUP it
//      receives to the command as TERM, waits for the command, kills what is left of its
//      group (like a pid namespace ending), lets the loggers drain (2 s at most: a
//      daemonised grandchild may hold the pipes) and writes `<base>.exit`:
//      exit code, finish time (RFC3339Nano) and a message, one per line.
// The exit code is the shell's: 128+N for a command killed by signal N, as Kubernetes
// reports it.

export const LAUNCHER_SCRIPT = `
base=$1 log=$2 wd=$3 n=$4
shift 4
trap '[ -n "\${c:-}" ] && kill -TERM "$c" 2>/dev/null' TERM INT HUP
now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
finish() {
  printf '%s\\n%s\\n%s\\n' "$1" "\${3:-$(now)}" "$2" >"$base.exit.tmp" && mv -f "$base.exit.tmp" "$base.exit"
  rm -f "$base.out" "$base.err" "$base.args" "$base.mnt"
  exit "$1"
}
(umask 077 && : >>"$log") 2>/dev/null || finish 128 "cannot open the log file $log"
rm -f "$base.out" "$base.err" "$base.exit"
mkfifo -m 600 "$base.out" "$base.err" || finish 128 "cannot create the log pipes $base.out, $base.err"
while [ "$n" -gt 0 ]; do
  mount --bind -- "$1" "$2" 2>"$base.mnt" || finish 128 "cannot mount $1 on $2: $(cat "$base.mnt")"
  if [ "$3" = ro ]; then
    mount -o remount,bind,ro -- "$2" 2>"$base.mnt" || finish 128 "cannot make $2 read-only: $(cat "$base.mnt")"
  fi
  shift 3
  n=$((n - 1))
done
cd -- "$wd" 2>/dev/null || finish 128 "workingDir $wd: no such directory"
args=$(cat "$base.args") && rm -f "$base.args" || finish 128 "cannot read $base.args"
eval "set -- $args"
(umask 077 && WEFT_LOG_FILE=$log && export WEFT_LOG_FILE && exec $WEFT_AWK -v s=stdout "$WEFT_LOG_PROGRAM" <"$base.out" >/dev/null) & l1=$!
(umask 077 && WEFT_LOG_FILE=$log && export WEFT_LOG_FILE && exec $WEFT_AWK -v s=stderr "$WEFT_LOG_PROGRAM" <"$base.err" >/dev/null) & l2=$!
setsid env -i -- "$@" </dev/null >"$base.out" 2>"$base.err" & c=$!
trap '' PIPE
echo "$c"
trap - PIPE
exec >/dev/null
while :; do
  wait "$c"
  code=$?
  kill -0 "$c" 2>/dev/null || break
done
kill -KILL -"$c" 2>/dev/null
fin=$(now)
( sleep 2; kill "$l1" "$l2" 2>/dev/null ) & w=$!
wait "$l1" "$l2"
kill "$w" 2>/dev/null
finish "$code" "" "$fin"
`

export const LOG_PROGRAM = `
BEGIN { f = ENVIRON["WEFT_LOG_FILE"] }
{
  t = systime()
  if (t != last) { close(f); last = t }
  ts = strftime("%Y-%m-%dT%H:%M:%SZ", t, 1)
  line = $0
  while (length(line) > 4096) {
    printf "%s %s P %s\\n", ts, s, substr(line, 1, 4096) >> f
    fflush(f)
    line = substr(line, 4097)
  }
  printf "%s %s F %s\\n", ts, s, line >> f
  fflush(f)
}
`

/** PATH for the supervisor itself (the command gets the container's own). */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface LaunchMount {
  source: string
  target: string
  readOnly: boolean
}

export interface LaunchSpec {
  /** `<pod dir>/containers/<name>`: the FIFOs and the exit file get suffixes. */
  base: string
  log: string
  workingDir: string
  mounts: LaunchMount[]
  netnsPath?: string
  utsPath?: string
}

/** What `<base>.args` holds: env (NAME=VALUE, a later duplicate wins) then argv. */
export function argsFile(env: readonly string[], argv: readonly string[]): string {
  return [...env, ...argv].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ') + '\n'
}

/** The command line that starts the supervisor: [file, args]. */
export function launchCommand(spec: LaunchSpec): [string, string[]] {
  const sh = [
    'unshare', '--mount', '--propagation', 'slave', '--',
    'sh', '-c', LAUNCHER_SCRIPT, 'weft-launcher',
    spec.base, spec.log, spec.workingDir, String(spec.mounts.length),
    ...spec.mounts.flatMap((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw']),
  ]
  const enter = [
    ...(spec.netnsPath !== undefined ? [`--net=${spec.netnsPath}`] : []),
    ...(spec.utsPath !== undefined ? [`--uts=${spec.utsPath}`] : []),
  ]
  if (enter.length === 0) return [sh[0], sh.slice(1)]
  return ['nsenter', [...enter, '--', ...sh]]
}
