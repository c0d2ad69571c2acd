// weft's client library: the one way components read and write the API.
export { RestClient, patchContentTypes } from './rest-client.ts'
export type {
  ServerAddress,
  RestClientOptions,
  CallOptions,
  ListOptions,
  WriteOptions,
  CreateOptions,
  PatchType,
  PatchOptions,
  DeleteOptions,
  WatchOptions,
  RequestOptions,
} from './rest-client.ts'
export { TokenSource } from './credentials.ts'
export type { Credentials } from './credentials.ts'
export { loadKubeconfig, inClusterConfig, kubeconfigText, SERVICE_ACCOUNT_DIR } from './kubeconfig.ts'
export type { ClientConfig } from './kubeconfig.ts'
export { LineSplitter, parseWatchEvent, decodeWatchStream } from './watch-stream.ts'
export type { WatchEvent, WatchEventType } from './watch-stream.ts'
export { Informer } from './informer.ts'
export type { InformerHandlers, InformerLogger, InformerOptions, ListWatchClient } from './informer.ts'
export { Indexer, byNamespace, namespaceIndex } from './indexer.ts'
export type { IndexFunc } from './indexer.ts'
export { WorkQueue } from './work-queue.ts'
export type { WorkQueueOptions } from './work-queue.ts'
export { Backoff, ItemExponentialRateLimiter, sleep } from './backoff.ts'
export type { BackoffOptions, ItemBackoffOptions, RateLimiter } from './backoff.ts'
export { errorFromStatus, errorFromResponse, reasonForCode, isStatus } from './api-status.ts'
export { resourcePath, withQuery } from './paths.ts'
export { compareResourceVersions } from './resource-version.ts'
export { objectKey, splitKey } from './types.ts'
export type { KubeObject, ListMeta, ObjectList } from './types.ts'
