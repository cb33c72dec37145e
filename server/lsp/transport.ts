// The language server's connection on the transport the editor asked for. vscode-languageserver
// would build it from the command line itself, but then a broken message stream (a bad or missing
// Content-Length, bytes that are no header) is swallowed: the reader reports the error to nobody and
// the server stays alive answering nothing. Here the reader is ours, so such an error is said on
// stderr (every client logs the server's stderr) and the server exits with 1: the client restarts
// it on a clean stream, which is the only way to resynchronise a stream without message boundaries.

import {
  createConnection,
  createServerPipeTransport,
  createServerSocketTransport,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  type Connection,
  type MessageReader,
  type MessageWriter,
} from "vscode-languageserver/node";

export interface TransportFlags {
  stdio?: boolean;
  nodeIpc?: boolean;
  socket?: string;
  pipe?: string;
}

function brokenStream(err: Error): never {
  process.stderr.write(`StepLens: the LSP message stream is broken (${err.message.split("\n")[0]}); exiting so that the editor restarts the server\n`);
  process.exit(1);
}

/** A connection that exits on a framing error; `shutdownReceived` decides the exit code when the client goes away. */
export function createServerConnection(flags: TransportFlags, shutdownReceived: () => boolean): Connection {
  // Node's IPC channel carries whole JSON messages: it has no framing to break.
  if (flags.nodeIpc) return createConnection(ProposedFeatures.all);
  let reader: MessageReader;
  let writer: MessageWriter;
  if (flags.stdio) {
    // stdout carries the protocol: anything printed with console.log would corrupt it.
    console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
    reader = new StreamMessageReader(process.stdin);
    writer = new StreamMessageWriter(process.stdout);
    const gone = (): never => process.exit(shutdownReceived() ? 0 : 1);
    process.stdin.on("end", gone);
    process.stdin.on("close", gone);
  } else if (flags.socket) {
    [reader, writer] = createServerSocketTransport(Number(flags.socket));
  } else {
    [reader, writer] = createServerPipeTransport(flags.pipe!);
  }
  reader.onError(brokenStream);
  return createConnection(ProposedFeatures.all, reader, writer);
}
