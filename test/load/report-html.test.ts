import t from 'tap'
import { errorClasses } from '../../load/types.ts'
import { renderReport } from '../../load/report/html.ts'
import { embedJson, escapeHtml, inlineScript, renderPage } from '../../load/report/page.ts'
import { embeddedData, markupOf, policyOf, scriptsOf, sha256Source } from './fixtures/html.ts'
import { closedDnsResult, hostileResult, hostileText, makeResult, rolloutResult } from './fixtures/results.ts'

t.test('escaping text and embedding JSON', async (t) => {
  t.equal(escapeHtml(`<a href="x" title='y'>&amp;</a>`), '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;amp;&#60;/a&#62;')
  const value = { text: '</script><!-- --> & \u2028\u2029 </SCRIPT' }
  const embedded = embedJson(value)
  t.notMatch(embedded, /[<>&\u2028\u2029]/)
  t.same(JSON.parse(embedded), value)
})

t.test('a script whose source would end the element is refused', async (t) => {
  t.throws(() => inlineScript(function leaks() { return void '</script>' }), { message: /leaks: its source cannot be inlined/ })
  t.throws(() => inlineScript(function comment() { return void '<!--' }), { message: /cannot be inlined/ })
})

t.test('the page forbids every fetch and allows only its own two scripts, by hash', async (t) => {
  const html = renderReport(rolloutResult())
  t.match(html, /^<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy"/, 'the policy comes before anything that could load')
  const policy = policyOf(html)
  t.same(policy.get('default-src'), ["'none'"])
  t.same(policy.get('style-src'), ["'unsafe-inline'"])
  t.same(policy.get('img-src'), ['data:'])
  t.same(policy.get('base-uri'), ["'none'"])
  const executable = scriptsOf(html).filter((script) => script.attributes === '')
  t.equal(executable.length, 2, 'the error trap and the charts')
  t.same(policy.get('script-src'), executable.map((script) => sha256Source(script.body)), 'exactly their hashes, no unsafe-inline')
  t.equal(scriptsOf(html).length, 3, 'plus the inert data block')
  const markup = markupOf(html)
  t.notMatch(markup, /\s(src|srcset|action|poster|formaction|background|ping)\s*=/i, 'no attribute that loads anything')
  t.same([...markup.matchAll(/\shref="([^"]*)"/g)].map((match) => match[1]), ['data:,'], 'only the empty data: icon (which stops a favicon request)')
  t.notMatch(markup, /url\(|@import|@font-face/i, 'no style that loads anything')
  t.notMatch(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no address but the SVG namespace name')
})

t.test('the result is embedded whole, for the charts', async (t) => {
  const result = rolloutResult()
  t.same(embeddedData(renderReport(result)), { runs: [{ label: 'svc/web.default:80', result }], errorClasses })
})

t.test('the tables say what the summary says', async (t) => {
  const html = renderReport(rolloutResult())
  t.match(html, '<h1>weft load: svc/web.default:80</h1>')
  t.match(html, '<title>weft load: svc/web.default:80</title>')
  t.match(html, '<tr><td>sent</td><td class="num">30,000</td></tr>')
  t.match(html, '<tr><td>p50</td><td class="num">5.01</td></tr>')
  t.match(html, '<tr><td>reset</td><td class="num">42</td><td class="num">85.7%</td></tr>')
  t.match(html, '<td class="name">web-7c9f-8x2kq</td><td class="num">7,858</td><td class="num">26.2%</td>')
  t.match(html, '<tr><td>20 s → 41 s (21 s)</td><td class="name">rollout deployment/web</td><td>rollout</td><td class="good">ok</td><td class="bad">45 (42 reset, 3 refused)</td>')
  t.match(html, '<li>errors at 30–31 s: 42 reset, 3 refused, during rollout deployment/web</li>')
  for (const kind of ['latency', 'errors', 'spectrum', 'endpoints']) t.match(html, `<div data-chart="${kind}"></div>`)
  const quiet = renderReport(closedDnsResult())
  t.match(quiet, '<p class="good">No request failed.</p>')
  t.match(quiet, 'Not identified: the replies did not name a pod')
  t.notMatch(quiet, '<h2>Actions</h2>')
})

t.test('hostile names from a result stay text', async (t) => {
  const result = hostileResult()
  const html = renderReport(result)
  const markup = markupOf(html)
  t.notMatch(markup, /<img/i, 'no element made from a name')
  t.notMatch(markup, /<[^>]*\sonerror\s*=/i, 'no handler attribute')
  t.notMatch(markup, /<!--/, 'no comment opened by a name')
  t.notMatch(html, /[\u2028\u202e\u001b]/, 'no raw separators, overrides or escapes anywhere')
  t.match(markup, '&#60;/script&#62;&#60;img src=x onerror=&#34;document.body.dataset.pwned=1&#34;&#62;\\u2028&#60;!--\\u001b[2J\\u202e&#38;amp;', 'shown escaped')
  t.equal(scriptsOf(html).length, 3, 'no script element added or cut short')
  t.same((embeddedData(html) as { runs: { result: unknown }[] }).runs[0].result, result, 'the data block survives intact')
  t.ok(hostileText.includes('</script>'))
})

t.test('a page from renderPage has the error trap first and the drawing last', async (t) => {
  const html = renderPage({ title: '<t>', bodyHtml: '<main></main>', data: { a: 1 }, draw: function draw() { document.body.dataset.rendered = 'ok' } })
  const scripts = scriptsOf(html)
  t.match(scripts[0].body, /^\(function installErrorTrap\(\)/)
  t.match(scripts[2].body, /^\(function draw\(\) \{ document\.body\.dataset\.rendered = 'ok' \}\)\(\);$/)
  t.match(html, '<title>&#60;t&#62;</title>')
  t.ok(html.indexOf('<main></main>') < html.indexOf('id="weft-data"'))
})

t.test('a long run renders to a page of reasonable size', async (t) => {
  const result = makeResult({ seconds: 3600, rate: 10_000, samplesPerSecond: 20 })
  const html = renderReport(result)
  t.ok(html.length < JSON.stringify(result).length + 100_000, `${html.length} characters: the data and a fixed overhead`)
})
