// GET /api/v1/cluster (admin; docs/contract.md §5, docs/scale-out.md *Health of the cluster*): every node of the
// cluster with its role, lease and last heartbeat, spool depth, InfluxDB writer lag, broker session, and which node
// is the alert owner — as the answering node sees them in PostgreSQL. A single node answers about itself.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemSchema } from './problem.js';

const NodeSchema = z.object({
  id: z.string(),
  role: z.string(),
  /** `taken-over`: its lease ran out and `takenBy` drained its broker session (docs/scale-out.md, *Takeover*). */
  state: z.enum(['live', 'silent', 'stopped', 'taken-over']),
  timeSlot: z.number().int().nullable(),
  startedAt: z.string(),
  lastHeartbeat: z.string().nullable(),
  heartbeatAgeSeconds: z.number().nullable(),
  leaseExpiresAt: z.string().nullable(),
  spoolBytes: z.number(),
  writerLagSeconds: z.number(),
  influxUp: z.boolean(),
  alertOwner: z.boolean(),
  brokerSession: z.boolean().nullable(),
  /** The node that took over (drains or drained) this node's broker session; null unless `taken-over`. */
  takenBy: z.string().nullable(),
  /** When the taker ended the session (null while it drains, or when not taken over). */
  takenOverAt: z.string().nullable(),
}).meta({ id: 'ClusterNode' });

const ClusterSchema = z.object({
  node: z.string(),
  cluster: z.boolean(),
  registry: z.boolean(),
  leaseMs: z.number().int(),
  alertOwner: z.string().nullable(),
  nodes: z.array(NodeSchema),
}).meta({ id: 'Cluster' });

/** One node as GET /api/v1/cluster shows it. */
export type ClusterNodeHealth = z.infer<typeof NodeSchema>;
/** What one node says of itself in its heartbeat (platform/cluster-nodes.ts). */
export type NodeStatus = Pick<ClusterNodeHealth, 'spoolBytes' | 'writerLagSeconds' | 'influxUp' | 'alertOwner' | 'brokerSession'>;
/** The answer of GET /api/v1/cluster: `registry` false = PostgreSQL did not answer, only the answering node is shown. */
export type ClusterHealth = z.infer<typeof ClusterSchema>;

export function clusterPlugin(health: () => Promise<ClusterHealth>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/api/v1/cluster', {
      config: { role: 'admin' },
      schema: {
        tags: ['health'],
        summary: 'Nodes of the cluster: roles, leases, heartbeats, spool depth, InfluxDB writer lag, alert owner',
        response: { 200: ClusterSchema, 401: ProblemSchema, 403: ProblemSchema },
      },
    }, async () => health());
  };
}
