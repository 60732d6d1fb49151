/**
 * The observer's page in a real browser (Debian's chromium, driven by playwright-core) against a running
 * host with real wasm actors: the tree, a guest trap seen as a restart and a dead letter, a denial in
 * the audit stream, and a screenshot that is not blank.
 *
 * Without /usr/bin/chromium the suite is skipped (and says how to install it); with CI=true that is a
 * failure. `AIRSSYS_SCREENSHOT=docs/observer.png` also writes the screenshot there (the README's).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { type Browser, chromium, type Page } from "playwright-core"
import { Observer } from "../src/observer/index.ts"
import { denyMessenger, deployDemo, trapFlaky, withHost } from "./observerHost.ts"
import { decode, distinctColours } from "./png.ts"

const executablePath = "/usr/bin/chromium"
const install = "apt-get install -y chromium"
const available = fs.existsSync(executablePath)

if (!available) {
  if (process.env["CI"] === "true") {
    describe("observer in a browser", () => {
      it("needs chromium", () => assert.fail(`${executablePath} is missing: ${install}`))
    })
  } else {
    console.warn(`skipped the observer's browser suite: ${executablePath} not found (install it with: ${install})`)
  }
}

const launch = Effect.acquireRelease(
  Effect.promise(() =>
    chromium.launch({
      executablePath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic"
      ]
    })
  ),
  (browser: Browser) => Effect.promise(() => browser.close())
)

const waitFor = (page: Page, selector: string) =>
  Effect.promise(() => page.waitForSelector(selector, { timeout: 30_000 }).then(() => undefined))

describe.skipIf(!available)("observer in a browser", { timeout: 120_000 }, () => {
  it.live("shows the tree, a trap's restart and dead letter, a denial in the audit stream; the screenshot is not blank", () =>
    withHost(
      Effect.gen(function*() {
        const observer = yield* Observer.Observer
        yield* deployDemo
        const browser = yield* launch
        const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1440, height: 900 } }))
        yield* Effect.promise(() => page.goto(observer.url))

        // The tree: each deployed version's supervisor with its running actor.
        yield* waitFor(page, "[data-supervisor='flaky@1'] [data-child='flaky@1'][data-state='running']")
        yield* waitFor(page, "[data-child='greeter@1'][data-state='running']")
        yield* waitFor(page, "#conn .dot.live")
        assert.strictEqual(yield* Effect.promise(() => page.locator("[data-actor]").count()), 3)
        assert.strictEqual(yield* Effect.promise(() => page.locator("#audit li.denied").count()), 0)

        // A guest trap: the restart shows in the tree and on the actor, the message in dead letters.
        yield* trapFlaky
        yield* waitFor(page, "[data-child='flaky@1'][data-restarts='1'][data-state='running']")
        yield* waitFor(page, "[data-actor='flaky@1'][data-restarts='1']")
        yield* waitFor(page, "#letters li[data-reason='Trapped']")
        const letter = yield* Effect.promise(() => page.locator("#letters li[data-reason='Trapped']").first().innerText())
        assert.include(letter, "flaky@1")
        assert.include(letter, "trap: poison")
        const lastError = yield* Effect.promise(() => page.locator("[data-actor='flaky@1'] .err").innerText())
        assert.include(lastError, "unreachable")

        // A denial: highlighted in the audit stream; the chain still verifies.
        yield* denyMessenger
        yield* waitFor(page, "#audit li.denied")
        const denial = yield* Effect.promise(() => page.locator("#audit li.denied").first().innerText())
        assert.include(denial, "messenger@1")
        assert.include(denial, "storage")
        assert.include(denial, "denied")
        yield* waitFor(page, "#chain[data-state='verified']")

        // Let the charts gather a few points, then look.
        yield* Effect.forEach([1, 2, 3], () => Effect.andThen(Effect.sleep("300 millis"), observer.sample), { discard: true })
        const png = yield* Effect.promise(() => page.screenshot({ fullPage: false }))
        const image = decode(png)
        assert.strictEqual(image.width, 1440)
        // A blank page has one colour; the observer's has text, badges, charts (hundreds of colours).
        assert.isAbove(distinctColours(image), 100)
        const target = process.env["AIRSSYS_SCREENSHOT"]
        if (target !== undefined) {
          const small = yield* Effect.promise(() => page.screenshot({ type: "png", clip: { x: 0, y: 0, width: 1440, height: 900 }, scale: "css" }))
          fs.writeFileSync(target, small)
        }
      }).pipe(Effect.scoped),
      { interval: "250 millis" }
    ))
})
