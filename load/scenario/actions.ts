// One scenario action: started, then waited on until its completion condition holds. Each
// executor answers what it did (the timeline's message) or throws why it failed.
import type { ActionContext } from './context.ts'
import { restartAgent } from './lab-agent.ts'
import type { ActionSpec } from './model.ts'
import { cordon, drain, uncordon } from './nodes.ts'
import { setReady } from './readiness.ts'
import { addServices, removeServices } from './services.ts'
import { deletePods, rollout, scale } from './workloads.ts'

export function executeAction(ctx: ActionContext, action: ActionSpec): Promise<string> {
  switch (action.kind) {
    case 'rollout':
      return rollout(ctx, action.deployment)
    case 'scale':
      return scale(ctx, action.deployment, action.replicas)
    case 'deletePods':
      return deletePods(ctx, action)
    case 'cordon':
      return cordon(ctx, action.node)
    case 'uncordon':
      return uncordon(ctx, action.node)
    case 'drain':
      return drain(ctx, action)
    case 'restartAgent':
    case 'restartProxy':
      return restartAgent(ctx, action.node, action.kind)
    case 'addServices':
      return addServices(ctx, action)
    case 'removeServices':
      return removeServices(ctx, action)
    case 'setReady':
      return setReady(ctx, action)
  }
}
