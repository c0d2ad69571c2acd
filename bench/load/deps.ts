// Installs the peers (wrk, hey) and nginx-light when they are missing; apt.ts keeps the nginx
// package from starting its system service.
import { existsSync } from 'node:fs'
import { aptInstall, have } from '../lib/apt.ts'
import { NGINX } from '../ingress/deps.ts'

export function ensureTools(): void {
  aptInstall([...(have('wrk') ? [] : ['wrk']), ...(have('hey') ? [] : ['hey']), ...(existsSync(NGINX) ? [] : ['nginx-light'])])
}
