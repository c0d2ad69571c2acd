// Installs dnsperf, dnsmasq-base and dig (Debian) when they are missing.
import { existsSync } from 'node:fs'
import { aptInstall, have } from '../lib/apt.ts'

export const DNSMASQ = '/usr/sbin/dnsmasq'

export function ensureTools(): void {
  aptInstall([...(have('dnsperf') ? [] : ['dnsperf']), ...(existsSync(DNSMASQ) ? [] : ['dnsmasq-base']), ...(have('dig') ? [] : ['bind9-dnsutils'])])
}
