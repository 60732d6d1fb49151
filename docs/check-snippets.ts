/**
 * Checks that the code in the tutorial and the how-to guides is real: every ```ts, ```js and ```wit
 * block of docs/tutorial.md and docs/how-to/*.md must appear, verbatim, in one of the files those pages
 * run (docs/tutorial/, docs/how-to/code/) or in the WIT contract. Exits 1 and names each block that
 * does not.
 *
 * Run from the repository root: node_modules/.bin/node docs/check-snippets.ts
 */
import * as fs from "node:fs"
import * as path from "node:path"

const docs = import.meta.dirname
const root = path.resolve(docs, "..")
const filesIn = (dir: string) => fs.readdirSync(dir).map((name) => path.join(dir, name)).filter((file) => fs.statSync(file).isFile())

const pages = [path.join(docs, "tutorial.md"), ...filesIn(path.join(docs, "how-to")).filter((file) => file.endsWith(".md"))]
const sources = [...filesIn(path.join(docs, "tutorial")), ...filesIn(path.join(docs, "how-to", "code")), path.join(root, "wit", "airssys.wit")]
  .map((file) => fs.readFileSync(file, "utf8"))

let missing = 0
let blocks = 0
for (const page of pages) {
  const text = fs.readFileSync(page, "utf8")
  for (const match of text.matchAll(/```(ts|js|wit)\n([\s\S]*?)```/g)) {
    const block = match[2]!
    blocks++
    if (sources.some((source) => source.includes(block))) continue
    missing++
    const line = text.slice(0, match.index).split("\n").length
    console.log(`${path.relative(root, page)}:${line}: a \`\`\`${match[1]} block found in no source file`)
  }
}
console.log(missing === 0 ? `${pages.length} pages, ${blocks} code blocks: each is in a source file` : `${missing} block(s) not found`)
process.exitCode = missing === 0 ? 0 : 1
