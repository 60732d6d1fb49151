/**
 * Makes docs/observer.png, the README's screenshot: starts the demo host with `--keep`, lets it run for a
 * while, opens its observer in Debian's chromium (playwright-core) and takes a screenshot.
 *
 *   node scripts/screenshot-observer.ts [out.png]
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { chromium } from "playwright-core"

const root = path.resolve(import.meta.dirname, "..")
const out = process.argv[2] ?? path.join(root, "docs", "observer.png")
const demo = spawn(process.execPath, [path.join(root, "demo", "host.ts"), "--keep"], {
  env: { ...process.env, AIRSSYS_DEMO_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "airssys-shot-")) },
  stdio: ["ignore", "pipe", "inherit"]
})
let output = ""
const url = await new Promise<string>((resolve, reject) => {
  demo.stdout.on("data", (chunk) => {
    output += chunk
    const found = /observer: (http:\/\/\S+)/.exec(output)
    if (found !== null && output.includes("The host stays up")) resolve(found[1]!)
  })
  demo.once("exit", () => reject(new Error(`demo exited:\n${output}`)))
})
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
})
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
await page.goto(url)
await new Promise((resolve) => setTimeout(resolve, Number(process.env["SHOT_WAIT_MS"] ?? 20_000)))
await page.screenshot({ path: out })
await browser.close()
demo.kill("SIGINT")
console.log(`wrote ${path.relative(process.cwd(), out)} (${fs.statSync(out).size} bytes) from ${url}`)
