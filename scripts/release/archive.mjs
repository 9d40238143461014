// Reproducible .tar.gz archives: sorted entries, fixed mtime, no owner names (tar's `portable`).
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { create } from 'tar'

/** Every archive entry gets this mtime, so the same inputs give the same bytes (and sha256). */
export const ARCHIVE_MTIME = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? 946684800) * 1000)

/** Packs the whole of `dir` (its contents at the archive root) into `file`. */
export async function writeTarGz(dir, file) {
  const entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath ?? d.path, d.name)).split('\\').join('/'))
    .sort()
  await create({ file, cwd: dir, gzip: { level: 9 }, portable: true, mtime: ARCHIVE_MTIME, noDirRecurse: true }, entries)
  return entries
}

/** sha256 of a file, lowercase hex (what krew checks). */
export async function sha256File(file) {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk)
  return hash.digest('hex')
}
