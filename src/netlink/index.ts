export { CommandError, isNotInstalled, run, useSpawner } from './exec.ts'
export { addNetns, deleteNetns, inNetns, listNetns, netnsExists, netnsName, netnsPath, NETNS_DIR, type NetnsRef } from './netns.ts'
export { checkIpBatchLines, deleteLink, getLink, getSysctl, ip, ipBatch, listAddrs, listLinks, listRoutes, setSysctl, type AddrInfo, type Link, type LinkAddrs, type Route } from './ip.ts'
export { Spawner } from './spawner.ts'
