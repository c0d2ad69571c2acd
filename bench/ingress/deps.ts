// Installs wrk, nginx (Debian nginx-light), openssl and curl when they are missing; apt.ts
// keeps the nginx package from starting its system service.
import { existsSync } from 'node:fs'
import { aptInstall, have } from '../lib/apt.ts'

export const NGINX = '/usr/sbin/nginx'

export function ensureTools(): void {
  aptInstall([
    ...(have('wrk') ? [] : ['wrk']),
    ...(existsSync(NGINX) ? [] : ['nginx-light']),
    ...(have('openssl') ? [] : ['openssl']),
    ...(have('curl') ? [] : ['curl']),
  ])
}
