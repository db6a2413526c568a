// Writes a gzip copy (file.gz) beside every compressible file in dist/ and prints the sizes, so the
// server can send pre-compressed assets without compressing at request time.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync, constants } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;
const compressible = /\.(js|css|html|svg|json|txt|map)$/;

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

let raw = 0;
let gz = 0;
for (const path of [...walk(dist)]) {
  if (!compressible.test(path) || path.endsWith('.map')) continue;
  const data = readFileSync(path);
  const packed = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(path + '.gz', packed);
  if (!path.endsWith('.html')) {
    raw += data.length;
    gz += packed.length;
  }
  console.log(`${relative(dist, path).padEnd(40)} ${String(data.length).padStart(8)} B  gzip ${String(packed.length).padStart(7)} B`);
}
console.log(`assets total: ${(raw / 1024).toFixed(1)} KiB, gzip ${(gz / 1024).toFixed(1)} KiB`);
