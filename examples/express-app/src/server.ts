// examples/express-app/src/server.ts
// `pnpm start`: reads the environment, runs the migrations, listens on PORT (default 3000).
import { createApp } from './app';
import { configFromEnv } from './config';

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  const { app, migrate, close } = createApp(config.app);
  await migrate();
  const server = app.listen(config.port, () => {
    for (const line of config.summary) console.log(`[example] ${line}`);
    console.log(`[example] secondfactor example app listening on http://localhost:${config.port}`);
  });
  server.on('error', (error) => {
    console.error(`[example] cannot listen on port ${config.port}:`, error.message);
    process.exit(1);
  });
  const shutdown = () => {
    server.close(() => {
      close().finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error('[example] failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
