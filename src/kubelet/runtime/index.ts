export { createSandbox, listSandboxes, loadSandbox, removeSandbox, saveSandbox, setSandboxIPs, writePodFiles, type PodFile, type PodFiles, type PodVolume, type Sandbox, type SandboxRecord, type SandboxSpec } from './sandbox.ts'
export { adoptContainers, containerEnv, execInContainer, isRunning, killContainerProcesses, startContainer, StartError, stopContainer, watchExit, type ContainerProcess, type ContainerRecord, type ContainerSpec, type ExecResult, type ExitStatus, type VolumeMount } from './container.ts'
export { followLog, parseLogLine, readLog, streamLog, type LogLine, type LogOptions, type FollowOptions } from './logs.ts'
export { logPath, podDir, volumePath } from './paths.ts'
