export { CgroupManager, type CgroupManagerOptions, type PodLike } from './manager.ts'
export { CgroupUnavailableError, cgroupPath, detectDriver, detectLayout, hierarchies, parseMountinfo, type CgroupDriver, type CgroupLayout, type QosClass } from './layout.ts'
export {
  cgroupWrites,
  containerResource,
  containerResourceConfig,
  milliCPUToQuota,
  milliCPUToShares,
  podRequest,
  podResourceConfig,
  sharesToWeight,
  type CgroupWrite,
  type Controller,
  type ResourceConfig,
} from './resources.ts'
export { parseMeminfo, readOomKills, readUsage, type CgroupUsage } from './usage.ts'
