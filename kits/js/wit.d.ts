// wit.d.ts: the host's WIT interfaces (wit/airssys.wit) as JavaScript modules, the same for
// componentize-js and componentize-qjs: both engines resolve these import specifiers. Add it to a
// jsconfig/tsconfig (`"files"`) or `/// <reference path="wit.d.ts" />` for completion and checks.
//
// Conventions of both engines: a `result<T, string>` import returns T or throws (catch it and read it
// with `errorMessage`); an export returns T for ok and throws a string for err; `option<T>` is
// `T | undefined` (componentize-qjs gives `null` for none: test with `== null`).

declare module "airssys:component/logging@0.1.0" {
  export type Level = "trace" | "debug" | "info" | "warn" | "error"
  export function log(level: Level, message: string): void
}

declare module "airssys:component/messaging@0.1.0" {
  /** Fire and forget. */
  export function send(target: string, payload: Uint8Array): void
  /** Send and wait for the reply, or throw after `timeoutMs`. */
  export function request(target: string, payload: Uint8Array, timeoutMs: number): Uint8Array
  export function publish(topic: string, payload: Uint8Array): void
  /** Topic messages then arrive through `handler.handleMessage` with `topic` set. */
  export function subscribe(topic: string): void
}

declare module "airssys:component/storage@0.1.0" {
  export function get(namespace: string, key: string): Uint8Array | undefined | null
  export function set(namespace: string, key: string, value: Uint8Array): void
  // `delete` is a reserved word in JavaScript: each engine names that import its own way.
  export function listKeys(namespace: string): Array<string>
}

declare module "airssys:component/http@0.1.0" {
  export interface Request {
    method: string
    url: string
    headers: Array<[string, string]>
    body: Uint8Array
  }
  export interface Response {
    status: number
    headers: Array<[string, string]>
    body: Uint8Array
  }
  export function fetch(req: Request): Response
}

