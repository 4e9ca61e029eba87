export * from './ports.js';
export * from './pg.js';
export * from './nats.js';
export * from './process.js';
export * from './nats-cluster.js';
export * from './doc-blocks.js';
