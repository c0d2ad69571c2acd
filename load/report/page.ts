// One self-contained HTML page: inline style, the data as an inert JSON block, and inline scripts
// allowed by their SHA-256 hashes in a Content-Security-Policy that forbids every fetch. The
// scripts are TypeScript functions of this project, inlined by their source; nothing from the
// data is ever parsed as HTML.
import { createHash } from 'node:crypto'
import { reportStyle } from './style.ts'

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * JSON that can sit inside a <script> element: `<`, `>` and `&` are escaped (so no `</script`,
 * `<!--` or `-->` can appear), and so are U+2028/U+2029 (line breaks to older JavaScript) and
 * the bidirectional overrides (which make the page's source misleading to read).
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The CSP source that allows exactly this inline script. */
export function scriptHashSource(script: string): string {
  return `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`
}

/** A function of this project as an inline script that calls it. It must use nothing from outside its body. */
export function inlineScript(fn: () => void): string {
  const script = `(${fn.toString()})();`
  if (/<\/script|<!--|-->/i.test(script)) throw new Error(`${fn.name}: its source cannot be inlined in HTML`)
  return script
}

/** Installed first: any error (or blocked fetch) later is recorded on <body data-rendered> and shown, so nothing fails silently. */
export function installErrorTrap(): void {
  const fail = (message: string): void => {
    document.body.dataset.rendered = 'error: ' + message
    const box = document.getElementById('render-error')
    if (box) {
      box.hidden = false
      box.textContent = 'The charts could not be drawn: ' + message
    }
  }
  window.onerror = (message, _source, line, column, error) => {
    fail((error instanceof Error ? error.message : String(message)) + (line ? ` (script line ${line}:${column ?? 0})` : ''))
  }
  window.addEventListener('unhandledrejection', (event) => fail(String(event.reason)))
  document.addEventListener('securitypolicyviolation', (event) => fail(`blocked by the page's policy: ${event.effectiveDirective} ${event.blockedURI}`))
}

export interface PageOptions {
  title: string
  /** Trusted HTML built by this module's callers, with every data string escaped. */
  bodyHtml: string
  /** Embedded as <script type="application/json" id="weft-data">. */
  data: unknown
  /** Draws into the page from the data; sets document.body.dataset.rendered = 'ok' when done. */
  draw: () => void
}

export function renderPage(options: PageOptions): string {
  const trap = inlineScript(installErrorTrap)
  const draw = inlineScript(options.draw)
  const policy = [
    "default-src 'none'",
    `script-src ${scriptHashSource(trap)} ${scriptHashSource(draw)}`,
    "style-src 'unsafe-inline'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(policy)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>${escapeHtml(options.title)}</title>
<style>${reportStyle}</style>
</head>
<body>
<script>${trap}</script>
<p id="render-error" class="render-error" role="alert" hidden></p>
${options.bodyHtml}
<script type="application/json" id="weft-data">${embedJson(options.data)}</script>
<script>${draw}</script>
</body>
</html>
`
}
