/**
 * Fuel metering of a core module: the one-pass rewrite (`fuelRewrite.ts`) when it handles the module,
 * binaryen when it declines. Every function entry and every loop iteration costs one unit. The fuel
 * left is kept in an i64 local of each function (V8 keeps it in a register): loaded from a mutable i64
 * global exported as `airssys_fuel` at entry and after each call, written back before each call, return
 * and fall-through end. A charge is `if ((f -= 1) < 0) ...`: a subtract and a never-taken branch. When
 * the fuel drops below zero the guest calls `airssys_fuel_exhausted`, which asks the host through the
 * import `airssys:fuel.refill(current) -> next` for more: the host may answer with a new value for the
 * global (metering in slices, with a clock check between them: the in-process timeout) or refuse, and
 * then the guest traps (`unreachable`) in that function. The global starts at 0, so code that runs at
 * instantiation (start functions) asks the host at once, and gets the instantiate budget. After a trap
 * the host tells out-of-fuel from any other trap by the fuel being negative (see `fuelMeter`). Functions
 * whose bodies the rewrite cannot walk (exception handling: an exception would skip the write-back;
 * expression kinds binaryen.js has no accessors for) keep the old scheme: binaryen's `log-execution`
 * hooks, inlined as a charge on the global at entry, loop heads and exits. Instrumenting a 12 MB module
 * with binaryen takes seconds and hundreds of MB, so `instrumentCache` runs large modules in a short-lived
 * worker thread (`wasmFuelWorker.ts`), and caches the result by hash.
 *
 * Cost of fuel (`bench/fuel.ts`, ratios to the uninstrumented module in the same run): about +10% on the
 * tightest loops (one add per iteration, where the charge's subtract and branch are a third of the
 * loop), nothing measurable on byte-parsing and call-heavy loops. The previous scheme (a load, subtract,
 * store and compare of the global per charge) cost +35–60% on the tight loops: the store-then-load chain
 * through memory was the loop's critical path.
 *
 * This file is the seam to binaryen: the only one that imports it. Like `jco.ts`, its binaryen half is
 * promise-based and rejects with `WasmRewriteError`; callers turn that into their own typed errors.
 *
 * @internal
 */
import { createRequire } from "node:module"
import { Result } from "effect"
import { exportNames, failure, readSections, type WasmRewriteError } from "./coreSections.ts"
import { fastFuelVersion, meterFuel } from "./fuelRewrite.ts"

// -----------------------------------------------------------------------------

/** The exported mutable i64 global holding the fuel left. */
export const fuelExport = "airssys_fuel"

/** The function whose `unreachable` is the out-of-fuel trap (it names the frame in stack traces). */
export const fuelExhaustedFunction = "airssys_fuel_exhausted"

/**
 * The host function an instrumented module imports, `(current: i64) -> i64`, called when the fuel global
 * drops below zero with its value: it returns the global's new value, and the guest traps when that is
 * still negative. This is what lets the host meter fuel in slices and check a deadline between them, and
 * give fuel to start functions, which run before the host can reach the instance's global.
 */
export const fuelImport = { module: "airssys:fuel", name: "refill" } as const

const refillFunction = "airssys_fuel_refill"

// binaryen's `log-execution` pass puts `call $log_execution (i32.const id)` at every function entry, loop
// head, `return` and fall-through function end, calling an import it adds. It is the fallback for the
// functions the rewrite below cannot see through: we replace that import with a function of our own (same
// name: the calls refer to it by name) that charges one unit from the global, then inline it.
const hookName = "log_execution"

type Binaryen = typeof import("binaryen").default
type BinaryenModule = InstanceType<Binaryen["Module"]>

const binaryenVersion: string = (createRequire(import.meta.url)("binaryen/package.json") as { version: string }).version

/**
 * Identifies the instrumentation scheme and the binaryen that applied it: part of every cache key, so a
 * change of either invalidates cached output.
 */
export const fuelVersion = `airssys-fuel/4 ${fastFuelVersion} binaryen/${binaryenVersion}`

