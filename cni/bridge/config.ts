// The bridge plugin's own settings, read from a network config as the reference `bridge` does.
import type { NetConf } from '../protocol/config.ts'
import { CniError, ERR_INVALID_NETWORK_CONFIG } from '../protocol/errors.ts'
import { validateInterfaceName } from '../protocol/env.ts'

export const WEFT_IPAM_TYPE = 'weft-ipam'

export interface BridgeConf {
  bridge: string
  isGateway: boolean
  isDefaultGateway: boolean
  ipMasq: boolean
  hairpinMode: boolean
  promiscMode: boolean
  mtu?: number
  /**
   * Drop what a pod sends from another MAC or address than its own (antispoof.ts). On
   * unless the config says `"antiSpoof": false`.
   */
  antiSpoof: boolean
  /** `ipam.type`; empty when the config has no ipam section. */
  ipamType: string
  dns?: Record<string, unknown>
}

const invalid = (msg: string): CniError => new CniError(ERR_INVALID_NETWORK_CONFIG, msg)

/**
 * Link names end up in `ip -batch` lines, where quotes, backslashes and `#` mean something.
 * Beyond the kernel's rules (validateInterfaceName), weft's bridge takes only letters,
 * digits, '_', '.' and '-'.
 */
export function checkLinkName(name: string): string | undefined {
  try {
    validateInterfaceName(name)
  } catch (err) {
    return (err as CniError).msg
  }
  return /^[A-Za-z0-9_.-]+$/.test(name) ? undefined : 'interface name may only contain letters, digits, "_", "." and "-"'
}

function bool(raw: Record<string, unknown>, key: string, dflt = false): boolean {
  const v = raw[key]
  if (v === undefined || v === null) return dflt
  if (typeof v !== 'boolean') throw invalid(`"${key}" must be a boolean`)
  return v
}

export function parseBridgeConf(conf: NetConf): BridgeConf {
  const raw = conf.raw
  const bridge = raw.bridge === undefined || raw.bridge === '' ? 'cni0' : raw.bridge
  if (typeof bridge !== 'string') throw invalid('"bridge" must be a string')
  const bad = checkLinkName(bridge)
  if (bad !== undefined) throw invalid(`"bridge": ${bad}: ${JSON.stringify(bridge)}`)
  let mtu: number | undefined
  if (raw.mtu !== undefined && raw.mtu !== null && raw.mtu !== 0) {
    if (typeof raw.mtu !== 'number' || !Number.isInteger(raw.mtu) || raw.mtu < 68 || raw.mtu > 65535) throw invalid('"mtu" must be an integer from 68 to 65535')
    mtu = raw.mtu
  }
  const ipam = raw.ipam
  let ipamType = ''
  if (ipam !== undefined && ipam !== null) {
    if (typeof ipam !== 'object' || Array.isArray(ipam)) throw invalid('"ipam" must be an object')
    const t = (ipam as Record<string, unknown>).type
    if (typeof t !== 'string' || t === '' || t.includes('/') || t === '.' || t === '..' || t.includes('\0')) throw invalid('"ipam.type" must name an IPAM plugin')
    ipamType = t
  }
  const isDefaultGateway = bool(raw, 'isDefaultGateway')
  const dns = raw.dns
  return {
    bridge,
    isGateway: bool(raw, 'isGateway') || isDefaultGateway,
    isDefaultGateway,
    ipMasq: bool(raw, 'ipMasq'),
    hairpinMode: bool(raw, 'hairpinMode'),
    promiscMode: bool(raw, 'promiscMode'),
    mtu,
    antiSpoof: bool(raw, 'antiSpoof', true),
    ipamType,
    dns: typeof dns === 'object' && dns !== null && !Array.isArray(dns) ? (dns as Record<string, unknown>) : undefined,
  }
}
