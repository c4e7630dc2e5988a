// Starts the real platform-api binary on loopback with its embedded PostgreSQL cluster in a
// temporary DATA_DIR, mints development tokens with `platform-api dev-token`, and stops it
// with SIGTERM (which also stops the cluster).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const codegenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const binary =
  process.env.PLATFORM_API_BIN ?? path.resolve(codegenDir, '..', 'target', 'debug', 'platform-api');

/** How long the first start (initdb, migrations) may take before the test gives up. */
const STARTUP_LIMIT_MS = 180_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface TokenRequest {
  sub: string;
  aud: 'dezky-portal' | 'dezky-operator';
  email?: string;
  name?: string;
  groups?: string[];
}

export class Server {
  private constructor(
    private readonly child: ChildProcess,
    private readonly env: NodeJS.ProcessEnv,
    readonly dataDir: string,
    readonly url: string,
    readonly wsUrl: string,
    private readonly log: string[],
  ) {}

  static async start(): Promise<Server> {
    if (!existsSync(binary)) {
      throw new Error(`${binary} is missing: build it with \`cargo build\` (or set PLATFORM_API_BIN)`);
    }
    // Short path (the cluster's Unix socket lives inside it), reachable by the `postgres`
    // user that the cluster runs as when the tests run as root.
    const dataDir = mkdtempSync('/tmp/pa-codegen-');
    chmodSync(dataDir, 0o755);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      APP_ENV: 'development',
      // No default tenant: the tests seed their own.
      DEFAULT_TENANT_SLUG: '-',
      DATA_DIR: dataDir,
      BIND_ADDR: `127.0.0.1:${port}`,
      LOG_FORMAT: 'json',
      RUST_LOG: 'warn',
      SHUTDOWN_GRACE_MS: '2000',
    };
    // cwd = dataDir: no developer `.env` is read.
    const child = spawn(binary, ['serve'], { env, cwd: dataDir, stdio: ['ignore', 'ignore', 'pipe'] });
    const log: string[] = [];
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
    const server = new Server(child, env, dataDir, `http://127.0.0.1:${port}/graphql`, `ws://127.0.0.1:${port}/graphql`, log);
    await server.waitUntilReady(`http://127.0.0.1:${port}/readyz`);
    return server;
  }

  private async waitUntilReady(readyz: string): Promise<void> {
    const deadline = Date.now() + STARTUP_LIMIT_MS;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`platform-api exited with ${this.child.exitCode}:\n${this.log.join('')}`);
      }
      try {
        const response = await fetch(readyz);
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await this.stop();
    throw new Error(`platform-api was not ready within ${STARTUP_LIMIT_MS} ms:\n${this.log.join('')}`);
  }

  /** A token from the server's development issuer (`platform-api dev-token`). */
  token(request: TokenRequest): string {
    const args = ['dev-token', '--sub', request.sub, '--aud', request.aud, '--ttl', '1h'];
    if (request.email) args.push('--email', request.email);
    if (request.name) args.push('--name', request.name);
    if (request.groups) args.push('--groups', request.groups.join(','));
    return execFileSync(binary, args, { env: this.env, cwd: this.dataDir, encoding: 'utf8' }).trim();
  }

  /** Runs SQL in the server's database (for what the API cannot do yet, e.g. partner staff). */
  sql(statement: string): string {
    return execFileSync(
      'psql',
      ['-h', path.join(this.dataDir, 'postgres'), '-U', 'postgres', '-d', 'platform_api', '-v', 'ON_ERROR_STOP=1', '-tAc', statement],
      { encoding: 'utf8' },
    ).trim();
  }

  /** SIGTERM, wait for the exit, check the cluster stopped, remove DATA_DIR. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    const pidFile = path.join(this.dataDir, 'postgres', 'postmaster.pid');
    if (existsSync(pidFile)) {
      throw new Error(`the embedded PostgreSQL cluster under ${this.dataDir} was still running after platform-api stopped`);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
    if (this.child.exitCode !== 0) {
      throw new Error(`platform-api exited with ${this.child.exitCode ?? this.child.signalCode}:\n${this.log.join('')}`);
    }
  }
}