// binaryen.js is a 13 MB module whose import costs ~100 ms: only pay it when something is instrumented.
let binaryenModule: Promise<Binaryen> | undefined
const loadBinaryen = (): Promise<Binaryen> => (binaryenModule ??= import("binaryen").then((m) => m.default))
/**
 * Everything that must hold before binaryen sees the bytes: binaryen aborts on input it cannot read,
 * and an abort leaves its runtime unusable for the rest of the thread.
 */
const checkInstrumentable = (bytes: Uint8Array): WasmRewriteError | undefined => {
  const sections = readSections(bytes)
  if (Result.isFailure(sections)) return sections.failure
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) return failure("Malformed", "the module does not validate")
  const exported = exportNames(bytes, sections.success)
  if (exported === undefined) return failure("Malformed", "export section does not parse")
  if (exported.includes(fuelExport)) return failure("AlreadyInstrumented", `the module already exports ${fuelExport}`)
  return undefined
}

// --- Walking binaryen IR -----------------------------------------------------

/**
 * The children of each kind of expression, in evaluation order, by the names of binaryen.js's accessors
 * (`getX` / `setX`; `X*` is a list: `getNumXs`, `getXAt`, `setXAt`). A kind missing here (exception
 * handling, strings, stack switching, anything newer) makes its function fall back to the global hooks.
 * So do `ref.cast`, `br_on_cast` and `struct.new`: they may carry a descriptor operand (custom
 * descriptors) that binaryen.js has no accessor for, and a child the walk cannot see could hide a loop.
 */
const childFields: Record<string, ReadonlyArray<string>> = {
  Block: ["Child*"],
  If: ["Condition", "IfTrue", "IfFalse"],
  Loop: ["Body"],
  Break: ["Value", "Condition"],
  Switch: ["Value", "Condition"],
  Call: ["Operand*"],
  CallIndirect: ["Operand*", "Target"],
  CallRef: ["Operand*", "Target"],
  LocalGet: [],
  LocalSet: ["Value"],
  GlobalGet: [],
  GlobalSet: ["Value"],
  Load: ["Ptr"],
  Store: ["Ptr", "Value"],
  Const: [],
  Unary: ["Value"],
  Binary: ["Left", "Right"],
  Select: ["IfTrue", "IfFalse", "Condition"],
  Drop: ["Value"],
  Return: ["Value"],
  MemorySize: [],
  MemoryGrow: ["Delta"],
  Nop: [],
  Unreachable: [],
  AtomicCmpxchg: ["Ptr", "Expected", "Replacement"],
  AtomicRMW: ["Ptr", "Value"],
  AtomicWait: ["Ptr", "Expected", "Timeout"],
  AtomicNotify: ["Ptr", "NotifyCount"],
  AtomicFence: [],
  SIMDExtract: ["Vec"],
  SIMDReplace: ["Vec", "Value"],
  SIMDShuffle: ["Left", "Right"],
  SIMDTernary: ["A", "B", "C"],
  SIMDShift: ["Vec", "Shift"],
  SIMDLoad: ["Ptr"],
  SIMDLoadStoreLane: ["Ptr", "Vec"],
  MemoryInit: ["Dest", "Offset", "Size"],
  DataDrop: [],
  MemoryCopy: ["Dest", "Source", "Size"],
  MemoryFill: ["Dest", "Value", "Size"],
  RefNull: [],
  RefIsNull: ["Value"],
  RefFunc: [],
  RefEq: ["Left", "Right"],
  TableGet: ["Index"],
  TableSet: ["Index", "Value"],
  TableSize: [],
  TableGrow: ["Value", "Delta"],
  TupleMake: ["Operand*"],
  TupleExtract: ["Tuple"],
  RefI31: ["Value"],
  I31Get: ["I31"],
  RefTest: ["Ref"],
  StructGet: ["Ref"],
  StructSet: ["Ref", "Value"],
  ArrayNew: ["Init", "Size"],
  ArrayNewFixed: ["Value*"],
  ArrayNewData: ["Offset", "Size"],
  ArrayNewElem: ["Offset", "Size"],
  ArrayGet: ["Ref", "Index"],
  ArraySet: ["Ref", "Index", "Value"],
  ArrayLen: ["Ref"],
  ArrayFill: ["Ref", "Index", "Value", "Size"],
  ArrayCopy: ["DestRef", "DestIndex", "SrcRef", "SrcIndex", "Length"],
  ArrayInitData: ["Ref", "Index", "Offset", "Size"],
  ArrayInitElem: ["Ref", "Index", "Offset", "Size"],
  RefAs: ["Value"]
}

