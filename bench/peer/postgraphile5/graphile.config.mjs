// PostGraphile v5 as the benchmark runs it: the Amber preset with the connection filter, over
// the database in DATABASE_URL, on 127.0.0.1:PORT. PgIndexBehaviorsPlugin is off so that
// unindexed columns can be filtered and ordered, as Stroom's lists can.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] }),
  ],
  grafserv: { port: Number(process.env.PORT), host: "127.0.0.1" },
};
