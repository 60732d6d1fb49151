// airssys.d.ts: types for airssys.js, the helpers, and for the exports a guest writes.
/// <reference path="wit.d.ts" />

/** What the `actor` worlds deliver to `handler.handleMessage`. */
export interface Message {
  sender: string
  topic?: string | null
  correlationId?: bigint | number | null
  payload: Uint8Array
}

/** The export of the `processor` worlds: `export function process(input) { ... }`. */
export type Process = (input: Uint8Array) => Uint8Array

/** The export of the `actor` worlds: `export const handler = { handleMessage(message) { ... } }`. */
export interface Handler {
  handleMessage(message: Message): Uint8Array | undefined
}

export declare function encode(text: string): Uint8Array
export declare function decode(bytes: Uint8Array): string
export declare function errorMessage(error: unknown): string
export declare function result<T>(f: () => T): T