type Accessors = Record<string, (...args: Array<number>) => number>

/** The part of binaryen.js's expression and function accessors used here (its typings leave them out). */
interface BinaryenIr {
  readonly Call: { getTarget(expr: number): string; isReturn(expr: number): boolean }
  readonly CallIndirect: { isReturn(expr: number): boolean }
  readonly CallRef: { isReturn(expr: number): boolean }
  readonly Loop: { getBody(expr: number): number; setBody(expr: number, body: number): void }
  readonly Return: { getValue(expr: number): number; setValue(expr: number, value: number): void }
  readonly Function: {
    getParams(func: number): number
    getNumVars(func: number): number
    getBody(func: number): number
    setBody(func: number, body: number): void
  }
  _BinaryenFunctionAddVar(func: number, type: number): number
}

const ir = (binaryen: Binaryen): BinaryenIr => binaryen as unknown as BinaryenIr

/** One child position: reads and replaces the child there. */
interface Slot {
  readonly get: () => number
  readonly set: (child: number) => void
}

/** A child field of an expression kind: a single child (`count` 0 or 1) or a list. */
interface Field {
  readonly count: (expr: number) => number
  readonly get: (expr: number, index: number) => number
  readonly set: (expr: number, index: number, child: number) => void
}

interface Kind {
  readonly name: string
  /** Child fields, in evaluation order. */
  readonly fields: ReadonlyArray<Field>
}

const slotOf = (field: Field, parent: number, index: number): Slot => ({
  get: () => field.get(parent, index),
  set: (child) => field.set(parent, index, child)
})

/** The child slots of an expression, in evaluation order (absent children left out). */
const slotsOf = (kind: Kind, expr: number): Array<Slot> => {
  const out: Array<Slot> = []
  for (const field of kind.fields) {
    for (let i = 0, n = field.count(expr); i < n; i++) out.push(slotOf(field, expr, i))
  }
  return out
}

const kindsOf = (binaryen: Binaryen): Map<number, Kind> => {
  const kinds = new Map<number, Kind>()
  const api = binaryen as unknown as Record<string, unknown>
  for (const [name, names] of Object.entries(childFields)) {
    const id = api[`${name}Id`]
    if (typeof id !== "number") continue
    const accessors = (api[name] ?? {}) as Accessors
    const fields: Array<Field> = []
    for (const field of names) {
      if (field.endsWith("*")) {
        const one = field.slice(0, -1)
        const count = accessors[`getNum${one === "Child" ? "Children" : `${one}s`}`]
        const getAt = accessors[`get${one}At`]
        const setAt = accessors[`set${one}At`]
        if (count === undefined || getAt === undefined || setAt === undefined) break
        fields.push({ count, get: getAt, set: (expr, i, child) => void setAt(expr, i, child) })
      } else {
        const get = accessors[`get${field}`]
        const set = accessors[`set${field}`]
        if (get === undefined || set === undefined) break
        fields.push({
          count: (expr) => (get(expr) === 0 ? 0 : 1),
          get: (expr) => get(expr),
          set: (expr, _, child) => void set(expr, child)
        })
      }
    }
    // This binaryen lacks an accessor: treat the kind as unknown.
    if (fields.length === names.length) kinds.set(id, { name, fields })
  }
  return kinds
}

