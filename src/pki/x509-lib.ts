// @peculiar/x509 loads on first use: it needs a Reflect metadata polyfill first, takes a
// noticeable moment to load, and a process that only reads existing certificates never needs it.
import { webcrypto } from 'node:crypto'
import type * as X509 from '@peculiar/x509'

export type X509Lib = typeof X509

let loaded: Promise<X509Lib> | undefined

export function loadX509(): Promise<X509Lib> {
  loaded ??= (async () => {
    await import('reflect-metadata')
    const x509 = await import('@peculiar/x509')
    x509.cryptoProvider.set(webcrypto as unknown as Crypto)
    return x509
  })()
  return loaded
}
