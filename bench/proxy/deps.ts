// Installs wrk, nginx-light, curl and nftables (Debian) when they are missing.
import { aptInstall, have } from '../lib/apt.ts'

export function ensureTools(): void {
  aptInstall([...(have('wrk') ? [] : ['wrk']), ...(have('nginx') ? [] : ['nginx-light']), ...(have('curl') ? [] : ['curl']), ...(have('nft') ? [] : ['nftables'])])
}
