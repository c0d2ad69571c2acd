// Where a text stops being JSON: JSON.parse's messages differ by engine and often quote the text
// (which may be hostile) instead of naming a place, so the place is found here.

const whitespace = new Set([' ', '\t', '\n', '\r'])
const literals = ['true', 'false', 'null']
const number = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y
const stringBody = /(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y

class Stop {
  readonly offset: number
  constructor(offset: number) {
    this.offset = offset
  }
}

/** The offset of the first character that makes `text` invalid JSON (text.length: it ended too soon), or undefined if it is valid or too deep to tell. */
export function invalidJsonOffset(text: string): number | undefined {
  let at = 0
  const skip = (): void => {
    while (at < text.length && whitespace.has(text[at])) at++
  }
  const expect = (char: string): void => {
    if (text[at] !== char) throw new Stop(at)
    at++
  }
  const string = (): void => {
    expect('"')
    stringBody.lastIndex = at
    stringBody.exec(text)
    at = stringBody.lastIndex
    expect('"')
  }
  const value = (): void => {
    skip()
    const char = text[at]
    if (char === '{') {
      at++
      skip()
      if (text[at] === '}') return void at++
      for (;;) {
        skip()
        string()
        skip()
        expect(':')
        value()
        skip()
        if (text[at] === ',') at++
        else return expect('}')
      }
    }
    if (char === '[') {
      at++
      skip()
      if (text[at] === ']') return void at++
      for (;;) {
        value()
        skip()
        if (text[at] === ',') at++
        else return expect(']')
      }
    }
    if (char === '"') return string()
    const literal = literals.find((word) => text.startsWith(word, at))
    if (literal) return void (at += literal.length)
    number.lastIndex = at
    if (number.exec(text)) return void (at = number.lastIndex)
    throw new Stop(at)
  }
  try {
    value()
    skip()
    if (at < text.length) throw new Stop(at)
    return undefined
  } catch (error) {
    if (error instanceof Stop) return error.offset
    if (error instanceof RangeError) return undefined
    throw error
  }
}

/** `line L, column C` of an offset (both from 1). */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}
