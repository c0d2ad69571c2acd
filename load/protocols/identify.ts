// Which endpoint answered, from its reply: weft/echo answers JSON with `"pod":"<name>"`;
// agnhost netexec's /hostname and serve-hostname answer the bare hostname (the pod's name).
// Cheap on purpose (no JSON parse): it runs for every response of a load run.

const maxHostnameReply = 253
const podKey = '"pod":"'

/** A DNS-label-like hostname, optionally followed by one newline. */
function bareHostname(text: string): string | undefined {
  const name = text.endsWith('\n') ? text.slice(0, -1) : text
  return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(name) ? name : undefined
}

export function endpointFromReply(body: Buffer | string): string | undefined {
  const length = body.length
  if (length === 0) return undefined
  if (typeof body === 'string' ? body[0] === '{' : body[0] === 0x7b) {
    const text = typeof body === 'string' ? body : body.toString('latin1', 0, Math.min(length, 4096))
    const at = text.indexOf(podKey)
    if (at < 0) return undefined
    const start = at + podKey.length
    const end = text.indexOf('"', start)
    if (end <= start || end - start > maxHostnameReply) return undefined
    return bareHostname(text.slice(start, end))
  }
  if (length > maxHostnameReply + 1) return undefined
  return bareHostname(typeof body === 'string' ? body : body.toString('latin1'))
}
