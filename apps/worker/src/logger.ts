import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { WorkerConfig } from './config.js';

/**
 * The worker's root logger: JSON lines on stdout, or human-readable lines with LOG_FORMAT=pretty.
 * Tokens never reach the log (they are not logged, and redacted should one slip into an object).
 */
export function createLogger(config: Pick<WorkerConfig, 'logLevel' | 'logFormat'>): Logger {
  const opts: pino.LoggerOptions = {
    level: config.logLevel,
    base: { service: 'spm-worker', pid: process.pid },
    redact: {
      paths: ['*.token', '*.authorization', '*.password', 'config.sourceRegistryToken', 'config.targetRegistryToken'],
      censor: '[redacted]',
    },
  };
  if (config.logFormat === 'pretty') {
    return pino(opts, pretty({ colorize: process.stdout.isTTY, sync: true, ignore: 'service,pid,hostname' }));
  }
  return pino(opts, pino.destination({ dest: 1, sync: true }));
}
