// world: processor
// wasi: http,clocks
// JavaScript processor (componentize-js) that calls `fetch`: StarlingMonkey's fetch imports
// `wasi:http/outgoing-handler` and `wasi:http/types`, as any componentize-js guest's does. Input is
// a JSON request: { url, method?, headers?, body?, chunks?, redirect?, read? }. `chunks` sends the body
// as a ReadableStream of those strings (a streamed request body); `redirect` is fetch's option
// ("follow": StarlingMonkey follows in the guest, each hop a new outgoing request; "manual": this
// guest follows `location` itself, once); `read: "stream"` reads the response body chunk by chunk.
// Answers "STATUS\nx-echo-header\nBODY", or "error: MESSAGE" when fetch rejects.
export async function process(input) {
  const request = JSON.parse(new TextDecoder().decode(input))
  const init = { method: request.method ?? "GET", headers: request.headers ?? {} }
  if (request.body !== undefined) init.body = request.body
  if (request.chunks !== undefined) {
    const chunks = request.chunks.slice()
    init.body = new ReadableStream({
      pull(controller) {
        const next = chunks.shift()
        if (next === undefined) controller.close()
        else controller.enqueue(new TextEncoder().encode(next))
      }
    })
    init.duplex = "half"
  }
  try {
    let response
    if (request.redirect === "manual") {
      response = await fetch(request.url, { ...init, redirect: "manual" })
      const location = response.headers.get("location")
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.arrayBuffer()
        response = await fetch(new URL(location, request.url).href, { method: "GET", redirect: "manual" })
      }
    } else {
      response = await fetch(request.url, init)
    }
    let body
    if (request.read === "stream") {
      const reader = response.body.getReader()
      const parts = []
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parts.push(new TextDecoder().decode(value))
      }
      body = `${parts.length > 0 ? "chunked" : "empty"}:${parts.join("")}`
    } else {
      body = await response.text()
    }
    return new TextEncoder().encode(`${response.status}\n${response.headers.get("x-echo") ?? ""}\n${body}`)
  } catch (error) {
    return new TextEncoder().encode(`error: ${error?.message ?? String(error)}`)
  }
}
