// The plugins weft ships, by the name the executables pass: weft-cni (bridge) and weft-ipam.
import { bridgeHandlers } from './bridge/plugin.ts'
import { ipamHandlers } from './ipam-plugin.ts'
import type { PluginHandlers } from './protocol/dispatch.ts'

export const PLUGINS: Record<string, PluginHandlers> = { bridge: bridgeHandlers, ipam: ipamHandlers }

export function pluginByName(name: string): PluginHandlers | undefined {
  return Object.hasOwn(PLUGINS, name) ? PLUGINS[name] : undefined
}
