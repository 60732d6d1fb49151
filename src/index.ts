/**
 * airssys-wasm: load WebAssembly components at runtime and run each as a supervised,
 * capability-restricted actor.
 *
 * The live observer is on its own entry point, `airssys-wasm/observer` (it needs the optional peer
 * `@effect/platform-node`), so that this one never loads it.
 *
 * @since 0.1.0
 */
export * as Component from "./Component.ts"
export * as ComponentCache from "./ComponentCache.ts"
export * as ComponentError from "./ComponentError.ts"
export * as Instance from "./Instance.ts"
export * as Actor from "./Actor.ts"
export * as ActorError from "./ActorError.ts"
export * as DeadLetters from "./DeadLetters.ts"
export * as Supervisor from "./Supervisor.ts"
export * as Capability from "./Capability.ts"
export * as Audit from "./Audit.ts"
export * as ResourceLimits from "./ResourceLimits.ts"
export * as Registry from "./Registry.ts"
export * as Router from "./Router.ts"
export * as Linker from "./Linker.ts"
export * as Logging from "./capability/Logging.ts"
export * as Storage from "./capability/Storage.ts"
export * as Filesystem from "./capability/Filesystem.ts"
export * as Stdio from "./capability/Stdio.ts"
export * as Environment from "./capability/Environment.ts"
export * as CliExit from "./capability/CliExit.ts"
export * as Http from "./capability/Http.ts"
export * as WasiHttp from "./capability/WasiHttp.ts"
export * as Resolver from "./capability/Resolver.ts"
export * as Sockets from "./capability/Sockets.ts"
export * as Clocks from "./capability/Clocks.ts"
export * as Random from "./capability/Random.ts"
export * as Messaging from "./capability/Messaging.ts"
export * as Deployment from "./Deployment.ts"
export * as Node from "./Node.ts"
