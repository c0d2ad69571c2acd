// hey's summary, parsed.

export interface HeyResult {
  rps: number
  requests: number
  non200: number
  errors: number
}

/** hey's summary: `Requests/sec:`, the status code distribution and the error distribution. */
export function parseHey(text: string): HeyResult {
  const rps = /^\s*Requests\/sec:\s+([\d.]+)/m.exec(text)
  if (!rps) throw new Error(`hey printed no "Requests/sec" line:\n${text.slice(-1500)}`)
  let requests = 0
  let non200 = 0
  for (const m of text.matchAll(/^\s*\[(\d+)\]\s+(\d+) responses/gm)) {
    requests += Number(m[2])
    if (m[1] !== '200') non200 += Number(m[2])
  }
  let errors = 0
  const errorPart = text.split(/Error distribution:/)[1] ?? ''
  for (const m of errorPart.matchAll(/^\s*\[(\d+)\]\s/gm)) errors += Number(m[1])
  return { rps: Number(rps[1]), requests, non200, errors }
}