/** What the rewrite must change in one function, found by walking its body. */
interface FunctionPlan {
  readonly loops: Array<{ readonly expr: number; readonly slot: Slot }>
  /** Calls that leave the function's code (direct, indirect, by reference, to imports), with their slots. */
  readonly calls: Array<{ readonly expr: number; readonly slot: Slot; readonly isReturn: boolean }>
  readonly returns: Array<{ readonly expr: number; readonly slot: Slot }>
  /** `log-execution`'s hook calls, to be removed. */
  readonly hooks: Array<Slot>
}

/**
 * Walks a function body (iteratively: binaryen IR nests deeply) and lists what the rewrite changes, or
 * returns `undefined` when the function uses something the local-counter scheme cannot handle: an
 * expression kind without accessors, or exception handling (an exception unwinds past the code that
 * would write the counter back). Slots are only made for the few expressions the rewrite changes: a
 * 12 MB module has millions of expressions.
 */
const planFunction = (binaryen: Binaryen, kinds: Map<number, Kind>, body: number, bodySlot: Slot): FunctionPlan | undefined => {
  const plan: FunctionPlan = { loops: [], calls: [], returns: [], hooks: [] }
  const { LoopId, CallId, CallIndirectId, CallRefId, ReturnId } = binaryen
  const api = ir(binaryen)
  // The stack, as parallel arrays: an expression, its parent, and its position in the parent.
  const exprs: Array<number> = [body]
  const parents: Array<number> = [0]
  const fields: Array<Field | undefined> = [undefined]
  const indices: Array<number> = [0]
  while (exprs.length > 0) {
    const expr = exprs.pop()!
    const parent = parents.pop()!
    const field = fields.pop()
    const index = indices.pop()!
    const id = binaryen.getExpressionId(expr)
    const kind = kinds.get(id)
    if (kind === undefined) return undefined
    if (id === LoopId || id === CallId || id === CallIndirectId || id === CallRefId || id === ReturnId) {
      const slot = field === undefined ? bodySlot : slotOf(field, parent, index)
      if (id === LoopId) plan.loops.push({ expr, slot })
      else if (id === ReturnId) plan.returns.push({ expr, slot })
      else if (id === CallId && api.Call.getTarget(expr) === hookName) {
        plan.hooks.push(slot)
        continue
      } else {
        const isReturn = id === CallId
          ? api.Call.isReturn(expr)
          : id === CallIndirectId
          ? api.CallIndirect.isReturn(expr)
          : api.CallRef.isReturn(expr)
        plan.calls.push({ expr, slot, isReturn })
      }
    }
    for (const child of kind.fields) {
      for (let i = 0, n = child.count(expr); i < n; i++) {
        exprs.push(child.get(expr, i))
        parents.push(expr)
        fields.push(child)
        indices.push(i)
      }
    }
  }
  return plan
}

/**
 * The rewrite of one function whose body `planFunction` could see through. The fuel left lives in a local
 * (V8 keeps it in a register): loaded from the global at entry and after every call, written back before
 * every call and every exit. Each function entry and each loop iteration costs one unit: `(f -= 1) < 0`
 * and a branch, never taken until the fuel runs out, to code that writes the counter back, asks the host
 * for more (`exhausted`) and reloads it.
 */
let labels = 0

