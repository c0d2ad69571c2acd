// An HTTP/1.1 server on 127.0.0.1 that answers every request after a fixed delay, to the tenth of
// a millisecond: setTimeout rounds to whole milliseconds, so answers are released by weft load's
// ticker thread instead. Optionally it stalls once: after --stall-after requests it answers
// nothing for --stall-ms, then everything held. GET /stats answers at once with what it saw.
// Prints its port on the first line.
//   node delay-server.ts --delay-ms 5 [--stall-after 1500 --stall-ms 1000]
import { createServer, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { createTicker, preciseNowMs } from '../../../load/ticker.ts'

const { values } = parseArgs({
  options: {
    'delay-ms': { type: 'string', default: '5' },
    'stall-after': { type: 'string' },
    'stall-ms': { type: 'string', default: '1000' },
  },
})
const delayMs = Number(values['delay-ms'])
const stallAfter = values['stall-after'] === undefined ? Infinity : Number(values['stall-after'])
const stallMs = Number(values['stall-ms'])
if (!(delayMs >= 0) || !(stallMs >= 0) || !(stallAfter >= 0)) throw new Error('bad arguments')

const answer = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
const maxRequestBytes = 16 * 1024

/** Held answers in release order (a fixed delay keeps arrival order). */
const held: { socket: Socket; due: number; arrived: number }[] = []
let heldHead = 0
let count = 0
let firstArrival = 0
let lastArrival = 0
let stallEnd = 0
const addedDelays: number[] = []

const ticker = createTicker(release, (err) => {
  throw err
})

function release(): void {
  const now = preciseNowMs()
  while (heldHead < held.length && held[heldHead].due <= now) {
    const { socket, arrived } = held[heldHead++]
    if (!socket.destroyed) socket.write(answer)
    if (addedDelays.length < 1_000_000) addedDelays.push(now - arrived)
  }
  if (heldHead === held.length) {
    held.length = 0
    heldHead = 0
  } else {
    ticker.wakeAt(held[heldHead].due)
  }
}

function stats(): string {
  const sorted = [...addedDelays].sort((a, b) => a - b)
  const median = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)] : 0
  return JSON.stringify({ count, firstArrival, lastArrival, medianDelayMs: median })
}

const server = createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  let pending = ''
  socket.on('data', (chunk) => {
    const arrived = preciseNowMs()
    pending += chunk.toString('latin1')
    if (pending.length > maxRequestBytes) {
      socket.destroy()
      return
    }
    let end: number
    while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
      const head = pending.slice(0, end)
      pending = pending.slice(end + 4)
      if (head.startsWith('GET /stats ')) {
        const body = stats()
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
        continue
      }
      count++
      if (count === 1) firstArrival = arrived
      lastArrival = arrived
      if (count === stallAfter) stallEnd = arrived + stallMs
      const due = Math.max(arrived + delayMs, stallEnd)
      held.push({ socket, due, arrived })
      if (held.length - heldHead === 1) ticker.wakeAt(due)
    }
  })
})

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  process.stdout.write(`${address.port}\n`)
})
