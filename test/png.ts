/**
 * Just enough PNG decoding to tell a blank screenshot from a real one: 8-bit RGB or RGBA, not
 * interlaced (what Chromium writes), inflated with node:zlib and unfiltered per scanline.
 */
import * as zlib from "node:zlib"

export interface Image {
  readonly width: number
  readonly height: number
  /** RGBA or RGB bytes, row by row. */
  readonly pixels: Uint8Array
  readonly channels: number
}

const paeth = (a: number, b: number, c: number) => {
  const p = a + b - c
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

export const decode = (png: Uint8Array): Image => {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
  let offset = 8
  let width = 0, height = 0, channels = 0
  const data: Array<Uint8Array> = []
  while (offset < png.byteLength) {
    const length = view.getUint32(offset)
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8))
    const body = png.subarray(offset + 8, offset + 8 + length)
    if (type === "IHDR") {
      width = view.getUint32(offset + 8)
      height = view.getUint32(offset + 12)
      const depth = body[8]!, color = body[9]!, interlace = body[12]!
      if (depth !== 8 || interlace !== 0 || (color !== 2 && color !== 6)) throw new Error(`unsupported PNG (depth ${depth}, color ${color})`)
      channels = color === 6 ? 4 : 3
    } else if (type === "IDAT") data.push(body)
    offset += 12 + length
  }
  const raw = zlib.inflateSync(Buffer.concat(data))
  const stride = width * channels
  const pixels = new Uint8Array(stride * height)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0
      const v = line[x]!
      pixels[y * stride + x] = (filter === 0 ? v : filter === 1 ? v + a : filter === 2 ? v + b : filter === 3 ? v + ((a + b) >> 1) : v + paeth(a, b, c)) & 255
    }
  }
  return { width, height, pixels, channels }
}

/** How many distinct colours the image has. */
export const distinctColours = (image: Image): number => {
  const seen = new Set<number>()
  for (let i = 0; i < image.pixels.length; i += image.channels) {
    seen.add((image.pixels[i]! << 16) | (image.pixels[i + 1]! << 8) | image.pixels[i + 2]!)
  }
  return seen.size
}
