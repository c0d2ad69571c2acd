import { randomBytes } from 'node:crypto'
import t from 'tap'
import { applyMask } from '../../src/kubelet/streaming/ws-tunnel.ts'

t.test('applyMask equals the byte-wise XOR of RFC 6455 for every alignment, length and mask phase', async (t) => {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78])
  let checked = 0
  for (let start = 0; start < 8; start++) {
    for (const length of [0, 1, 3, 4, 5, 7, 64, 1000, 4099]) {
      for (let offset = 0; offset < 4; offset++) {
        const backing = randomBytes(start + length)
        const data = backing.subarray(start)
        const want = Buffer.from(data.map((b, i) => b ^ mask[(offset + i) & 3]!))
        applyMask(data, mask, offset)
        if (!data.equals(want)) t.fail(`start ${start} length ${length} offset ${offset}`)
        checked++
      }
    }
  }
  t.equal(checked, 8 * 9 * 4)
})
