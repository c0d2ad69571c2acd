// Builds the DNS UDP batch addon (udp-batch.c); without it weft dns answers UDP through
// node:dgram (dns/udp-batch.ts).
import { buildAddon } from '../../scripts/build-addon.ts'

buildAddon({ dir: import.meta.dirname, target: 'udp_batch', what: 'the DNS UDP batch addon', without: 'weft dns answers UDP through node:dgram' })
