/*
 * Where a coordinator listens unless told otherwise (docs/protocol.md). Its own module, so
 * that a command which only talks to a coordinator does not load the coordinator.
 */

export const DEFAULT_COORD_HOST = '127.0.0.1';
export const DEFAULT_COORD_PORT = 7780;
