// Ports of the cluster suite (playwright.cluster.config.mjs); the proxy's port is also in haproxy.cfg.
import { fileURLToPath } from 'node:url';

const redisPort = 6390;
// target/cluster-redis/ of the repository (absolute: the config's shell and the spec agree whatever their cwd).
const redisDir = fileURLToPath(new URL('../../target/cluster-redis', import.meta.url));
export const CLUSTER = {
  proxyPort: 8290,
  origin: 'http://127.0.0.1:8290',
  instancePorts: [8291, 8292, 8293],
  opPort: 9290,
  issuer: 'http://127.0.0.1:9290',
  redisPort,
  redisUrl: `redis://127.0.0.1:${redisPort}/0`,
  redisDir,
  // Started (and restarted when it stops, unless `${redisDir}/hold` exists) by the config.
  redisCommand: `redis-server --port ${redisPort} --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always --dir '${redisDir}'`,
};
