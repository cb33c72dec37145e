// LSP's rule for messages before `initialize` (and the spec's ServerNotInitialized, -32002): a
// request is answered with that error, a notification is dropped. vscode-languageserver leaves this
// to the server, so every handler is registered through this guard rather than checking by hand.

import { ErrorCodes, ResponseError, type Connection } from "vscode-languageserver";

/** Connection methods that register a request handler; the rest of the `on…` methods register notification handlers. */
const REQUESTS = new Set(["onRequest", "onHover", "onCodeLens", "onCodeLensResolve", "onCodeAction", "onCodeActionResolve", "onExecuteCommand", "onShutdown"]);
const NOTIFICATIONS = new Set(["onNotification", "onDidChangeConfiguration", "onDidOpenTextDocument", "onDidChangeTextDocument", "onDidCloseTextDocument", "onDidSaveTextDocument", "onWillSaveTextDocument", "onDidChangeWatchedFiles"]);

export const NOT_INITIALIZED = "the StepLens server has not been initialized: send `initialize` first";

type Handler = (...args: unknown[]) => unknown;

/** `connection` whose handler registrations answer -32002 / drop messages until `isInitialized()`. */
export function guardUntilInitialized(connection: Connection, isInitialized: () => boolean): Connection {
  return new Proxy(connection, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || typeof value !== "function") return value;
      const register = value as (...args: unknown[]) => unknown;
      if (!REQUESTS.has(prop) && !NOTIFICATIONS.has(prop)) return register.bind(target);
      const isRequest = REQUESTS.has(prop);
      return (...args: unknown[]) => {
        // The handler is the last argument (onRequest(type, handler) and onHover(handler) alike).
        const handler = args.at(-1) as Handler;
        args[args.length - 1] = (...params: unknown[]) => {
          if (isInitialized()) return handler(...params);
          if (isRequest) throw new ResponseError(ErrorCodes.ServerNotInitialized, NOT_INITIALIZED);
          return undefined;
        };
        return register.apply(target, args);
      };
    },
  });
}
