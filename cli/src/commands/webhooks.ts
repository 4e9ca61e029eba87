/** `linkplane webhooks endpoints|deliveries|replay`. */
import { int, type Register } from './types.js';

export const registerWebhooks: Register = (program, action) => {
  const webhooks = program.command('webhooks').description('webhook endpoints and their deliveries');

  webhooks
    .command('endpoints')
    .description('list webhook endpoints')
    .action(action(async (ctx) => {
      const rows = await ctx.client().webhooks.endpoints.list({ limit: 200 }).toArray();
      ctx.out.result(rows, () => ctx.out.table(rows, ['id', 'url', 'events', 'enabled']));
    }));

  webhooks
    .command('deliveries')
    .description('list deliveries, newest first')
    .option('--status <status>', 'pending, succeeded, failed or dead')
    .option('--endpoint <id>', 'one endpoint (wh_…)')
    .option('--event-type <type>', 'e.g. link.created')
    .option('--limit <n>', 'at most this many (default 50)', int, 50)
    .action(action(async (ctx, o: { status?: 'pending' | 'succeeded' | 'failed' | 'dead'; endpoint?: string; eventType?: string; limit: number }) => {
      const rows = await ctx.client().webhooks.deliveries
        .list({ status: o.status, endpoint_id: o.endpoint, event_type: o.eventType, limit: Math.min(200, Math.max(1, o.limit)) })
        .toArray(o.limit);
      ctx.out.result(rows, () => ctx.out.table(rows, ['id', 'event_type', 'status', 'attempt_count', 'last_status_code', 'created_at']));
    }));

  webhooks
    .command('replay')
    .argument('<delivery>', 'the delivery id')
    .description('send a delivery again')
    .action(action(async (ctx, id: string) => {
      const d = await ctx.client().webhooks.deliveries.replay(id);
      ctx.out.result(d, () => ctx.out.line(`delivery ${d.id} queued again (${d.event_type} → endpoint ${d.endpoint_id}, status ${d.status})`));
    }));
};
