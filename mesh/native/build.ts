// Builds the mesh's original-destination addon (original-dst.c); without it the node proxy
// cannot tell where a redirected connection was going, so the agent runs no mesh data path.
import { buildAddon } from '../../scripts/build-addon.ts'

buildAddon({ dir: import.meta.dirname, target: 'mesh', what: "the mesh's original-destination addon", without: 'the node agent runs no mesh data path (pods still get their identities)' })
