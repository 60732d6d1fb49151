#!/usr/bin/env node
// The `airssys-wasm` executable. Needs Node >= 22.18 (TypeScript type stripping); the sources are .ts.
import "../src/cli/main.ts"
