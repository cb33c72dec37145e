// The model host's events as the client sees them: the status notification, and the output
// channel's history of a model server going away and coming back.

import { StatusNotification } from "../../protocol/index.js";
import type { ServerContext } from "./context.js";
import { EngineHost, type RetryPolicy } from "./engineHost.js";

export function createEngineHost(ctx: ServerContext, retry?: RetryPolicy): EngineHost {
  /** "unreachable" / "unauthorized" while the model server is away, for the output's log lines. */
  let lastRemoteState = "";
  return new EngineHost(
    {
      onStatus: (status) => {
        void ctx.connection.sendNotification(StatusNotification, status);
        // The output channel keeps the history the status bar cannot: when the server went away and
        // why (once per outage, not once per attempt), and when it came back.
        const down = status.state === "unreachable" || status.state === "unauthorized";
        if (down && status.state !== lastRemoteState) ctx.connection.console.warn(status.message ?? `StepLens: model server ${status.state}`);
        if (status.state === "ready" && lastRemoteState && status.remote) ctx.connection.console.info(`StepLens: connected to ${status.remote.url} again`);
        if (down) lastRemoteState = status.state;
        else if (status.state === "ready" || status.state === "error") lastRemoteState = "";
      },
      // Documents edited while the server was away are checked now; unchanged ones keep their scores.
      onRecovered: () => ctx.scheduleAll(),
    },
    retry,
  );
}