const rewriteFunction = (
  binaryen: Binaryen,
  module: BinaryenModule,
  kinds: Map<number, Kind>,
  func: number,
  plan: FunctionPlan
): void => {
  const i64 = binaryen.i64
  const params = binaryen.expandType(ir(binaryen).Function.getParams(func)).length
  const addVar = (f: number, t: number) => ir(binaryen)._BinaryenFunctionAddVar(f, t)
  const fuel = params + ir(binaryen).Function.getNumVars(func)
  addVar(func, i64)
  const temps = new Map<number, number>()
  const temp = (type: number): number => {
    let index = temps.get(type)
    if (index === undefined) {
      index = params + ir(binaryen).Function.getNumVars(func)
      addVar(func, type)
      temps.set(type, index)
    }
    return index
  }
  const spill = () => module.global.set(fuelExport, module.local.get(fuel, i64))
  const reload = () => module.local.set(fuel, module.global.get(fuelExport, i64))
  // (f -= 1) < 0
  const exhaustedCondition = () =>
    module.i64.lt_s(module.local.tee(fuel, module.i64.sub(module.local.get(fuel, i64), module.i64.const(1n)), i64), module.i64.const(0n))
  const charge = () =>
    module.if(exhaustedCondition(), module.block(null, [spill(), module.call(fuelExhaustedFunction, [], binaryen.none), reload()]))
  const isConcrete = (type: number) => type !== binaryen.none && type !== binaryen.unreachable
  // `before; expr; after`, keeping `expr`'s value.
  const around = (before: Array<number>, expr: number, after: Array<number>): number => {
    const type = binaryen.getExpressionType(expr)
    if (after.length === 0 || !isConcrete(type)) return module.block(null, [...before, expr, ...after], binaryen.auto)
    const t = temp(type)
    return module.block(null, [...before, module.local.set(t, expr), ...after, module.local.get(t, type)], type)
  }
  const trivial = (expr: number): boolean => {
    const id = binaryen.getExpressionId(expr)
    return id === binaryen.LocalGetId || id === binaryen.ConstId || id === binaryen.GlobalGetId ||
      id === binaryen.RefNullId || id === binaryen.RefFuncId
  }
  for (const hook of plan.hooks) hook.set(module.nop())

  // Calls, innermost last: an outer call's slots are read when it is rewritten, after its operands were.
  for (let i = plan.calls.length - 1; i >= 0; i--) {
    const { expr, slot, isReturn } = plan.calls[i]!
    if (binaryen.getExpressionType(expr) === binaryen.unreachable && !isReturn) continue // never calls
    const children = slotsOf(kinds.get(binaryen.getExpressionId(expr))!, expr)
    const last = children[children.length - 1]
    const after = isReturn ? [] : [reload()]
    if (children.every((child) => trivial(child.get()))) {
      // Nothing runs between the write-back and the call.
      slot.set(around([spill()], expr, after))
    } else {
      // The write-back goes after the last operand is evaluated: operands may loop or call.
      last!.set(around([], last!.get(), [spill()]))
      if (after.length > 0) slot.set(around([], expr, after))
    }
  }
  for (const { expr, slot } of plan.returns) {
    const value = ir(binaryen).Return.getValue(expr)
    if (value === 0) slot.set(module.block(null, [spill(), expr], binaryen.unreachable))
    else if (isConcrete(binaryen.getExpressionType(value))) ir(binaryen).Return.setValue(expr, around([], value, [spill()]))
  }
  // Loops and the body last: the rewrites above may have replaced what they hold. Inner loops first: an
  // inner loop may be its outer loop's whole body.
  //
  // The out-of-fuel path of a loop lies outside it: the charge branches out, the host is asked for more,
  // and the loop is entered again at its head. With the call inside the loop V8 would keep every value
  // live across it on the stack, in the hot path too (+50–80% on tight loops instead of ~10%).
  //
  //   (block $exit (loop $retry (block $out (br $exit (loop $L (br_if $out charge) body)))
  //     spill; exhausted(); reload + 1; (br $retry)))
  //
  // Entering again charges the head once more: the reload gives that unit back.
  for (let i = plan.loops.length - 1; i >= 0; i--) {
    const { expr: loop, slot } = plan.loops[i]!
    const n = labels++
    const [exit, retry, out] = [`airssys_fuel_exit${n}`, `airssys_fuel_retry${n}`, `airssys_fuel_out${n}`]
    const loopBody = ir(binaryen).Loop.getBody(loop)
    ir(binaryen).Loop.setBody(
      loop,
      module.block(null, [module.br(out, exhaustedCondition()), loopBody], binaryen.getExpressionType(loopBody))
    )
    const type = binaryen.getExpressionType(loop)
    const refill = [
      spill(),
      module.call(fuelExhaustedFunction, [], binaryen.none),
      module.local.set(fuel, module.i64.add(module.global.get(fuelExport, i64), module.i64.const(1n)))
    ]
    if (type === binaryen.unreachable) {
      // The loop never falls through: nothing leaves but branches out of it.
      slot.set(module.loop(retry, module.block(null, [module.block(out, [loop], binaryen.none), ...refill, module.br(retry)])))
    } else {
      const leave = isConcrete(type) ? [module.br(exit, undefined, loop)] : [loop, module.br(exit)]
      slot.set(module.block(
        exit,
        [module.loop(retry, module.block(null, [module.block(out, leave, binaryen.none), ...refill, module.br(retry)]))],
        type
      ))
    }
  }
  const body = ir(binaryen).Function.getBody(func)
  const bodyType = binaryen.getExpressionType(body)
  const entry = [reload(), charge()]
  ir(binaryen).Function.setBody(
    func,
    bodyType === binaryen.unreachable
      ? module.block(null, [...entry, body], binaryen.unreachable)
      : around(entry, body, [spill()])
  )
}

