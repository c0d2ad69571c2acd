import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { profileWindows } from '../../bench/lib/cpu-profile-window.ts'
import { hotSpots } from '../../bench/lib/cpu-profile.ts'

// Samples 1 ms apart from t = 1,000,000 µs: a() for the first three, b() for the next three.
const profile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: 0 }, children: [2, 3] },
    { id: 2, callFrame: { functionName: 'a', url: '', lineNumber: 0 } },
    { id: 3, callFrame: { functionName: 'b', url: '', lineNumber: 0 } },
  ],
  startTime: 1_000_000,
  endTime: 1_006_000,
  samples: [2, 2, 2, 3, 3, 3],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000],
}

t.test('keeps only the samples inside the windows, each with its own duration', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-profile-window-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'p.cpuprofile')
  writeFileSync(file, JSON.stringify(profile))

  const onlyB = profileWindows(file, [{ fromUs: 1_003_000, toUs: 1_010_000 }], 'b')
  t.equal(onlyB.kept, 3)
  const cut = JSON.parse(readFileSync(onlyB.path, 'utf8')) as typeof profile
  t.same(cut.samples, [3, 3, 3])
  t.equal(cut.timeDeltas.length, cut.samples.length)
  const spots = hotSpots(onlyB.path).spots
  t.same(spots.map((s) => s.name), ['b'], 'a() ran outside the window')
  t.equal(spots[0].ms, 2, 'the last kept sample has no successor to time it')

  const both = profileWindows(file, [{ fromUs: 1_001_000, toUs: 1_002_000 }, { fromUs: 1_004_000, toUs: 1_005_000 }], 'both')
  t.equal(both.kept, 2)
  const ms = new Map(hotSpots(both.path).spots.map((s) => [s.name, s.ms]))
  t.equal(ms.get('a'), 1)

  t.equal(profileWindows(file, [{ fromUs: 0, toUs: 1 }], 'none').kept, 0)
})
