// Deployment, ReplicaSet, ReplicationController, DaemonSet, StatefulSet and ControllerRevision columns.
import type { V1ControllerRevision, V1DaemonSet, V1Deployment, V1ReplicaSet, V1ReplicationController, V1StatefulSet } from '@kubernetes/client-node'
import {
  ageColumn,
  col,
  containerCells,
  containersColumn,
  formatLabels,
  formatLabelSelector,
  imagesColumn,
  int,
  labelSelectorString,
  nameColumn,
  since,
} from './format.ts'
import type { Printer } from './format.ts'

export const deploymentPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Ready', 'string', 'Number of the pod with ready state'),
    col('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    col('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    ageColumn(),
    containersColumn,
    imagesColumn,
    col('Selector', 'string', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
  ],
  row(obj, now) {
    const d = obj as V1Deployment
    const [names, images] = containerCells(d.spec?.template?.spec?.containers)
    return {
      cells: [
        d.metadata?.name ?? '',
        `${int(d.status?.readyReplicas)}/${d.spec?.replicas ?? 1}`,
        int(d.status?.updatedReplicas),
        int(d.status?.availableReplicas),
        since(d.metadata?.creationTimestamp, now),
        names,
        images,
        labelSelectorString(d.spec?.selector) ?? '<invalid>',
      ],
    }
  },
}

export const replicaSetPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Desired', 'integer', 'Replicas is the number of desired pods.'),
    col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
    col('Ready', 'integer', 'The number of ready replicas for this replica set.'),
    ageColumn(),
    containersColumn,
    imagesColumn,
    col('Selector', 'string', 'Selector is a label query over pods that should match the replica count.', 1),
  ],
  row(obj, now) {
    const rs = obj as V1ReplicaSet
    const [names, images] = containerCells(rs.spec?.template?.spec?.containers)
    return {
      cells: [
        rs.metadata?.name ?? '',
        rs.spec?.replicas ?? 1,
        int(rs.status?.replicas),
        int(rs.status?.readyReplicas),
        since(rs.metadata?.creationTimestamp, now),
        names,
        images,
        formatLabelSelector(rs.spec?.selector),
      ],
    }
  },
}

export const replicationControllerPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Desired', 'integer', 'Replicas is the number of desired replicas.'),
    col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
    col('Ready', 'integer', 'The number of ready replicas for this replication controller.'),
    ageColumn(),
    containersColumn,
    imagesColumn,
    col('Selector', 'string', 'Selector is a label query over pods that should match the Replicas count.', 1),
  ],
  row(obj, now) {
    const rc = obj as V1ReplicationController
    const [names, images] = containerCells(rc.spec?.template?.spec?.containers)
    return {
      cells: [
        rc.metadata?.name ?? '',
        rc.spec?.replicas ?? 1,
        int(rc.status?.replicas),
        int(rc.status?.readyReplicas),
        since(rc.metadata?.creationTimestamp, now),
        names,
        images,
        formatLabels(rc.spec?.selector),
      ],
    }
  },
}

export const daemonSetPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
    col('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
    col('Ready', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.'),
    col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
    col('Available', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    col('Node Selector', 'string', "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
    ageColumn(),
    containersColumn,
    imagesColumn,
    col('Selector', 'string', 'A label query over pods that are managed by the daemon set.', 1),
  ],
  row(obj, now) {
    const ds = obj as V1DaemonSet
    const st = ds.status
    const [names, images] = containerCells(ds.spec?.template?.spec?.containers)
    return {
      cells: [
        ds.metadata?.name ?? '',
        int(st?.desiredNumberScheduled),
        int(st?.currentNumberScheduled),
        int(st?.numberReady),
        int(st?.updatedNumberScheduled),
        int(st?.numberAvailable),
        formatLabels(ds.spec?.template?.spec?.nodeSelector),
        since(ds.metadata?.creationTimestamp, now),
        names,
        images,
        formatLabelSelector(ds.spec?.selector),
      ],
    }
  },
}

export const statefulSetPrinter: Printer = {
  columns: [nameColumn(), col('Ready', 'string', 'Number of the pod with ready state'), ageColumn(), containersColumn, imagesColumn],
  row(obj, now) {
    const sts = obj as V1StatefulSet
    const [names, images] = containerCells(sts.spec?.template?.spec?.containers)
    return {
      cells: [sts.metadata?.name ?? '', `${int(sts.status?.readyReplicas)}/${sts.spec?.replicas ?? 1}`, since(sts.metadata?.creationTimestamp, now), names, images],
    }
  },
}

/** `daemonset.apps/name`: upstream's formatResourceName of the controller's group kind. */
function controllerName(rev: V1ControllerRevision): string {
  const ref = rev.metadata?.ownerReferences?.find((r) => r.controller === true)
  if (!ref) return '<none>'
  const slash = ref.apiVersion.indexOf('/')
  const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash)
  const kind = group ? `${ref.kind}.${group}` : ref.kind
  return kind ? `${kind.toLowerCase()}/${ref.name}` : ref.name
}

export const controllerRevisionPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Controller', 'string', 'Controller of the object'),
    col('Revision', 'string', 'Revision indicates the revision of the state represented by Data.'),
    ageColumn(),
  ],
  row(obj, now) {
    const rev = obj as V1ControllerRevision
    return { cells: [rev.metadata?.name ?? '', controllerName(rev), rev.revision ?? 0, since(rev.metadata?.creationTimestamp, now)] }
  },
}
