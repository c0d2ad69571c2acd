// Builds the mesh addon (original-dst.c, dataplane.c): the node proxy's data path. It uses the
// OpenSSL and nghttp2 inside the node binary, with nghttp2's headers from Debian's
// libnghttp2-dev. Without it the agent runs no mesh data path.
import { buildAddon } from '../../scripts/build-addon.ts'

buildAddon({
  dir: import.meta.dirname,
  target: 'mesh',
  what: 'the mesh addon (the node proxy\'s data path)',
  without: 'the node agent runs no mesh data path (pods still get their identities)',
  headers: [{ path: '/usr/include/nghttp2/nghttp2.h', debian: 'libnghttp2-dev' }],
})
