// The logging interface the runtime needs: the subset of pino's Logger it calls, so a pino child
// logger (`logger.child({ component: "raft", node: id })`) can be passed as is. Default: silent.
export interface RuntimeLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => {};

export const silentLogger: RuntimeLogger = { debug: noop, info: noop, warn: noop, error: noop };
