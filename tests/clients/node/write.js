// Drives node-influx (npm `influx`) the way applications do: createDatabase, writePoints with a
// retention policy and precision, writeMeasurement with the default rp, ping; reads back with
// query, getMeasurements, getSeries, showRetentionPolicies. Exits non-zero on any error.
// Usage: node write.js HOST PORT TOKEN DATABASE
'use strict';
const Influx = require('influx');

const [, , host, port, token, db] = process.argv;
const influx = new Influx.InfluxDB({
  host,
  port: Number(port),
  database: db,
  username: 'ignored',
  password: token,
  schema: [
    {
      measurement: 'node_cpu',
      fields: {
        usage: Influx.FieldType.FLOAT,
        count: Influx.FieldType.INTEGER,
        up: Influx.FieldType.BOOLEAN,
        note: Influx.FieldType.STRING,
      },
      tags: ['host'],
    },
  ],
});

async function main() {
  const pong = await influx.ping(5000);
  if (!pong[0].online || !pong[0].version) throw new Error('ping failed: ' + JSON.stringify(pong));
  await influx.createDatabase(db);
  const names = await influx.getDatabaseNames();
  if (!names.includes(db)) throw new Error('database not listed: ' + JSON.stringify(names));
  await influx.writePoints(
    [
      { measurement: 'node_cpu', tags: { host: 'a' }, fields: { usage: 0.5, count: 3, up: true, note: 'hello "world"' }, timestamp: new Date(1700000000000) },
      { measurement: 'node_cpu', tags: { host: 'b' }, fields: { usage: 1.25, count: -7, up: false, note: 'x,y z' }, timestamp: new Date(1700000001000) },
    ],
    { retentionPolicy: 'autogen', precision: 's' },
  );
  await influx.writeMeasurement('node_mem', [{ tags: { host: 'a' }, fields: { used: 42 }, timestamp: new Date(1700000002000) }], { precision: 'ms' });
  // A bad point is a 400 that node-influx reports as an error, not a silent success.
  let rejected = false;
  try {
    await influx.writePoints([{ measurement: 'node_cpu', tags: { host: 'c' }, fields: { count: 'not a number' } }]);
  } catch (e) {
    rejected = true;
  }
  if (!rejected) throw new Error('a type conflict was not reported');

  // Read back what was written, as node-influx reads.
  const rows = await influx.query('SELECT usage, count, host FROM node_cpu ORDER BY time');
  if (rows.length !== 2 || rows[0].usage !== 0.5 || rows[1].count !== -7 || rows[1].host !== 'b'
      || rows[0].time.getTime() !== 1700000000000) {
    throw new Error('query rows: ' + JSON.stringify(rows));
  }
  const grouped = await influx.query('SELECT max(usage) FROM node_cpu GROUP BY host');
  const groups = grouped.groups().map((g) => g.tags.host).sort();
  if (JSON.stringify(groups) !== '["a","b"]') throw new Error('groups: ' + JSON.stringify(groups));
  const measurements = await influx.getMeasurements();
  if (JSON.stringify(measurements) !== '["node_cpu","node_mem"]') {
    throw new Error('measurements: ' + JSON.stringify(measurements));
  }
  const series = await influx.getSeries({ measurement: 'node_cpu' });
  if (JSON.stringify(series) !== '["node_cpu,host=a","node_cpu,host=b"]') {
    throw new Error('series: ' + JSON.stringify(series));
  }
  const rps = await influx.showRetentionPolicies();
  if (!rps.some((rp) => rp.name === 'autogen' && rp.default)) throw new Error('rps: ' + JSON.stringify(rps));
  console.log('ok');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
