// What a reconcile function asks for: plain data, applied by the controller runner
// through the client library. Reconcile functions are pure: (key, cached state) → actions.
import type { ResourceInfo } from '../api/registry.ts'

export type KubeObject = Record<string, any> & {
  apiVersion?: string
  kind?: string
  metadata?: Record<string, any> & { name?: string; namespace?: string; uid?: string; resourceVersion?: string }
}

export interface EventSpec {
  /** The object the event is about. */
  involved: KubeObject
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

export type Action =
  /**
   * Creates `object` (namespace taken from its metadata). `event`, if given, is recorded
   * once the object exists, with `{name}` in its message replaced by the name the server
   * chose (objects made with generateName).
   */
  | {
      verb: 'create'
      info: ResourceInfo
      object: KubeObject
      event?: Omit<EventSpec, 'involved'> & { involved: KubeObject }
      /**
       * A claim (a Lease whose holderIdentity says who owns what its name names): one that
       * exists already must be held by the same holder, else the actions stop here with a
       * Conflict. The store's create-if-absent is the compare-and-swap.
       */
      claim?: boolean
    }
  /**
   * Replaces the object (or its `finalize`, `approval` or `scale` subresource; a Scale's
   * metadata names the object); `object.metadata.resourceVersion` is the compare-and-swap precondition.
   */
  | { verb: 'update'; info: ResourceInfo; object: KubeObject; subresource?: 'finalize' | 'approval' | 'scale' }
  /** Replaces the status subresource, with the same precondition. */
  | { verb: 'updateStatus'; info: ResourceInfo; object: KubeObject }
  /** A JSON merge patch (or a strategic merge patch) of the named object or its status. */
  | { verb: 'patch'; info: ResourceInfo; namespace: string | undefined; name: string; patch: unknown; type: 'merge' | 'strategic'; subresource?: 'status' }
  /** Deletes the named object; `uid` makes it a precondition. */
  | { verb: 'delete'; info: ResourceInfo; namespace: string | undefined; name: string; uid?: string; propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; gracePeriodSeconds?: number }
  /** Binds a pod to a node through pods/binding. */
  | { verb: 'bind'; namespace: string; name: string; uid?: string; node: string }
  /** Records an Event about an object. */
  | { verb: 'event'; event: EventSpec }
