// The per-container supervisor: one `sh` that runs inside the pod's namespaces in a mount
// namespace of its own (propagation slave: host unmounts such as `ip netns delete` reach
// it, its own bind mounts never leak out). It outlives the agent, so a container keeps
// running, logging and reporting its exit across agent restarts. In order it:
//   1. creates the log file (mode 0600) and makes two FIFOs for the container's stdout and stderr;
//   2. bind-mounts the pod files and volumes (remounting read-only ones), each target
//      resolved inside the container's view; a missing target is made on a tmpfs of this
//      namespace, never on the host (see below). cd's to the working directory — a
//      failure here ends it with exit code 128 and a message;
//   3. starts one awk per stream that timestamps each line in the CRI log format
//      (`<RFC3339 time> <stream> F <line>`; awk has only whole seconds; a line longer than
//      4 KiB becomes `P` records of 4 KiB and a last `F` one) and appends each record to the
//      log in one write (each stream keeps its order; lines of the two streams may
//      interleave late). The writers reopen the log by name when a new second starts, so
//      rotation (log-rotation.ts) is a rename: the next second's lines start a new file;
//   4. starts an init `sh` in the container's pid namespace (a new one; the pod's shared one
//      for shareProcessNamespace; the host's for hostPID) and a mount namespace below this
//      one, where it mounts that namespace's /proc (and applies readOnlyRootFilesystem).
//      The init starts the command as its child in a new session (its own process group,
//      which is what stop signals) with exactly the given environment (`env -i`), stdin
//      /dev/null, and with the user, groups and capabilities of its securityContext
//      (setpriv; security-context.ts); it forwards TERM and reaps. The environment and argv
//      come from `<base>.args` (mode 0600, shell-quoted, removed once read), not from the
//      supervisor's argv, which every local user can read;
//   5. prints the command's host pid on stdout (the agent reads it), forwards TERM/INT/HUP it
//      receives to the command as TERM, waits for the init, kills what is left of the
//      command's group (the pid namespace's end kills the rest), lets the loggers drain (2 s at most: a
//      daemonised grandchild may hold the pipes) and writes `<base>.exit`:
//      exit code, finish time (RFC3339Nano) and a message, one per line.
// The exit code is the shell's: 128+N for a command killed by signal N, as Kubernetes
// reports it.
// Its mounts are made by weft-mounts (native/mounts.c, `$WEFT_MOUNTS`), a batch of mount(2)
// calls in one program: mount(8) is a program per mount that reads the whole mount table
// each time, and a container start made about 18 of them. The init's two (its /proc and
// /dev) stay mount(8)'s: the helper need not be visible inside the container's root.
//
// A container's view: with root=overlay (every container but a privileged one) a root of
// its own, the host's root filesystem as the lower layer of an overlay whose upper layer is
// `<base>.layer` (fresh for each run), so it may write anywhere and the host's files never
// change; with root=host (privileged) the host's filesystem itself. There is no image.
// A container's volume mounts are bind mounts made inside its own mount namespace, and a
// mountPath is a path in the container's view. Decision: weft never creates a mountPath on
// the host. In a root of its own a missing one is simply made in its layer. Otherwise a
// missing one is made by the container's supervisor (launcher.ts) in the container's mount
// namespace only: the nearest existing directory above it is covered there with a tmpfs
// that holds what the directory held (each entry bound from the original), and the missing
// path is made on that tmpfs; a missing name right under / gets the container a root of its
// own (a tmpfs holding what / holds, the same way) that it is chroot'ed into. Targets are
// resolved with the symbolic links of the container's view, relative ones from its root
// (`../../x` is `/x`), and nothing is ever made through a link or outside weft's tmpfs. The
// host sees none of it, and nothing is left behind when the container ends. A side effect:
// new names the container makes right in a covered directory (not inside its entries,
// which are the host's) stay on that tmpfs (256 MiB at most), private to the container.

