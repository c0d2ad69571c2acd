// The report files on disk: `--out DIR` writes result.json and report.html; `weft load compare`
// reads results back (bounded, checked) and may write its page.
import { constants } from 'node:fs'
import { mkdir, open, rename, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { LoadResult } from '../types.ts'
import { renderCompareReport, type Labels } from './compare.ts'
import { terminalSafe } from './format.ts'
import { renderReport } from './html.ts'
import { maxResultLength, parseResult, ResultFileError } from './schema.ts'

export const resultFileName = 'result.json'
export const reportFileName = 'report.html'

/** Non-blocking, so that a FIFO given by mistake is refused instead of waited on. */
const readFlags = constants.O_RDONLY | constants.O_NONBLOCK

/** Writes `file` whole or not at all: a reader never sees half a report. */
async function writeWhole(file: string, text: string): Promise<void> {
  const partial = `${file}.${process.pid}.partial`
  await writeFile(partial, text, { mode: 0o644 })
  await rename(partial, file)
}

/** `--out DIR`: result.json (pretty, stable key order) and report.html. Creates DIR if needed. */
export async function writeReportFiles(directory: string, result: LoadResult): Promise<{ resultFile: string; reportFile: string }> {
  await mkdir(directory, { recursive: true, mode: 0o755 })
  const resultFile = join(directory, resultFileName)
  const reportFile = join(directory, reportFileName)
  await writeWhole(resultFile, JSON.stringify(result, null, 2) + '\n')
  await writeWhole(reportFile, renderReport(result))
  return { resultFile, reportFile }
}

/** Reads and checks a result.json (or a --out directory holding one); errors name the file. */
export async function readResultFile(path: string, maxBytes = maxResultLength): Promise<LoadResult> {
  let file = path
  let handle = await open(file, readFlags).catch((error: NodeJS.ErrnoException) => {
    throw new ResultFileError(path, '', error.code === 'ENOENT' ? 'no such file' : `cannot be read (${error.code ?? error.message})`)
  })
  try {
    let stats = await handle.stat()
    if (stats.isDirectory()) {
      await handle.close()
      file = join(path, resultFileName)
      handle = await open(file, readFlags).catch((error: NodeJS.ErrnoException) => {
        throw new ResultFileError(path, '', error.code === 'ENOENT' ? `a directory without ${resultFileName}` : `cannot be read (${error.code ?? error.message})`)
      })
      stats = await handle.stat()
    }
    if (!stats.isFile()) throw new ResultFileError(file, '', 'not a regular file')
    if (stats.size > maxBytes) throw new ResultFileError(file, '', `${stats.size} bytes, more than the ${maxBytes} a weft load result may have`)
    const text = await handle.readFile('utf8')
    return parseResult(text, file, maxBytes)
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/** Labels for `weft load compare A B`: the paths as given, or their directories' names when both files are called result.json. */
export function defaultLabels(pathA: string, pathB: string): Labels {
  const name = (path: string): string => (basename(path) === resultFileName ? basename(join(path, '..')) || path : basename(path) || path)
  const labels: Labels = [name(pathA), name(pathB)]
  return labels[0] === labels[1] ? [terminalSafe(pathA), terminalSafe(pathB)] : labels
}

/** `weft load compare A B --out DIR`: the comparison page as DIR/compare.html. */
export async function writeCompareReport(directory: string, a: LoadResult, b: LoadResult, labels: Labels): Promise<string> {
  await mkdir(directory, { recursive: true, mode: 0o755 })
  const file = join(directory, 'compare.html')
  await writeWhole(file, renderCompareReport(a, b, labels))
  return file
}
