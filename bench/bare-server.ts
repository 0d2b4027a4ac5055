/**
 * The baseline of `npm run bench:serve`: a bare `node:http` server that sends the files under a
 * root folder with `createReadStream` (no database, no checks, no logging), at the same paths
 * Gilfoyle serves them: /medias/{id}/stream/{name} → {root}/medias/{id}/stream/{name}.
 *
 *   node --import tsx bench/bare-server.ts <root> <port>
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';

const [root, port] = process.argv.slice(2);
const types: Record<string, string> = { '.m3u8': 'application/vnd.apple.mpegurl', '.m4s': 'video/iso.segment' };

createServer((req, res) => {
  const file = path.join(root!, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
  stat(file).then(
    (s) => {
      res.writeHead(200, {
        'Content-Type': types[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': s.size,
      });
      createReadStream(file).pipe(res);
    },
    () => {
      res.writeHead(404).end();
    },
  );
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