export const LAUNCHER_SCRIPT = `
base=$1 log=$2 wd=$3 priv=$4 pidns=$5 rofs=$6 devs=$7 io=$8 root=$9 n=\${10} M=$WEFT_MOUNTS
shift 10
for g in \${WEFT_CGROUPS:-}; do
  echo $$ >"$g/cgroup.procs" 2>/dev/null || { echo "cannot join the cgroup $g" >&2; exit 125; }
done
unset WEFT_CGROUPS
trap '[ -n "\${p:-}" ] && kill -TERM "$p" 2>/dev/null' TERM INT HUP
now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
finish() {
  # Helpers still waiting for a command that never came (an early failure) go too.
  kill \${l1:-} \${l2:-} \${r:-} 2>/dev/null
  printf '%s\\n%s\\n%s\\n' "$1" "\${3:-$(now)}" "$2" >"$base.exit.tmp" && mv -f "$base.exit.tmp" "$base.exit"
  rm -f "$base.out" "$base.err" "$base.sync" "$base.args" "$base.mnt" "$base.in" "$base.raw" "$base.rawerr"
  exit "$1"
}
(umask 077 && : >>"$log") 2>/dev/null || finish 128 "cannot open the log file $log"
rm -f "$base.out" "$base.err" "$base.sync" "$base.exit"
mkfifo -m 600 "$base.out" "$base.err" "$base.sync" || finish 128 "cannot create the log pipes $base.out, $base.err"
# Mount targets that do not exist are made on tmpfs of this namespace only (see the top of this file).
# P: where the container's / is in this namespace ('' or ./root, under the stash).
P= owned= stashed= k=0 rw=
fail() { finish 128 "$1: $(cat "$base.mnt" 2>/dev/null)"; }
owns() { d=$(stat -c %d -- "$1") && case " $owned " in *" $d "*) return 0 ;; esac; return 1; }
nearest() {
  q=$1
  while [ "$q" != / ] && [ ! -e "$P$q" ] && [ ! -L "$P$q" ]; do q=\${q%/*}; [ -n "$q" ] || q=/; done
}
stash() {
  [ -n "$stashed" ] && return
  "$M" mount tmpfs weft-stash "$base.shadow" mode=0700,size=64k mount - - "$base.shadow" unbindable 2>"$base.mnt" && cd "$base.shadow" || fail "cannot prepare $base.shadow"
  stashed=1
}
# copy FROM TO: TO (on weft's tmpfs) gets every entry of FROM: links copied, the rest bound.
# A directory may be there already.
copy() {
  for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    d=$2/\${e##*/}
    if [ -L "$e" ]; then ln -s -- "$(readlink -- "$e")" "$d"
    elif [ -d "$e" ]; then { [ -d "$d" ] || mkdir -- "$d"; } && "$M" mount - "$e" "$d" rbind
    else "$M" touch "$d" mount - "$e" "$d" bind
    fi 2>"$base.mnt" || fail "cannot copy $e into the container's view"
  done
}
# shadow DIR: a tmpfs over DIR that holds what DIR held, so that new names can be made in it.
shadow() {
  stash
  k=$((k + 1))
  "$M" mkdir "./s$k" 0755 mount - "$1" "./s$k" rbind mount tmpfs weft-shadow "$1" mode=0755,size=256m copyattr "./s$k" "$1" 2>"$base.mnt" || fail "cannot shadow $1"
  owned="$owned $(stat -c %d -- "$1")"
  copy "./s$k" "$1"
}
# target MOUNTPATH SOURCE: resolves MOUNTPATH inside the container's view into t, making it
# (and missing parents) on weft's tmpfs when it is missing.
target() {
  if [ -n "$P" ]; then t=$(chroot "$P" realpath -m -- "/$1" 2>"$base.mnt"); else t=$(realpath -m -- "/$1" 2>"$base.mnt"); fi || fail "mountPath $1: cannot resolve it"
  [ "$t" != / ] || finish 128 "mountPath $1 is the container's root: choose a directory below it"
  [ -e "$P$t" ] && return
  nearest "$t"
  [ ! -L "$P$q" ] || finish 128 "mountPath $1: $q is a symbolic link that leads nowhere; weft does not create mount targets through it"
  [ -d "$P$q" ] || finish 128 "mountPath $1: $q is not a directory"
  if ! owns "$P$q"; then
    [ "$q" != / ] || finish 128 "mountPath $1: cannot make $t (internal error: no root of its own)"
    shadow "$P$q"
  fi
  rest=\${t#"$q"} p=\${q%/}
  rest=\${rest#/}
  while [ -n "$rest" ]; do
    case $rest in */*) c=\${rest%%/*} rest=\${rest#*/} ;; *) c=$rest rest= ;; esac
    p=$p/$c
    if [ -n "$rest" ] || [ -d "$2" ]; then mkdir -- "$P$p"; else : >"$P$p"; fi 2>"$base.mnt" || fail "mountPath $1: cannot make $p"
  done
}
# A root of the container's own (root=overlay): the host's root filesystem as the lower
# layer of an overlay whose upper layer is <base>.layer, so what the container writes stays
# in its pod directory and the host's files are never changed. /sys is the host's, read-only
# and without its submounts (no cgroupfs to escape through); /proc, /dev and /tmp come later.
if [ "$root" = overlay ]; then
  stash
  # The upper layer's top is the merged root: it gets the host root's owner and mode.
  { [ ! -e "$base.layer" ] || rm -rf "$base.layer"; } &&
    "$M" mkdir "$base.layer" 0700 mkdir "$base.layer/upper" 0700 mkdir "$base.layer/work" 0700 copyattr / "$base.layer/upper" \
      mkdir ./root 0755 mount overlay weft-root ./root "lowerdir=/,upperdir=$base.layer/upper,workdir=$base.layer/work" \
      mount - /sys ./root/sys bind mount - - ./root/sys remount,bind,ro,nosuid,nodev,noexec 2>"$base.mnt" || fail "cannot make the container's root"
  # The host's other disk filesystems (programs may live there), read-only, parents first.
  "$M" rodisks ./root
  owned="$owned $(stat -c %d ./root)"
  P=./root
fi
# A missing mountPath right under / needs a root of its own: a tmpfs holding what / holds.
i=0
[ -n "$P" ] && i=$((n * 3))
for a do
  i=$((i + 1))
  [ "$i" -le $((n * 3)) ] || break
  [ $((i % 3)) = 2 ] || continue
  t=$(realpath -m -- "/$a" 2>/dev/null) || continue
  [ -e "$t" ] && continue
  nearest "$t"
  [ "$q" = / ] || continue
  stash
  "$M" mkdir ./root 0755 mount tmpfs weft-root ./root mode=0755,size=256m 2>"$base.mnt" || fail "cannot make the container's root"
  owned="$owned $(stat -c %d ./root)"
  copy "" ./root
  P=./root
  break
done
while [ "$n" -gt 0 ]; do
  target "$2" "$1"
  if [ "$3" = ro ]; then
    "$M" mount - "$1" "$P$t" bind mount - - "$P$t" remount,bind,ro 2>"$base.mnt" || fail "cannot mount $1 read-only on $2"
  else
    "$M" mount - "$1" "$P$t" bind 2>"$base.mnt" || fail "cannot mount $1 on $2"
    rw="$rw$t
"
  fi
  shift 3
  n=$((n - 1))
done
if [ -n "$P" ]; then
  cd "$P" && [ -d ".$wd" ] || finish 128 "workingDir $wd: no such directory"
else
  cd -- "$wd" 2>/dev/null || finish 128 "workingDir $wd: no such directory"
fi
# Their stdout is not ours (the agent reads the pid from ours until it closes).
(umask 077 && WEFT_LOG_FILE=$log && export WEFT_LOG_FILE && exec $WEFT_AWK -v s=stdout "$WEFT_LOG_PROGRAM" <"$base.out") >/dev/null & l1=$!
(umask 077 && WEFT_LOG_FILE=$log && export WEFT_LOG_FILE && exec $WEFT_AWK -v s=stderr "$WEFT_LOG_PROGRAM" <"$base.err") >/dev/null & l2=$!
# stdin or a tty (io is STDIN:TTY, STDIN none, open or once): the attach relay stands between
# the command and the log writers (attach-relay.ts) and holds its stdin FIFO.
r= out=$base.out err=$base.err stdin= tty=\${io#*:}
if [ "$io" != none:0 ]; then
  rm -f "$base.in" "$base.raw" "$base.rawerr"
  mkfifo -m 600 "$base.in" "$base.raw" "$base.rawerr" || finish 128 "cannot create the attach pipes"
  once=many
  [ "\${io%:*}" = once ] && once=once
  "$WEFT_NODE" "$WEFT_ATTACH_RELAY" "$base" "$once" </dev/null >/dev/null & r=$!
  out=$base.raw err=$base.rawerr
  [ "\${io%:*}" = none ] || stdin=$base.in
fi
# The process tree: [pid namespace entry] -> [chroot] -> init sh -> the command. The init
# mounts the namespace's /proc, forwards TERM/INT/HUP and reaps; the command is its child in
# a session of its own (so it keeps default signal dispositions, unlike a namespace's PID 1:
# a command that ignores nothing ends on TERM as it would outside).
# The init works in a mount namespace of its own, below this one: it mounts the pid
# namespace's /proc (this supervisor keeps the host's: it reads host pids from it) and, for
# readOnlyRootFilesystem, makes every mount read-only but /proc, /sys, /dev and the
# writable volumes, with a fresh /tmp (the supervisor's log pipes and files stay writable).
case $pidns in
  host) set -- unshare --mount --propagation slave -- ;;
  new) set -- unshare --pid --fork --kill-child --mount --propagation slave -- ;;
  *) set -- nsenter "--pid=$pidns" -- unshare --mount --propagation slave -- ;;
esac
[ -n "$P" ] && set -- "$@" chroot .
[ "$rofs" = ro ] || rw=
# A /dev of the container's own (as container runtimes give): the usual character devices,
# a new devpts instance, a fresh /dev/shm and the termination-log file; no host disks. Made
# here, with the host's /dev at hand; moved into place: onto a root of the container's own
# now, onto /dev by the init (in its mount namespace) otherwise.
devices() {
  set --
  [ -d "$d" ] || set -- mkdir "$d" 0700
  set -- "$@" mount tmpfs weft-dev "$d" mode=0755,size=64k,nosuid,noexec
  for x in null zero full random urandom tty; do set -- "$@" touch "$d/$x" mount - "/dev/$x" "$d/$x" bind; done
  set -- "$@" mkdir "$d/pts" 0755 mkdir "$d/shm" 0755 mkdir "$d/mqueue" 0755 \
    mount devpts devpts "$d/pts" newinstance,ptmxmode=0666,mode=0620,nosuid,noexec \
    mount tmpfs shm "$d/shm" mode=1777,size=64m,nosuid,nodev \
    symlink pts/ptmx "$d/ptmx" symlink /proc/self/fd "$d/fd" symlink /proc/self/fd/0 "$d/stdin" \
    symlink /proc/self/fd/1 "$d/stdout" symlink /proc/self/fd/2 "$d/stderr"
  [ "$devs" != private-termlog ] || set -- "$@" touch "$d/termination-log" mount - "$base.termination-log" "$d/termination-log" bind
  # The working directory is the container's root by now.
  [ -z "$P" ] || set -- "$@" mount - "$d" ./dev move
  "$M" "$@" 2>"$base.mnt" || fail "cannot make the container /dev"
}
dev=
if [ "$devs" != host ]; then
  d=$base.dev
  devices
  [ -n "$P" ] || dev=$d
fi
own=0
[ -n "$P" ] && own=1
WEFT_OWN_ROOT=$own WEFT_PRIV=$priv WEFT_PROC=$pidns WEFT_RO=$rofs WEFT_RW=$rw WEFT_DEV=$dev WEFT_TTY=$tty "$@" /bin/sh -c '
  args=$(cat <&3) && exec 3<&- || { echo "cannot read the command line" >&2; exit 128; }
  if [ "$WEFT_PROC" != host ] || [ "$WEFT_OWN_ROOT" = 1 ]; then mount -t proc proc /proc 2>/dev/null || { echo "cannot mount /proc for the container" >&2; exit 128; }; fi
  if [ -n "$WEFT_DEV" ]; then mount --move "$WEFT_DEV" /dev || { echo "cannot mount the container /dev" >&2; exit 128; }; fi
  unset WEFT_DEV WEFT_OWN_ROOT
  if [ "$WEFT_RO" = ro ]; then
    while read -r _ _ _ _ m _; do
      m=$(printf "%b" "$m")
      case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
      mount -o remount,bind,ro -- "$m" 2>/dev/null || true
    done </proc/self/mountinfo
    ok=
    while read -r _ _ _ _ m o _; do [ "$m" = / ] && case ,$o, in *,ro,*) ok=1 ;; esac; done </proc/self/mountinfo
    [ -n "$ok" ] || { echo "readOnlyRootFilesystem: cannot make the root read-only" >&2; exit 128; }
    mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev weft-tmp /tmp || { echo "readOnlyRootFilesystem: cannot mount /tmp" >&2; exit 128; }
    printf "%s" "$WEFT_RW" | while IFS= read -r m; do
      mount -o remount,bind,rw -- "$m" || { echo "cannot make $m writable" >&2; exit 128; }
    done || exit 128
  fi
  unset WEFT_RO WEFT_RW
  cd -- "$0" 2>/dev/null || { echo "workingDir $0: no such directory" >&2; exit 128; }
  tty=$WEFT_TTY
  unset WEFT_TTY
  # stdin is fd 4: the stdin pipe of the container, or /dev/null.
  if [ "$tty" = 1 ]; then
    # A terminal: util-linux script(1) gives the command a pty of the container /dev.
    setsid \${WEFT_PRIV:+setpriv $WEFT_PRIV --} script -q -e -c "exec env -i -- $args" /dev/null <&4 4<&- 5>&- & p=$!
  else
    eval "set -- $args"
    setsid \${WEFT_PRIV:+setpriv $WEFT_PRIV --} env -i -- "$@" <&4 4<&- 5>&- & p=$!
  fi
  # fd 5 tells the supervisor that the command is forked (it then finds its host pid).
  echo >&5
  exec 4<&- 5>&-
  trap "kill -TERM $p 2>/dev/null" TERM INT HUP
  # (dash reports a job killed by a signal on stderr, the container log, unless told not to)
  while :; do wait $p 2>/dev/null; s=$?; kill -0 $p 2>/dev/null || exit $s; done
' "$wd" </dev/null 3<"$base.args" 4<"\${stdin:-/dev/null}" 5>"$base.sync" >"$out" 2>"$err" & c=$!
# The command's pid on the host. A line on the sync pipe (or its end: the init failed) says
# the init has forked the command. The init is $c, or $c's only child when $c entered a pid
# namespace (unshare and nsenter fork); the command is then the init's only child (cat and
# mount, run before, are reaped), the same process through setsid, setpriv and env.
children() { y=; read -r y 2>/dev/null <"/proc/$1/task/$1/children"; }
read -r y <"$base.sync" 2>/dev/null
x=$c p=
if [ "$pidns" != host ]; then
  children "$c"
  [ -z "$y" ] || x=\${y%% *}
fi
children "$x"
p=\${y%% *}
# It is reported once it leads a session of its own (setsid has run): a stop signals that
# process group, which does not exist before. setsid runs within a millisecond or so of the
# fork: a few reads of its stat, then 10 ms naps.
i=0
while [ -n "$p" ]; do
  read -r st 2>/dev/null <"/proc/$p/stat" || break
  set -- \${st##*) }
  [ "$4" = "$p" ] && break
  i=$((i + 1))
  [ "$i" -lt 200 ] || sleep 0.01
done
[ -n "$p" ] || p=$x
# The init has read the command line by now (it starts the command only then).
rm -f "$base.args"
trap '' PIPE
echo "$p"
trap - PIPE
exec >/dev/null
while :; do
  wait "$c"
  code=$?
  kill -0 "$c" 2>/dev/null || break
done
kill -KILL -"$p" 2>/dev/null
fin=$(now)
( trap 'kill "$z" 2>/dev/null; exit 0' TERM; sleep 2 & z=$!; wait "$z"; kill "$l1" "$l2" 2>/dev/null ) & w=$!
wait "$l1" "$l2"
kill "$w" 2>/dev/null
[ -n "$r" ] && kill "$r" 2>/dev/null
l1= l2= r=
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
  /** setpriv's options for the command (security-context.ts); none: it runs as the supervisor does. */
  privileges?: string[]
  /** cgroup directories (one per hierarchy) the supervisor joins first, so the command and its loggers are in them. */
  cgroups?: string[]
  /** The pod's IPC namespace file; unset: the host's (hostIPC). */
  ipcPath?: string
  /** `new`: a pid namespace of the container's own; `host` (hostPID); or the pod's shared one (a /proc/PID/ns/pid path). */
  pidNamespace: 'new' | 'host' | string
  readOnlyRoot?: boolean
  /**
   * `host`: the host's /dev (privileged); `private`: a /dev of the container's own;
   * `private-termlog`: that, with `<base>.termination-log` bound at /dev/termination-log.
   */
  devices: 'host' | 'private' | 'private-termlog'
  /** stdin (held open, or closed after the first attach with stdinOnce) and a tty; attachable when either is set. */
  io?: { stdin: 'none' | 'open' | 'once'; tty: boolean }
  /** `overlay`: a copy-on-write root over the host's (writes stay in `<base>.layer`); `host`: the host's own (privileged). */
  root?: 'host' | 'overlay'
}

const CGROUP_DIR = /^\/sys\/fs\/cgroup(\/[A-Za-z0-9_.:@=,+-]+)+$/

/** The cgroup directories as the launcher's WEFT_CGROUPS (word-split by it, so each is checked). */
export function cgroupWords(dirs: readonly string[]): string {
  for (const d of dirs) if (!CGROUP_DIR.test(d) || d.split('/').includes('..')) throw new Error(`internal error: cgroup directory ${JSON.stringify(d)} is not a plain path under /sys/fs/cgroup`)
  return dirs.join(' ')
}

/** setpriv options are words of these characters only (they are word-split by the launcher). */
const PRIVILEGE_WORD = /^--[a-z-]+(=[a-z0-9_,+-]+)?$/

function pidNamespaceWord(ns: string): string {
  if (ns === 'new' || ns === 'host' || /^\/proc\/[1-9]\d*\/ns\/pid$/.test(ns)) return ns
  throw new Error(`internal error: pid namespace ${JSON.stringify(ns)} is not new, host or /proc/PID/ns/pid`)
}

/** POSIX shell quoting: every word in single quotes. */
export function shellQuote(words: readonly string[]): string {
  return words.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
}

/** What `<base>.args` holds: env (NAME=VALUE, a later duplicate wins) then argv. */
export function argsFile(env: readonly string[], argv: readonly string[]): string {
  return shellQuote([...env, ...argv]) + '\n'
}

export function privilegeWords(options: readonly string[]): string {
  for (const o of options) if (!PRIVILEGE_WORD.test(o)) throw new Error(`internal error: setpriv option ${JSON.stringify(o)} is not a plain word`)
  return options.join(' ')
}

/** The command line that starts the supervisor: [file, args]. */
export function launchCommand(spec: LaunchSpec): [string, string[]] {
  const sh = [
    'unshare', '--mount', '--propagation', 'slave', '--',
    'sh', '-c', LAUNCHER_SCRIPT, 'weft-launcher',
    spec.base, spec.log, spec.workingDir, privilegeWords(spec.privileges ?? []), pidNamespaceWord(spec.pidNamespace), spec.readOnlyRoot ? 'ro' : 'rw', spec.devices, `${spec.io?.stdin ?? 'none'}:${spec.io?.tty ? 1 : 0}`, spec.root ?? 'host', String(spec.mounts.length),
    ...spec.mounts.flatMap((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw']),
  ]
  const enter = [
    ...(spec.netnsPath !== undefined ? [`--net=${spec.netnsPath}`] : []),
    ...(spec.utsPath !== undefined ? [`--uts=${spec.utsPath}`] : []),
    ...(spec.ipcPath !== undefined ? [`--ipc=${spec.ipcPath}`] : []),
  ]
  if (enter.length === 0) return [sh[0], sh.slice(1)]
  return ['nsenter', [...enter, '--', ...sh]]
}
