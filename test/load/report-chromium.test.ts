// report.html and the compare page in a real browser: the charts draw (data-rendered="ok", SVG
// paths), the screenshot has ink in every chart, the page makes no network request, and a page
// whose script fails says so.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { renderCompareReport } from '../../load/report/compare.ts'
import { renderReport } from '../../load/report/html.ts'
import { renderPage } from '../../load/report/page.ts'
import { chromiumMissing, openPage, RecordingProxy, renderedState, temporaryDirectory, windowSize } from './fixtures/chromium.ts'
import { decodePng, inkIn, type Box, type Image } from './fixtures/png.ts'
import { hostileResult, makeResult, rolloutActions, rolloutResult } from './fixtures/results.ts'

const missing = chromiumMissing()
if (missing) {
  t.plan(0, missing)
} else {
  const proxy = new RecordingProxy()
  await proxy.start()
  const directory = temporaryDirectory('weft-report-')
  t.teardown(async () => {
    directory.remove()
    await proxy.stop()
  })

  const write = (name: string, html: string): string => {
    const file = join(directory.path, name)
    writeFileSync(file, html)
    return file
  }

  /** Each <svg> of the DOM with where it was drawn and what it holds. */
  const charts = (dom: string): { box: Box; paths: number; lines: number; rects: number; texts: number }[] =>
    [...dom.matchAll(/<svg\b[^>]*data-box="(\d+),(\d+),(\d+),(\d+)"[^>]*>([\s\S]*?)<\/svg>/g)].map((match) => ({
      box: { x: Number(match[1]), y: Number(match[2]), width: Number(match[3]), height: Number(match[4]) },
      paths: (match[5].match(/<path\b[^>]*\sd="M/g) ?? []).length,
      lines: (match[5].match(/<line\b/g) ?? []).length,
      rects: (match[5].match(/<rect\b/g) ?? []).length,
      texts: (match[5].match(/<text\b/g) ?? []).length,
    }))

  const white: [number, number, number] = [255, 255, 255]

  const assertInked = (t: Test, image: Image, box: Box, what: string): void => {
    const visible = { ...box, height: Math.min(box.height, windowSize.height - box.y) }
    if (visible.height < 50) return
    const ink = inkIn(image, visible, white)
    t.ok(ink.inked > 0.02, `${what}: ${(ink.inked * 100).toFixed(1)}% of its pixels drawn on`)
    t.ok(ink.colours >= 8, `${what}: ${ink.colours} distinct colours`)
  }

  t.test('report.html of the rollout run: every chart drawn, no request made', async (t) => {
    const before = proxy.pageRequests().length
    const page = await openPage(write('report.html', renderReport(rolloutResult())), proxy, { screenshot: true })
    t.equal(renderedState(page.dom), 'ok')
    const drawn = charts(page.dom)
    t.equal(drawn.length, 4, 'latency, errors, spectrum, endpoints')
    const [latency, errors, spectrum, endpoints] = drawn
    t.ok(latency.paths >= 3, 'p50, p90 and p99 lines')
    t.ok(latency.rects >= 2 && errors.rects >= 2 + 3, 'action bands; error bars')
    t.ok(spectrum.paths >= 1, 'the spectrum line')
    t.ok(endpoints.rects >= 8, 'a track and a bar per endpoint')
    for (const chart of [latency, errors, spectrum]) t.ok(chart.lines >= 2 && chart.texts >= 3, 'axes and labels')
    t.ok(endpoints.texts >= 8, 'a name and a share per endpoint')
    t.match(page.dom, /<text[^>]*class="band-label"[^>]*>rollout deployment\/web<\/text>/)

    const image = decodePng(page.screenshot!)
    t.same([image.width, image.height], [windowSize.width, windowSize.height])
    drawn.forEach((chart, index) => assertInked(t, image, chart.box, ['latency', 'errors', 'spectrum', 'endpoints'][index]))
    t.same(proxy.pageRequests().slice(before), [], 'no network request from the page')
  })

  t.test('the compare page: both runs drawn on every chart', async (t) => {
    const b = makeResult({ baseMs: 4, actions: [{ ...rolloutActions[0], atSecond: 22, completedSecond: 38 }], errors: { 33: { 'http-5xx': 12 } }, seed: 3 })
    const before = proxy.pageRequests().length
    const page = await openPage(write('compare.html', renderCompareReport(rolloutResult(), b, ['nftables.json', 'userspace.json'])), proxy, { screenshot: true })
    t.equal(renderedState(page.dom), 'ok')
    const drawn = charts(page.dom)
    t.equal(drawn.length, 4)
    t.ok(drawn[0].paths >= 4, 'p50 and p99 of each run')
    t.ok(drawn[2].paths >= 2, 'a spectrum per run')
    t.match(page.dom, /class="series run0[^"]*"/)
    t.match(page.dom, /class="series run1[^"]*"/)
    const image = decodePng(page.screenshot!)
    drawn.forEach((chart, index) => assertInked(t, image, chart.box, `compare ${['latency', 'errors', 'spectrum', 'endpoints'][index]}`))
    t.same(proxy.pageRequests().slice(before), [])
  })

  t.test('hostile names are drawn as text and run nothing', async (t) => {
    const page = await openPage(write('hostile.html', renderReport(hostileResult())), proxy)
    t.equal(renderedState(page.dom), 'ok')
    t.notMatch(page.dom, /data-pwned/, 'the injected handler never ran')
    t.notMatch(page.dom, /<img\b/i, 'no element from a name')
    t.match(page.dom, '&lt;/script&gt;&lt;img src=x onerror="document.body.dataset.pwned=1"&gt;', 'the name shown as text')
  })

  t.test('edge cases draw too: a run with no requests, an hour at 10,000 req/s', async (t) => {
    const empty = makeResult({ seconds: 0, endpoints: [] })
    t.equal(renderedState((await openPage(write('empty.html', renderReport(empty)), proxy)).dom), 'ok', 'empty run')
    const long = makeResult({ seconds: 3600, rate: 10_000, samplesPerSecond: 10, errors: { 1800: { timeout: 5 } }, actions: [{ name: 'restart proxy on node-1', kind: 'restart-proxy', atSecond: 1790, completedSecond: 1795, ok: true, message: '' }] })
    const page = await openPage(write('long.html', renderReport(long)), proxy)
    t.equal(renderedState(page.dom), 'ok', 'long run')
    t.ok(charts(page.dom)[0].paths >= 3)
    t.match(page.dom, '>errors per 10 s</text>', 'an hour is drawn in slots of 10 s')
    t.match(page.dom, '>latency (worst second of each 10 s)</text>')
    const firstLine = /<path d="(M[^"]*)" class="series p50"/.exec(page.dom)![1]
    t.equal(firstLine.split(/[ML]/).length - 1, 360, 'one point per slot')
    t.match(page.dom, /<title>seconds 1800–1809: 5 errors of [\d,]+<\/title>/)
  })

  t.test('the test of the test: failures are seen', async (t) => {
    const throwing = renderPage({
      title: 'throws',
      bodyHtml: '<main>nothing</main>',
      data: {},
      draw: function draw() {
        throw new Error('chart exploded')
      },
    })
    const thrown = await openPage(write('throws.html', throwing), proxy)
    t.match(renderedState(thrown.dom), /^error: chart exploded/, 'a throwing script is reported on <body>')
    t.match(thrown.dom, /<p id="render-error"[^>]*>The charts could not be drawn: chart exploded/, 'and shown')

    const fetching = renderPage({
      title: 'fetches',
      bodyHtml: '<main>nothing</main>',
      data: {},
      draw: function draw() {
        void fetch('http://example.invalid/data.json').catch(() => undefined)
      },
    })
    const before = proxy.pageRequests().length
    const blocked = await openPage(write('fetches.html', fetching), proxy)
    t.match(renderedState(blocked.dom), /^error: blocked by the page's policy: connect-src http:\/\/example\.invalid\/data\.json/, 'the policy blocks a fetch and the page says so')
    t.same(proxy.pageRequests().slice(before), [], 'nothing reached the network')

    const leaky = '<!doctype html><html><body><img src="http://example.invalid/pixel.png" alt=""></body></html>'
    await openPage(write('leaky.html', leaky), proxy)
    t.match(proxy.pageRequests().slice(before), [/^GET http:\/\/example\.invalid\/pixel\.png /], 'a page without the policy is caught fetching')

    const blank = await openPage(write('blank.html', '<!doctype html><html><body></body></html>'), proxy, { screenshot: true })
    t.equal(renderedState(blank.dom), undefined, 'a page that never draws says nothing')
    const ink = inkIn(decodePng(blank.screenshot!), { x: 0, y: 0, width: windowSize.width, height: windowSize.height }, white)
    t.equal(ink.inked, 0, 'and a blank screenshot is seen as blank')
  })
}
