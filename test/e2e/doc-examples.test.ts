import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { cli, ROOT, startCli, tempDir } from '../helpers.js';

/**
 * Runs the worked examples of docs/ and the README: every ```sh block after an `<!-- example -->` line. Each page
 * runs in a fresh folder holding a copy of examples/, as the repository root does. Lines understood:
 *   atelier ARGS            must exit 0, or the N of a trailing `# exits N`
 *   atelier serve ARGS &    started in the background until the page is done
 *   curl ... URL [-d DATA]  sent with fetch; must answer 2xx, or the N of `# status N`
 *   cd DIR                  changes folder
 */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

async function curl(args: string[], cwd: string): Promise<number> {
  const url = args.find((a) => /^https?:\/\//.test(a))!;
  const dataIndex = args.findIndex((a) => a === '-d' || a === '--data');
  let body: string | undefined;
  if (dataIndex >= 0) {
    const data = args[dataIndex + 1]!;
    body = data.startsWith('@') ? readFileSync(resolve(cwd, data.slice(1)), 'utf8') : data;
  }
  const response = await fetch(url, { method: body === undefined ? 'GET' : 'POST', body, headers: { 'content-type': 'application/json' } });
  await response.text();
  return response.status;
}

// The README's short tour too: it runs from the clone's root, as every page here does.
const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

for (const page of pages) {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const blocks = [...text.matchAll(/<!-- example -->\s*```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  if (blocks.length === 0) continue;
  test(`${page}: the worked example runs`, async () => {
    let cwd = tempDir();
    cpSync(join(ROOT, 'examples'), join(cwd, 'examples'), { recursive: true });
    const background: Awaited<ReturnType<typeof startCli>>[] = [];
    try {
      for (const block of blocks) {
        for (const raw of block.split('\n')) {
          const [command, comment = ''] = raw.split(/\s+#\s+/, 2) as [string, string?];
          const line = command.trim();
          if (line === '' || line.startsWith('#')) continue;
          const args = words(line);
          if (args[0] === 'cd') {
            cwd = resolve(cwd, args[1]!);
          } else if (args[0] === 'atelier' && args[args.length - 1] === '&') {
            background.push(await startCli([...args.slice(1, -1), '--json'], { cwd }));
          } else if (args[0] === 'atelier') {
            const expected = Number(/exits (\d)/.exec(comment)?.[1] ?? 0);
            const result = await cli(args.slice(1), { cwd });
            assert.equal(result.code, expected, `${page}: \`${line}\` exited ${result.code}: ${result.stderr}`);
          } else if (args[0] === 'curl') {
            const expected = Number(/status (\d+)/.exec(comment)?.[1] ?? 200);
            assert.equal(await curl(args.slice(1), cwd), expected, `${page}: \`${line}\``);
          } else {
            assert.fail(`${page}: the example runner does not know \`${line}\``);
          }
        }
      }
    } finally {
      for (const server of background) {
        server.child.kill('SIGINT');
        await server.stopped;
      }
    }
  });
}
