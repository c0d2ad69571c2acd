// `host:port` as Go's net.JoinHostPort writes it: brackets around IPv6 addresses.
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
