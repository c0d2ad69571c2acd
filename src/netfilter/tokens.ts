// What weft lets into nft's input: every piece of a Transaction is checked before it is
// rendered, so no value can end a command early, start another one, or hide the rest of
// a line. The grammar (a subset of what nft accepts, enough for weft's rules):
//
// - Names (tables, chains, sets, maps): 1 to 255 characters, a letter or `_` first, then
//   letters, digits and `_ . / -` (nft's own identifier syntax, without its `$`/`@`
//   prefixes and without a leading `.`).
// - Rule text, object specs and set elements: printable ASCII. Outside double quotes only
//   letters, digits, space and `_ . : , / @ & ^ | ! = < > - + * ~ ( ) [ ] { }`; never
//   `;` (it ends a command), `#` (it comments out the rest of the line), `$`, `\`, `'`,
//   backquotes or control characters (a newline ends a command). Braces balance and never
//   close more than they opened. A double-quoted string (a comment) may hold any printable
//   ASCII but `"` and `\`.
// - Object specs (the inside of `{ … }` of a chain, set or map) may also hold `;`; a whole
//   command (nftApply's raw lines) only inside braces.
// - One set element holds no `,` outside braces (that would be two elements).
//
// A refusal is an NftTokenError naming what was refused and why; nothing is sent to nft.

/** A piece of nft text that is not in weft's grammar. */
export class NftTokenError extends Error {
  readonly code = 'NFT_INVALID_TOKEN'
  constructor(message: string) {
    super(message)
    this.name = 'NftTokenError'
  }
}

export type NftTextKind = 'rule' | 'spec' | 'element' | 'command'

const NAME = /^[A-Za-z_][A-Za-z0-9_./-]{0,254}$/
/** Characters allowed outside quotes (specs add `;`), by char code: a table, as this runs for every character of every rule. */
const PLAIN = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.:,/@&^|!=<>-+*~()[]{}') PLAIN[c.charCodeAt(0)] = 1

const [QUOTE, BACKSLASH, SEMICOLON, OPEN, CLOSE, COMMA] = ['"', '\\', ';', '{', '}', ','].map((c) => c.charCodeAt(0))

/** `text` quoted for a message: JSON escapes, and non-ASCII as \uXXXX (U+2028 would break a log line). */
function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Throws unless `name` is a valid nft object name. `what` says which (`chain name`). */
export function checkNftName(what: string, name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new NftTokenError(`${what} ${show(String(name))} is not a valid nft name: 1-255 characters, a letter or _ first, then letters, digits and _ . / -`)
  }
}

/** Throws unless `text` is valid rule text, object spec or set element (see the grammar above). */
export function checkNftText(kind: NftTextKind, text: string): void {
  if (typeof text !== 'string' || text.trim() === '') throw new NftTokenError(`empty nft ${kind}`)
  let depth = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    // Char codes only: this runs for every character of every rule and element of a sync.
    const code = text.charCodeAt(i)
    if (code < 0x20 || code > 0x7e) throw new NftTokenError(`nft ${kind} ${show(text)} holds ${code === 10 ? 'a newline' : `the control or non-ASCII character U+${code.toString(16).padStart(4, '0')}`} at ${i}`)
    if (quoted) {
      if (code === QUOTE) quoted = false
      else if (code === BACKSLASH) throw new NftTokenError(`nft ${kind} ${show(text)} holds a backslash in a quoted string at ${i}`)
      continue
    }
    if (code === QUOTE) {
      quoted = true
      continue
    }
    if (code === SEMICOLON) {
      if (kind === 'spec' || (kind === 'command' && depth > 0)) continue
      if (kind === 'command') throw new NftTokenError(`nft command ${show(text)} holds ";" outside braces at ${i}, which would start another command`)
      throw new NftTokenError(`nft ${kind} ${show(text)} holds ";" at ${i}, which would end the command`)
    }
    if (PLAIN[code] !== 1) throw new NftTokenError(`nft ${kind} ${show(text)} holds ${JSON.stringify(text[i])} at ${i}, which weft never sends to nft`)
    if (code === OPEN) depth++
    else if (code === CLOSE) {
      if (--depth < 0) throw new NftTokenError(`nft ${kind} ${show(text)} closes a brace it did not open at ${i}`)
    } else if (code === COMMA && depth === 0 && kind === 'element') {
      throw new NftTokenError(`nft element ${show(text)} holds "," outside braces at ${i}: that is more than one element`)
    }
  }
  if (quoted) throw new NftTokenError(`nft ${kind} ${show(text)} leaves a quoted string open`)
  if (depth !== 0) throw new NftTokenError(`nft ${kind} ${show(text)} leaves ${depth} brace(s) open`)
}

/**
 * Throws unless `line` is one whole nft command in weft's grammar: a verb and object
 * words, then at most balanced braces; no `;`, `#` or newline outside braces. For callers
 * that hand nft raw lines (nftApply) rather than a Transaction.
 */
export function checkNftCommand(line: string): void {
  checkNftText('command', line)
}
