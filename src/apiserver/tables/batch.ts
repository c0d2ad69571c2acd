// Job and CronJob columns (printJob, printCronJob).
import type { V1CronJob, V1Job, V1JobCondition } from '@kubernetes/client-node'
import { ageColumn, col, containerCells, containersColumn, formatLabelSelector, humanDuration, imagesColumn, nameColumn, since, timeOf } from './format.ts'
import type { Printer } from './format.ts'

const selectorColumn = col(
  'Selector',
  'string',
  'A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors',
  1,
)

function hasCondition(conditions: V1JobCondition[] | undefined, type: string): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === 'True')
}

function jobStatus(job: V1Job): string {
  const conditions = job.status?.conditions
  if (hasCondition(conditions, 'Complete')) return 'Complete'
  if (hasCondition(conditions, 'Failed')) return 'Failed'
  if (job.metadata?.deletionTimestamp) return 'Terminating'
  if (hasCondition(conditions, 'Suspended')) return 'Suspended'
  if (hasCondition(conditions, 'FailureTarget')) return 'FailureTarget'
  return 'Running'
}

function completions(job: V1Job): string {
  const succeeded = job.status?.succeeded ?? 0
  if (job.spec?.completions !== undefined && job.spec.completions !== null) return `${succeeded}/${job.spec.completions}`
  const parallelism = job.spec?.parallelism ?? 0
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`
}

function duration(job: V1Job, now: number): string {
  const start = timeOf(job.status?.startTime)
  if (start === undefined) return ''
  const end = timeOf(job.status?.completionTime)
  return humanDuration((end ?? now) - start)
}

export const jobPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Status', 'string', 'Status of the job.'),
    col('Completions', 'string', 'The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.'),
    col('Duration', 'string', 'Time required to complete the job.'),
    ageColumn(),
    containersColumn,
    imagesColumn,
    selectorColumn,
  ],
  row(obj, now) {
    const job = obj as V1Job
    const [names, images] = containerCells(job.spec?.template?.spec?.containers)
    return {
      cells: [job.metadata?.name ?? '', jobStatus(job), completions(job), duration(job, now), since(job.metadata?.creationTimestamp, now), names, images, formatLabelSelector(job.spec?.selector)],
    }
  },
}

const printBool = (value: boolean | undefined): string => (value === undefined || value === null ? '<unset>' : value ? 'True' : 'False')

export const cronJobPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Schedule', 'string', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
    col(
      'Timezone',
      'string',
      'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones',
    ),
    col('Suspend', 'boolean', 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.'),
    col('Active', 'integer', 'A list of pointers to currently running jobs.'),
    col('Last Schedule', 'string', 'Information when was the last time the job was successfully scheduled.'),
    ageColumn(),
    containersColumn,
    imagesColumn,
    selectorColumn,
  ],
  row(obj, now) {
    const cj = obj as V1CronJob
    const template = cj.spec?.jobTemplate?.spec
    const [names, images] = containerCells(template?.template?.spec?.containers)
    const last = cj.status?.lastScheduleTime
    return {
      cells: [
        cj.metadata?.name ?? '',
        cj.spec?.schedule ?? '',
        cj.spec?.timeZone ?? '<none>',
        printBool(cj.spec?.suspend),
        (cj.status?.active ?? []).length,
        last ? since(last, now) : '<none>',
        since(cj.metadata?.creationTimestamp, now),
        names,
        images,
        formatLabelSelector(template?.selector),
      ],
    }
  },
}
