/**
 * The part of Node-RED's runtime API these adapters use. Written out here (instead of pulling
 * @types/node-red and its dependency tree) so the compiler checks exactly what we rely on.
 */
export interface NodeMessage { _msgid?: string; payload?: unknown; topic?: string; [key: string]: unknown }
export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

export interface NodeStatus { fill?: "red" | "green" | "yellow" | "blue" | "grey"; shape?: "ring" | "dot"; text?: string }

export interface Node {
  id: string;
  type: string;
  name?: string;
  z?: string;
  on(event: "input", handler: (msg: NodeMessage, send: Send, done: Done) => void): void;
  on(event: "close", handler: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>): void;
  status(status: NodeStatus | Record<string, never>): void;
  error(err: unknown, msg?: NodeMessage): void;
  warn(message: unknown): void;
  log(message: unknown): void;
}

export interface NodeDef { id: string; type: string; name?: string; z?: string; [key: string]: unknown }

export interface Request { params: Record<string, string>; query: Record<string, unknown>; body?: unknown; user?: { username?: unknown }; headers?: Record<string, string | string[] | undefined> }
export interface Response { status(code: number): Response; json(body: unknown): void; send(body?: unknown): void; setHeader(name: string, value: string): void }
type Handler = (req: Request, res: Response, next?: () => void) => void;
/** Express calls a handler with four parameters only when an earlier step failed. */
type ErrorHandler = (err: unknown, req: Request, res: Response, next: (err?: unknown) => void) => void;
export interface HttpRouter { get(path: string, ...handlers: Handler[]): void; post(path: string, ...handlers: Handler[]): void; use(path: string[], handler: ErrorHandler): void }

export interface RED {
  nodes: {
    createNode(node: object, config: NodeDef): void;
    registerType(type: string, constructor: Function, options?: object): void;
    getNode(id: string): Node | null;
    eachNode(callback: (def: NodeDef) => void): void;
  };
  plugins: { registerPlugin(id: string, definition: object): void };
  settings: { userDir?: string; [key: string]: unknown };
  util: {
    evaluateNodeProperty(value: string, type: string, node: Node, msg: NodeMessage, callback: (err: Error | null, result: unknown) => void): void;
    getMessageProperty(msg: NodeMessage, path: string): unknown;
    prepareJSONataExpression(expression: string, node: Node): unknown;
    evaluateJSONataExpression(expression: unknown, msg: NodeMessage, callback: (err: Error | null, result: unknown) => void): void;
  };
  auth: { needsPermission(permission: string): Handler };
  httpAdmin: HttpRouter;
  comms?: { publish(topic: string, data: unknown, retain?: boolean): void };
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  _(key: string, params?: Record<string, unknown>): string;
}
