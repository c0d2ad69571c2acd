// What every built-in program shares: the hostname it answers with, address formatting like Go's
// net package, the one "listening" line, and a clean exit (code 0) on SIGTERM/SIGINT.
import { hostname } from 'node:os'
import { joinHostPort as joinPlain } from '../util/host-port.ts'

export function podHostname(): string {
  return hostname()
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, from a dual-stack socket) as plain IPv4. */
export function plainIP(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/** `ip:port`, with brackets around IPv6 addresses (Go's net.JoinHostPort). */
export function joinHostPort(address: string, port: number | string): string {
  return joinPlain(plainIP(address), port)
}

export function logLine(program: string, message: string): void {
  process.stdout.write(`${program}: ${message}\n`)
}

export function fail(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`)
  process.exit(1)
}

/** Exit 0 on SIGTERM or SIGINT, after `delayMs` (agnhost netexec's --delay-shutdown). */
export function exitOnSignal(delayMs = 0): void {
  const stop = (): void => {
    if (delayMs > 0) setTimeout(() => process.exit(0), delayMs)
    else process.exit(0)
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
