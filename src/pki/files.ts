// The PKI's files: read with errors that name the file, written atomically with their
// modes (keys 0600, certificates 0644), and never overwritten unless asked to replace.
import { randomBytes } from 'node:crypto'
import { chmod, link, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export const KEY_MODE = 0o600
export const CERT_MODE = 0o644
/** Far larger than any PEM file the PKI holds. */
const MAX_FILE_BYTES = 1 << 20

/** The file's text, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  let buf: Buffer
  try {
    buf = await readFile(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw new Error(`${path}: cannot be read (${code ?? (err as Error).message})`)
  }
  if (buf.length > MAX_FILE_BYTES) throw new Error(`${path}: larger than ${MAX_FILE_BYTES} bytes; not a PEM file weft reads`)
  return buf.toString('utf8')
}

export async function readRequired(path: string, what: string): Promise<string> {
  const text = await readOptional(path)
  if (text === undefined) throw new Error(`${path}: ${what} does not exist`)
  return text
}

async function writeTemp(path: string, content: string, mode: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  await writeFile(tmp, content, { mode, flag: 'wx' })
  await chmod(tmp, mode)
  return tmp
}

/** Writes a new file; fails if `path` exists (another process made it first). */
export async function createFile(path: string, content: string, mode: number): Promise<void> {
  const tmp = await writeTemp(path, content, mode)
  try {
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${path}: appeared while weft was creating it (is another weft server using this data dir?)`)
    throw err
  } finally {
    await unlink(tmp)
  }
}

/** Replaces `path` atomically (a renewed certificate). */
export async function replaceFile(path: string, content: string, mode: number): Promise<void> {
  const tmp = await writeTemp(path, content, mode)
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}
