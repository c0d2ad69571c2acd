import { CniError, ERR_INCOMPATIBLE_VERSION } from './errors.ts'

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number]
export const LATEST_VERSION: CniVersion = '1.1.0'

export interface VersionInfo {
  cniVersion: string
  supportedVersions: string[]
}

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)
}

export function requireSupportedVersion(v: unknown): CniVersion {
  if (isSupportedVersion(v)) return v
  // libcni reads a config without cniVersion as 0.1.0.
  const given = typeof v === 'string' && v !== '' ? v : '0.1.0'
  throw new CniError(
    ERR_INCOMPATIBLE_VERSION,
    'incompatible CNI versions',
    `config is "${given}", plugin supports [${SUPPORTED_VERSIONS.map((s) => `"${s}"`).join(' ')}]`,
  )
}

/** Numeric comparison of dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

export function versionInfo(): VersionInfo {
  return { cniVersion: LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] }
}
