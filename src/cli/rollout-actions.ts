// What an operator can do to a rollout (`sluice rollout pause|resume|...`): a list of its own so the
// CLI registers those commands without loading the API client.
export const ROLLOUT_ACTIONS = ['pause', 'resume', 'abort', 'approve', 'rollback', 'retry'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];
