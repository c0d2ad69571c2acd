// Installs wrk, nginx (Debian nginx-light), haproxy, openssl and curl when they are missing;
// apt.ts keeps the nginx and haproxy packages from starting their system services.
import { existsSync } from 'node:fs'
import { aptInstall, have } from '../lib/apt.ts'
import { HAPROXY } from './haproxy.ts'

export const NGINX = '/usr/sbin/nginx'

export function ensureTools(): void {
  aptInstall([
    ...(have('wrk') ? [] : ['wrk']),
    ...(existsSync(NGINX) ? [] : ['nginx-light']),
    ...(existsSync(HAPROXY) ? [] : ['haproxy']),
    ...(have('openssl') ? [] : ['openssl']),
    ...(have('curl') ? [] : ['curl']),
  ])
}
