CREATE UNIQUE INDEX "agents_slug_active_idx" ON "agents" USING btree ("slug") WHERE "agents"."deleted_at" IS NULL;
--> statement-breakpoint
CREATE INDEX "branches_agent_id_idx" ON "branches" USING btree ("agent_id");
