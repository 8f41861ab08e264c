// test/fresh-machine/readme-commands.test.ts
// The README's two commands on a machine with only Node and npm (issue #12): they are read from the
// README's "Two commands" block and run, in a clean copy of the repository, on a PATH without pnpm.
// `… start` must serve the example app (on SQLite, no servers); `… test` must reach Jest (`--listTests`,
// not the whole suite again).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { copyWorkingTree, describeWithRegistry, pathWithoutPnpm, removeLater, ROOT, tempDir } from '../support/fresh-clone';

/** The README's "Two commands" code block, one entry per line, comments dropped, split at `&&`. */
function readmeCommands(): string[][] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Two commands'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean)
    .map((line) => line.split('&&').map((c) => c.trim()));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describeWithRegistry()('the README commands on a machine with Node and npm only', () => {
  const lines = readmeCommands();
  let work: string;
  let clone: string;
  let env: NodeJS.ProcessEnv;
  const timings: string[] = [];

  const sh = (command: string, extra: NodeJS.ProcessEnv = {}, timeout = 240_000) => {
    const started = Date.now();
    const r = spawnSync('sh', ['-c', command], { cwd: clone, env: { ...env, ...extra }, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
    timings.push(`${command} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  };

  beforeAll(() => {
    work = tempDir('fresh');
    clone = join(work, 'clone');
    copyWorkingTree(clone);
    // Only what a fresh machine has: no pnpm on the PATH, no database or Redis configured.
    env = { ...process.env, PATH: pathWithoutPnpm(join(work, 'bin')), npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr' };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'MARIADB_URL', 'PNPM_HOME', 'npm_execpath', 'npm_config_user_agent']) delete env[name];
  }, 60_000);

  afterAll(() => {
    console.log(`README commands timings: ${timings.join(', ')}`);
    if (work) removeLater(work);
  });

  test('the README has the two commands: install && start, install && test', () => {
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => l.length)).toEqual([2, 2]);
    expect(lines[0]![0]).toBe(lines[1]![0]);
    expect(lines[0]![1]).toMatch(/\bstart$/);
    expect(lines[1]![1]).toMatch(/\btest$/);
  });

  test('pnpm is not on the PATH the commands run with', () => {
    expect(sh('command -v pnpm').status).not.toBe(0);
    expect(sh('command -v node && command -v npm && command -v npx').status).toBe(0);
  });

  test('the install command installs the workspace', () => {
    const r = sh(lines[0]![0]!);
    expect([r.status, r.output.slice(-2000)]).toEqual([0, expect.any(String)]);
    expect(readFileSync(join(clone, 'node_modules', '@secondfactor', 'core', 'package.json'), 'utf8')).toContain('"@secondfactor/core"');
  }, 240_000);

  test('the start command builds and serves the example app', async () => {
    const port = await freePort();
    const started = Date.now();
    const child = spawn('sh', ['-c', lines[0]![1]!], {
      cwd: clone,
      env: { ...env, PORT: String(port), DATA_DIR: join(work, 'data') },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    try {
      let page: Response | undefined;
      // Bounded: the build plus the start get 150 s.
      for (let i = 0; i < 300 && child.exitCode === null && !page; i++) {
        await new Promise((r) => setTimeout(r, 500));
        page = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      }
      timings.push(`start → first page ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect([page?.status, output.slice(-2000)]).toEqual([200, expect.stringContaining('listening on http://localhost:')]);
      expect(await page!.text()).toContain('<html');
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    }
  }, 200_000);

  test('the test command reaches Jest (listing the suites instead of running them again)', () => {
    const r = sh(`${lines[1]![1]} --listTests`);
    expect([r.status, r.output.slice(-2000)]).toEqual([0, expect.any(String)]);
    expect(r.output).toContain(join(clone, 'test', 'fresh-machine', 'readme-commands.test.ts'));
    expect(r.output).toContain(join(clone, 'packages', 'core', 'test', 'totp.test.ts'));
  }, 120_000);
});
