// The few Go formatting verbs upstream's RBAC messages are built from, so that weft's
// messages read byte for byte like the Kubernetes API server's.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u

/** Go's `%q` of a string (strconv.Quote); a lone UTF-16 surrogate becomes U+FFFD as Go's JSON decoding makes it. */
export function goQuote(s: string): string {
  let out = '"'
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += '\ufffd'
      continue
    }
    switch (ch) {
      case '"':
        out += '\\"'
        continue
      case '\\':
        out += '\\\\'
        continue
      case '\x07':
        out += '\\a'
        continue
      case '\b':
        out += '\\b'
        continue
      case '\f':
        out += '\\f'
        continue
      case '\n':
        out += '\\n'
        continue
      case '\r':
        out += '\\r'
        continue
      case '\t':
        out += '\\t'
        continue
      case '\v':
        out += '\\v'
        continue
    }
    if (PRINTABLE.test(ch)) out += ch
    else if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0')
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0')
    else out += '\\U' + cp.toString(16).padStart(8, '0')
  }
  return out + '"'
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return '[' + list.map(goQuote).join(' ') + ']'
}

/** The text of k8s.io/apimachinery's utilerrors.NewAggregate(errs).Error(): one message bare, several de-duplicated in brackets. */
export function aggregateMessage(messages: readonly string[]): string {
  if (messages.length === 0) return ''
  if (messages.length === 1) return messages[0]
  const seen = [...new Set(messages)]
  return seen.length === 1 ? seen[0] : `[${seen.join(', ')}]`
}

/** Orders strings as Go compares them: by UTF-8 bytes, not UTF-16 code units. */
export function goStringCompare(a: string, b: string): number {
  if (a === b) return 0
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
