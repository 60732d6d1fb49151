import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Guest builds happen once, before vitest starts (scripts/build-guests.ts).
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