/** Counts of how functions were instrumented, for tests and diagnostics. */
export interface InstrumentStats {
  /** Functions metered with a local counter. */
  readonly local: number
  /** Functions metered through the global at every charge (exception handling, unknown expressions). */
  readonly global: number
}

/** How the last `instrumentFuelWith` in this thread instrumented the module's functions. */
export let lastInstrumentStats: InstrumentStats = { local: 0, global: 0 }

/**
 * Instruments with an already-loaded binaryen, synchronously. binaryen's settings are process-global:
 * each one changed here is restored before returning.
 */
export const instrumentFuelWith = (binaryen: Binaryen, bytes: Uint8Array): Uint8Array => {
  const invalid = checkInstrumentable(bytes)
  if (invalid !== undefined) throw invalid
  const debugInfo = binaryen.getDebugInfo()
  const alwaysInline = binaryen.getAlwaysInlineMaxSize()
  // Read without DWARF processing (it is slow, and binaryen would try to rewrite it); names are read anyway.
  binaryen.setDebugInfo(false)
  let module: BinaryenModule | undefined
  try {
    module = binaryen.readBinary(bytes)
    labels = 0
    for (const name of [hookName, fuelExhaustedFunction, refillFunction]) {
      if (module.getFunction(name) !== 0) throw failure("NameClash", `the module already has a function named ${name}`)
    }
    if (module.getGlobal(fuelExport) !== 0) throw failure("NameClash", `the module already has a global named ${fuelExport}`)
    module.setFeatures(binaryen.Features.All)
    const guestFunctions: Array<number> = []
    for (let i = 0, n = module.getNumFunctions(); i < n; i++) {
      const func = module.getFunctionByIndex(i)
      if (binaryen.getFunctionInfo(func).module === "") guestFunctions.push(func)
    }
    // Hooks (calls to an import) at every function entry, loop head and exit. Functions the walk below
    // sees through have theirs removed; the others keep them, and get them inlined as charges on the global.
    module.runPasses(["log-execution"])
    module.removeFunction(hookName)

    const i64 = binaryen.i64
    module.addGlobal(fuelExport, i64, true, module.i64.const(0n))
    module.addGlobalExport(fuelExport, fuelExport)
    module.addFunctionImport(refillFunction, fuelImport.module, fuelImport.name, i64, i64)
    // Out of fuel: ask the host for more (it answers with the global's new value, so it needs no access to
    // the instance: start functions run before the host has one); trap when the answer is still negative.
    module.addFunction(
      fuelExhaustedFunction,
      binaryen.none,
      binaryen.none,
      [],
      module.block(null, [
        module.global.set(fuelExport, module.call(refillFunction, [module.global.get(fuelExport, i64)], i64)),
        module.if(module.i64.lt_s(module.global.get(fuelExport, i64), module.i64.const(0n)), module.unreachable())
      ])
    )

    const kinds = kindsOf(binaryen)
    const fallback: Array<number> = []
    for (const func of guestFunctions) {
      const plan = planFunction(binaryen, kinds, ir(binaryen).Function.getBody(func), {
        get: () => ir(binaryen).Function.getBody(func),
        set: (child) => ir(binaryen).Function.setBody(func, child)
      })
      if (plan === undefined) fallback.push(func)
      else rewriteFunction(binaryen, module, kinds, func, plan)
    }
    lastInstrumentStats = { local: guestFunctions.length - fallback.length, global: fallback.length }

    if (fallback.length > 0) {
      // Mark every function as not inlinable: the inlining below must inline our hook only, leaving the
      // guest's own code as it was (and the exhausted function out of line: it names the trap's frame).
      binaryen.setPassArgument("no-inline", "*")
      module.runPasses(["no-inline"])
      // fuel -= 1; if (fuel < 0) airssys_fuel_exhausted()
      module.addFunction(
        hookName,
        binaryen.i32,
        binaryen.none,
        [],
        module.block(null, [
          module.global.set(fuelExport, module.i64.sub(module.global.get(fuelExport, i64), module.i64.const(1n))),
          module.if(
            module.i64.lt_s(module.global.get(fuelExport, i64), module.i64.const(0n)),
            module.call(fuelExhaustedFunction, [], binaryen.none)
          )
        ])
      )
      // A call per charge doubles the cost of a tight loop in V8; inlined, it is a load, a subtract, a
      // store and a compare of the global.
      binaryen.setAlwaysInlineMaxSize(20)
      module.runPasses(["inlining"])
      if (module.getFunction(hookName) !== 0) module.removeFunction(hookName)
    }
    // Emit with a name section, so that guest frames keep their names in stack traces.
    binaryen.setDebugInfo(true)
    const out = module.emitBinary()
    // V8's validator is the one that matters, and is much faster than binaryen's on large modules.
    if (!WebAssembly.validate(out as Uint8Array<ArrayBuffer>)) {
      throw failure("InstrumentFailed", "the instrumented module does not validate")
    }
    return out
  } finally {
    module?.dispose()
    binaryen.setPassArgument("no-inline", null)
    binaryen.setAlwaysInlineMaxSize(alwaysInline)
    binaryen.setDebugInfo(debugInfo)
  }
}

