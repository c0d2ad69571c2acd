// The kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go): a configMap, secret,
// downwardAPI or projected volume is laid out as
//   <vol>/..2024_05_01_10_00_00.123456789/<files>   one generation of the payload
//   <vol>/..data -> ..2024_05_01_10_00_00.123456789
//   <vol>/<key> -> ..data/<key>                      one link per top-level name
// An update writes a whole new generation, points a fresh `..data_tmp` link at it and
// renames that over `..data` (one atomic step), then drops links of names that went and
// the old generation. A reader opening `<vol>/<key>` gets the old file or the new one,
// never a mix or half a file. A container that mounts the volume root sees updates; one
// that mounts a single file (subPath) keeps the generation it started with, as upstream.
//
// Directories are 0700: with containers running as root that is all they need, and no
// other user of the node gets in. Files have the payload's permission bits, set exactly
// (no umask; setuid, setgid and sticky bits are dropped).
import { randomBytes } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { chmod, mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export interface AtomicFile {
  /** Relative, `/`-separated, no `..` element; the first element may not start with `..`. */
  path: string
  data: string | Uint8Array
  mode: number
}

const DATA = '..data'
const DATA_TMP = '..data_tmp'
const GENERATION = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}$/

const MAX_FILE_NAME_LENGTH = 255
const MAX_PATH_LENGTH = 4096

/**
 * The kubelet's atomic writer rules for a payload path (validatePath): relative, no `..`
 * element, the first element not starting with `..` (those names are the layout's), bounded
 * lengths. volume-files.ts applies them to the paths a pod gives before it cleans them.
 */
export function validateVolumePath(path: string): string | undefined {
  if (path === '') return 'invalid path: must not be empty: ""'
  if (path.startsWith('/')) return `invalid path: must be relative path: ${path}`
  if (path.length > MAX_PATH_LENGTH) return `invalid path: must be less than or equal to ${MAX_PATH_LENGTH} characters`
  const items = path.split('/')
  for (const item of items) {
    if (item === '..') return `invalid path: must not contain '..': ${path}`
    if (item.length > MAX_FILE_NAME_LENGTH) return `invalid path: filenames must be less than or equal to ${MAX_FILE_NAME_LENGTH} characters`
  }
  if (items[0]!.startsWith('..') && items[0]!.length > 2) return `invalid path: must not start with '..': ${path}`
  return undefined
}

/** validateVolumePath, and cleaned (the writer takes paths as they will be on disk). */
function payloadPathError(path: string): string | undefined {
  return validateVolumePath(path) ?? (path.split('/').some((p) => p === '' || p === '.') ? `invalid path: must not have empty or '.' elements: ${path}` : undefined)
}

function generationName(now: Date): string {
  const iso = now.toISOString()
  const stamp = `${iso.slice(0, 4)}_${iso.slice(5, 7)}_${iso.slice(8, 10)}_${iso.slice(11, 13)}_${iso.slice(14, 16)}_${iso.slice(17, 19)}`
  return `..${stamp}.${String(randomBytes(4).readUInt32BE(0) % 1_000_000_000).padStart(9, '0')}`
}

/** The generation `..data` points at, if it is one. */
function currentGeneration(dir: string): string | undefined {
  try {
    const target = readlinkSync(join(dir, DATA))
    return GENERATION.test(target) ? target : undefined
  } catch {
    return undefined
  }
}

/** Whether the generation holds exactly these files, with these modes. */
function sameAs(genDir: string, files: readonly AtomicFile[]): boolean {
  const want = new Map(files.map((f) => [f.path, f]))
  const walk = (rel: string): boolean => {
    for (const entry of readdirSync(join(genDir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.isDirectory()) {
        if (!walk(path)) return false
        continue
      }
      const f = want.get(path)
      if (!f || !entry.isFile()) return false
      const full = join(genDir, path)
      if ((lstatSync(full).mode & 0o7777) !== (f.mode & 0o777)) return false
      if (!readFileSync(full).equals(typeof f.data === 'string' ? Buffer.from(f.data) : f.data)) return false
      want.delete(path)
    }
    return true
  }
  try {
    return walk('') && want.size === 0
  } catch {
    return false
  }
}

/**
 * Makes `dir` hold exactly `files` in the layout above. Returns whether anything changed
 * (an identical payload is not rewritten). `dir` must exist; what else is in it (a plain
 * file layout from an older weft, a crashed update's leftovers) is replaced.
 */
export async function writeAtomic(dir: string, files: readonly AtomicFile[], now = new Date()): Promise<boolean> {
  const seen = new Set<string>()
  for (const f of files) {
    const invalid = payloadPathError(f.path)
    if (invalid !== undefined) throw new Error(`volume file ${JSON.stringify(f.path)}: ${invalid}`)
    if (seen.has(f.path)) throw new Error(`volume file path ${JSON.stringify(f.path)} is given twice`)
    seen.add(f.path)
  }
  const old = currentGeneration(dir)
  const tops = new Set(files.map((f) => f.path.split('/')[0]!))
  for (const f of files) {
    // A name that is a file and a directory at once (`a` and `a/b`) cannot be written.
    const parts = f.path.split('/')
    for (let i = 1; i < parts.length; i++) {
      if (seen.has(parts.slice(0, i).join('/'))) throw new Error(`volume file path ${JSON.stringify(f.path)} lies under another file of the volume`)
    }
  }
  let changed = true
  if (old !== undefined && sameAs(join(dir, old), files)) {
    changed = false
  } else {
    const gen = generationName(now)
    const genDir = join(dir, gen)
    // 0755 as upstream's atomic writer: a container running as any user reads the files at their own modes.
    await mkdir(genDir, { mode: 0o755 })
    await chmod(genDir, 0o755)
    try {
      for (const f of files) {
        const path = join(genDir, f.path)
        await mkdir(dirname(path), { recursive: true, mode: 0o755 })
        await writeFile(path, f.data, { mode: f.mode & 0o777, flag: 'wx' })
        await chmod(path, f.mode & 0o777)
      }
      await rm(join(dir, DATA_TMP), { force: true })
      await symlink(gen, join(dir, DATA_TMP))
      await rename(join(dir, DATA_TMP), join(dir, DATA))
    } catch (err) {
      await rm(genDir, { recursive: true, force: true })
      throw err
    }
  }
  // The user-visible names: a link per top-level name, nothing else.
  for (const name of await readdir(dir)) {
    if (name === DATA || (name.startsWith('..') && name === currentGeneration(dir))) continue
    const keepLink = tops.has(name) && isLinkTo(join(dir, name), `${DATA}/${name}`)
    if (!keepLink) await rm(join(dir, name), { recursive: true, force: true })
  }
  for (const name of tops) {
    if (!isLinkTo(join(dir, name), `${DATA}/${name}`)) await symlink(`${DATA}/${name}`, join(dir, name))
  }
  return changed
}

function isLinkTo(path: string, target: string): boolean {
  try {
    return readlinkSync(path) === target
  } catch {
    return false
  }
}
