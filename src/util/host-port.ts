// `host:port` as Go's net.JoinHostPort writes it: brackets around IPv6 addresses.
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** A listen address `HOST:PORT` (`[v6]:PORT`; an empty host is 0.0.0.0; port 0 picks one). */
export function parseListenAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':')
  const port = Number(address.slice(i + 1))
  if (i < 0 || address.slice(i + 1) === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`listen address "${address}" is not HOST:PORT`)
  return { host: address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port }
}