/**
 * Instruments a core module for fuel with binaryen, in this thread. Rejects with `WasmRewriteError`.
 *
 * Meant for small modules and tests: binaryen keeps the memory it grew to (hundreds of MB after a 12 MB
 * module) for the life of the thread, and blocks it while it works. `cachedInstrument` (`instrumentCache.ts`) uses a worker for large ones.
 * Repeated runs in one thread may differ in dead constants (binaryen's log-execution pass numbers its
 * hooks with a process-wide counter); a fresh worker always gives the same bytes for the same input.
 */
export const instrumentFuelBinaryen = (bytes: Uint8Array): Promise<Uint8Array> =>
  loadBinaryen().then((binaryen) => instrumentFuelWith(binaryen, bytes))

/**
 * The one-pass rewrite (`fuelRewrite.ts`), when it handles the module: milliseconds where binaryen takes
 * seconds. `undefined` when it declines (GC, an instruction it does not know), or when its output does not
 * validate (a bug of ours must not become a load failure: binaryen gets the module instead).
 */
export const instrumentFuelFast = (bytes: Uint8Array): Uint8Array | undefined => {
  const invalid = checkInstrumentable(bytes)
  if (invalid !== undefined) throw invalid
  const metered = meterFuel(bytes)
  if ("unsupported" in metered) return undefined
  if (!WebAssembly.validate(metered.bytes as Uint8Array<ArrayBuffer>)) return undefined
  lastInstrumentStats = metered.stats
  return metered.bytes
}

/**
 * Instruments a core module for fuel, in this thread: the one-pass rewrite, or binaryen when that
 * declines. Rejects with `WasmRewriteError`.
 */
export const instrumentFuel = (bytes: Uint8Array): Promise<Uint8Array> => {
  let fast: Uint8Array | undefined
  try {
    fast = instrumentFuelFast(bytes)
  } catch (error) {
    return Promise.reject(error)
  }
  return fast !== undefined ? Promise.resolve(fast) : instrumentFuelBinaryen(bytes)
}
