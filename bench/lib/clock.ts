// A millisecond clock with sub-millisecond resolution that agrees across threads and
// processes on one host (wall-clock origin plus the monotonic offset).

export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
