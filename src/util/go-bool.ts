// Go's strconv.ParseBool, which Kubernetes components use for boolean flags and query
// parameters. Callers decide what an absent or empty value means (a bare `--flag` is true;
// an empty query parameter is false).

const TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'true', 'TRUE', 'True'])
const FALSE: ReadonlySet<string> = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False'])

/** true or false for one of Go's boolean spellings; undefined for anything else, '' included. */
export function parseGoBool(text: string): boolean | undefined {
  return TRUE.has(text) ? true : FALSE.has(text) ? false : undefined
}
