// The reports' stylesheet: light and dark (prefers-color-scheme), printable, system fonts only.

const light = `
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
  --p50: #1f6feb; --p90: #8250df; --p99: #cf222e; --max: #8c959f;
  --run0: #0969da; --run1: #bc4c00;
  --band: rgba(212, 167, 44, 0.22); --mark: #9a6700; --bad: #cf222e; --good: #1a7f37;`

const dark = `
  --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --panel: #151b23;
  --p50: #58a6ff; --p90: #bc8cff; --p99: #ff7b72; --max: #6e7681;
  --run0: #58a6ff; --run1: #f0883e;
  --band: rgba(210, 153, 34, 0.25); --mark: #d29922; --bad: #ff7b72; --good: #3fb950;`

/** One colour per error class, in the order of `errorClasses` (mid tones, legible on light and dark). */
export const errorClassColors = [
  '#e15759', '#f28e2b', '#b07aa1', '#76b7b2', '#59a14f', '#edc948', '#ff9da7', '#9c755f',
  '#bab0ac', '#4e79a7', '#a0cbe8', '#ffbe7d', '#8cd17d', '#d37295', '#79706e',
]

export const reportStyle = `
:root { color-scheme: light dark; ${light} }
@media (prefers-color-scheme: dark) { :root { ${dark} } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 20px 24px 40px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
h1 { font-size: 20px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 0 0 8px; }
.sub { color: var(--muted); margin: 0 0 2px; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 8px; margin: 16px 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card b { display: block; font-size: 18px; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: 12px; }
.card.bad b { color: var(--bad); }
section { margin: 18px 0; break-inside: avoid; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
.chart svg { display: block; width: 100%; height: auto; background: var(--bg); }
.chart p.note { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
svg text { fill: var(--fg); font: 12px system-ui, sans-serif; }
svg text.muted { fill: var(--muted); }
svg text.band-label { fill: var(--mark); font-size: 11px; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .series { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
svg .p50 { stroke: var(--p50); } svg .p90 { stroke: var(--p90); } svg .p99 { stroke: var(--p99); } svg .max { stroke: var(--max); }
svg .run0 { stroke: var(--run0); } svg .run1 { stroke: var(--run1); }
svg rect.run0, svg .swatch.run0 { fill: var(--run0); } svg rect.run1, svg .swatch.run1 { fill: var(--run1); }
svg .swatch.p50 { fill: var(--p50); } svg .swatch.p90 { fill: var(--p90); } svg .swatch.p99 { fill: var(--p99); }
svg .dashed { stroke-dasharray: 5 3; }
svg .band { fill: var(--band); }
svg .mark { stroke: var(--mark); stroke-width: 1.2; }
svg .mark.failed { stroke: var(--bad); }
svg .mark.run0 { stroke: var(--run0); } svg .mark.run1 { stroke: var(--run1); }
svg .bar-track { fill: var(--panel); }
${errorClassColors.map((color, index) => `svg .e${index} { fill: ${color}; }`).join('\n')}
table { border-collapse: collapse; margin: 4px 0 8px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; }
td.name { overflow-wrap: anywhere; max-width: 420px; }
.bad { color: var(--bad); } .good { color: var(--good); }
.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 0 24px; }
.tables.wide { grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); }
.wide td:first-child { white-space: nowrap; }
ul.bursts { padding-left: 18px; margin: 4px 0; }
.render-error { background: var(--bad); color: #fff; padding: 8px 12px; border-radius: 6px; }
@media print {
  :root { ${light} }
  body { max-width: none; padding: 0; font-size: 11px; }
  .chart svg { background: #fff; }
  section, .card, tr { break-inside: avoid; }
}
`
