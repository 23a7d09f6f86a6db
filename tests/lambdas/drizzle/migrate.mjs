// Apply a drizzle-kit migration folder with drizzle-orm's own migrator (the app team's tool).
// Usage: node migrate.mjs <migrationsFolder>; connection from PGHOST/PGPORT/PGUSER/PGPASSWORD/
// PGDATABASE, TLS verified against the CA file in PGSSLROOTCERT.
import fs from "node:fs";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";

const folder = process.argv[2];
const client = new pg.Client({
  host: process.env.PGHOST,
  port: Number(process.env.PGPORT),
  user: process.env.PGUSER,
  password: process.env.PGPASSWORD,
  database: process.env.PGDATABASE,
  ssl: { ca: fs.readFileSync(process.env.PGSSLROOTCERT, "utf8"), rejectUnauthorized: true },
});
await client.connect();
try {
  await migrate(drizzle(client), { migrationsFolder: folder });
} finally {
  await client.end();
}
